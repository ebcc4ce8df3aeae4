// NER label alignment (KLUE-NER, one character per line) and QA sliding-window features.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  alignWordLabels,
  entitiesFromTokenLabels,
  getEntities,
  tokenizeAndAlignLabels,
} from "../lib/tasks/token_classification/mod.ts";
import {
  bestAnswerSpan,
  prepareQaFeatures,
  rankAnswerSpans,
} from "../lib/tasks/question_answering/mod.ts";
import { splitIntoWindows } from "../lib/tasks/windows.ts";
import { groupEntities } from "../lib/tasks/token_classification/pipeline.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { AutoTokenizer, type Offset } from "../lib/text/mod.ts";
import { MIRROR } from "./test_paths.ts";

const mirror = MIRROR;
const tokenizer = await AutoTokenizer.fromPretrained(
  join(mirror, "raw.githubusercontent.com/KPFBERT/kpfbert/main"),
);
const TAGS = [
  "O",
  "B-PS",
  "I-PS",
  "B-LC",
  "I-LC",
  "B-OG",
  "I-OG",
  "B-DT",
  "I-DT",
  "B-TI",
  "I-TI",
  "B-QT",
  "I-QT",
];
const label2id = Object.fromEntries(TAGS.map((t, i) => [t, i]));
const id2label = Object.fromEntries(TAGS.map((t, i) => [i, t]));

Deno.test("alignWordLabels: first sub-token gets the word label, the rest -100", () => {
  assert.deepEqual(alignWordLabels([null, 0, 0, 1, null], [3, 5]), [
    -100,
    3,
    -100,
    5,
    -100,
  ]);
  assert.deepEqual(
    alignWordLabels([null, 0, 0, 1], [3, 5], { labelAllTokens: true }),
    [-100, 3, 3, 5],
  );
});

Deno.test("character tags keep entity spans that end inside a word (이순신+은)", () => {
  const chars = [..."이순신은 서울에 갔다"];
  const tags = [
    "B-PS",
    "I-PS",
    "I-PS",
    "O",
    "O",
    "B-LC",
    "I-LC",
    "O",
    "O",
    "O",
    "O",
  ];
  const ex = tokenizeAndAlignLabels(chars, tags, tokenizer, label2id);
  assert.equal(ex.labels.length, ex.input_ids.length);
  assert.equal(ex.labels[0], -100);
  assert.equal(ex.labels.at(-1), -100);
  const spans = entitiesFromTokenLabels(
    ex.text,
    ex.offset_mapping,
    ex.labels,
    id2label,
  );
  assert.deepEqual(spans.map((s) => [s.entity, s.word]), [["PS", "이순신"], [
    "LC",
    "서울",
  ]]);
  assert.throws(
    () => tokenizeAndAlignLabels(["가"], ["B-XX"], tokenizer, label2id),
    /B-XX/,
  );
});

Deno.test("KLUE-NER dev: entity spans survive tokenization in 200 sentences", () => {
  const raw = readFileSync(
    join(
      mirror,
      "raw.githubusercontent.com/KLUE-benchmark/KLUE/main/klue_benchmark/klue-ner-v1.1/klue-ner-v1.1_dev.tsv",
    ),
    "utf8",
  );
  const sentences = raw.split(/\n\s*\n/).map((block) =>
    block.split("\n").filter((l) => l && !l.startsWith("##")).map((l) =>
      l.split("\t")
    )
  ).filter((rows) => rows.length > 0 && rows.every((r) => r.length === 2))
    .slice(0, 200);
  assert.ok(sentences.length >= 150);
  let total = 0, kept = 0;
  for (const rows of sentences) {
    const chars = rows.map((r) => r[0]);
    const tags = rows.map((r) => r[1]);
    const ex = tokenizeAndAlignLabels(chars, tags, tokenizer, label2id, {
      maxLength: 512,
    });
    const gold = entitiesFromTokenLabels(
      ex.text,
      chars.map((_, i) => [i, i + 1] as [number, number]),
      tags.map((t) => label2id[t]),
      id2label,
    ).map((s) => `${s.entity}:${s.start}:${s.end}`);
    const got = new Set(
      entitiesFromTokenLabels(ex.text, ex.offset_mapping, ex.labels, id2label)
        .map((s) => `${s.entity}:${s.start}:${s.end}`),
    );
    total += gold.length;
    kept += gold.filter((g) => got.has(g)).length;
  }
  console.log(
    `KLUE-NER: ${kept}/${total} gold entity spans recovered exactly from token labels`,
  );
  assert.ok(kept / total > 0.9, `only ${kept}/${total}`);
});

Deno.test("QA: answer char span -> token start/end inside the window", () => {
  const context =
    "세종대왕은 1443년에 훈민정음을 창제하였다. 이는 한국어 표기의 바탕이 되었다.";
  const answer = { text: "1443년", answer_start: context.indexOf("1443년") };
  const [feature] = prepareQaFeatures(
    "훈민정음은 언제 만들어졌나?",
    context,
    answer,
    tokenizer,
  );
  const { start_positions: s, end_positions: e } = feature;
  assert.ok(s > 0 && e >= s);
  const start = feature.offset_mapping[s]![0];
  const end = feature.offset_mapping[e]![1];
  assert.equal(context.slice(start, end), "1443년");
  // The inverse: logits that peak at the gold positions give the answer text back.
  const startLogits = feature.input_ids.map((_, i) => (i === s ? 5 : 0));
  const endLogits = feature.input_ids.map((_, i) => (i === e ? 5 : 0));
  assert.equal(bestAnswerSpan(feature, startLogits, endLogits)!.text, "1443년");
});

Deno.test("QA: long contexts become overlapping windows; windows without the answer point at [CLS]", () => {
  const filler = "이 문장은 답과 관계없는 긴 설명입니다. ".repeat(40);
  const context = filler + "정답은 바로 서울특별시입니다. " + filler;
  const answer = {
    text: "서울특별시",
    answer_start: context.indexOf("서울특별시"),
  };
  const features = prepareQaFeatures("정답은?", context, answer, tokenizer, {
    maxLength: 64,
    docStride: 16,
  });
  assert.ok(features.length > 5);
  const holding = features.filter((f) => f.start_positions !== 0);
  assert.ok(holding.length >= 1);
  for (const f of features) {
    assert.ok(f.input_ids.length <= 64);
    assert.equal(f.input_ids.at(-1), tokenizer.sepTokenId);
    if (f.start_positions === 0) assert.equal(f.end_positions, 0);
    else {
      const text = f.context.slice(
        f.offset_mapping[f.start_positions]![0],
        f.offset_mapping[f.end_positions]![1],
      );
      assert.equal(text, "서울특별시");
    }
  }
  // Neighbouring windows share docStride context tokens.
  const ctx = (f: typeof features[0]) =>
    f.offset_mapping.filter((o) => o !== null).map((o) => o!.join(","));
  const [w0, w1] = [ctx(features[0]), ctx(features[1])];
  assert.deepEqual(w0.slice(-16), w1.slice(0, 16));
});

Deno.test("QA: NFD context and wrong answer_start", () => {
  const context = "훈민정음은 1443년에 만들어졌다".normalize("NFD");
  const answerText = "1443년".normalize("NFD");
  const [feature] = prepareQaFeatures("언제?", context, {
    text: answerText,
    answer_start: context.indexOf(answerText),
  }, tokenizer);
  const text = feature.context.slice(
    feature.offset_mapping[feature.start_positions]![0],
    feature.offset_mapping[feature.end_positions]![1],
  );
  assert.equal(text, "1443년".normalize("NFC"));
  assert.throws(
    () =>
      prepareQaFeatures(
        "언제?",
        "서울",
        { text: "부산", answer_start: 0 },
        tokenizer,
      ),
    CourseError,
  );
});

Deno.test("QA windows are splitIntoWindows' ranges (the one windowing rule)", () => {
  const context = "이 문장은 답과 관계없는 긴 설명입니다. ".repeat(12);
  const question = "정답은?";
  const features = prepareQaFeatures(question, context, null, tokenizer, {
    maxLength: 40,
    docStride: 8,
  });
  const q = tokenizer.wordPieces(question).ids.length;
  const pieces = tokenizer.wordPieces(context, { offsets: true });
  const windows = splitIntoWindows(pieces.ids.length, 40 - q - 3, 8);
  assert.equal(features.length, windows.length);
  features.forEach((f, i) => {
    const { begin, end } = windows[i];
    assert.deepEqual(
      f.offset_mapping.filter((o) => o !== null),
      pieces.offsets!.slice(begin, end),
    );
  });
});

Deno.test("rankAnswerSpans: start+end logits, context only, max length, best across windows, null", () => {
  // Two windows over "가나다라": tokens 0 [CLS], 1 question, 2-3 context, 4 [SEP].
  const context = "가나다라";
  const w0 = {
    offset_mapping: [null, null, [0, 1], [1, 2], null] as (Offset | null)[],
    context,
  };
  const w1 = {
    offset_mapping: [null, null, [1, 2], [2, 3], [3, 4], null] as (
      | Offset
      | null
    )[],
    context,
  };
  const windows = [
    // The question token's logits are the largest: never an answer.
    { feature: w0, startLogits: [1, 50, 3, 0, 0], endLogits: [1, 50, 0, 2, 0] },
    {
      feature: w1,
      startLogits: [0, 0, 1, 4, 0, 0],
      endLogits: [0, 0, 0, 0, 2, 0],
    },
  ];
  const [best] = rankAnswerSpans(windows);
  // w0's best is 가나 (3 + 2 = 5); w1's best is 다라 (4 + 2 = 6): across windows the sum decides.
  assert.deepEqual([best.text, best.score, best.window], ["다라", 6, 1]);
  assert.deepEqual([best.startToken, best.endToken], [3, 4]);
  // Max length 1: single tokens only.
  assert.deepEqual(
    rankAnswerSpans(windows, { maxAnswerLength: 1, topK: 2 }).map((s) => [
      s.text,
      s.score,
    ]),
    [["다", 4], ["가", 3]],
  );
  // 나 is in both windows: listed once, with its better score.
  const all = rankAnswerSpans(windows, { topK: 100 });
  assert.equal(all.filter((s) => s.text === "나").length, 1);
  assert.equal(all.find((s) => s.text === "나")!.score, 2);
  assert.ok(all.every((s, i) => i === 0 || all[i - 1].score >= s.score));
  // The null answer: the smallest start[CLS] + end[CLS] over the windows (0 here), ranked among spans.
  const withNull = rankAnswerSpans(windows, {
    topK: 100,
    handleImpossibleAnswer: true,
  });
  const nullAnswer = withNull.find((s) => s.text === "")!;
  assert.deepEqual(
    [nullAnswer.start, nullAnswer.end, nullAnswer.score, nullAnswer.window],
    [0, 0, 0, 1],
  );
  assert.ok(
    withNull.every((s, i) => i === 0 || withNull[i - 1].score >= s.score),
  );
  const confident = rankAnswerSpans([{
    feature: w0,
    startLogits: [9, 0, 1, 0, 0],
    endLogits: [9, 0, 0, 1, 0],
  }], { handleImpossibleAnswer: true });
  assert.equal(confident[0].text, "");
  // bestAnswerSpan is the one-window case; no context token -> null.
  assert.equal(
    bestAnswerSpan(w0, windows[0].startLogits, windows[0].endLogits)!.text,
    "가나",
  );
  assert.equal(
    bestAnswerSpan({ offset_mapping: [null, null], context }, [1, 1], [1, 1]),
    null,
  );
});

Deno.test("BIO decoding: NER spans, pipeline groups and entity scores share getEntities", () => {
  const tags = ["B-PS", "I-PS", "O", "I-LC", "I-LC", "B-LC", "I-PS", "O"];
  const text = "ABCDEFGH";
  const offsets = [...text].map((_, i) => [i, i + 1] as Offset);
  const spans = entitiesFromTokenLabels(
    text,
    [[0, 0], ...offsets, [0, 0]],
    [-100, ...tags.map((t) => label2id[t]), -100],
    id2label,
  );
  const chunks = getEntities(tags);
  assert.deepEqual(
    spans.map((s) => [s.entity, s.start, s.end]),
    chunks.map((c) => [c.type, c.start, c.end + 1]),
  );
  assert.deepEqual(spans.map((s) => s.word), ["AB", "DE", "F", "G"]);
  // The pipeline's groups are the same chunks once O pieces are left out.
  const groups = groupEntities(
    tags.map((entity, i) => ({
      entity,
      score: 1,
      index: i + 1,
      word: text[i],
      start: i,
      end: i + 1,
    })),
    text,
  ).filter((g) => g.entity_group !== "O");
  assert.deepEqual(
    groups.map((g) => [g.entity_group, g.start, g.end]),
    spans.map((s) => [s.entity, s.start, s.end]),
  );
});

Deno.test("data defaults never exceed the model: QA windows, NSP pairs and classification lengths follow model_max_length", async () => {
  const { AutoTokenizer } = await import("../lib/text/mod.ts");
  const { defaultMaxLength } = await import("../lib/text/truncation.ts");
  const { prepareQaFeatures } = await import(
    "../lib/tasks/question_answering/prepare.ts"
  );
  const tokenizer = await AutoTokenizer.fromPretrained(
    new URL("../models/ko-mini-bert", import.meta.url).pathname,
    { quiet: true },
  );
  assert.equal(tokenizer.modelMaxLength, 128);
  assert.equal(defaultMaxLength(tokenizer), 128);
  assert.equal(defaultMaxLength(tokenizer, 384), 128);
  assert.equal(defaultMaxLength({ modelMaxLength: 1e9 }, 384), 384);
  assert.equal(defaultMaxLength({ modelMaxLength: 1e9 }), 512);
  const context = "서울은 대한민국의 수도이다. ".repeat(40);
  const features = prepareQaFeatures(
    "대한민국의 수도는?",
    context,
    null,
    tokenizer,
  );
  assert.ok(features.length > 1);
  for (const f of features) assert.ok(f.input_ids.length <= 128);
});
