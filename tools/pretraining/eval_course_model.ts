/**
 * Measures the course's Korean mini-BERT for its model card (models/ko-mini-bert/README.md):
 *
 * 1. held-out MLM/NSP (the fixed pairs and masks tools/pretraining/pretrain.ts evaluates on), pretrained vs. a
 *    randomly initialized model of the same config (seed 42);
 * 2. transfer to NSMC sentiment: full fine-tuning and feature extraction (frozen encoder, cached
 *    features, head only), each from the pretrained weights and from random init, with the same
 *    data, steps, seed and hyperparameters within each pair;
 * 3. fill-mask top-5 on a few Korean sentences.
 *
 *   deno run -A tools/pretraining/eval_course_model.ts --model models/ko-mini-bert [--quick] [--out file.json]
 *
 * `<model>/evaluation.json` is written only for a finished model folder (it has
 * `training_summary.json`) in full mode; any other run prints the JSON, or writes it to `--out`.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseOrExit, showHelp, wantsHelp } from "../cli.ts";
import { initBackend } from "../../lib/runtime/backend.ts";
import { deviceReport } from "../../lib/runtime/device.ts";
import { CourseError } from "../../lib/runtime/errors.ts";
import { isQuickMode } from "../../lib/runtime/mode.ts";
import { AutoTokenizer, type BertTokenizer } from "../../lib/text/mod.ts";
import {
  type Example,
  loadNsmc,
  sampleStratified,
  tokenizeForClassification,
  trainTestSplit,
} from "../../lib/data/mod.ts";
import {
  BertConfig,
  BertForPreTraining,
  BertForSequenceClassification,
} from "../../lib/models/mod.ts";
import {
  classificationReport,
  majorityClass,
  naiveBayes,
  type TextBaseline,
  tfidfLogisticRegression,
  Trainer,
} from "../../lib/train/mod.ts";
import { pipeline } from "../../lib/tasks/mod.ts";
import {
  evaluatePretraining,
  heldoutExamples,
  PRETRAIN_DEFAULTS,
  readDocuments,
} from "../../lib/pretrain/mod.ts";

const REPO_ROOT = resolve(import.meta.dirname!, "../..");

export type EvalOptions = {
  modelDir: string;
  /** Tokenizer folder; default: the model folder, or models/ko-mini-bert for a bare checkpoint. */
  tokenizerDir?: string;
  /** Held-out documents in the corpus format (.cache/corpus/heldout.txt). */
  heldoutFile: string;
  /** Held-out pairs scored (pretrain.ts evaluates on its first 512). */
  heldoutPairs: number;
  trainSize: number;
  testSize: number;
  epochs: number;
  /**
   * Epochs of the head-only (feature extraction) runs. The frozen features are computed once, so
   * extra head epochs cost almost nothing; the same for both inits.
   */
  featureEpochs: number;
  batchSize: number;
  evalBatchSize: number;
  maxLength: number;
  /** Full fine-tuning peak learning rate (pretrained and random init alike). */
  fullLearningRate: number;
  /** Head-only learning rate for feature extraction (pretrained and random init alike). */
  featureLearningRate: number;
  warmupRatio: number;
  seed: number;
  fillMaskSentences: string[];
  quick: boolean;
};

export const FILL_MASK_SENTENCES = [
  "이 영화 정말 [MASK] 있어요.",
  "배우들 연기가 [MASK].",
  "나는 [MASK]에 가서 돈을 찾았다.",
  "기자님 기사 좀 제대로 [MASK].",
  "오늘 날씨가 정말 [MASK].",
  "이 드라마 결말이 너무 [MASK].",
];

/** Full sizes are the classroom NSMC run of tools/bench/bench_finetune.ts; quick sizes only check the code path. */
export function defaultEvalOptions(quick: boolean): EvalOptions {
  return {
    modelDir: join(REPO_ROOT, "models", "ko-mini-bert"),
    heldoutFile: join(REPO_ROOT, ".cache", "corpus", "heldout.txt"),
    heldoutPairs: quick ? 32 : PRETRAIN_DEFAULTS.evalExamples,
    trainSize: quick ? 64 : 2000,
    testSize: quick ? 32 : 500,
    epochs: quick ? 1 : 2,
    featureEpochs: quick ? 1 : 2,
    batchSize: 16,
    evalBatchSize: 32,
    maxLength: 128,
    // From a check on an early checkpoint (1,000 train / 300 test reviews, 2 epochs): full 3e-4
    // was at least as good as 1e-4 for both inits; the head-only rate made no difference between
    // 1e-3 and 3e-3, so the upper one (few steps, tiny head).
    fullLearningRate: 3e-4,
    featureLearningRate: 3e-3,
    warmupRatio: 0.1,
    seed: 42,
    fillMaskSentences: quick
      ? FILL_MASK_SENTENCES.slice(0, 2)
      : FILL_MASK_SENTENCES,
    quick,
  };
}

function requireWeights(modelDir: string): void {
  for (const file of ["config.json", "model.safetensors"]) {
    if (!existsSync(join(modelDir, file))) {
      throw new CourseError(
        "EVAL_MODEL_MISSING",
        `${join(modelDir, file)} not found`,
        "사전학습이 끝나 models/ko-mini-bert에 가중치가 생긴 뒤에 실행하거나, --model에 체크포인트 폴더(.cache/pretrain*/checkpoint-<step>)를 주세요.",
      );
    }
  }
}

function defaultTokenizerDir(modelDir: string): string {
  return existsSync(join(modelDir, "tokenizer.json"))
    ? modelDir
    : join(REPO_ROOT, "models", "ko-mini-bert");
}

type PretrainingMetrics = ReturnType<typeof evaluatePretraining>;

/**
 * Held-out MLM/NSP of the weights in `modelDir` and of a seed-42 random init of the same config;
 * with `trainDocuments`, also the token-frequency baseline on the same masked targets.
 */
export async function heldoutComparison(
  modelDir: string,
  tokenizer: BertTokenizer,
  documents: string[][],
  options: Pick<EvalOptions, "heldoutPairs" | "evalBatchSize" | "seed">,
  trainDocuments?: string[][],
): Promise<{
  pairs: number;
  pretrained: PretrainingMetrics;
  random_init: PretrainingMetrics;
  unigram?: ReturnType<typeof unigramBaseline>;
}> {
  const examples = heldoutExamples(documents, tokenizer, {
    seed: PRETRAIN_DEFAULTS.seed,
    longSeqLength: PRETRAIN_DEFAULTS.longSeqLength,
    evalExamples: options.heldoutPairs,
  });
  const score = (model: BertForPreTraining) => {
    try {
      return evaluatePretraining(
        model,
        examples,
        tokenizer.padTokenId,
        options.evalBatchSize,
      );
    } finally {
      model.dispose();
    }
  };
  const pretrained = score(
    await BertForPreTraining.fromPretrained(modelDir, { verbose: false }),
  );
  const config = await BertConfig.fromPretrained(modelDir);
  const randomInit = score(
    new BertForPreTraining(config, { seed: options.seed }),
  );
  return {
    pairs: examples.length,
    pretrained,
    random_init: randomInit,
    ...(trainDocuments
      ? { unigram: unigramBaseline(trainDocuments, tokenizer, examples) }
      : {}),
  };
}

/** The pretraining text beside the held-out file (the corpus folder), when it is there. */
function trainCorpusBeside(heldoutFile: string): string | undefined {
  const file = join(dirname(heldoutFile), "pretrain.txt");
  return existsSync(file) ? file : undefined;
}

/**
 * The "knows only token frequencies" reference: predict every masked token from its frequency in
 * the pretraining corpus (add-one smoothed), scored on exactly the held-out masked targets the
 * models are scored on. A model below this loss has learned something beyond frequencies.
 */
export function unigramBaseline(
  trainDocuments: string[][],
  tokenizer: BertTokenizer,
  heldout: Example[],
): { mlm_loss: number; mlm_perplexity: number; mlm_accuracy: number } {
  const counts = new Float64Array(tokenizer.vocabSize);
  let total = 0;
  for (const document of trainDocuments) {
    for (const sentence of document) {
      for (
        const id of tokenizer.convertTokensToIds(tokenizer.tokenize(sentence))
      ) {
        counts[id]++;
        total++;
      }
    }
  }
  const mostFrequent = counts.indexOf(Math.max(...counts));
  let loss = 0;
  let correct = 0;
  let n = 0;
  for (const example of heldout) {
    for (const label of example.labels as number[]) {
      if (label === -100) continue;
      loss -= Math.log((counts[label] + 1) / (total + counts.length));
      if (label === mostFrequent) correct++;
      n++;
    }
  }
  const meanLoss = loss / Math.max(1, n);
  return {
    mlm_loss: meanLoss,
    mlm_perplexity: Math.exp(meanLoss),
    mlm_accuracy: correct / Math.max(1, n),
  };
}

export type NsmcData = { train: Example[]; test: Example[] };

/** A stratified seeded sample of NSMC train and a seeded sample of NSMC test, tokenized. */
export async function nsmcSample(
  tokenizer: BertTokenizer,
  options: Pick<EvalOptions, "trainSize" | "testSize" | "seed" | "maxLength">,
): Promise<NsmcData> {
  const quiet = { quiet: true };
  const train = sampleStratified(await loadNsmc("train", quiet), {
    n: options.trainSize,
    seed: options.seed,
  });
  const test = sampleStratified(await loadNsmc("test", quiet), {
    n: options.testSize,
    seed: options.seed,
  });
  const tokenize = (df: typeof train) =>
    tokenizeForClassification(df, tokenizer, { maxLength: options.maxLength });
  return { train: tokenize(train), test: tokenize(test) };
}

export type TransferRecipe = {
  name: string;
  init: "pretrained" | "random";
  freeze: "full" | "feature_extraction";
};

export const TRANSFER_RECIPES: TransferRecipe[] = [
  { name: "full_pretrained", init: "pretrained", freeze: "full" },
  { name: "full_random_init", init: "random", freeze: "full" },
  {
    name: "features_pretrained",
    init: "pretrained",
    freeze: "feature_extraction",
  },
  {
    name: "features_random_init",
    init: "random",
    freeze: "feature_extraction",
  },
];

async function classifier(
  modelDir: string,
  init: TransferRecipe["init"],
  seed: number,
): Promise<BertForSequenceClassification> {
  if (init === "pretrained") {
    return await BertForSequenceClassification.fromPretrained(modelDir, {
      num_labels: 2,
      verbose: false,
      seed,
    });
  }
  const config = await BertConfig.fromPretrained(modelDir);
  return new BertForSequenceClassification(
    config.clone({ num_labels: 2 }),
    { seed },
  );
}

function sentimentMetrics(
  { predictions, labels }: { predictions: unknown; labels: unknown },
): Record<string, number> {
  const report = classificationReport(
    predictions as number[],
    labels as number[],
    2,
  );
  return { accuracy: report.accuracy, macro_f1: report.macroF1 };
}

/**
 * The one NSMC fine-tuning recipe both comparisons use: AdamW with warmup and decay, length
 * buckets, cached features when the encoder is frozen; epochs by what is trained.
 */
function sentimentTrainer(
  model: BertForSequenceClassification,
  trainDataset: Example[],
  options: Pick<
    EvalOptions,
    "epochs" | "featureEpochs" | "batchSize" | "evalBatchSize" | "warmupRatio"
  >,
  run: {
    freeze: TransferRecipe["freeze"];
    learningRate: number;
    seed: number;
    evalDataset?: Example[];
  },
): Trainer {
  return new Trainer({
    model,
    args: {
      numTrainEpochs: run.freeze === "full"
        ? options.epochs
        : options.featureEpochs,
      batchSize: options.batchSize,
      evalBatchSize: options.evalBatchSize,
      learningRate: run.learningRate,
      warmupRatio: options.warmupRatio,
      weightDecay: 0.01,
      bucketByLength: true,
      freeze: run.freeze,
      cacheFeatures: true,
      seed: run.seed,
      progress: false,
    },
    trainDataset,
    evalDataset: run.evalDataset,
    computeMetrics: sentimentMetrics,
  });
}

/** One NSMC fine-tuning run with the course Trainer: accuracy, macro-F1 and its cost. */
export async function transferRun(
  recipe: TransferRecipe,
  data: NsmcData,
  modelDir: string,
  options: EvalOptions,
) {
  const model = await classifier(modelDir, recipe.init, options.seed);
  const trainer = sentimentTrainer(model, data.train, options, {
    freeze: recipe.freeze,
    learningRate: recipe.freeze === "full"
      ? options.fullLearningRate
      : options.featureLearningRate,
    seed: options.seed,
    evalDataset: data.test,
  });
  try {
    const started = performance.now();
    const out = await trainer.train();
    const trainSeconds = (performance.now() - started) / 1000;
    const metrics = await trainer.evaluate(data.test);
    const wallSeconds = (performance.now() - started) / 1000;
    return {
      run: recipe.name,
      init: recipe.init,
      freeze: recipe.freeze,
      learning_rate: trainer.args.learningRate,
      steps: out.globalStep,
      accuracy: metrics.eval_accuracy,
      macro_f1: metrics.eval_macro_f1,
      eval_loss: metrics.eval_loss,
      train_seconds: trainSeconds,
      feature_seconds: out.featureSeconds ?? null,
      wall_seconds: wallSeconds,
      epochs: trainer.args.numTrainEpochs,
      train_samples_per_second: data.train.length *
        trainer.args.numTrainEpochs / trainSeconds,
      trainable_params: out.history.trainableParams["epoch 0"],
    };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

export type SplitOptions =
  & Pick<
    EvalOptions,
    | "trainSize"
    | "testSize"
    | "seed"
    | "maxLength"
    | "epochs"
    | "featureEpochs"
    | "batchSize"
    | "evalBatchSize"
    | "featureLearningRate"
    | "warmupRatio"
    | "quick"
  >
  & {
    /** Validation reviews, drawn from NSMC train apart from the training reviews. */
    devSize: number;
    /** Full fine-tuning rates tried; the one with the best validation accuracy is reported. */
    learningRates: number[];
    splits: number;
  };

const accuracyOf = (predictions: number[], labels: number[]) =>
  predictions.filter((p, i) => p === labels[i]).length / labels.length;

/**
 * NSMC at a few thousand training reviews, on `splits` random splits (seeds seed, seed+1, ...):
 * the classic baselines and each model on the same train / validation / test reviews. The
 * fine-tuning rate is chosen on the validation reviews, never on test.
 */
export async function nsmcSplitComparison(
  models: { name: string; dir: string }[],
  tokenizer: BertTokenizer,
  options: SplitOptions,
  log: (line: string) => void = console.log,
) {
  const quiet = { quiet: true };
  const fullTrain = await loadNsmc("train", quiet);
  const fullTest = await loadNsmc("test", quiet);
  const splits: SplitRow[] = [];
  for (let split = 0; split < options.splits; split++) {
    const seed = options.seed + split;
    const pool = sampleStratified(fullTrain, {
      n: options.trainSize + options.devSize,
      seed,
    });
    const { train, test: dev } = trainTestSplit(pool, {
      testSize: options.devSize,
      seed,
      stratify: "label",
    });
    const test = sampleStratified(fullTest, { n: options.testSize, seed });
    const textsOf = (df: typeof train) =>
      df.getColumn("document").toArray().map(String);
    const labelsOf = (df: typeof train) =>
      df.getColumn("label").toArray().map(Number);
    const baselineRows = [];
    const t0 = performance.now();
    const fitted: TextBaseline[] = [
      majorityClass(labelsOf(train)),
      naiveBayes(textsOf(train), labelsOf(train)),
      tfidfLogisticRegression(textsOf(train), labelsOf(train)),
    ];
    for (const baseline of fitted) {
      baselineRows.push({
        name: baseline.name,
        accuracy: accuracyOf(baseline.predict(textsOf(test)), labelsOf(test)),
      });
    }
    const baselineSeconds = (performance.now() - t0) / 1000;
    const tokenize = (df: typeof train) =>
      tokenizeForClassification(df, tokenizer, {
        maxLength: options.maxLength,
      });
    const data = {
      train: tokenize(train),
      dev: tokenize(dev),
      test: tokenize(test),
    };
    const modelRows = [];
    for (const model of models) {
      const tried = [];
      for (const learningRate of options.learningRates) {
        tried.push(
          await fineTuneOnSplit(model.dir, data, {
            ...options,
            seed,
            learningRate,
            freeze: "full",
          }),
        );
      }
      const chosen = tried.reduce((best, r) =>
        r.dev_accuracy > best.dev_accuracy ? r : best
      );
      const features = await fineTuneOnSplit(model.dir, data, {
        ...options,
        seed,
        learningRate: options.featureLearningRate,
        freeze: "feature_extraction",
      });
      modelRows.push({ model: model.name, full: chosen, tried, features });
    }
    const row = {
      split,
      seed,
      train: data.train.length,
      dev: data.dev.length,
      test: data.test.length,
      baselines: baselineRows,
      baseline_seconds: baselineSeconds,
      models: modelRows,
    };
    log(`nsmc split ${split}: ${JSON.stringify(row)}`);
    splits.push(row);
  }
  const mean = (values: number[]) =>
    values.reduce((a, b) => a + b, 0) / values.length;
  return {
    splits,
    mean_accuracy: {
      ...Object.fromEntries(
        splits[0].baselines.map((b, i) => [
          b.name,
          mean(splits.map((s) => s.baselines[i].accuracy)),
        ]),
      ),
      ...Object.fromEntries(models.flatMap((m, i) => [
        [
          `${m.name} full fine-tuning`,
          mean(splits.map((s) => s.models[i].full.test_accuracy)),
        ],
        [
          `${m.name} feature extraction`,
          mean(splits.map((s) => s.models[i].features.test_accuracy)),
        ],
      ])),
    },
  };
}

type SplitRun = Awaited<ReturnType<typeof fineTuneOnSplit>>;
type SplitRow = {
  split: number;
  seed: number;
  train: number;
  dev: number;
  test: number;
  baselines: { name: string; accuracy: number }[];
  baseline_seconds: number;
  models: {
    model: string;
    full: SplitRun;
    tried: SplitRun[];
    features: SplitRun;
  }[];
};

async function fineTuneOnSplit(
  modelDir: string,
  data: { train: Example[]; dev: Example[]; test: Example[] },
  options: SplitOptions & {
    learningRate: number;
    freeze: "full" | "feature_extraction";
  },
) {
  const model = await classifier(modelDir, "pretrained", options.seed);
  const trainer = sentimentTrainer(model, data.train, options, options);
  try {
    const started = performance.now();
    await trainer.train();
    const trainSeconds = (performance.now() - started) / 1000;
    const dev = await trainer.evaluate(data.dev);
    const test = await trainer.evaluate(data.test);
    return {
      learning_rate: options.learningRate,
      dev_accuracy: dev.eval_accuracy,
      test_accuracy: test.eval_accuracy,
      test_macro_f1: test.eval_macro_f1,
      train_seconds: trainSeconds,
      train_samples_per_second: data.train.length *
        trainer.args.numTrainEpochs / trainSeconds,
    };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/**
 * NSMC with every training review (150 k) for `epochs`, scored on the whole test set (50 k): the
 * figure published Korean models report. The learning rate is the one the validation splits chose.
 */
export async function nsmcFullRun(
  modelDir: string,
  tokenizer: BertTokenizer,
  options: {
    learningRate: number;
    epochs: number;
    batchSize: number;
    maxLength: number;
    timeBudgetSeconds?: number;
    quick: boolean;
  },
) {
  const quiet = { quiet: true };
  let trainFrame = await loadNsmc("train", quiet);
  let testFrame = await loadNsmc("test", quiet);
  if (options.quick) {
    trainFrame = sampleStratified(trainFrame, { n: 256, seed: 42 });
    testFrame = sampleStratified(testFrame, { n: 128, seed: 42 });
  }
  const tokenize = (df: typeof trainFrame) =>
    tokenizeForClassification(df, tokenizer, { maxLength: options.maxLength });
  const train = tokenize(trainFrame);
  const test = tokenize(testFrame);
  const model = await classifier(modelDir, "pretrained", 42);
  const trainer = new Trainer({
    model,
    args: {
      numTrainEpochs: options.epochs,
      batchSize: options.batchSize,
      evalBatchSize: 128,
      learningRate: options.learningRate,
      warmupRatio: 0.06,
      weightDecay: 0.01,
      bucketByLength: true,
      seed: 42,
      loggingSteps: 200,
      timeBudgetSeconds: options.timeBudgetSeconds,
      progress: "lines",
    },
    trainDataset: train,
    computeMetrics: sentimentMetrics,
  });
  try {
    const started = performance.now();
    const out = await trainer.train();
    const trainSeconds = (performance.now() - started) / 1000;
    const metrics = await trainer.evaluate(test);
    return {
      train_examples: train.length,
      test_examples: test.length,
      learning_rate: options.learningRate,
      epochs_planned: options.epochs,
      epochs_done: out.metrics.epoch,
      stopped_by: out.stoppedBy,
      steps: out.globalStep,
      accuracy: metrics.eval_accuracy,
      macro_f1: metrics.eval_macro_f1,
      train_seconds: trainSeconds,
      eval_seconds: (performance.now() - started) / 1000 - trainSeconds,
      train_samples_per_second: out.metrics.train_samples_per_second,
    };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Top-5 fill-mask candidates (the course `pipeline`, tfjs engine) for each sentence. */
export async function fillMaskExamples(
  modelDir: string,
  tokenizer: BertTokenizer,
  sentences: string[],
) {
  const fill = await pipeline("fill-mask", modelDir, {
    engine: "tfjs",
    tokenizer,
  });
  try {
    const results = [];
    for (const sentence of sentences) {
      const candidates = await fill(sentence, { topK: 5 }) as {
        token_str: string;
        score: number;
        sequence: string;
      }[];
      results.push({
        sentence,
        top5: candidates.map(({ token_str, score, sequence }) => ({
          token_str,
          score,
          sequence,
        })),
      });
    }
    return results;
  } finally {
    await fill.dispose();
  }
}

/** Identifies the measured weights, so a report can be matched to a copy of the folder. */
function weightsSha256(modelDir: string): string {
  return createHash("sha256").update(
    readFileSync(join(modelDir, "model.safetensors")),
  ).digest("hex");
}

function readTrainingSummary(modelDir: string) {
  const path = join(modelDir, "training_summary.json");
  if (!existsSync(path)) return undefined;
  const summary = JSON.parse(Deno.readTextFileSync(path));
  return {
    global_step: summary.global_step,
    max_steps: summary.max_steps,
    finished: summary.finished,
    epochs: summary.epochs,
    train_seconds: summary.train_seconds,
    backend: summary.backend,
    hardware: summary.hardware,
    parameters: summary.parameters,
    heldout_at_export: summary.heldout,
  };
}

/** Runs all three measurements; `log` gets one line per finished part. */
export async function evaluateCourseModel(
  options: EvalOptions,
  log: (line: string) => void = console.log,
) {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  requireWeights(options.modelDir);
  const backend = await initBackend();
  const tokenizerDir = options.tokenizerDir ??
    defaultTokenizerDir(options.modelDir);
  const tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir, {
    quiet: true,
  });
  const timings: Record<string, number> = {};
  const timed = async <T>(part: string, work: () => Promise<T>) => {
    const t0 = performance.now();
    const result = await work();
    timings[part] = (performance.now() - t0) / 1000;
    return result;
  };

  const heldout = await timed(
    "heldout_seconds",
    async () => {
      const trainFile = trainCorpusBeside(options.heldoutFile);
      return heldoutComparison(
        options.modelDir,
        tokenizer,
        await readDocuments(options.heldoutFile),
        options,
        trainFile ? await readDocuments(trainFile) : undefined,
      );
    },
  );
  log(`held-out: ${JSON.stringify(heldout)}`);

  const data = await timed(
    "nsmc_load_seconds",
    () => nsmcSample(tokenizer, options),
  );
  const transfer = [];
  for (const recipe of TRANSFER_RECIPES) {
    const result = await transferRun(recipe, data, options.modelDir, options);
    log(`nsmc ${JSON.stringify(result)}`);
    transfer.push(result);
  }
  timings.transfer_seconds = transfer.reduce((s, r) => s + r.wall_seconds, 0);

  const fillMask = await timed(
    "fill_mask_seconds",
    () =>
      fillMaskExamples(options.modelDir, tokenizer, options.fillMaskSentences),
  );
  for (const { sentence, top5 } of fillMask) {
    log(
      `${sentence} -> ${
        top5.map((c) => `${c.token_str} ${c.score.toFixed(3)}`).join(", ")
      }`,
    );
  }

  return {
    model: options.modelDir,
    weights_sha256: weightsSha256(options.modelDir),
    tokenizer: tokenizerDir,
    started_at: startedAt,
    total_seconds: (performance.now() - started) / 1000,
    timings,
    machine: { ...deviceReport(), backend: backend.name },
    options: { ...options, modelDir: undefined, tokenizerDir: undefined },
    pretraining: readTrainingSummary(options.modelDir),
    heldout,
    nsmc: {
      train_examples: data.train.length,
      test_examples: data.test.length,
      runs: transfer,
    },
    fill_mask: fillMask,
  };
}

type Report = Awaited<ReturnType<typeof evaluateCourseModel>>;

const percent = (value: number) => `${(100 * value).toFixed(1)}%`;

/** The model card's result tables (Markdown) from a report, so the card quotes the JSON exactly. */
export function resultsMarkdown(report: Report): string {
  const { pretrained, random_init } = report.heldout;
  const heldoutRow = (name: string, m: PretrainingMetrics) =>
    `| ${name} | ${percent(m.mlm_accuracy)} | ${
      m.mlm_perplexity.toFixed(1)
    } | ${m.mlm_loss.toFixed(3)} | ${percent(m.nsp_accuracy)} |`;
  const transferRows = report.nsmc.runs.map((r) =>
    `| ${r.freeze === "full" ? "full fine-tuning" : "feature extraction"} | ${
      r.init === "pretrained" ? "ko-mini-bert" : "random init (seed 42)"
    } | ${r.learning_rate} | ${r.epochs ?? report.options.epochs} | ${
      percent(r.accuracy)
    } | ${percent(r.macro_f1)} | ${r.wall_seconds.toFixed(0)} | ${
      r.train_samples_per_second.toFixed(1)
    } |`
  );
  const fillRows = report.fill_mask.map(({ sentence, top5 }) =>
    `| ${sentence} | ${
      top5.map((c) => `${c.token_str} (${c.score.toFixed(3)})`).join(", ")
    } |`
  );
  return [
    `Held-out pretraining objectives (${report.heldout.pairs} pairs):`,
    "",
    "| model | masked-token top-1 | MLM perplexity | MLM loss | NSP accuracy |",
    "| --- | ---: | ---: | ---: | ---: |",
    heldoutRow("ko-mini-bert", pretrained),
    heldoutRow("random init (seed 42)", random_init),
    ...(report.heldout.unigram
      ? [
        `| token frequencies only (unigram of the pretraining text) | ${
          percent(report.heldout.unigram.mlm_accuracy)
        } | ${report.heldout.unigram.mlm_perplexity.toFixed(1)} | ${
          report.heldout.unigram.mlm_loss.toFixed(3)
        } | — |`,
      ]
      : []),
    "",
    `NSMC: ${report.nsmc.train_examples} train reviews (stratified, seed ${report.options.seed}), ` +
    `${report.nsmc.test_examples} test reviews, batch ${report.options.batchSize}:`,
    "",
    "| method | initial weights | learning rate | epochs | accuracy | macro-F1 | wall s | train samples/s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...transferRows,
    "",
    "fill-mask (top 5, probability):",
    "",
    "| input | top 5 |",
    "| --- | --- |",
    ...fillRows,
    "",
  ].join("\n");
}

/** Where the report goes: the model card's evaluation.json only for a finished model in full mode. */
export function reportPath(
  options: Pick<EvalOptions, "modelDir" | "quick">,
  out?: string,
): string | undefined {
  if (out) return resolve(out);
  const finished = existsSync(
    join(options.modelDir, "training_summary.json"),
  );
  return finished && !options.quick
    ? join(options.modelDir, "evaluation.json")
    : undefined;
}

export function parseEvalFlags(
  args: string[],
): { options: EvalOptions; out?: string } {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      tokenizer: { type: "string" },
      heldout: { type: "string" },
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      "full-lr": { type: "string" },
      "feature-lr": { type: "string" },
      train: { type: "string" },
      test: { type: "string" },
      epochs: { type: "string" },
      "feature-epochs": { type: "string" },
    },
  });
  const options = defaultEvalOptions(values.quick || isQuickMode());
  const number = (value: string | undefined, fallback: number) =>
    value === undefined ? fallback : Number(value);
  return {
    options: {
      ...options,
      modelDir: values.model ? resolve(values.model) : options.modelDir,
      tokenizerDir: values.tokenizer ? resolve(values.tokenizer) : undefined,
      heldoutFile: values.heldout
        ? resolve(values.heldout)
        : options.heldoutFile,
      fullLearningRate: number(values["full-lr"], options.fullLearningRate),
      featureLearningRate: number(
        values["feature-lr"],
        options.featureLearningRate,
      ),
      trainSize: number(values.train, options.trainSize),
      testSize: number(values.test, options.testSize),
      epochs: number(values.epochs, options.epochs),
      featureEpochs: number(values["feature-epochs"], options.featureEpochs),
    },
    out: values.out,
  };
}

const USAGE =
  `Usage: deno run -A tools/pretraining/eval_course_model.ts [--model models/ko-mini-bert] [--quick] [--out file.json]
       [--tokenizer dir] [--heldout file] [--full-lr x] [--feature-lr x] [--train n] [--test n]
       [--epochs n] [--feature-epochs n]
         held-out MLM/NSP, NSMC transfer and fill-mask for the model card
       deno run -A tools/pretraining/eval_course_model.ts --splits out.json name=dir [name=dir ...]
         NSMC on 3 random splits: baselines and each model
       deno run -A tools/pretraining/eval_course_model.ts --full-nsmc out.json modelDir [minutes]
         fine-tuning on all of NSMC, within the time budget if given
       deno run -A tools/pretraining/eval_course_model.ts --card evaluation.json
         the model card's tables from a report
  COURSE_QUICK=1 (or --quick) runs quick sizes. --help prints this.`;

if (import.meta.main && wantsHelp(Deno.args)) showHelp(USAGE);

if (import.meta.main && Deno.args[0] === "--splits") {
  // deno run -A tools/pretraining/eval_course_model.ts --splits out.json name=dir [name=dir ...]
  //   NSMC on 3 random splits: baselines and each model (see nsmcSplitComparison).
  const quick = isQuickMode();
  const defaults = defaultEvalOptions(quick);
  await initBackend();
  const models = Deno.args.slice(2).map((spec) => {
    const [name, dir] = spec.split("=");
    return { name, dir: resolve(dir) };
  });
  const tokenizer = await AutoTokenizer.fromPretrained(
    defaultTokenizerDir(models[0].dir),
    { quiet: true },
  );
  const started = performance.now();
  const report = await nsmcSplitComparison(models, tokenizer, {
    ...defaults,
    trainSize: quick ? 64 : 2000,
    devSize: quick ? 32 : 500,
    testSize: quick ? 32 : 2000,
    epochs: quick ? 1 : 3,
    featureEpochs: quick ? 1 : 4,
    learningRates: quick ? [3e-4] : [1e-4, 3e-4],
    splits: quick ? 1 : 3,
  });
  const json = JSON.stringify(
    {
      ...report,
      machine: deviceReport(),
      total_seconds: (performance.now() - started) / 1000,
    },
    null,
    2,
  ) + "\n";
  await Deno.writeTextFile(Deno.args[1], json);
  console.log(JSON.stringify(report.mean_accuracy, null, 2));
} else if (import.meta.main && Deno.args[0] === "--full-nsmc") {
  // deno run -A tools/pretraining/eval_course_model.ts --full-nsmc out.json modelDir [minutes]
  const quick = isQuickMode();
  const backend = await initBackend();
  const modelDir = resolve(Deno.args[2]);
  const minutes = Deno.args[3] ? Number(Deno.args[3]) : undefined;
  const tokenizer = await AutoTokenizer.fromPretrained(
    defaultTokenizerDir(modelDir),
    { quiet: true },
  );
  const result = await nsmcFullRun(modelDir, tokenizer, {
    learningRate: 1e-4,
    epochs: 1,
    batchSize: 32,
    maxLength: 128,
    timeBudgetSeconds: minutes ? minutes * 60 : undefined,
    quick,
  });
  await Deno.writeTextFile(
    Deno.args[1],
    JSON.stringify(
      {
        model: Deno.args[2],
        ...result,
        machine: { ...deviceReport(), backend: backend.name },
      },
      null,
      2,
    ) + "\n",
  );
  console.log(JSON.stringify(result));
} else if (import.meta.main && Deno.args[0] === "--card") {
  // deno run -A tools/pretraining/eval_course_model.ts --card models/ko-mini-bert/evaluation.json
  console.log(resultsMarkdown(JSON.parse(Deno.readTextFileSync(Deno.args[1]))));
} else if (import.meta.main) {
  const { options, out } = parseOrExit(USAGE, Deno.args, parseEvalFlags);
  const report = await evaluateCourseModel(options);
  const json = JSON.stringify(report, null, 2) + "\n";
  const path = reportPath(options, out);
  if (path) {
    await Deno.writeTextFile(path, json);
    console.log(`wrote ${path}`);
  } else {
    console.log(json);
  }
}
