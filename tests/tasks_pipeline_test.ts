/**
 * pipeline() on real Hugging Face weights (the hf-bert-tiny fixture), with
 * both engines: results match the HF reference logits and each other.
 */
import assert from "node:assert/strict";
import { pipeline } from "../lib/tasks/mod.ts";
import type {
  Answer,
  EntityGroup,
  FillMaskCandidate,
  LabelScore,
  NextSentenceResult,
  SimilarityResult,
  TokenClassificationOptions,
  TokenPrediction,
} from "../lib/tasks/mod.ts";
import { groupEntities } from "../lib/tasks/token_classification/pipeline.ts";
import { splitIntoWindows } from "../lib/tasks/windows.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { join } from "node:path";
import { exportOnnx } from "../lib/models/onnx/mod.ts";
import type { BertTokenizer } from "../lib/text/mod.ts";
import { loadReference, runOnnx, softmax } from "./onnx_helpers.ts";
import { makeTaskFolders } from "./tasks_helpers.ts";

const reference = await loadReference();
const folders = await makeTaskFolders();
const ENGINES = ["onnx", "tfjs"] as const;

function close(got: number, want: number, label: string, tol = 1e-4) {
  assert.ok(Math.abs(got - want) <= tol, `${label}: got ${got}, want ${want}`);
}

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CourseError, `not a CourseError: ${error}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.hint, /[가-힣]/); // a Korean hint
    return true;
  };
}

for (const engine of ENGINES) {
  Deno.test(`[${engine}] sentiment-analysis: id2label names, HF probabilities, topK, lists, pairs`, async () => {
    const classifier = await pipeline("sentiment-analysis", folders.sentiment, {
      engine,
    });
    try {
      const want = softmax(reference.batches[0].seqcls.logits[1]); // "안녕하세요 !"
      const [best] = await classifier("안녕하세요 !") as LabelScore[];
      const bestIndex = want.indexOf(Math.max(...want));
      assert.equal(best.label, ["부정", "중립", "긍정"][bestIndex]);
      close(best.score, want[bestIndex], "best score");

      const all = await classifier("안녕하세요 !", {
        topK: "all",
      }) as LabelScore[];
      assert.equal(all.length, 3);
      assert.ok(all[0].score >= all[1].score && all[1].score >= all[2].score);
      close(all.reduce((s, l) => s + l.score, 0), 1, "sum", 1e-6);

      // A pair, as the fixture's batch 2 row 2 ("hello" + "좋아요 감사합니다").
      const pairWant = softmax(reference.batches[1].seqcls.logits[1]);
      const pairAll = await classifier(
        [{ text: "hello", textPair: "좋아요 감사합니다" }],
        { topK: "all" },
      ) as LabelScore[][];
      for (const { label, score } of pairAll[0]) {
        close(score, pairWant[["부정", "중립", "긍정"].indexOf(label)], label);
      }

      // A batch of different lengths gives the same scores as one by one.
      const texts = [
        "안녕하세요 !",
        "bert models are testing",
        "좋아요 감사합니다 . 좋아요",
      ];
      const batched = await classifier(texts) as LabelScore[];
      assert.equal(batched.length, 3);
      for (const [i, text] of texts.entries()) {
        const [alone] = await classifier(text) as LabelScore[];
        assert.equal(batched[i].label, alone.label);
        close(batched[i].score, alone.score, `batched ${i}`, 1e-5);
      }

      // Two strings are a batch of two, as in Hugging Face, never a pair.
      const two = await classifier(texts.slice(0, 2)) as LabelScore[];
      assert.equal(two.length, 2);
      two.forEach((result, i) => {
        assert.equal(result.label, batched[i].label);
        close(result.score, batched[i].score, `two ${i}`, 1e-5);
      });
      // Python's spelling of the pair object works too.
      const snake = await classifier(
        [{ text: "hello", text_pair: "좋아요 감사합니다" }],
        { topK: "all" },
      ) as LabelScore[][];
      assert.deepEqual(snake, pairAll);
    } finally {
      await classifier.dispose();
    }
  });

  Deno.test(`[${engine}] next-sentence: IsNext probability equals HF NSP softmax`, async () => {
    const nsp = await pipeline("next-sentence", folders.pretraining, {
      engine,
    });
    try {
      const results = await nsp([
        { text: "the [MASK] is good", text_pair: "yes" },
        { text: "hello", textPair: "좋아요 감사합니다" },
      ]) as NextSentenceResult[];
      const wants = [
        softmax(reference.batches[0].pretraining.seq_relationship_logits[0])[0],
        softmax(reference.batches[1].pretraining.seq_relationship_logits[1])[0],
      ];
      results.forEach((result, i) => {
        close(result.isNextProbability, wants[i], `pair ${i}`);
        assert.equal(result.label, wants[i] >= 0.5 ? "IsNext" : "NotNext");
      });
      await assert.rejects(
        () => nsp("혼자인 문장"),
        rejectsWith("TASK_PAIR_REQUIRED"),
      );
      // Two strings are two single texts, so the first one lacks its pair.
      await assert.rejects(
        () => nsp(["문장 A", "문장 B"]),
        (error: unknown) => {
          rejectsWith("TASK_PAIR_REQUIRED")(error);
          assert.match((error as CourseError).message, /inputs\[0\]/);
          assert.match((error as CourseError).hint, /textPair/);
          return true;
        },
      );
    } finally {
      await nsp.dispose();
    }
  });
}

Deno.test("fill-mask: engines agree; sequences fill the mask; several masks", async () => {
  const [onnx, tfjs] = await Promise.all(
    ENGINES.map((engine) =>
      pipeline("fill-mask", folders.pretraining, { engine })
    ),
  );
  try {
    const a = await onnx("the [MASK] is good", {
      topK: 5,
    }) as FillMaskCandidate[];
    const b = await tfjs("the [MASK] is good", {
      topK: 5,
    }) as FillMaskCandidate[];
    assert.deepEqual(a.map((c) => c.token), b.map((c) => c.token));
    a.forEach((c, i) => close(c.score, b[i].score, `candidate ${i}`, 1e-5));
    for (const c of a) {
      const filled = c.token_str.startsWith("##")
        ? `the${c.token_str.slice(2)} is good`
        : `the ${c.token_str} is good`;
      assert.equal(c.sequence, filled);
    }
    const two = await onnx("[MASK] 감사합니다 [MASK]", {
      topK: 2,
    }) as FillMaskCandidate[][];
    assert.equal(two.length, 2);
    assert.equal(two[0].length, 2);
    await assert.rejects(
      () => onnx("마스크가 없는 문장"),
      rejectsWith("TASK_NO_MASK"),
    );
  } finally {
    await onnx.dispose();
    await tfjs.dispose();
  }
});

Deno.test("token-classification windows: overlapping spans that cover every piece", () => {
  assert.deepEqual(splitIntoWindows(5, 14, 7), [{ begin: 0, end: 5 }]);
  assert.deepEqual(splitIntoWindows(30, 14, 7), [
    { begin: 0, end: 14 },
    { begin: 7, end: 21 },
    { begin: 14, end: 28 },
    { begin: 21, end: 30 },
  ]);
  assert.deepEqual(splitIntoWindows(14, 14, 0), [{ begin: 0, end: 14 }]);
});

Deno.test("token-classification reads a text longer than the model's window in overlapping windows", async () => {
  // Windows of 20 pieces, stride 10; the sentence has 10 pieces, so every
  // window holds exactly two sentences, the same ids as `pair` read alone.
  const [onnx, tfjs] = await Promise.all(
    ENGINES.map((engine) =>
      pipeline("ner", folders.ner, { engine, maxLength: 22 })
    ),
  );
  try {
    const sentence = "안녕하세요 ! 한국어 학생 hello 좋아요 감사합니다 .";
    const pair = `${sentence} ${sentence}`;
    const text = Array.from({ length: 6 }, () => sentence).join(" ");
    const none: TokenClassificationOptions = {
      aggregationStrategy: "none",
      ignoreLabels: [],
    };
    const tokens = await onnx(text, none) as TokenPrediction[];
    // 60 pieces: every piece once, in order, the tail included.
    assert.equal(tokens.length, 60);
    assert.deepEqual(tokens.map((t) => t.index), tokens.map((_, i) => i + 1));
    for (const t of tokens) assert.equal(text.slice(t.start, t.end), t.word);
    assert.equal(tokens.at(-1)!.end, text.length);

    // Each piece is labelled by the window where it is farthest from an edge.
    const inPair = await onnx(pair, none) as TokenPrediction[];
    assert.equal(inPair.length, 20);
    tokens.forEach((token, piece) => {
      let begin = 0;
      for (let b = 0; b <= 40; b += 10) {
        const context = (w: number) =>
          piece < w || piece >= w + 20
            ? -1
            : Math.min(piece - w, w + 19 - piece);
        if (context(b) > context(begin)) begin = b;
      }
      const expected = inPair[piece - begin];
      assert.equal(token.entity, expected.entity, `piece ${piece}`);
      close(token.score, expected.score, `piece ${piece}`, 1e-6);
    });

    const tokensTfjs = await tfjs(text, none) as TokenPrediction[];
    assert.deepEqual(
      tokens.map((t) => t.entity),
      tokensTfjs.map((t) => t.entity),
    );
    tokens.forEach((t, i) =>
      close(t.score, tokensTfjs[i].score, `token ${i}`, 1e-5)
    );
    assert.deepEqual(await onnx([text, pair], none), [tokens, inPair]);
    await assert.rejects(
      () => onnx(text, { stride: 20 }),
      rejectsWith("TASK_BAD_OPTION"),
    );
  } finally {
    await onnx.dispose();
    await tfjs.dispose();
  }
});

Deno.test("token-classification: entities with offsets into the text; engines agree", async () => {
  const [onnx, tfjs] = await Promise.all(
    ENGINES.map((engine) => pipeline("ner", folders.ner, { engine })),
  );
  try {
    const text = "안녕하세요 ! 한국어 학생 hello 좋아요 감사합니다 .";
    const tokens = await onnx(text, {
      aggregationStrategy: "none",
      ignoreLabels: [],
    }) as TokenPrediction[];
    const tokensTfjs = await tfjs(text, {
      aggregationStrategy: "none",
      ignoreLabels: [],
    }) as TokenPrediction[];
    assert.deepEqual(
      tokens.map((t) => t.entity),
      tokensTfjs.map((t) => t.entity),
    );
    tokens.forEach((t, i) =>
      close(t.score, tokensTfjs[i].score, `token ${i}`, 1e-5)
    );
    // Every word piece, [CLS]/[SEP] left out, each pointing at its characters.
    assert.deepEqual(tokens.map((t) => t.word), [
      "안녕",
      "하세요",
      "!",
      "한국어",
      "학생",
      "hello",
      "좋아요",
      "감사",
      "합니다",
      ".",
    ]);
    for (const t of tokens) assert.equal(text.slice(t.start, t.end), t.word);

    const entities = await onnx(text) as EntityGroup[];
    assert.deepEqual(
      entities,
      groupEntities(tokens, text).filter((e) => e.entity_group !== "O"),
    );
    for (const e of entities) {
      assert.equal(text.slice(e.start, e.end), e.word);
      assert.ok(["PER", "LOC"].includes(e.entity_group));
    }
  } finally {
    await onnx.dispose();
    await tfjs.dispose();
  }
});

Deno.test("groupEntities follows Hugging Face's simple aggregation", () => {
  const text = "김철수 씨는 서울 강남에 산다";
  const piece = (
    entity: string,
    start: number,
    end: number,
    score = 0.9,
  ): TokenPrediction => ({
    entity,
    score,
    index: 0,
    word: text.slice(start, end),
    start,
    end,
  });
  const groups = groupEntities([
    piece("B-PER", 0, 1, 0.8),
    piece("I-PER", 1, 3, 0.6),
    piece("O", 4, 6),
    piece("B-LOC", 7, 9),
    piece("B-LOC", 10, 12), // a new B- starts a new entity
    piece("I-LOC", 12, 13),
    piece("I-PER", 14, 16), // an I- of another type starts one too
  ], text);
  assert.deepEqual(groups.map((g) => [g.entity_group, g.word]), [
    ["PER", "김철수"],
    ["O", "씨는"],
    ["LOC", "서울"],
    ["LOC", "강남에"],
    ["PER", "산다"],
  ]);
  close(groups[0].score, 0.7, "mean score", 1e-12);
});

Deno.test("question-answering: best span as brute force; sliding windows; engines agree", async () => {
  const [onnx, tfjs] = await Promise.all(
    ENGINES.map((engine) =>
      pipeline("question-answering", folders.qa, { engine })
    ),
  );
  try {
    const input = {
      question: "감사합니다 ?",
      context: "안녕하세요 ! 한국어 학생 hello 좋아요 감사합니다 .",
    };
    const a = await onnx(input) as Answer;
    const b = await tfjs(input) as Answer;
    assert.deepEqual([a.start, a.end, a.answer], [b.start, b.end, b.answer]);
    close(a.score, b.score, "score", 1e-5);
    assert.equal(input.context.slice(a.start, a.end), a.answer);
    assert.ok(a.answer.length > 0 && a.score > 0 && a.score <= 1);

    // Brute force on the raw ONNX outputs: softmax over [CLS] + context,
    // best start <= end within 15 pieces.
    const brute = await bruteForceQa(
      onnx.tokenizer,
      input.question,
      input.context,
    );
    assert.equal(a.start, brute.best.start);
    assert.equal(a.end, brute.best.end);
    close(a.score, brute.best.score, "brute-force score", 1e-5);

    const top = (await onnx(input, { topK: 3 })) as Answer[];
    assert.equal(top.length, 3);
    assert.deepEqual(top[0], a);
    assert.ok(top[0].score >= top[1].score && top[1].score >= top[2].score);
    assert.equal(new Set(top.map((t) => `${t.start}:${t.end}`)).size, 3);

    // 150+ word pieces: far beyond the 64 positions of this model.
    const longContext = Array(20).fill(
      "안녕하세요 ! 한국어 학생 좋아요 감사합니다 .",
    ).join(" ");
    const windowed = await onnx(
      { question: "학생 ?", context: longContext },
      { maxSeqLength: 32, docStride: 8, topK: 2 },
    ) as Answer[];
    for (const answer of windowed) {
      assert.equal(longContext.slice(answer.start, answer.end), answer.answer);
    }
    const windowedTfjs = await tfjs(
      { question: "학생 ?", context: longContext },
      { maxSeqLength: 32, docStride: 8, topK: 2 },
    ) as Answer[];
    assert.deepEqual(
      windowed.map((w) => w.start),
      windowedTfjs.map((w) => w.start),
    );

    const withNull = (await onnx(input, {
      handleImpossibleAnswer: true,
      topK: 1000,
    })) as Answer[];
    const nullAnswer = withNull.find((x) => x.answer === "");
    assert.ok(nullAnswer && nullAnswer.start === 0 && nullAnswer.end === 0);
    close(nullAnswer.score, brute.nullScore, "null score", 1e-6);

    await assert.rejects(
      () =>
        onnx({
          question: Array(80).fill("학생").join(" "),
          context: "안녕하세요",
        }),
      rejectsWith("TASK_QUESTION_TOO_LONG"),
    );
    await assert.rejects(
      () => onnx({ question: "학생 ?", context: "   " }),
      rejectsWith("TASK_EMPTY_INPUT"),
    );
  } finally {
    await onnx.dispose();
    await tfjs.dispose();
  }
});

Deno.test("sentence-similarity: the regression output; needs pairs and a one-output head", async () => {
  const [onnx, tfjs] = await Promise.all(
    ENGINES.map((engine) =>
      pipeline("sentence-similarity", folders.similarity, { engine })
    ),
  );
  try {
    const pairs = [
      { text: "좋아요 감사합니다", textPair: "감사합니다" },
      { text: "hello", textPair: "한국어 학생" },
    ];
    const a = await onnx(pairs) as SimilarityResult[];
    const b = await tfjs(pairs) as SimilarityResult[];
    a.forEach((r, i) => close(r.score, b[i].score, `pair ${i}`, 1e-4));
    assert.notEqual(a[0].score, a[1].score);
  } finally {
    await onnx.dispose();
    await tfjs.dispose();
  }
  const threeLabels = await pipeline("sentence-similarity", folders.sentiment);
  try {
    await assert.rejects(
      () => threeLabels({ text: "a", textPair: "b" }),
      rejectsWith("TASK_NOT_REGRESSION"),
    );
  } finally {
    await threeLabels.dispose();
  }
});

Deno.test("pipeline errors: unknown task/engine, missing or wrong head, empty input", async () => {
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => pipeline("summarization" as any, folders.sentiment),
    rejectsWith("TASK_UNKNOWN"),
  );
  await assert.rejects(
    () =>
      pipeline("sentiment-analysis", folders.sentiment, {
        engine: "torch" as "onnx",
      }),
    rejectsWith("TASK_UNKNOWN_ENGINE"),
  );
  await assert.rejects(
    () => pipeline("text-classification", folders.pretraining),
    rejectsWith("TASK_HEAD_MISMATCH"),
  );
  for (const engine of ENGINES) {
    await assert.rejects(
      () => pipeline("text-classification", folders.encoderOnly, { engine }),
      rejectsWith("TASK_HEAD_MISSING"),
    );
  }
  const classifier = await pipeline("sentiment-analysis", folders.sentiment);
  try {
    await assert.rejects(() => classifier(""), rejectsWith("TASK_EMPTY_INPUT"));
    await assert.rejects(() => classifier([]), rejectsWith("TASK_EMPTY_INPUT"));
    // A bad item in a list is named by its index and what it is.
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => classifier([123, "좋다"] as any),
      (error: unknown) => {
        rejectsWith("TASK_BAD_INPUT")(error);
        const { message, hint } = error as CourseError;
        assert.match(message, /inputs\[0\].*number 123/);
        assert.match(hint, /inputs\[0\]/);
        return true;
      },
    );
    await assert.rejects(
      () => classifier(["좋다", { text: 7 as unknown as string }]),
      (error: unknown) => {
        rejectsWith("TASK_BAD_INPUT")(error);
        assert.match((error as CourseError).message, /inputs\[1\]\.text/);
        return true;
      },
    );
    // The old [a, b] pair inside a list: told to use the object form.
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => classifier([["좋다", "싫다"]] as any),
      (error: unknown) => {
        rejectsWith("TASK_BAD_INPUT")(error);
        assert.match((error as CourseError).hint, /\{text: "문장 A", textPair/);
        return true;
      },
    );
    // Longer than the model's 64 positions: truncated, as documented, not an error.
    const [long] = await classifier(
      Array(100).fill("안녕하세요").join(" "),
    ) as LabelScore[];
    assert.ok(long.score > 0);
  } finally {
    await classifier.dispose();
  }
});

Deno.test("pipeline on a model folder without tokenizer files: says how to add one", async () => {
  const dir = join(folders.root, "no-tokenizer");
  await Deno.mkdir(dir);
  for (const file of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(join(folders.sentiment, file), join(dir, file));
  }
  await assert.rejects(
    () => pipeline("sentiment-analysis", dir),
    (error: unknown) => {
      rejectsWith("TASK_TOKENIZER_MISSING")(error);
      const { hint } = error as CourseError;
      assert.ok(hint.includes(`tokenizer.savePretrained("${dir}")`), hint);
      assert.match(hint, /tokenizer 옵션/);
      return true;
    },
  );
  // The option it suggests works.
  const classifier = await pipeline("sentiment-analysis", dir, {
    tokenizer: folders.sentiment,
  });
  try {
    assert.equal(
      (await classifier(["좋다", "싫다"]) as LabelScore[]).length,
      2,
    );
  } finally {
    await classifier.dispose();
  }
});

Deno.test("pipeline on a Hub id fetches the tokenizer by that id", async () => {
  // The weights are in the cache (downloaded earlier), the tokenizer only in the mirror.
  const cache = await Deno.makeTempDir({ prefix: "tasks-cache-" });
  const mirror = await Deno.makeTempDir({ prefix: "tasks-mirror-" });
  const repo = join("huggingface.co", "course-test", "tiny", "resolve", "main");
  await Deno.mkdir(join(cache, repo), { recursive: true });
  await Deno.mkdir(join(mirror, repo), { recursive: true });
  for (const file of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(join(folders.sentiment, file), join(cache, repo, file));
  }
  for (const file of ["vocab.txt", "tokenizer_config.json"]) {
    await Deno.copyFile(
      join(folders.sentiment, file),
      join(mirror, repo, file),
    );
  }
  const saved = ["COURSE_CACHE", "COURSE_MIRROR", "COURSE_OFFLINE"].map((
    name,
  ) => [name, Deno.env.get(name)] as const);
  Deno.env.set("COURSE_CACHE", cache);
  Deno.env.set("COURSE_MIRROR", mirror);
  Deno.env.set("COURSE_OFFLINE", "1");
  try {
    const classifier = await pipeline("sentiment-analysis", "course-test/tiny");
    try {
      const [fromHub] = await classifier("안녕하세요 !") as LabelScore[];
      const local = await pipeline("sentiment-analysis", folders.sentiment);
      const [fromFolder] = await local("안녕하세요 !") as LabelScore[];
      await local.dispose();
      assert.equal(fromHub.label, fromFolder.label);
      close(fromHub.score, fromFolder.score, "score", 1e-6);
    } finally {
      await classifier.dispose();
    }
  } finally {
    for (const [name, value] of saved) {
      value === undefined ? Deno.env.delete(name) : Deno.env.set(name, value);
    }
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(mirror, { recursive: true });
  }
});

async function bruteForceQa(
  tokenizer: BertTokenizer,
  question: string,
  context: string,
) {
  const encoded = tokenizer(question, {
    textPair: context,
    returnOffsetsMapping: true,
  });
  const dir = join(folders.root, "qa-onnx");
  const { modelPath } = await exportOnnx(folders.qa, dir, {
    task: "question-answering",
  });
  const out = await runOnnx(modelPath, {
    input_ids: [encoded.input_ids],
    attention_mask: [encoded.attention_mask],
    token_type_ids: [encoded.token_type_ids],
  });
  const isContext = (i: number) =>
    encoded.token_type_ids[i] === 1 && i < encoded.input_ids.length - 1;
  const prob = (logits: Float32Array) =>
    softmax(Array.from(logits, (x, i) => i === 0 || isContext(i) ? x : -10000));
  const pStart = prob(out.start_logits.data as Float32Array);
  const pEnd = prob(out.end_logits.data as Float32Array);
  let best = { start: 0, end: 0, score: -1 };
  for (let s = 0; s < pStart.length; s++) {
    for (let e = s; e < Math.min(pEnd.length, s + 15); e++) {
      if (!isContext(s) || !isContext(e)) continue;
      const score = pStart[s] * pEnd[e];
      if (score > best.score) {
        best = {
          start: encoded.offset_mapping![s][0],
          end: encoded.offset_mapping![e][1],
          score,
        };
      }
    }
  }
  return { best, nullScore: pStart[0] * pEnd[0] };
}

Deno.test("cleanup: temporary model folders", async () => {
  await folders.cleanup();
});
