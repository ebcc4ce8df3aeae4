/**
 * The computed exercise checks of lessons 03, 05 and 07 (03-2, 05-1, 05-3, 07-2, 07-3): the
 * solution's answer passes, plausible wrong answers fail with a hint, empty stubs fail without a
 * crash, and the feedback never contains the expected value. Expected values are computed here
 * with the library (tf ops where the checks use plain arrays), independently of the checks.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import {
  AutoTokenizer,
  BertConfig,
  BertForMaskedLM,
  BertForSequenceClassification,
  BertModel,
  type BertTokenizer,
  check03,
  check05,
  check07,
  courseModelDir,
  initBackend,
  loadNsmc,
  pipeline,
  sampleStratified,
} from "../lib/mod.ts";
import type { CheckResult } from "../lib/exercises/feedback.ts";
import {
  assertFail as assertFailWith,
  assertPass,
} from "./exercise_assertions.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", resolve(ROOT, "..", "shared", "mirror"));
}
await initBackend();
const MODEL_DIR = courseModelDir();
const HAS_WEIGHTS = existsSync(join(MODEL_DIR, "model.safetensors"));

/** A failure with the expected hint, and not because the check itself crashed. */
function assertFail(checked: CheckResult, pattern: RegExp) {
  assertFailWith(checked, pattern);
  assert.ok(
    checked.problems.every((p) => !p.startsWith("답을 검사하는 중 오류")),
    `the check crashed: ${checked.problems.join(" | ")}`,
  );
}

/** Feedback must not contain an expected number (to 3 decimals) or token string. */
function assertNotRevealed(checked: CheckResult, secrets: (string | number)[]) {
  const text = checked.problems.join("\n");
  for (const secret of secrets) {
    const shown = typeof secret === "number" ? secret.toFixed(3) : secret;
    assert.ok(!text.includes(shown), `feedback reveals ${shown}: ${text}`);
  }
}

// ---- 03-2 ------------------------------------------------------------------------------------

/** What the solution computes, with tf ops: distances of [CLS], the changed token and pooler. */
async function clsDistances() {
  const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR);
  const model = await BertModel.fromPretrained(MODEL_DIR, { verbose: false });
  const [a, b] = check03.data.q2Sentences.map((s) =>
    tokenizer([s], { returnTensors: "tf" })
  );
  const idsA = (a.input_ids.arraySync() as number[][])[0];
  const idsB = (b.input_ids.arraySync() as number[][])[0];
  const changedPosition = idsA.findIndex((id, i) => id !== idsB[i]);
  const outA = model.forward(a, { output_hidden_states: true });
  const outB = model.forward(b, { output_hidden_states: true });
  const at = (h: tf.Tensor3D, p: number) => h.slice([0, p, 0], [1, 1, -1]);
  const norm = (x: tf.Tensor) => x.norm().dataSync()[0];
  const cosineOf = (x: tf.Tensor, y: tf.Tensor) =>
    x.mul(y).sum().div(x.norm().mul(y.norm())).dataSync()[0];
  const answer = tf.tidy(() => ({
    changedPosition,
    cls: outA.hidden_states!.map((h, l) =>
      norm(at(h, 0).sub(at(outB.hidden_states![l], 0)))
    ),
    changed: outA.hidden_states!.map((h, l) =>
      norm(
        at(h, changedPosition).sub(at(outB.hidden_states![l], changedPosition)),
      )
    ),
    pooler: norm(outA.pooler_output.sub(outB.pooler_output)),
  }));
  const cosines = tf.tidy(() =>
    outA.hidden_states!.map((h, l) =>
      cosineOf(at(h, 0), at(outB.hidden_states![l], 0))
    )
  );
  for (const out of [outA, outB]) {
    tf.dispose([
      out.last_hidden_state,
      out.pooler_output,
      ...out.hidden_states!,
    ]);
  }
  tf.dispose([...Object.values(a), ...Object.values(b)]);
  model.dispose();
  return { answer, cosines, layers: model.config.num_hidden_layers };
}

Deno.test({
  name:
    "03-2 [CLS] distances: measured distances pass; cosines, a dropped embedding layer, an off-by-one position or the last [CLS] as pooler fail",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const { answer, cosines, layers } = await clsDistances();
  // What the exercise teaches has to be true of the real model, or the question is wrong.
  assert.equal(answer.cls.length, layers + 1);
  assert.ok(answer.cls[0] < 1e-4, "[CLS] should start identical");
  assert.ok(answer.cls.at(-1)! > 0.1, "[CLS] should move with a far word");
  assert.ok(answer.changed[0] > answer.cls.at(-1)!);

  assertPass(await check03.q2.evaluate(answer));
  const secrets = [...answer.cls.slice(1), ...answer.changed, answer.pooler];
  const asCosine = await check03.q2.evaluate({ ...answer, cls: cosines });
  assertFail(asCosine, /코사인/);
  assertNotRevealed(asCosine, secrets);
  assertFail(
    await check03.q2.evaluate({ ...answer, cls: answer.cls.slice(1) }),
    /임베딩 출력/,
  );
  assertFail(
    await check03.q2.evaluate({
      ...answer,
      changedPosition: answer.changedPosition - 1,
    }),
    /input_ids/,
  );
  assertFail(
    await check03.q2.evaluate({ ...answer, cls: answer.changed }),
    /다른 위치/,
  );
  const lastCls = await check03.q2.evaluate({
    ...answer,
    pooler: answer.cls.at(-1)!,
  });
  assertFail(lastCls, /tanh/);
  assertNotRevealed(lastCls, [answer.pooler]);
  const stub = await check03.q2.evaluate({
    changedPosition: -1,
    cls: [],
    changed: [],
    pooler: 0,
  });
  assertFail(stub, /숫자 배열/);
});

// ---- 05-1 ------------------------------------------------------------------------------------

type Candidate = { token: number; token_str: string; score: number };

/** Top-k candidates at `position` from the MLM logits, scored by `normalize`. */
async function candidatesAt(
  tokenizer: BertTokenizer,
  shift: number,
  normalize: (atMask: tf.Tensor1D) => tf.Tensor1D,
): Promise<Candidate[]> {
  const model = await BertForMaskedLM.fromPretrained(MODEL_DIR, {
    verbose: false,
  });
  const inputs = tokenizer([check05.data.q1Text], { returnTensors: "tf" });
  const position = (inputs.input_ids.arraySync() as number[][])[0]
    .indexOf(tokenizer.maskTokenId) + shift;
  const [scores, ids] = tf.tidy(() => {
    const logits = model.forward(inputs).logits! as tf.Tensor3D;
    const row = logits.slice([0, position, 0], [1, 1, -1]).reshape([
      -1,
    ]) as tf.Tensor1D;
    const { indices } = tf.topk(row, check05.data.q1TopK);
    const probabilities = normalize(row);
    return [
      tf.gather(probabilities, indices).arraySync() as number[],
      indices.arraySync() as number[],
    ];
  });
  tf.dispose(Object.values(inputs));
  model.dispose();
  return ids.map((token, i) => ({
    token,
    token_str: tokenizer.convertIdsToTokens(token) as string,
    score: scores[i],
  }));
}

Deno.test({
  name:
    "05-1 fill-mask from logits: softmax over the vocabulary passes; raw logits, top-k renormalised, the wrong position or ascending order fail",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR);
  const right = await candidatesAt(tokenizer, 0, (row) => tf.softmax(row));
  assertPass(await check05.q1.evaluate(right));
  // The pipeline and the logits agree (what the check compares against).
  const unmasker = await pipeline("fill-mask", MODEL_DIR, { engine: "tfjs" });
  const fromPipeline = await unmasker(check05.data.q1Text, {
    topK: check05.data.q1TopK,
  }) as Candidate[];
  await unmasker.dispose();
  assert.deepEqual(fromPipeline.map((c) => c.token), right.map((c) => c.token));

  assertFail(
    await check05.q1.evaluate(await candidatesAt(tokenizer, 0, (row) => row)),
    /softmax/,
  );
  const renormalised = right.map((c) => ({
    ...c,
    score: c.score / right.reduce((s, r) => s + r.score, 0),
  }));
  assertFail(await check05.q1.evaluate(renormalised), /어휘 축/);
  const shifted = await check05.q1.evaluate(
    await candidatesAt(tokenizer, -1, (row) => tf.softmax(row)),
  );
  assertFail(shifted, /maskTokenId/);
  assertNotRevealed(
    shifted,
    right.map((c) => c.token_str).filter((t) => t.length > 1),
  );
  assertFail(await check05.q1.evaluate([...right].reverse()), /내림차순/);
  assertFail(
    await check05.q1.evaluate(
      right.map((c) => ({ ...c, token_str: `#${c.token_str}` })),
    ),
    /convertIdsToTokens/,
  );
  assertFail(await check05.q1.evaluate([]), /배열/);
});

// ---- 05-3 ------------------------------------------------------------------------------------

Deno.test({
  name:
    "05-3 batch size: real measurements with their fastest batch pass; a slower batch, made-up numbers or a missing size fail",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const { split, n, seed } = check05.data.q3Sample;
  const texts = sampleStratified(await loadNsmc(split, { quiet: true }), {
    n,
    seed,
  }).getColumn("document").toArray() as string[];
  const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR);
  const model = await BertForSequenceClassification.fromPretrained(MODEL_DIR, {
    num_labels: 2,
    verbose: false,
  });
  const measurements: { batchSize: number; perSecond: number }[] = [];
  for (const batchSize of check05.data.q3BatchSizes) {
    const classify = await pipeline(
      "sentiment-analysis",
      { model, tokenizer },
      {
        engine: "tfjs",
        batchSize,
      },
    );
    await classify(texts.slice(0, batchSize));
    const started = performance.now();
    await classify(texts);
    measurements.push({
      batchSize,
      perSecond: texts.length / ((performance.now() - started) / 1000),
    });
    await classify.dispose();
  }
  model.dispose();
  const fastest = measurements.reduce((a, b) =>
    b.perSecond > a.perSecond ? b : a
  );
  assertPass(
    await check05.q3.evaluate({
      measurements,
      chosenBatchSize: fastest.batchSize,
    }),
  );

  // "Bigger is faster" without looking: the largest batch (or, where that is the fastest, another
  // one), made clearly slower in the learner's own table.
  const largest = Math.max(...check05.data.q3BatchSizes);
  const wrong = largest !== fastest.batchSize
    ? largest
    : measurements.find((m) => m !== fastest)!.batchSize;
  const slowerTable = measurements.map((m) =>
    m.batchSize === wrong
      ? { ...m, perSecond: Math.min(m.perSecond, 0.5 * fastest.perSecond) }
      : m
  );
  assertFail(
    await check05.q3.evaluate({
      measurements: slowerTable,
      chosenBatchSize: wrong,
    }),
    /가장 빠른 배치가 아닙니다/,
  );
  const madeUp = measurements.map((m) => ({
    ...m,
    perSecond: 100 * m.perSecond,
  }));
  assertFail(
    await check05.q3.evaluate({
      measurements: madeUp,
      chosenBatchSize: fastest.batchSize,
    }),
    /다시 측정한/,
  );
  assertFail(
    await check05.q3.evaluate({
      measurements: measurements.filter((m) => m.batchSize !== 1),
      chosenBatchSize: fastest.batchSize === 1 ? 4 : fastest.batchSize,
    }),
    /측정하지 않았습니다/,
  );
  assertFail(
    await check05.q3.evaluate({ measurements: [], chosenBatchSize: 0 }),
    /측정하지 않았습니다/,
  );
});

// ---- 07-2 ------------------------------------------------------------------------------------

Deno.test("07-2 tokenizer efficiency: measured rates and the argmin pass; counting specials, dropping spaces, a famous pick or UNK per char fail", async () => {
  const { split, n, seed } = check07.data.q2Sample;
  const texts = sampleStratified(await loadNsmc(split, { quiet: true }), {
    n,
    seed,
  }).getColumn("document").toArray() as string[];
  const tokenizers = {
    course: await AutoTokenizer.fromPretrained(MODEL_DIR),
    kcbert: await AutoTokenizer.fromPretrained(check07.data.q2Models.kcbert, {
      doLowerCase: false,
    }),
    mbert: await AutoTokenizer.fromPretrained(check07.data.q2Models.mbert),
  };
  const chars = texts.join("").length;
  const rates = (tok: BertTokenizer, extra = 0, divisor = chars) => {
    const tokens = texts.flatMap((t) => tok.tokenize(t));
    const unknown = tokens.filter((t) => t === tok.unkToken).length;
    return {
      tokensPerChar: (tokens.length + extra) / divisor,
      unkRate: unknown / tokens.length,
    };
  };
  const course = rates(tokenizers.course);
  const kcbert = rates(tokenizers.kcbert);
  const mbert = rates(tokenizers.mbert);
  const measured = { course, kcbert, mbert };
  const keys = ["course", "kcbert", "mbert"] as const;
  const mostEfficient = keys.reduce((a, b) =>
    measured[b].tokensPerChar < measured[a].tokensPerChar ? b : a
  );
  assertPass(await check07.q2.evaluate({ ...measured, mostEfficient }));
  // mBERT splits Korean finer than a Korean vocabulary: the lesson's claim, measured.
  assert.ok(
    mbert.tokensPerChar > Math.max(course.tokensPerChar, kcbert.tokensPerChar),
  );

  const withSpecials = await check07.q2.evaluate({
    ...measured,
    kcbert: rates(tokenizers.kcbert, 2 * texts.length),
    mostEfficient,
  });
  assertFail(withSpecials, /특수 토큰/);
  assertNotRevealed(withSpecials, [kcbert.tokensPerChar]);
  const noSpaces = texts.join("").replace(/\s/g, "").length;
  assertFail(
    await check07.q2.evaluate({
      ...measured,
      mbert: rates(tokenizers.mbert, 0, noSpaces),
      mostEfficient,
    }),
    /공백/,
  );
  const wrongPick = keys.find((k) => k !== mostEfficient)!;
  assertFail(
    await check07.q2.evaluate({ ...measured, mostEfficient: wrongPick }),
    /측정한 숫자/,
  );
  const unkTokens = texts.flatMap((t) => tokenizers.mbert.tokenize(t))
    .filter((t) => t === tokenizers.mbert.unkToken).length;
  assert.ok(unkTokens > 0, "mBERT should produce some [UNK] on NSMC");
  assertFail(
    await check07.q2.evaluate({
      ...measured,
      mbert: { ...mbert, unkRate: unkTokens / chars },
      mostEfficient,
    }),
    /글자 수로 나눴습니다/,
  );
  const none = { tokensPerChar: 0, unkRate: 0 };
  assertFail(
    await check07.q2.evaluate({
      course: none,
      kcbert: none,
      mbert: none,
      mostEfficient: "" as "course",
    }),
    /tokensPerChar/,
  );
});

// ---- 07-3 ------------------------------------------------------------------------------------

Deno.test("07-3 hyperparameters: a plan sized with KcBERT's tokenizer passes; the course tokenizer's length, 512, 256, lr 1e-3 or no warmup fail", async () => {
  const { split, n, seed } = check07.data.q3Sample;
  const texts = sampleStratified(await loadNsmc(split, { quiet: true }), {
    n,
    seed,
  }).getColumn("document").toArray() as string[];
  const quantile = (tok: BertTokenizer, p: number) => {
    const lengths = texts.map((t) => tok.encode(t).length).sort((a, b) =>
      a - b
    );
    return lengths[Math.ceil(p * lengths.length) - 1];
  };
  const kcbert = await AutoTokenizer.fromPretrained(check07.data.q3Model, {
    doLowerCase: false,
  });
  const course = await AutoTokenizer.fromPretrained(MODEL_DIR);
  const config = await BertConfig.fromPretrained(check07.data.q3Model);
  const q99 = quantile(kcbert, 0.99);
  const plan = {
    learningRate: 3e-5,
    numTrainEpochs: 3,
    batchSize: 32,
    maxLength: Math.ceil(q99 / 8) * 8,
    warmupRatio: 0.1,
  };
  assertPass(await check07.q3.evaluate(plan));
  assertPass(await check07.q3.evaluate({ ...plan, maxLength: 128 }));

  const courseQ95 = quantile(course, check07.data.q3Coverage);
  const kcbertQ95 = quantile(kcbert, check07.data.q3Coverage);
  if (courseQ95 < kcbertQ95) {
    assertFail(
      await check07.q3.evaluate({ ...plan, maxLength: courseQ95 }),
      /코스 토크나이저로 측정했나요/,
    );
  }
  assertFail(
    await check07.q3.evaluate({ ...plan, maxLength: kcbertQ95 - 10 }),
    /짧아/,
  );
  assert.ok(config.max_position_embeddings < 512);
  assertFail(
    await check07.q3.evaluate({ ...plan, maxLength: 512 }),
    /max_position_embeddings/,
  );
  if (256 > 2 * q99 && 256 <= config.max_position_embeddings) {
    assertFail(
      await check07.q3.evaluate({ ...plan, maxLength: 256 }),
      /너무 깁/,
    );
  }
  assertFail(
    await check07.q3.evaluate({ ...plan, learningRate: 1e-3 }),
    /너무 큽니다/,
  );
  assertFail(await check07.q3.evaluate({ ...plan, warmupRatio: 0 }), /0입니다/);
});
