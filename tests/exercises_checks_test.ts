/**
 * The exercise checks of lessons 01-04: a right answer passes, wrong answers fail, and the
 * feedback never contains the value it expected. Expected values are computed here with the
 * library, independently of the checks.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import {
  AutoTokenizer,
  BertConfig,
  BertForSequenceClassification,
  type BertTokenizer,
  check01,
  check02,
  check03,
  check04,
  courseModelDir,
  type Example,
  initBackend,
  resolveWarmupSteps,
  SeededRandom,
  Trainer,
} from "../lib/mod.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", join(ROOT, "..", "shared", "mirror"));
}
await initBackend();

const MODEL_DIR = courseModelDir();
const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR);
// The tokenizer files ship first; the weights come with the pretraining run. Checks that run the
// model wait for them (say so loudly) instead of failing on a missing file.
const HAS_WEIGHTS = existsSync(join(MODEL_DIR, "model.safetensors")) &&
  existsSync(join(MODEL_DIR, "config.json"));
if (!HAS_WEIGHTS) {
  console.warn(
    `exercises_checks_test: no weights in ${MODEL_DIR}; model checks are skipped`,
  );
}

function assertNotRevealed(problems: string[], secrets: (string | number)[]) {
  const text = problems.join("\n");
  for (const secret of secrets) {
    assert.ok(
      !new RegExp(`(^|[^0-9])${String(secret)}([^0-9]|$)`).test(text),
      `feedback reveals ${secret}: ${text}`,
    );
  }
}

// ---- lesson 01 -------------------------------------------------------------------------------

Deno.test("01-1 bidirectional: a real explanation passes, vague ones fail", async () => {
  const good = await check01.q1.evaluate(
    "BERT는 빈칸의 왼쪽 문맥과 오른쪽 문맥을 셀프 어텐션으로 한꺼번에 모두 본다.",
  );
  assert.ok(good.passed, good.problems.join());
  assert.ok(!(await check01.q1.evaluate("")).passed);
  const onlyLeft = await check01.q1.evaluate(
    "BERT는 빈칸 앞의 단어들을 보고 예측하는 모델이다.",
  );
  assert.ok(!onlyLeft.passed);
  assert.ok(onlyLeft.problems.some((p) => p.includes("뒤")));
});

Deno.test("01-2 MLM and NSP: key ideas are required for both", async () => {
  const good = await check01.q2.evaluate({
    mlm: "토큰 일부를 [MASK]로 가리고 원래 토큰을 예측한다.",
    nsp: "두 문장이 실제로 이어지는 다음 문장인지 맞힌다.",
  });
  assert.ok(good.passed, good.problems.join());
  const swapped = await check01.q2.evaluate({
    mlm: "두 문장이 실제로 이어지는 다음 문장인지 맞힌다.",
    nsp: "토큰 일부를 [MASK]로 가리고 원래 토큰을 예측한다.",
  });
  assert.ok(!swapped.passed);
});

type MaskFn = (
  ids: number[],
  tok: BertTokenizer,
  rng: SeededRandom,
) => { input_ids: number[]; labels: number[] };

function maskWith(
  rates: { select: number; mask: number; random: number },
  options: { skipSpecial?: boolean } = {},
): MaskFn {
  return (ids, tok, rng) => {
    const special = new Set([tok.clsTokenId, tok.sepTokenId, tok.padTokenId]);
    const input_ids = [...ids];
    const labels = ids.map(() => -100);
    ids.forEach((id, i) => {
      if ((options.skipSpecial ?? true) && special.has(id)) return;
      if (rng.next() >= rates.select) return;
      labels[i] = id;
      const roll = rng.next();
      if (roll < rates.mask) input_ids[i] = tok.maskTokenId;
      else if (roll < rates.mask + rates.random) {
        input_ids[i] = rng.int(tok.vocabSize);
      }
    });
    return { input_ids, labels };
  };
}

Deno.test("01-3 masking: 80/10/10 passes; wrong rates, specials, Math.random and mutation fail", async () => {
  const right = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 }),
  );
  assert.ok(right.passed, right.problems.join());
  const allMask = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 1, random: 0 }),
  );
  assert.ok(!allMask.passed);
  const tooMany = await check01.q3.evaluate(
    maskWith({ select: 0.3, mask: 0.8, random: 0.1 }),
  );
  assert.ok(!tooMany.passed);
  const specials = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 }, { skipSpecial: false }),
  );
  assert.ok(!specials.passed);
  assert.ok(specials.problems.some((p) => p.includes("특수 토큰")));
  const unseeded: MaskFn = (ids, tok) =>
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 })(
      ids,
      tok,
      new SeededRandom(Math.floor(Math.random() * 1e9)),
    );
  assert.ok(!(await check01.q3.evaluate(unseeded)).passed);
  const mutating: MaskFn = (ids, tok, rng) => {
    const out = maskWith({ select: 0.15, mask: 0.8, random: 0.1 })(
      ids,
      tok,
      rng,
    );
    ids.splice(0, ids.length, ...out.input_ids);
    return out;
  };
  assert.ok(!(await check01.q3.evaluate(mutating)).passed);
  const throwing: MaskFn = () => {
    throw new Error("boom");
  };
  const crashed = await check01.q3.evaluate(throwing);
  assert.ok(!crashed.passed && crashed.problems[0].includes("boom"));
});

// ---- lesson 02 -------------------------------------------------------------------------------

Deno.test("02-1 tokenize: the library's own encoding passes; near misses fail without the answer", async () => {
  const { q1Sentence, q1MaxLength } = check02.data;
  const encoded = tokenizer(q1Sentence, {
    padding: "max_length",
    truncation: true,
    maxLength: q1MaxLength,
  });
  const right = {
    tokens: tokenizer.tokenize(q1Sentence),
    input_ids: encoded.input_ids,
    attention_mask: encoded.attention_mask,
  };
  assert.equal(right.input_ids.length, q1MaxLength);
  assert.ok((await check02.q1.evaluate(right)).passed);

  const unpadded = { ...right, input_ids: tokenizer.encode(q1Sentence) };
  assert.ok(!(await check02.q1.evaluate(unpadded)).passed);
  const withSpecials = {
    ...right,
    tokens: tokenizer.tokenize(q1Sentence, { addSpecialTokens: true }),
  };
  const result = await check02.q1.evaluate(withSpecials);
  assert.ok(!result.passed);
  assert.ok(!result.problems.join().includes("[CLS]"));
  const oneOff = {
    ...right,
    input_ids: right.input_ids.map((id, i) => (i === 2 ? id + 1 : id)),
  };
  const offResult = await check02.q1.evaluate(oneOff);
  assert.ok(!offResult.passed);
  assertNotRevealed(offResult.problems, [right.input_ids[2]]);
});

Deno.test("02-2 special tokens: ids from the vocabulary pass; wrong ids fail without revealing", async () => {
  const names = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"];
  const right = Object.fromEntries(
    names.map((t) => [t, tokenizer.convertTokensToIds(t)]),
  );
  assert.ok((await check02.q2.evaluate(right)).passed);
  const swapped = {
    ...right,
    "[CLS]": right["[SEP]"],
    "[SEP]": right["[CLS]"],
  };
  const result = await check02.q2.evaluate(swapped);
  assert.ok(!result.passed);
  assert.equal(result.problems.length, 2);
  const { "[MASK]": _mask, ...missing } = right;
  assert.ok(!(await check02.q2.evaluate(missing)).passed);
});

Deno.test("02-3 token counts: counts from mBERT and the course vocabulary pass; counting specials gets a hint", async () => {
  const mbert = await AutoTokenizer.fromPretrained(check02.data.mbertId);
  const right = {
    mbertKorean: mbert.tokenize(check02.data.q3Korean).length,
    mbertEnglish: mbert.tokenize(check02.data.q3English).length,
    courseKorean: tokenizer.tokenize(check02.data.q3Korean).length,
    courseEnglish: tokenizer.tokenize(check02.data.q3English).length,
  };
  assert.ok((await check02.q3.evaluate(right)).passed);
  const withSpecials = await check02.q3.evaluate({
    ...right,
    mbertKorean: right.mbertKorean + 2,
  });
  assert.ok(!withSpecials.passed);
  assert.ok(withSpecials.problems[0].includes("[CLS]"));
  assertNotRevealed(withSpecials.problems, [right.mbertKorean]);
});

// ---- lesson 03 -------------------------------------------------------------------------------

Deno.test({
  name:
    "03-1 output shapes: [1, length, hidden] and [1, hidden] pass; swapped fails",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const config = await BertConfig.fromPretrained(MODEL_DIR);
  const length = tokenizer.encode(check03.data.q1Sentence).length;
  const right = {
    last_hidden_state: [1, length, config.hidden_size],
    pooler_output: [1, config.hidden_size],
  };
  assert.ok((await check03.q1.evaluate(right)).passed);
  const wrong = {
    last_hidden_state: [1, config.hidden_size, length],
    pooler_output: [1, config.hidden_size],
  };
  const result = await check03.q1.evaluate(wrong);
  assert.ok(!result.passed);
  assertNotRevealed(result.problems, [length]);
});

Deno.test("03-2 why [CLS]: needs summary, attention and where it is used", async () => {
  const good = await check03.q2.evaluate(
    "[CLS]는 셀프 어텐션으로 모든 토큰을 보고 문장 전체를 요약하며, NSP 사전학습과 분류 헤드가 그 위치를 쓴다.",
  );
  assert.ok(good.passed, good.problems.join());
  const vague = await check03.q2.evaluate(
    "[CLS]는 맨 앞에 있는 특별한 토큰이기 때문이다.",
  );
  assert.ok(!vague.passed);
});

Deno.test({
  name:
    "03-3 embedding parameters: the formula passes; forgetting LayerNorm gets a hint",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const c = await BertConfig.fromPretrained(MODEL_DIR);
  const tables =
    (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) *
    c.hidden_size;
  assert.ok((await check03.q3.evaluate(tables + 2 * c.hidden_size)).passed);
  const noNorm = await check03.q3.evaluate(tables);
  assert.ok(!noNorm.passed);
  assert.ok(noNorm.problems[0].includes("LayerNorm"));
  assertNotRevealed(noNorm.problems, [tables + 2 * c.hidden_size]);
  assert.ok(!(await check03.q3.evaluate(1.5)).passed);
});

// ---- lesson 04 -------------------------------------------------------------------------------

Deno.test({
  name: "04-1 trainable counts: head only vs everything",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const model = await BertForSequenceClassification.fromPretrained(MODEL_DIR, {
    num_labels: 2,
    verbose: false,
  });
  const full = model.countParameters().total;
  const hidden = model.config.hidden_size;
  model.dispose();
  const frozen = hidden * 2 + 2;
  assert.ok((await check04.q1.evaluate({ frozen, full })).passed);
  const notFrozen = await check04.q1.evaluate({ frozen: full, full });
  assert.ok(!notFrozen.passed);
  assert.ok(notFrozen.problems[0].includes("얼렸나요"));
  assert.ok(
    !(await check04.q1.evaluate({
      frozen: frozen + hidden * hidden + hidden,
      full,
    })).passed,
  );
});

Deno.test({
  name:
    "04-2 freeze vs full: re-measures accuracy and checks which encoder moved",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const texts = check01.data.maskingSentences;
  const examples: Example[] = [...texts, ...texts].map((text, i) => ({
    input_ids: tokenizer.encode(text),
    label: i % 2,
  }));
  const load = () =>
    BertForSequenceClassification.fromPretrained(MODEL_DIR, {
      num_labels: 2,
      verbose: false,
      seed: 3,
    });
  const frozenModel = await load();
  const fullModel = await load();
  // Stand-in for full fine-tuning: nudge one encoder weight, as training would.
  const query = fullModel.namedParameters().get(
    "bert.encoder.layer.0.attention.self.query.weight",
  )!;
  query.assign(tf.tidy(() => tf.add(query, 0.01)));
  const measure = async (model: BertForSequenceClassification) => {
    const trainer = new Trainer({
      model,
      args: {
        padTokenId: tokenizer.padTokenId,
        progress: false,
        evalStrategy: "no",
      },
      computeMetrics: ({ predictions, labels }) => ({
        accuracy: (predictions as number[]).filter((p, i) =>
          p === labels[i]
        ).length / labels.length,
      }),
    });
    return (await trainer.evaluate(examples)).eval_accuracy;
  };
  const frozenAccuracy = await measure(frozenModel);
  const fullAccuracy = await measure(fullModel);
  const right = await check04.q2.evaluate({
    frozenModel,
    fullModel,
    evalExamples: examples,
    frozenAccuracy,
    fullAccuracy,
  });
  assert.ok(right.passed, right.problems.join());
  const swapped = await check04.q2.evaluate({
    frozenModel: fullModel,
    fullModel: frozenModel,
    evalExamples: examples,
    frozenAccuracy: fullAccuracy,
    fullAccuracy: frozenAccuracy,
  });
  assert.ok(!swapped.passed);
  assert.equal(swapped.problems.length, 2);
  const misreported = await check04.q2.evaluate({
    frozenModel,
    fullModel,
    evalExamples: examples,
    frozenAccuracy: Math.min(1, frozenAccuracy + 0.2),
    fullAccuracy,
  });
  assert.ok(!misreported.passed);
  // A randomly initialized "full" model must not pass as fine-tuned.
  const { BertConfig } = await import("../lib/mod.ts");
  const config = await BertConfig.fromPretrained(courseModelDir());
  const randomModel = new BertForSequenceClassification(
    config.clone({ num_labels: 2 }),
    { seed: 1 },
  );
  const random = await check04.q2.evaluate({
    frozenModel,
    fullModel: randomModel,
    evalExamples: examples,
    frozenAccuracy,
    fullAccuracy: await measure(randomModel),
  });
  assert.ok(!random.passed);
  assert.match(random.problems.join(), /무작위 초기화가 아니라/);
  randomModel.dispose();
  frozenModel.dispose();
  fullModel.dispose();
});

Deno.test("04-3 schedule: partial last batch counts; warmup rounds up", async () => {
  const { numExamples, batchSize, numTrainEpochs, warmupRatio } =
    check04.data.q3;
  const totalSteps = Math.ceil(numExamples / batchSize) * numTrainEpochs;
  const warmupSteps = resolveWarmupSteps(totalSteps, undefined, warmupRatio);
  assert.ok((await check04.q3.evaluate({ totalSteps, warmupSteps })).passed);
  const dropped = await check04.q3.evaluate({
    totalSteps: Math.floor(numExamples / batchSize) * numTrainEpochs,
    warmupSteps,
  });
  assert.ok(!dropped.passed);
  assert.ok(dropped.problems[0].includes("마지막"));
  assert.ok(
    !(await check04.q3.evaluate({
      totalSteps,
      warmupSteps: Math.floor(totalSteps * warmupRatio) - 1,
    })).passed,
  );
});

Deno.test("feedback: the verdict reads in words, and an empty variable is named as such", async () => {
  const { formatFeedback, missingFields, result } = await import(
    "../lib/exercises/feedback.ts"
  );
  // Without an emoji font the two marks look alike: the words must differ.
  assert.match(formatFeedback(result("04-1", [])), /통과/);
  assert.match(formatFeedback(result("04-1", ["x"])), /다시.*\n {2}- x/);
  assert.deepEqual(missingFields({ a: 1, b: 2 }, ["a", "b"]), []);
  assert.match(missingFields(undefined, ["a", "b"])[0], /\{ a, b \} 객체/);
  const [problem] = missingFields({ a: 1, b: undefined }, ["a", "b"]);
  assert.match(problem, /^b: 값이 undefined입니다/);
  const { check04 } = await import("../lib/mod.ts");
  const checked = await check04.q2.evaluate(
    {
      frozenModel: undefined,
      fullModel: undefined,
      evalExamples: [],
      frozenAccuracy: 0.5,
      fullAccuracy: 0.5,
    } as unknown as Parameters<typeof check04.q2.evaluate>[0],
  );
  assert.equal(checked.passed, false);
  assert.match(checked.problems[0], /frozenModel, fullModel: 값이/);
});
