/**
 * The exercise checks of lessons 03-04 (00-02: exercises_checks_0002_test.ts): a right answer passes, wrong answers fail, and the
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
  check03,
  check04,
  courseModelDir,
  type Example,
  initBackend,
  loadNsmc,
  resolveWarmupSteps,
  sampleStratified,
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

// 03-2 ([CLS] distances) is tested in exercises_checks_030507_test.ts.

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

/** Trains a classifier from the course model the way exercise 04-2's solution does. */
async function fineTune(
  examples: Example[],
  freeze: "feature_extraction" | "full",
  learningRate: number,
  numTrainEpochs: number,
) {
  const model = await BertForSequenceClassification.fromPretrained(MODEL_DIR, {
    num_labels: 2,
    seed: 42,
    verbose: false,
  });
  const trainer = new Trainer({
    model,
    args: {
      numTrainEpochs,
      batchSize: 32,
      learningRate,
      warmupRatio: 0.1,
      freeze,
      seed: 42,
      evalStrategy: "no",
      progress: false,
      padTokenId: tokenizer.padTokenId,
    },
    trainDataset: examples,
  });
  await trainer.train();
  return model;
}

Deno.test({
  name:
    "04-2 freeze vs full: trained models pass; an untrained head, an unmoved or random encoder, swapped or misreported fail",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const toExamples = (frame: Awaited<ReturnType<typeof loadNsmc>>) => {
    const texts = frame.getColumn("document").toArray() as string[];
    const labels = frame.getColumn("label").toArray() as number[];
    return texts.map((text, i): Example => ({
      input_ids: tokenizer.encode(text, { truncation: true, maxLength: 64 }),
      label: Number(labels[i]),
    }));
  };
  // The solution's quick mode: 200 training reviews, 100 evaluation reviews.
  const trainExamples = toExamples(
    sampleStratified(await loadNsmc("train", { quiet: true }), {
      n: 200,
      seed: 7,
    }),
  );
  const evalExamples = toExamples(
    sampleStratified(await loadNsmc("test", { quiet: true }), {
      n: 100,
      seed: 7,
    }),
  );
  const frozenModel = await fineTune(
    trainExamples,
    "feature_extraction",
    1e-3,
    10,
  );
  const fullModel = await fineTune(trainExamples, "full", 1e-4, 2);
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
    return (await trainer.evaluate(evalExamples)).eval_accuracy;
  };
  const frozenAccuracy = await measure(frozenModel);
  const fullAccuracy = await measure(fullModel);
  const answer = {
    frozenModel,
    fullModel,
    evalExamples,
    frozenAccuracy,
    fullAccuracy,
  };
  const right = await check04.q2.evaluate(answer);
  assert.ok(right.passed, right.problems.join("\n"));

  // The case: a frozen model whose head never trained (pretrained encoder, new head).
  const untrained = await BertForSequenceClassification.fromPretrained(
    MODEL_DIR,
    { num_labels: 2, seed: 3, verbose: false },
  );
  const untrainedHead = await check04.q2.evaluate({
    ...answer,
    frozenModel: untrained,
    frozenAccuracy: await measure(untrained),
  });
  assert.ok(!untrainedHead.passed);
  assert.match(
    untrainedHead.problems.join(),
    /frozenModel의 분류 헤드가 초깃값/,
  );
  // Its bias nudged so that it looks "moved": the check's own validation sample still fails it.
  const bias = untrained.namedParameters().get("classifier.bias")!;
  bias.assign(tf.tidy(() => tf.add(bias, tf.tensor1d([0.01, -0.01]))));
  const nudgedHead = await check04.q2.evaluate({
    ...answer,
    frozenModel: untrained,
    frozenAccuracy: await measure(untrained),
  });
  assert.ok(!nudgedHead.passed);
  assert.match(nudgedHead.problems.join(), /frozenModel을 검사용 검증 표본/);
  assert.doesNotMatch(nudgedHead.problems.join(), /fullModel/);

  // A "full" model whose encoder was nudged but which never trained: head and accuracy fail.
  const nudged = await BertForSequenceClassification.fromPretrained(
    MODEL_DIR,
    { num_labels: 2, seed: 3, verbose: false },
  );
  const query = nudged.namedParameters().get(
    "bert.encoder.layer.0.attention.self.query.weight",
  )!;
  query.assign(tf.tidy(() => tf.add(query, 0.01)));
  const untrainedFull = await check04.q2.evaluate({
    ...answer,
    fullModel: nudged,
    fullAccuracy: await measure(nudged),
  });
  assert.ok(!untrainedFull.passed);
  assert.match(untrainedFull.problems.join(), /fullModel의 분류 헤드가 초깃값/);

  const swapped = await check04.q2.evaluate({
    ...answer,
    frozenModel: fullModel,
    fullModel: frozenModel,
    frozenAccuracy: fullAccuracy,
    fullAccuracy: frozenAccuracy,
  });
  assert.ok(!swapped.passed);
  assert.match(swapped.problems.join(), /frozenModel의 인코더 가중치가/);
  assert.match(swapped.problems.join(), /fullModel의 인코더 가중치가 그대로/);
  const same = await check04.q2.evaluate({
    ...answer,
    frozenModel: fullModel,
    frozenAccuracy: fullAccuracy,
  });
  assert.ok(!same.passed);
  const misreported = await check04.q2.evaluate({
    ...answer,
    frozenAccuracy: Math.min(1, frozenAccuracy + 0.2),
  });
  assert.ok(!misreported.passed);
  assert.match(misreported.problems.join(), /frozenAccuracy가 evalExamples/);
  // A randomly initialized "full" model must not pass as fine-tuned.
  const config = await BertConfig.fromPretrained(courseModelDir());
  const randomModel = new BertForSequenceClassification(
    config.clone({ num_labels: 2 }),
    { seed: 1 },
  );
  const random = await check04.q2.evaluate({
    ...answer,
    fullModel: randomModel,
    fullAccuracy: await measure(randomModel),
  });
  assert.ok(!random.passed);
  assert.match(random.problems.join(), /무작위 초기화가 아니라/);
  for (
    const model of [randomModel, nudged, untrained, frozenModel, fullModel]
  ) {
    model.dispose();
  }
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
