/** The Trainer on a tiny BERT-shaped model (cpu backend): learning, determinism, exact resume, guards. */
import { denoEval } from "./deno_eval.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../lib/runtime/errors.ts";
import { collate } from "../lib/data/collate.ts";
import { listCheckpoints } from "../lib/train/checkpoint.ts";
import { float32Tensors, parseSafetensors } from "../lib/models/safetensors.ts";
import { Trainer } from "../lib/train/trainer.ts";
import type { TrainingArguments } from "../lib/train/arguments.ts";
import {
  groupsByName,
  snapshotWeights,
  weightMovement,
} from "../lib/train/weight_movement.ts";
import {
  maxAbsDiff,
  ToyClassifier,
  toyDataset,
  useCpu,
  weightsOf,
} from "./train_toy_model.ts";

await useCpu();
const train = toyDataset(96, 1);
const evalSet = toyDataset(48, 2);
const base: TrainingArguments = {
  batchSize: 8,
  learningRate: 5e-2,
  numTrainEpochs: 3,
  loggingSteps: 2,
  progress: false,
  seed: 3,
};

Deno.test("Trainer learns a separable task and logs loss, lr, grad norm, speed", async () => {
  const model = new ToyClassifier();
  const trainer = new Trainer({
    model,
    args: {
      ...base,
      evalStrategy: "epoch",
      warmupRatio: 0.1,
      weightDecay: 0.01,
    },
    trainDataset: train,
    evalDataset: evalSet,
  });
  const before = await trainer.evaluate(evalSet);
  const out = await trainer.train();
  assert.equal(out.globalStep, 36);
  assert.equal(out.stoppedBy, "completed");
  const h = out.history;
  assert.equal(h.lr.length, 36);
  assert.ok(
    h.lr[0].learning_rate < h.lr[4].learning_rate,
    "warmup raises the lr",
  );
  assert.ok(
    h.lr[35].learning_rate < h.lr[10].learning_rate,
    "linear decay lowers it",
  );
  assert.equal(h.eval.length, 3);
  const last = h.eval[2];
  assert.ok(last.eval_accuracy > 0.85, `accuracy ${last.eval_accuracy}`);
  assert.ok(last.eval_loss < before.eval_loss);
  assert.ok(h.train[0].grad_norm > 0 && h.train[0].samples_per_second > 0);
  const df = h.toDataFrame("train");
  assert.deepEqual(df.shape, { height: h.train.length, width: 9 });
  const prediction = await trainer.predict(evalSet);
  assert.equal(prediction.logits.length, evalSet.length);
  assert.equal((prediction.logits[0] as number[]).length, 2);
  assert.ok(prediction.metrics.test_accuracy > 0.85);
  trainer.dispose();
  model.dispose();
});

Deno.test("same seed gives the same loss curve and weights; tensors do not leak", async () => {
  const run = async (maxSteps: number) => {
    const model = new ToyClassifier();
    const before = tf.memory().numTensors;
    const trainer = new Trainer({
      model,
      args: { ...base, maxSteps, loggingSteps: 1 },
      trainDataset: train,
    });
    const out = await trainer.train();
    trainer.dispose();
    const leaked = tf.memory().numTensors - before;
    const weights = await weightsOf(model);
    model.dispose();
    return { losses: out.history.train.map((r) => r.loss), weights, leaked };
  };
  const a = await run(20), b = await run(20), short = await run(3);
  assert.deepEqual(a.losses, b.losses);
  assert.equal(maxAbsDiff(a.weights, b.weights), 0);
  assert.equal(a.leaked, 0, "no tensor survives a 20-step run");
  assert.equal(short.leaked, 0);
});

Deno.test("resume from a mid-run checkpoint continues exactly (weights and loss curve)", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_resume_" });
  try {
    const args: TrainingArguments = {
      ...base,
      outputDir,
      saveStrategy: "steps",
      saveSteps: 6,
      loggingSteps: 3,
    };
    const straightModel = new ToyClassifier();
    const straight = await new Trainer({
      model: straightModel,
      args,
      trainDataset: train,
    }).train();
    const resumedModel = new ToyClassifier({ seed: 99 }); // different init: resume must overwrite it
    const resumedTrainer = new Trainer({
      model: resumedModel,
      args: { ...args, outputDir: outputDir + "_b" },
      trainDataset: train,
    });
    const resumed = await resumedTrainer.train({
      resumeFromCheckpoint: join(outputDir, "checkpoint-18"),
    });
    assert.equal(resumed.globalStep, straight.globalStep);
    const diff = maxAbsDiff(
      await weightsOf(straightModel),
      await weightsOf(resumedModel),
    );
    assert.ok(diff < 1e-6, `weights differ by ${diff}`);
    const losses = (h: typeof straight) => h.history.train.map((r) => r.loss);
    assert.equal(losses(resumed).length, losses(straight).length);
    losses(straight).forEach((l, i) =>
      assert.ok(Math.abs(l - losses(resumed)[i]) < 1e-6)
    );
    straightModel.dispose();
    resumedModel.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true }).catch(() => {});
    await Deno.remove(outputDir + "_b", { recursive: true }).catch(() => {});
  }
});

Deno.test("gradient accumulation 4x2 equals batch 8 (no dropout, same example order)", async () => {
  const run = async (batchSize: number, gradientAccumulationSteps: number) => {
    const model = new ToyClassifier({ dropout: 0 });
    await new Trainer({
      model,
      args: {
        ...base,
        batchSize,
        gradientAccumulationSteps,
        bucketByLength: false,
        maxGradNorm: 0.5,
      },
      trainDataset: train,
    }).train();
    const w = await weightsOf(model);
    model.dispose();
    return w;
  };
  const diff = maxAbsDiff(await run(8, 1), await run(4, 2));
  assert.ok(diff < 1e-5, `differ by ${diff}`);
});

Deno.test("feature extraction trains only the head; gradual unfreezing adds a block per epoch", async () => {
  const model = new ToyClassifier({ layers: 2 });
  const params = model.namedParameters();
  const w0 = await snapshotWeights(params);
  const trainer = new Trainer({
    model,
    args: { ...base, freeze: "feature_extraction", learningRate: 0.1 },
    trainDataset: train,
  });
  const lossBefore = (await trainer.evaluate(train)).eval_loss;
  const out = await trainer.train();
  const lossAfter = (await trainer.evaluate(train)).eval_loss;
  const moved = weightMovement(
    w0,
    await snapshotWeights(params),
    groupsByName(model.parameterGroups(), params),
  );
  assert.equal(moved.byGroup["encoder.layer.0"], 0);
  assert.equal(moved.byGroup.pooler, 0);
  assert.ok(moved.byGroup.head > 0.01);
  assert.equal(out.history.trainableParams["epoch 0"], 8 * 2 + 2);
  assert.ok(out.featureSeconds !== undefined && out.featureSeconds >= 0);
  assert.ok(lossAfter < lossBefore, `${lossAfter} vs ${lossBefore}`);
  model.dispose();

  // Without the cache the frozen encoder runs every step: same trainable set, encoder untouched.
  const naive = new ToyClassifier({ layers: 2 });
  const naiveParams = naive.namedParameters();
  const n0 = await snapshotWeights(naiveParams);
  const n = await new Trainer({
    model: naive,
    args: { ...base, freeze: "feature_extraction", cacheFeatures: false },
    trainDataset: train,
  }).train();
  const naiveMoved = weightMovement(
    n0,
    await snapshotWeights(naiveParams),
    groupsByName(naive.parameterGroups(), naiveParams),
  );
  assert.equal(n.featureSeconds, undefined);
  assert.equal(naiveMoved.byGroup["encoder.layer.1"], 0);
  assert.ok(naiveMoved.byGroup.head > 0);
  naive.dispose();

  const gradual = new ToyClassifier({ layers: 2 });
  const g = await new Trainer({
    model: gradual,
    args: { ...base, freeze: "gradual_unfreezing", numTrainEpochs: 4 },
    trainDataset: train,
  }).train();
  const counts = Object.values(g.history.trainableParams);
  assert.deepEqual(counts, [
    18 + 72,
    18 + 72 + 72,
    18 + 72 * 3,
    18 + 72 * 3 + 40 * 8 + 8,
  ]);
  gradual.dispose();
});

Deno.test("token classification with cached sequence features", async () => {
  const tokenTrain = toyDataset(64, 5, 40, true);
  const model = new ToyClassifier({ token: true });
  const trainer = new Trainer({
    model,
    args: {
      ...base,
      freeze: "feature_extraction",
      learningRate: 0.1,
      numTrainEpochs: 4,
    },
    trainDataset: tokenTrain,
  });
  const out = await trainer.train();
  assert.ok(out.history.train.at(-1)!.loss < out.history.train[0].loss);
  const p = await trainer.predict(tokenTrain.slice(0, 5));
  assert.equal(
    (p.logits[0] as number[][]).length,
    tokenTrain[0].input_ids.length,
  );
  assert.equal(
    (p.predictions[0] as number[]).length,
    tokenTrain[0].input_ids.length,
  );
  trainer.dispose();
  model.dispose();
});

Deno.test("NaN loss stops with a CourseError and keeps the last good checkpoint", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_nan_" });
  try {
    const model = new ToyClassifier({ poisonAfter: 5 });
    const trainer = new Trainer({
      model,
      args: {
        ...base,
        outputDir,
        saveStrategy: "steps",
        saveSteps: 4,
        loggingSteps: 4,
      },
      trainDataset: train,
    });
    await assert.rejects(() => trainer.train(), (e: unknown) => {
      assert.ok(e instanceof CourseError);
      assert.equal(e.code, "train/non-finite-loss");
      assert.match(e.hint, /학습률/);
      return true;
    });
    const checkpoints = await listCheckpoints(outputDir);
    assert.deepEqual(checkpoints.map((p) => p.split("/").at(-1)), [
      "checkpoint-4",
    ]);
    model.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("labels out of range are refused before any step", async () => {
  const model = new ToyClassifier();
  const bad = [...train.slice(0, 10), { input_ids: [1, 2], label: 2 }];
  const trainer = new Trainer({ model, args: base, trainDataset: bad });
  await assert.rejects(() => trainer.train(), /label 2/);
  assert.equal(trainer.history.lr.length, 0);
  model.dispose();
});

Deno.test("saveTotalLimit rotates; a failed save leaves no partial checkpoint", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_rotate_" });
  try {
    const model = new ToyClassifier();
    await new Trainer({
      model,
      args: {
        ...base,
        outputDir,
        saveStrategy: "steps",
        saveSteps: 5,
        saveTotalLimit: 2,
      },
      trainDataset: train,
    }).train();
    const names = (await listCheckpoints(outputDir)).map((p) =>
      p.split("/").at(-1)
    );
    assert.deepEqual(names, ["checkpoint-30", "checkpoint-35"]);
    for (
      const file of [
        "model.safetensors",
        "optimizer.safetensors",
        "trainer_state.json",
        "scheduler.json",
        "rng_state.json",
      ]
    ) {
      await Deno.stat(join(outputDir, "checkpoint-35", file));
    }
    const broken = Object.assign(new ToyClassifier(), {
      savePretrained: () => Promise.reject(new Error("disk full")),
    });
    const failing = new Trainer({
      model: broken,
      args: {
        ...base,
        outputDir: outputDir + "/b",
        saveStrategy: "steps",
        saveSteps: 2,
      },
      trainDataset: train,
    });
    await assert.rejects(() => failing.train(), /disk full/);
    const left = [...Deno.readDirSync(outputDir + "/b")].map((e) => e.name);
    assert.deepEqual(
      left,
      [],
      "neither checkpoint-2 nor a temp folder remains",
    );
    model.dispose();
    broken.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("early stopping, best model at the end, and the time budget", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_best_" });
  try {
    let evals = 0;
    const model = new ToyClassifier();
    const out = await new Trainer({
      model,
      args: {
        ...base,
        outputDir,
        numTrainEpochs: 10,
        evalStrategy: "steps",
        evalSteps: 3,
        saveStrategy: "steps",
        saveSteps: 3,
        saveTotalLimit: 1,
        metricForBestModel: "score",
        loadBestModelAtEnd: true,
        earlyStoppingPatience: 2,
      },
      trainDataset: train,
      evalDataset: evalSet,
      // First evaluation is the best; nothing after it improves.
      computeMetrics: () => ({ score: -evals++ }),
    }).train();
    assert.equal(out.stoppedBy, "early_stopping");
    assert.equal(out.globalStep, 9);
    assert.equal(out.bestCheckpoint, join(outputDir, "checkpoint-3"));
    const kept = (await listCheckpoints(outputDir)).map((p) =>
      p.split("/").at(-1)
    );
    assert.deepEqual(
      kept,
      ["checkpoint-3", "checkpoint-9"],
      "the best survives rotation",
    );
    const best = new ToyClassifier({ seed: 5 });
    const { restoreModelWeights } = await import("../lib/train/checkpoint.ts");
    await restoreModelWeights(best, out.bestCheckpoint!);
    assert.equal(
      maxAbsDiff(await weightsOf(best), await weightsOf(model)),
      0,
      "best weights loaded at the end",
    );
    best.dispose();
    model.dispose();

    const timed = new ToyClassifier();
    const t = await new Trainer({
      model: timed,
      args: {
        ...base,
        timeBudgetSeconds: 1e-6,
        outputDir: outputDir + "/t",
        saveStrategy: "steps",
        saveSteps: 1000,
      },
      trainDataset: train,
    }).train();
    assert.equal(t.stoppedBy, "time_budget");
    assert.equal(t.globalStep, 1);
    assert.equal(
      (await listCheckpoints(outputDir + "/t")).length,
      1,
      "saved where it stopped",
    );
    timed.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

/** Every weight of a checkpoint folder is finite. */
async function checkpointIsFinite(path: string): Promise<boolean> {
  const tensors = float32Tensors(
    parseSafetensors(await Deno.readFile(join(path, "model.safetensors"))),
  );
  return [...tensors.values()].every((t) => t.data.every(Number.isFinite));
}

const names = async (dir: string) =>
  (await listCheckpoints(dir)).map((p) => p.split("/").at(-1));

Deno.test("a diverging run saves no NaN checkpoint, keeps the last finite one, says so and restores it", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_diverge_" });
  try {
    // A checkpoint of an older run with a higher step: rotation must not prefer it to ours.
    await Deno.mkdir(join(outputDir, "checkpoint-100"));
    await Deno.writeTextFile(
      join(outputDir, "checkpoint-100", "trainer_state.json"),
      "{}",
    );
    // Step 6 is the first poisoned one; saves every 2 steps, loss read only every 10.
    const model = new ToyClassifier({ poisonAfter: 5 });
    const trainer = new Trainer({
      model,
      args: {
        ...base,
        outputDir,
        saveStrategy: "steps",
        saveSteps: 2,
        saveTotalLimit: 1,
        loggingSteps: 10,
      },
      trainDataset: train,
    });
    const good = join(outputDir, "checkpoint-4");
    await assert.rejects(() => trainer.train(), (e: unknown) => {
      assert.ok(e instanceof CourseError);
      assert.equal(e.code, "train/non-finite-loss");
      assert.match(e.message, /step 6/);
      assert.ok(e.hint.includes(good), e.hint);
      assert.match(e.hint, /되돌렸습니다/);
      return true;
    });
    assert.deepEqual(await names(outputDir), [
      "checkpoint-4",
      "checkpoint-100",
    ]);
    assert.ok(await checkpointIsFinite(good), "checkpoint-4 is finite");
    const restored = new ToyClassifier({ seed: 5 });
    const { restoreModelWeights } = await import("../lib/train/checkpoint.ts");
    await restoreModelWeights(restored, good);
    assert.equal(
      maxAbsDiff(await weightsOf(restored), await weightsOf(model)),
      0,
      "the model in memory is back at checkpoint-4",
    );
    restored.dispose();
    model.dispose();

    // Diverging before the first save: the error must not claim a checkpoint exists.
    const early = new ToyClassifier({ poisonAfter: 1 });
    await assert.rejects(
      () =>
        new Trainer({
          model: early,
          args: {
            ...base,
            outputDir: join(outputDir, "early"),
            saveStrategy: "steps",
            saveSteps: 4,
            loggingSteps: 2,
          },
          trainDataset: train,
        }).train(),
      (e: unknown) => {
        assert.ok(e instanceof CourseError);
        assert.doesNotMatch(e.hint, /그대로 있습니다/);
        assert.match(e.hint, /저장된 체크포인트가 없습니다/);
        assert.match(e.hint, /NaN/);
        return true;
      },
    );
    assert.deepEqual(await names(join(outputDir, "early")), []);
    early.dispose();

    // saveCheckpoint itself (also used by tools/pretraining/pretrain.ts) refuses non-finite weights.
    const broken = new ToyClassifier();
    broken.namedParameters().get("classifier.bias")!.assign(
      tf.tensor1d([0, Infinity]),
    );
    const { saveCheckpoint } = await import("../lib/train/checkpoint.ts");
    const { AdamW } = await import("../lib/train/adamw.ts");
    const optimizer = new AdamW({ learningRate: 1e-3 });
    await assert.rejects(
      () =>
        saveCheckpoint(join(outputDir, "direct"), 1, {
          model: broken,
          optimizer,
          trainerState: {},
          schedulerState: {},
          rngState: {},
        }),
      (e: unknown) =>
        e instanceof CourseError && e.code === "train/non-finite-weights" &&
        e.message.includes("classifier.bias"),
    );
    assert.deepEqual(await names(join(outputDir, "direct")), []);
    optimizer.dispose();
    broken.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("bad arguments are refused up front, naming the argument and its value", () => {
  const model = new ToyClassifier();
  const cases: [TrainingArguments, RegExp][] = [
    [{ saveStrategy: "steps", saveSteps: 0, outputDir: "x" }, /saveSteps: 0/],
    [{ evalSteps: 0 }, /evalSteps: 0/],
    [{ numTrainEpochs: 0 }, /numTrainEpochs: 0/],
    [{ learningRate: NaN }, /learningRate: NaN/],
    [{ learningRate: Infinity }, /learningRate: Infinity/],
    [{ evalBatchSize: 0 }, /evalBatchSize: 0/],
    [{ maxSteps: 2.5 }, /maxSteps: 2.5/],
    [{ warmupSteps: -1 }, /warmupSteps: -1/],
    [{ warmupRatio: 2 }, /warmupRatio: 2/],
    [{ weightDecay: -0.1 }, /weightDecay: -0.1/],
    [{ maxGradNorm: NaN }, /maxGradNorm: NaN/],
    [{ adamBeta2: 1 }, /adamBeta2: 1/],
    [{ adamEpsilon: 0 }, /adamEpsilon: 0/],
    [{ saveTotalLimit: 0 }, /saveTotalLimit: 0/],
    [{ timeBudgetSeconds: NaN }, /timeBudgetSeconds: NaN/],
    [{ batchSize: "16" as unknown as number }, /batchSize: "16"/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(
      () =>
        new Trainer({ model, args: { ...base, ...args }, trainDataset: train }),
      (e: unknown) => {
        assert.ok(e instanceof CourseError, `${JSON.stringify(args)}: ${e}`);
        assert.equal(e.code, "train/bad-argument");
        assert.match(e.message, pattern);
        const name = pattern.source.split(":")[0];
        assert.ok(e.hint.includes(name), `hint names ${name}: ${e.hint}`);
        return true;
      },
    );
  }
  model.dispose();
});

Deno.test("a loss that grows by orders of magnitude gets one Korean warning", async () => {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...parts: unknown[]) => warnings.push(parts.join(" "));
  try {
    const model = new ToyClassifier();
    await new Trainer({
      model,
      args: { ...base, learningRate: 1e4, maxGradNorm: 1 },
      trainDataset: train,
    }).train();
    model.dispose();
    const calm = new ToyClassifier();
    await new Trainer({ model: calm, args: base, trainDataset: train }).train();
    calm.dispose();
  } finally {
    console.warn = warn;
  }
  const diverging = warnings.filter((w) => /손실/.test(w));
  assert.equal(diverging.length, 1, warnings.join("\n"));
  assert.match(diverging[0], /learningRate/);
});

Deno.test("stale temp checkpoint folders of a killed save are removed on the next start", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_stale_" });
  try {
    const stale = [
      ".tmp-checkpoint-4-1700000000000", // older naming, no pid
      ".tmp-checkpoint-6-999999999-1700000000000", // pid that cannot be running
    ];
    // A save in progress in another live process is left alone.
    const live = `.tmp-checkpoint-8-${Deno.ppid}-1700000000000`;
    for (const name of [...stale, live]) {
      await Deno.mkdir(join(outputDir, name));
      await Deno.writeTextFile(join(outputDir, name, "config.json"), "{}");
    }
    const model = new ToyClassifier();
    await new Trainer({
      model,
      args: { ...base, maxSteps: 1, outputDir },
      trainDataset: train,
    }).train();
    model.dispose();
    const left = [...Deno.readDirSync(outputDir)].map((e) => e.name);
    assert.deepEqual(left, [live]);
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("evaluate and predict on an empty dataset raise a CourseError", async () => {
  const model = new ToyClassifier();
  const trainer = new Trainer({ model, args: base, trainDataset: train });
  for (const call of [() => trainer.evaluate([]), () => trainer.predict([])]) {
    await assert.rejects(call, (e: unknown) => {
      assert.ok(e instanceof CourseError);
      assert.equal(e.code, "train/empty-dataset");
      return true;
    });
  }
  assert.throws(
    () =>
      new Trainer({
        model,
        args: { ...base, evalStrategy: "epoch" },
        trainDataset: train,
        evalDataset: [],
      }),
    (e: unknown) => e instanceof CourseError && /empty/.test(e.message),
  );
  model.dispose();
});

Deno.test("resuming from a checkpoint with a missing file names the file and the folder", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_missing_" });
  try {
    const model = new ToyClassifier();
    await new Trainer({
      model,
      args: {
        ...base,
        maxSteps: 4,
        outputDir,
        saveStrategy: "steps",
        saveSteps: 2,
      },
      trainDataset: train,
    }).train();
    const resume = (from: string) =>
      new Trainer({
        model,
        args: { ...base, outputDir: join(outputDir, "b") },
        trainDataset: train,
      }).train({ resumeFromCheckpoint: from });
    const cases: [string, string][] = [
      ["checkpoint-4", "optimizer.safetensors"],
      ["checkpoint-2", "model.safetensors"],
    ];
    for (const [folder, file] of cases) {
      const path = join(outputDir, folder);
      await Deno.remove(join(path, file));
      await assert.rejects(() => resume(path), (e: unknown) => {
        assert.ok(e instanceof CourseError, String(e));
        assert.equal(e.code, "train/bad-checkpoint");
        assert.ok(e.message.includes(file) && e.message.includes(path));
        assert.match(e.hint, /resumeFromCheckpoint/);
        return true;
      });
    }
    await assert.rejects(
      () => resume(join(outputDir, "checkpoint-999")),
      (e: unknown) =>
        e instanceof CourseError && e.code === "train/bad-checkpoint",
    );
    model.dispose();
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("a string label is reported as a string, not as an out-of-range number", async () => {
  const model = new ToyClassifier();
  const bad = [
    ...train.slice(0, 10),
    { input_ids: [1, 2], label: "1" as unknown as number },
  ];
  const trainer = new Trainer({ model, args: base, trainDataset: bad });
  await assert.rejects(() => trainer.train(), (e: unknown) => {
    assert.ok(e instanceof CourseError);
    assert.match(e.message, /"1"/);
    assert.match(e.message, /string/);
    assert.match(e.hint, /문자열/);
    return true;
  });
  assert.throws(
    () =>
      collate([{ input_ids: [1, 2], label: "1" as unknown as number }], {
        padTokenId: 0,
        numLabels: 2,
      }),
    (e: unknown) =>
      e instanceof CourseError && /"1"/.test(e.message) &&
      /문자열/.test(e.hint),
  );
  model.dispose();
});

Deno.test("Trainer: Kernel → Interrupt (SIGINT) stops training at the next step; model, history and a new run still work", async () => {
  // In a child process, because `deno test` itself ends on SIGINT.
  const url = (path: string) => new URL(path, import.meta.url).href;
  const script = `
    import { watchInterrupts } from "${url("../lib/runtime/kernel.ts")}";
    import { Trainer } from "${url("../lib/train/trainer.ts")}";
    import { ToyClassifier, toyDataset, useCpu } from "${
    url("./train_toy_model.ts")
  }";
    await useCpu();
    watchInterrupts({ force: true });
    const model = new ToyClassifier();
    const data = toyDataset(96, 1);
    const trainer = new Trainer({
      model,
      args: { batchSize: 8, learningRate: 5e-2, numTrainEpochs: 2000, loggingSteps: 2, progress: false, seed: 3 },
      trainDataset: data,
    });
    setTimeout(() => Deno.kill(Deno.pid, "SIGINT"), 400);
    try {
      await trainer.train();
      console.log("completed");
    } catch (error) {
      console.log("code", error.code);
      console.log("message", error.message.split("\\n")[0]);
    }
    const logged = trainer.history.train.length;
    // Right after an interrupt the library refuses work (a Run All queue); a learner's next cell
    // comes later.
    let refused = "";
    try {
      await trainer.evaluate(data);
    } catch (error) {
      refused = error.code;
    }
    console.log("refused", refused);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const metrics = await trainer.evaluate(data);
    console.log("after", logged, Number.isFinite(metrics.eval_loss));
    const again = new Trainer({
      model,
      args: { batchSize: 8, learningRate: 5e-2, numTrainEpochs: 1, progress: false, seed: 3 },
      trainDataset: data,
    });
    console.log("again", (await again.train()).stoppedBy);
  `;
  const out = await denoEval(script);
  assert.match(out, /^code interrupted$/m);
  assert.match(out, /^refused skipped_after_interrupt$/m);
  const stoppedAt = out.match(
    /Trainer\.train: 중단했습니다.*?(\d+)\/24000단계까지/,
  );
  assert.ok(stoppedAt, out);
  assert.ok(Number(stoppedAt[1]) > 0 && Number(stoppedAt[1]) < 24000);
  const after = out.match(/^after (\d+) true$/m);
  assert.ok(after && Number(after[1]) > 0, out);
  assert.match(out, /^again completed$/m);
});
