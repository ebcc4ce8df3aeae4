/**
 * The Trainer on the real BERT (lib/models) loaded from the Hugging Face tiny fixture: full
 * fine-tuning with dropout, exact resume through savePretrained / loadPretrainedWeights, feature
 * extraction and gradual unfreezing, weight movement per group.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { BertForSequenceClassification } from "../lib/models/mod.ts";
import { initBackend } from "../lib/runtime/backend.ts";
import { SeededRandom } from "../lib/runtime/random.ts";
import { Trainer } from "../lib/train/trainer.ts";
import type { TrainingArguments } from "../lib/train/arguments.ts";
import type { Example } from "../lib/train/types.ts";
import {
  groupsByName,
  snapshotWeights,
  weightMovement,
} from "../lib/train/weight_movement.ts";
import { FIXTURE_DIR, TEST_BACKEND } from "./models_util.ts";
import { maxAbsDiff, weightsOf } from "./train_toy_model.ts";

await initBackend(TEST_BACKEND);

/** [CLS] ids.. [SEP]; label 1 when most ids are in the upper half of the fixture vocabulary. */
function dataset(n: number, seed: number): Example[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, () => {
    const positive = rng.next() < 0.5;
    const body = Array.from(
      { length: 3 + rng.int(8) },
      () =>
        rng.next() < (positive ? 0.8 : 0.2)
          ? 60 + rng.int(60)
          : 5 + rng.int(55),
    );
    return {
      input_ids: [2, ...body, 3],
      token_type_ids: new Array(body.length + 2).fill(0),
      label: positive ? 1 : 0,
    };
  });
}

const train = dataset(64, 1);
const evalSet = dataset(32, 2);
const load = () =>
  BertForSequenceClassification.fromPretrained(FIXTURE_DIR, {
    num_labels: 2,
    verbose: false,
  });
const args: TrainingArguments = {
  batchSize: 8,
  learningRate: 1e-3,
  numTrainEpochs: 3,
  loggingSteps: 4,
  progress: false,
};

Deno.test("full fine-tuning of the fixture BERT learns, leaks nothing, and resumes exactly", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_bert_" });
  try {
    const model = await load();
    const before = tf.memory().numTensors;
    const trainer = new Trainer({
      model,
      args: {
        ...args,
        outputDir,
        saveStrategy: "steps",
        saveSteps: 12,
        evalStrategy: "epoch",
        warmupRatio: 0.1,
      },
      trainDataset: train,
      evalDataset: evalSet,
    });
    const out = await trainer.train();
    const evals = out.history.eval.map((r) => r.eval_loss);
    assert.ok(evals[2] < evals[0], `eval loss ${evals}`);
    trainer.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensor survives training");

    const resumedModel = await load();
    const resumed = new Trainer({
      model: resumedModel,
      args: {
        ...args,
        outputDir: join(outputDir, "b"),
        saveStrategy: "steps",
        saveSteps: 12,
        evalStrategy: "epoch",
        warmupRatio: 0.1,
      },
      trainDataset: train,
      evalDataset: evalSet,
    });
    const r = await resumed.train({
      resumeFromCheckpoint: join(outputDir, "checkpoint-12"),
    });
    const diff = maxAbsDiff(
      await weightsOf(model),
      await weightsOf(resumedModel),
    );
    assert.ok(diff < 1e-6, `resumed weights differ by ${diff}`);
    assert.deepEqual(
      r.history.train.map((x) => x.loss.toFixed(6)),
      out.history.train.map((x) => x.loss.toFixed(6)),
    );
    resumed.dispose();
    model.dispose();
    resumedModel.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("feature extraction moves only the classifier; gradual unfreezing grows per epoch", async () => {
  const model = await load();
  const params = model.namedParameters();
  const w0 = await snapshotWeights(params);
  const out = await new Trainer({
    model,
    args: { ...args, freeze: "feature_extraction", learningRate: 1e-2 },
    trainDataset: train,
  }).train();
  const moved = weightMovement(
    w0,
    await snapshotWeights(params),
    groupsByName(model.parameterGroups(), params),
  );
  assert.equal(moved.byGroup.embeddings, 0);
  assert.equal(moved.byGroup["encoder.layer.1"], 0);
  assert.equal(moved.byGroup.pooler, 0);
  assert.ok(moved.byGroup.head > 0);
  assert.equal(out.history.trainableParams["epoch 0"], 32 * 2 + 2);
  model.dispose();

  const gradual = await load();
  const counts = gradual.countParameters().byGroup;
  const g = await new Trainer({
    model: gradual,
    args: { ...args, freeze: "gradual_unfreezing", numTrainEpochs: 4 },
    trainDataset: train,
  }).train();
  const head = counts.head + counts.pooler;
  assert.deepEqual(Object.values(g.history.trainableParams), [
    head,
    head + counts["encoder.layer.1"],
    head + counts["encoder.layer.1"] + counts["encoder.layer.0"],
    gradual.countParameters().total,
  ]);
  gradual.dispose();
});
