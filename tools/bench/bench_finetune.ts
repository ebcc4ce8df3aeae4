/**
 * NSMC classroom run: a course-size BERT (4 layers, hidden 256, 4 heads, intermediate 1024)
 * fine-tuned on 2,000 NSMC training reviews for 2 epochs and evaluated on 500 test reviews, with
 * the course Trainer: full fine-tuning, feature extraction with cached features, and feature
 * extraction recomputing the frozen encoder every step (to measure what caching saves).
 *
 *   COURSE_MIRROR=../shared/mirror deno run -A tools/bench/bench_finetune.ts \
 *     [--tokenizer beomi/kcbert-base] [--model dir] [--runs full,features,features_nocache] \
 *     [--train 2000] [--test 500] [--out bench_finetune.json]
 *
 * Without --model the BERT is freshly initialized (seed 42): no pretrained Korean weights can be
 * downloaded here, so accuracy reflects 2 epochs from scratch; speed is what this compares.
 * The PyTorch recipe for the same run is tools/bench/bench_finetune_torch.py.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/runtime/backend.ts";
import { loadNsmc } from "../../lib/data/datasets.ts";
import { tokenizeForClassification } from "../../lib/data/batching.ts";
import { AutoTokenizer } from "../../lib/text/mod.ts";
import {
  BertConfig,
  BertForSequenceClassification,
} from "../../lib/models/mod.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import type { TrainingArguments } from "../../lib/train/arguments.ts";
import { paddingStats } from "../../lib/data/batching.ts";
import { parseCli } from "../cli.ts";

const USAGE =
  `Usage: COURSE_MIRROR=../shared/mirror deno run -A tools/bench/bench_finetune.ts [--tokenizer beomi/kcbert-base]
       [--model dir] [--runs full,features,features_nocache] [--train 2000] [--test 500]
       [--epochs 2] [--backend name] [--out bench_finetune.json]
  Without --model the BERT is freshly initialized (seed 42). --help prints this.`;

const { values: flags } = parseCli(USAGE, {
  options: {
    tokenizer: { type: "string", default: "beomi/kcbert-base" },
    model: { type: "string" },
    runs: { type: "string", default: "full,features,features_nocache" },
    train: { type: "string", default: "2000" },
    test: { type: "string", default: "500" },
    epochs: { type: "string", default: "2" },
    backend: { type: "string" },
    out: { type: "string" },
  },
});

/** Peak resident memory of this process so far (Linux VmHWM), in MiB. */
function peakRssMiB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return Deno.memoryUsage().rss / 2 ** 20;
  }
}

const backend = await initBackend(flags.backend);
const tokenizer = await AutoTokenizer.fromPretrained(flags.tokenizer!, {
  doLowerCase: false,
});
const nTrain = Number(flags.train), nTest = Number(flags.test);
const trainDf = (await loadNsmc("train")).head(nTrain);
const testDf = (await loadNsmc("test")).head(nTest);
const t0 = performance.now();
const trainSet = tokenizeForClassification(trainDf, tokenizer, {
  maxLength: 128,
});
const testSet = tokenizeForClassification(testDf, tokenizer, {
  maxLength: 128,
});
const tokenizeSeconds = (performance.now() - t0) / 1000;
const lengths = trainSet.map((e) => e.input_ids.length);
console.log(
  `backend ${backend.name}, vocab ${tokenizer.vocabSize}, ${trainSet.length} train / ${testSet.length} test, ` +
    `mean length ${
      (lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(1)
    } tokens, ` +
    `tokenized in ${tokenizeSeconds.toFixed(2)} s`,
);

async function makeModel(): Promise<BertForSequenceClassification> {
  if (flags.model) {
    return await BertForSequenceClassification.fromPretrained(flags.model, {
      num_labels: 2,
      verbose: false,
    });
  }
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 1024,
    max_position_embeddings: 512,
    num_labels: 2,
  });
  return new BertForSequenceClassification(config, { seed: 42 });
}

const recipes: Record<string, TrainingArguments> = {
  // The PyTorch recipe's hyperparameters (batch 16, AdamW 2e-5), with our dynamic padding + buckets.
  full: { freeze: "full", learningRate: 2e-5 },
  // Head only: a larger learning rate is usual (and costs nothing in speed).
  features: { freeze: "feature_extraction", learningRate: 1e-3 },
  features_nocache: {
    freeze: "feature_extraction",
    learningRate: 1e-3,
    cacheFeatures: false,
  },
};

/** CPU seconds this process used (user + system): fairer than wall time on a shared machine. */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]
      .split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
  } catch {
    return NaN;
  }
}

/** One small forward so kernel setup is not billed to the first run. */
async function warmUp(): Promise<void> {
  const model = await makeModel();
  const { collate } = await import("../../lib/data/collate.ts");
  const batch = collate(trainSet.slice(0, 16), {
    padTokenId: tokenizer.padTokenId,
  });
  const out = model.forward(batch, { training: false });
  await out.logits!.data();
  tf.dispose([out.logits!, ...Object.values(batch)]);
  model.dispose();
}
await warmUp();

const results: Record<string, unknown>[] = [];
for (const name of flags.runs!.split(",")) {
  const model = await makeModel();
  const trainer = new Trainer({
    model,
    args: {
      numTrainEpochs: Number(flags.epochs),
      batchSize: 16,
      evalBatchSize: 64,
      loggingSteps: 25,
      bucketByLength: true,
      seed: 42,
      progress: "lines",
      ...recipes[name],
    },
    trainDataset: trainSet,
    evalDataset: testSet,
  });
  const started = performance.now();
  const cpuStarted = cpuSeconds();
  const out = await trainer.train();
  const trainSeconds = (performance.now() - started) / 1000;
  const metrics = await trainer.evaluate(testSet);
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuUsed = cpuSeconds() - cpuStarted;
  const pad = paddingStats(
    lengths,
    trainSet.map((_, i) => i).reduce((groups: number[][], i) => {
      if (i % 16 === 0) groups.push([]);
      groups.at(-1)!.push(i);
      return groups;
    }, []),
  );
  const result = {
    run: name,
    backend: backend.name,
    steps: out.globalStep,
    train_seconds: +trainSeconds.toFixed(2),
    wall_seconds_train_plus_eval: +wallSeconds.toFixed(2),
    cpu_seconds_train_plus_eval: +cpuUsed.toFixed(2),
    feature_seconds: out.featureSeconds === undefined
      ? null
      : +out.featureSeconds.toFixed(2),
    train_samples_per_second:
      +((trainSet.length * Number(flags.epochs)) / trainSeconds).toFixed(1),
    eval_accuracy: +metrics.eval_accuracy.toFixed(4),
    eval_loss: +metrics.eval_loss.toFixed(4),
    eval_samples_per_second: +metrics.eval_samples_per_second.toFixed(1),
    trainable_params: out.history.trainableParams["epoch 0"],
    total_params: model.countParameters().total,
    peak_rss_mib: +peakRssMiB().toFixed(0),
    unbucketed_pad_fraction: +pad.padFraction.toFixed(3),
  };
  console.log(JSON.stringify(result));
  results.push(result);
  trainer.dispose();
  model.dispose();
}
if (flags.out) {
  await Deno.writeTextFile(flags.out, JSON.stringify(results, null, 2) + "\n");
}
