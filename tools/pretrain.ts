/**
 * Pretrains the course's Korean mini-BERT (MLM + NSP) with the course library and writes it, in the
 * Hugging Face format, to models/ko-mini-bert/.
 *
 *   deno task pretrain --minutes 480 --max-steps 30000
 *   deno run -A tools/pretrain.ts --minutes 5 --max-steps 200      (a short check)
 *
 * Resumable: every `--save-minutes` (and when the time budget ends) it writes
 * `<out>/checkpoint-<step>/` (model, AdamW moments, data position); a new run continues from the
 * newest one. The learning-rate schedule is defined by `--max-steps`, so a run cut into pieces by
 * `--minutes` trains exactly as one long run. Sequence length is 64 for the first 90% of steps and
 * 128 for the rest, as BERT did (most of our documents are short reviews and comments).
 *
 * Why the loss is computed here and not by `BertForPreTraining.forward`: HF's head scores all
 * positions against the whole vocabulary, but only the ~15% masked positions count. Scoring only
 * those (as the original BERT code does with `masked_lm_positions`) gives the same loss and
 * gradients with about a sixth of the work of the largest matrix product.
 */
import * as tf from "@tensorflow/tfjs-core";
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { initBackend } from "../lib/runtime/backend.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { SeededRandom } from "../lib/runtime/random.ts";
import { AutoTokenizer, type BertTokenizer } from "../lib/text/mod.ts";
import {
  type Batch,
  collate,
  disposeBatch,
  type Example,
  makeNspExamples,
  maskOptionsFrom,
  maskTokens,
} from "../lib/data/mod.ts";
import {
  BertConfig,
  BertForPreTraining,
  crossEntropy,
} from "../lib/models/mod.ts";
import { DropoutSeeds } from "../lib/models/bert.ts";
import { matMul } from "../lib/models/ops.ts";
import {
  AdamW,
  clipByGlobalNorm,
  latestCheckpoint,
  LrSchedule,
  readCheckpoint,
  restoreModelWeights,
} from "../lib/train/mod.ts";
import { rotateCheckpoints, saveCheckpoint } from "../lib/train/checkpoint.ts";
import type { TrainableModel } from "../lib/train/types.ts";
import { parseDocuments } from "./build_corpus.ts";

const REPO_ROOT = resolve(import.meta.dirname!, "..");

export type PretrainOptions = {
  corpusDir: string;
  tokenizerDir: string;
  /** Checkpoints and logs. */
  outputDir: string;
  /** Final Hugging Face folder (weights, config, tokenizer, training_summary.json). */
  modelDir: string;
  minutes: number;
  maxSteps: number;
  batchSize: number;
  seqLength: number;
  longSeqLength: number;
  /** Share of the final steps trained at `longSeqLength`. */
  longFraction: number;
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  logSteps: number;
  evalSteps: number;
  evalExamples: number;
  saveMinutes: number;
  saveTotalLimit: number;
  seed: number;
  backend?: string;
  /** Weights dtype of the exported model folder (checkpoints are always float32). */
  exportDtype: "F16" | "F32";
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  /** Read only the first N documents of the corpus (tests). */
  maxDocuments?: number;
  /** Stop this run at this step (checkpoint and export as when time is up); the schedule still ends at maxSteps. */
  stopAtStep?: number;
  /**
   * Start from these weights (a model folder or checkpoint) instead of a random init: a new run
   * with its own schedule and fresh AdamW moments. Ignored once `outputDir` holds a checkpoint.
   */
  initFrom?: string;
  /**
   * Share of tokens chosen for MLM in training (80/10/10 of those). Held-out evaluation always uses
   * 0.15, so runs stay comparable. Wettig et al. (2022) find 0.3-0.4 learns faster per token.
   */
  mlmProbability: number;
  /**
   * Train without dropout (the exported config keeps BERT's 0.1 for fine-tuning). Geiping &
   * Goldstein (2022, "Cramming") drop it for short pretraining budgets, where nothing overfits.
   */
  noDropout: boolean;
  quiet: boolean;
};

export const DEFAULT_OPTIONS: PretrainOptions = {
  corpusDir: join(REPO_ROOT, ".cache", "corpus"),
  tokenizerDir: join(REPO_ROOT, "models", "ko-mini-bert"),
  outputDir: join(REPO_ROOT, ".cache", "pretrain"),
  modelDir: join(REPO_ROOT, "models", "ko-mini-bert"),
  minutes: 60,
  maxSteps: 30000,
  batchSize: 32,
  seqLength: 64,
  longSeqLength: 128,
  longFraction: 0.1,
  // Small BERTs train well with a larger peak rate than BERT-base's 1e-4 (Turc et al. 2019 use 1e-4..1e-3).
  learningRate: 5e-4,
  warmupRatio: 0.02,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  logSteps: 20,
  evalSteps: 500,
  evalExamples: 512,
  saveMinutes: 10,
  saveTotalLimit: 2,
  seed: 42,
  exportDtype: "F16",
  hidden: 256,
  layers: 4,
  heads: 4,
  intermediate: 1024,
  maxPositions: 128,
  mlmProbability: 0.15,
  noDropout: false,
  quiet: false,
};

/** Sums over a batch; accuracies are ratios of these, so they average correctly over many batches. */
export type BatchStats = {
  loss: number;
  mlmLoss: number;
  nspLoss: number;
  mlmCorrect: number;
  mlmCount: number;
  nspCorrect: number;
  nspCount: number;
};

export function sequenceLengthAt(
  step: number,
  options: Pick<
    PretrainOptions,
    "maxSteps" | "longFraction" | "seqLength" | "longSeqLength"
  >,
): number {
  const longFrom = Math.floor(options.maxSteps * (1 - options.longFraction));
  return step >= longFrom ? options.longSeqLength : options.seqLength;
}

/** A seed for (purpose, number): runs that resume at step N draw exactly what an uninterrupted run drew. */
function derivedSeed(seed: number, purpose: number, n: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(purpose + 1, 0x85ebca6b) ^
    Math.imul(n + 1, 0xc2b2ae35)) | 0;
}

/**
 * Dropout masks from (seed, step) instead of one stream since model creation, so a run resumed
 * from a checkpoint draws the same masks as an uninterrupted one.
 */
function reseedDropout(model: BertForPreTraining, seed: number): void {
  (model.bert as unknown as { seeds: DropoutSeeds }).seeds = new DropoutSeeds(
    seed,
  );
}

/** One epoch's NSP pairs (fresh A/B splits and random NotNext partners every epoch), shuffled. */
export function epochExamples(
  documents: string[][],
  tokenizer: BertTokenizer,
  options: {
    seed: number;
    epoch: number;
    maxLength: number;
    batchSize?: number;
  },
): Example[] {
  const rng = new SeededRandom(
    derivedSeed(options.seed, 1, options.epoch * 1000 + options.maxLength),
  );
  const examples = makeNspExamples(documents, tokenizer, rng, {
    maxLength: options.maxLength,
  });
  const shuffled = rng.shuffle(examples);
  return options.batchSize
    ? lengthGroupedOrder(shuffled, options.batchSize, rng)
    : shuffled;
}

/**
 * Batches of similar length (HF `group_by_length`): examples are sorted by length inside windows of
 * `window` batches, cut into batches, and the batches shuffled. Most pairs are short reviews, so with
 * dynamic padding this cuts the padded tokens per step by about 2.3x (measured on the corpus).
 */
export function lengthGroupedOrder<T extends { input_ids: number[] }>(
  examples: T[],
  batchSize: number,
  rng: SeededRandom,
  window = 50,
): T[] {
  const batches: T[][] = [];
  for (let start = 0; start < examples.length; start += batchSize * window) {
    const sorted = examples.slice(start, start + batchSize * window)
      .sort((a, b) => a.input_ids.length - b.input_ids.length);
    for (let i = 0; i + batchSize <= sorted.length; i += batchSize) {
      batches.push(sorted.slice(i, i + batchSize));
    }
  }
  return rng.shuffle(batches).flat();
}

/** BERT's 80/10/10 masking, redrawn for every step (dynamic masking, as RoBERTa showed helps). */
export function maskedExamples(
  examples: Example[],
  tokenizer: BertTokenizer,
  seed: number,
  mlmProbability = 0.15,
): Example[] {
  const options = maskOptionsFrom(tokenizer, new SeededRandom(seed), {
    mlmProbability,
  });
  return examples.map((example) => {
    const { input_ids, labels } = maskTokens(example.input_ids, options);
    return { ...example, input_ids, labels };
  });
}

export function buildModel(
  tokenizer: BertTokenizer,
  options: PretrainOptions,
): BertForPreTraining {
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: options.hidden,
    num_hidden_layers: options.layers,
    num_attention_heads: options.heads,
    intermediate_size: options.intermediate,
    max_position_embeddings: options.maxPositions,
    pad_token_id: tokenizer.padTokenId,
    architectures: ["BertForPreTraining"],
  });
  return new BertForPreTraining(config, { seed: options.seed });
}

/**
 * MLM + NSP loss with the MLM head applied to masked positions only. Returns the loss (a scalar
 * for gradients) and kept per-batch statistics [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect].
 */
export function pretrainingLoss(
  model: BertForPreTraining,
  batch: Batch,
  training: boolean,
): { loss: tf.Scalar; stats: tf.Tensor1D } {
  // Masked positions are read from the labels on the host: they are inputs, not part of the graph.
  const labelValues = batch.labels!.dataSync();
  const positions: number[] = [];
  const targetIds: number[] = [];
  labelValues.forEach((label, position) => {
    if (label !== -100) (positions.push(position), targetIds.push(label));
  });
  if (positions.length === 0) (positions.push(0), targetIds.push(-100));
  return tf.tidy(() => {
    const encoded = model.bert.forward(batch, { training });
    const [b, s, h] = encoded.last_hidden_state.shape;
    const sequence = tf.gather(
      tf.reshape(encoded.last_hidden_state, [b * s, h]),
      tf.tensor1d(positions, "int32"),
    );
    const targets = tf.tensor1d(targetIds, "int32");
    const mlm = model.mlm;
    const transformed = mlm.norm.apply(mlm.act(mlm.dense.apply(sequence)));
    const logits = tf.add(
      matMul(transformed, model.bert.wordEmbeddings, true),
      mlm.bias,
    );
    const mlmLoss = crossEntropy(logits, targets);
    const nspLogits = model.seqRelationship.apply(encoded.pooler_output);
    const nspLabels = batch.next_sentence_label!;
    const nspLoss = crossEntropy(nspLogits, nspLabels);
    const valid = tf.cast(tf.notEqual(targets, -100), "float32");
    const mlmCorrect = tf.sum(
      tf.mul(
        tf.cast(tf.equal(tf.argMax(logits, -1), targets), "float32"),
        valid,
      ),
    );
    const nspCorrect = tf.sum(
      tf.cast(
        tf.equal(tf.argMax(nspLogits, -1), tf.cast(nspLabels, "int32")),
        "float32",
      ),
    );
    const stats = tf.stack([
      tf.mul(mlmLoss, tf.sum(valid)),
      mlmCorrect,
      tf.sum(valid),
      nspLoss,
      nspCorrect,
    ]) as tf.Tensor1D;
    return { loss: tf.add(mlmLoss, nspLoss) as tf.Scalar, stats };
  });
}

function statsFrom(
  values: Float32Array | Int32Array | Uint8Array,
  batchSize: number,
): BatchStats {
  const [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect] = Array.from(
    values,
  );
  return {
    loss: mlmLossSum / Math.max(1, mlmCount) + nspLoss,
    mlmLoss: mlmLossSum,
    nspLoss: nspLoss * batchSize,
    mlmCorrect,
    mlmCount,
    nspCorrect,
    nspCount: batchSize,
  };
}

function addStats(total: BatchStats, add: BatchStats): BatchStats {
  return {
    loss: total.loss + add.loss,
    mlmLoss: total.mlmLoss + add.mlmLoss,
    nspLoss: total.nspLoss + add.nspLoss,
    mlmCorrect: total.mlmCorrect + add.mlmCorrect,
    mlmCount: total.mlmCount + add.mlmCount,
    nspCorrect: total.nspCorrect + add.nspCorrect,
    nspCount: total.nspCount + add.nspCount,
  };
}

const EMPTY_STATS: BatchStats = {
  loss: 0,
  mlmLoss: 0,
  nspLoss: 0,
  mlmCorrect: 0,
  mlmCount: 0,
  nspCorrect: 0,
  nspCount: 0,
};

/** The numbers a log line and the model card report, from summed stats. */
export function summarize(stats: BatchStats) {
  const mlmLoss = stats.mlmLoss / Math.max(1, stats.mlmCount);
  return {
    mlm_loss: mlmLoss,
    mlm_perplexity: Math.exp(mlmLoss),
    mlm_accuracy: stats.mlmCorrect / Math.max(1, stats.mlmCount),
    nsp_loss: stats.nspLoss / Math.max(1, stats.nspCount),
    nsp_accuracy: stats.nspCorrect / Math.max(1, stats.nspCount),
  };
}

/**
 * Fixed held-out pairs and masks (same seed every time), so evaluations are comparable across a run
 * (and tools/eval_course_model.ts scores the final model on exactly these).
 */
export function heldoutExamples(
  documents: string[][],
  tokenizer: BertTokenizer,
  options: Pick<PretrainOptions, "seed" | "longSeqLength" | "evalExamples">,
): Example[] {
  const examples = epochExamples(documents, tokenizer, {
    seed: options.seed + 7,
    epoch: 0,
    maxLength: options.longSeqLength,
  });
  // Sorted by length: evaluation pads far less, and the metric does not depend on batch order.
  return maskedExamples(
    examples.slice(0, options.evalExamples),
    tokenizer,
    derivedSeed(options.seed, 3, 0),
  ).sort((a, b) => a.input_ids.length - b.input_ids.length);
}

export function evaluate(
  model: BertForPreTraining,
  examples: Example[],
  padTokenId: number,
  batchSize: number,
) {
  let total = { ...EMPTY_STATS };
  for (let start = 0; start < examples.length; start += batchSize) {
    const chunk = examples.slice(start, start + batchSize);
    const batch = collate(chunk, { padTokenId });
    try {
      const { loss, stats } = pretrainingLoss(model, batch, false);
      total = addStats(total, statsFrom(stats.dataSync(), chunk.length));
      tf.dispose([loss, stats]);
    } finally {
      disposeBatch(batch);
    }
  }
  return summarize(total);
}

type TrainerState = {
  global_step: number;
  epoch: number;
  /** Position in the current epoch's shuffled examples. */
  cursor: number;
  /** Sequence length the current epoch's examples were built for. */
  max_length: number;
  elapsed_s: number;
  log_history: Record<string, number>[];
};

export async function readDocuments(
  file: string,
  maxDocuments?: number,
): Promise<string[][]> {
  if (!existsSync(file)) {
    throw new CourseError(
      "PRETRAIN_CORPUS_MISSING",
      `corpus not found: ${file}`,
      "먼저 `deno run -A tools/build_corpus.ts`로 코퍼스를 만드세요 (.cache/corpus/pretrain.txt).",
    );
  }
  const documents = parseDocuments(await Deno.readTextFile(file));
  return maxDocuments ? documents.slice(0, maxDocuments) : documents;
}

function copyTokenizerFiles(from: string, to: string): void {
  if (resolve(from) === resolve(to)) return;
  for (
    const file of [
      "tokenizer.json",
      "vocab.txt",
      "tokenizer_config.json",
      "special_tokens_map.json",
    ]
  ) {
    if (existsSync(join(from, file))) {
      copyFileSync(join(from, file), join(to, file));
    }
  }
}

/** Runs (or continues) pretraining until `maxSteps` or the time budget; returns the training summary. */
export async function pretrain(options: PretrainOptions) {
  const log = (message: string) => options.quiet || console.log(message);
  const backend = await initBackend(options.backend);
  const tokenizer = await AutoTokenizer.fromPretrained(options.tokenizerDir, {
    quiet: true,
  });
  const trainDocuments = await readDocuments(
    join(options.corpusDir, "pretrain.txt"),
    options.maxDocuments,
  );
  const heldout = heldoutExamples(
    await readDocuments(
      join(options.corpusDir, "heldout.txt"),
      options.maxDocuments,
    ),
    tokenizer,
    options,
  );
  const model = buildModel(tokenizer, options);
  const params = model.namedParameters();
  const names = [...params.keys()];
  const variables = names.map((name) => params.get(name)!);
  const optimizer = new AdamW({
    learningRate: options.learningRate,
    weightDecay: options.weightDecay,
  });
  const schedule = new LrSchedule({
    type: "linear",
    learningRate: options.learningRate,
    warmupSteps: Math.ceil(options.maxSteps * options.warmupRatio),
    totalSteps: options.maxSteps,
  });

  let state: TrainerState = {
    global_step: 0,
    epoch: 0,
    cursor: 0,
    max_length: sequenceLengthAt(0, options),
    elapsed_s: 0,
    log_history: [],
  };
  const resumeFrom = await latestCheckpoint(options.outputDir);
  if (resumeFrom) {
    const checkpoint = await readCheckpoint(resumeFrom);
    await restoreModelWeights(model as unknown as TrainableModel, resumeFrom);
    optimizer.loadStateDict(checkpoint.optimizer);
    state = checkpoint.trainerState as TrainerState;
    log(
      `resumed from ${resumeFrom} (step ${state.global_step}, epoch ${state.epoch})`,
    );
  } else if (options.initFrom) {
    await restoreModelWeights(
      model as unknown as TrainableModel,
      options.initFrom,
    );
    log(`weights initialised from ${options.initFrom}`);
  }
  log(
    `backend ${backend.name}, ${model.countParameters().total.toLocaleString()} parameters, ` +
      `${trainDocuments.length} documents, ${heldout.length} held-out pairs`,
  );

  let examples = epochExamples(trainDocuments, tokenizer, {
    seed: options.seed,
    epoch: state.epoch,
    maxLength: state.max_length,
    batchSize: options.batchSize,
  });
  const started = performance.now();
  const startElapsed = state.elapsed_s;
  let lastSave = performance.now();
  let window = { ...EMPTY_STATS };
  let windowStart = performance.now();
  let windowTokens = 0;
  const budgetMs = options.minutes * 60_000;

  const save = async () => {
    state.elapsed_s = startElapsed + (performance.now() - started) / 1000;
    await saveCheckpoint(options.outputDir, state.global_step, {
      model: model as unknown as TrainableModel,
      optimizer,
      trainerState: state,
      schedulerState: { ...schedule.toJSON() },
      rngState: {
        seed: options.seed,
        note: "data order and masks are derived from (seed, epoch, step)",
      },
    });
    await rotateCheckpoints(options.outputDir, options.saveTotalLimit);
    lastSave = performance.now();
  };

  const lastStep = Math.min(options.maxSteps, options.stopAtStep ?? Infinity);
  while (
    state.global_step < lastStep && performance.now() - started < budgetMs
  ) {
    const wantedLength = sequenceLengthAt(state.global_step, options);
    if (wantedLength !== state.max_length) {
      // Longer sequences for the last phase: rebuild this epoch's pairs at the new length.
      const done = state.cursor / Math.max(1, examples.length);
      examples = epochExamples(trainDocuments, tokenizer, {
        seed: options.seed,
        epoch: state.epoch,
        maxLength: wantedLength,
        batchSize: options.batchSize,
      });
      // Same share of the epoch done: the new pairs are packed differently, so keep the position by fraction.
      state = {
        ...state,
        max_length: wantedLength,
        cursor: Math.floor(done * examples.length / options.batchSize) *
          options.batchSize,
      };
    }
    if (state.cursor + options.batchSize > examples.length) {
      state = { ...state, epoch: state.epoch + 1, cursor: 0 };
      examples = epochExamples(trainDocuments, tokenizer, {
        seed: options.seed,
        epoch: state.epoch,
        maxLength: state.max_length,
        batchSize: options.batchSize,
      });
    }
    const chunk = maskedExamples(
      examples.slice(state.cursor, state.cursor + options.batchSize),
      tokenizer,
      derivedSeed(options.seed, 2, state.global_step),
      options.mlmProbability,
    );
    state.cursor += options.batchSize;
    reseedDropout(model, derivedSeed(options.seed, 4, state.global_step));
    const batch = collate(chunk, { padTokenId: tokenizer.padTokenId });
    let kept: tf.Tensor1D | undefined;
    try {
      const { value, grads } = tf.variableGrads(() => {
        const { loss, stats } = pretrainingLoss(
          model,
          batch,
          !options.noDropout,
        );
        kept = tf.keep(stats);
        return loss;
      }, variables);
      const named = new Map<string, tf.Tensor>();
      names.forEach((name, i) => {
        const grad = grads[variables[i].name];
        if (grad) named.set(name, grad);
      });
      const { grads: clipped, norm } = clipByGlobalNorm(
        named,
        options.maxGradNorm,
      );
      optimizer.applyGradients(
        params,
        clipped,
        schedule.lrAt(state.global_step),
      );
      const stats = statsFrom(await kept!.data(), chunk.length);
      if (!Number.isFinite(stats.loss)) {
        throw new CourseError(
          "PRETRAIN_NAN",
          `loss is ${stats.loss} at step ${state.global_step}`,
          "학습률(--lr)을 낮추거나 마지막 체크포인트에서 다시 시작하세요.",
        );
      }
      window = addStats(window, stats);
      windowTokens += batch.input_ids.size;
      tf.dispose([
        value,
        norm,
        ...Object.values(grads),
        ...(clipped === named ? [] : [...clipped.values()]),
      ]);
    } finally {
      kept?.dispose();
      disposeBatch(batch);
    }
    state.global_step += 1;

    if (state.global_step % options.logSteps === 0) {
      const seconds = (performance.now() - windowStart) / 1000;
      const row = {
        step: state.global_step,
        epoch: state.epoch + state.cursor / examples.length,
        learning_rate: schedule.lrAt(state.global_step),
        ...summarize(window),
        steps_per_s: options.logSteps / seconds,
        tokens_per_s: windowTokens / seconds,
        seq_length: state.max_length,
        tensors: tf.memory().numTensors,
        elapsed_s: startElapsed + (performance.now() - started) / 1000,
      };
      state.log_history.push(row);
      log(
        `step ${row.step} | epoch ${row.epoch.toFixed(2)} | lr ${
          row.learning_rate.toExponential(2)
        } | ` +
          `mlm ${row.mlm_loss.toFixed(3)} acc ${
            (100 * row.mlm_accuracy).toFixed(1)
          }% | ` +
          `nsp ${row.nsp_loss.toFixed(3)} acc ${
            (100 * row.nsp_accuracy).toFixed(1)
          }% | ` +
          `${row.steps_per_s.toFixed(2)} steps/s, ${
            row.tokens_per_s.toFixed(0)
          } tokens/s`,
      );
      window = { ...EMPTY_STATS };
      windowStart = performance.now();
      windowTokens = 0;
    }
    if (state.global_step % options.evalSteps === 0) {
      const metrics = evaluate(
        model,
        heldout,
        tokenizer.padTokenId,
        options.batchSize,
      );
      state.log_history.push({
        step: state.global_step,
        ...prefixed(metrics, "eval_"),
      });
      log(`eval step ${state.global_step}: ${JSON.stringify(metrics)}`);
    }
    if (performance.now() - lastSave > options.saveMinutes * 60_000) {
      await save();
    }
  }

  await save();
  const evalMetrics = evaluate(
    model,
    heldout,
    tokenizer.padTokenId,
    options.batchSize,
  );
  state.log_history.push({
    step: state.global_step,
    ...prefixed(evalMetrics, "eval_"),
  });
  const summary = {
    global_step: state.global_step,
    max_steps: options.maxSteps,
    finished: state.global_step >= options.maxSteps,
    epochs: state.epoch + state.cursor / examples.length,
    train_seconds: state.elapsed_s,
    train_documents: trainDocuments.length,
    heldout_pairs: heldout.length,
    backend: backend.name,
    hardware:
      `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os}/${Deno.build.arch}`,
    options: {
      ...options,
      corpusDir: undefined,
      tokenizerDir: undefined,
      outputDir: undefined,
      modelDir: undefined,
    },
    parameters: model.countParameters().total,
    heldout: evalMetrics,
    log_history: state.log_history,
  };
  await Deno.mkdir(options.modelDir, { recursive: true });
  await model.savePretrained(options.modelDir, { dtype: options.exportDtype });
  await declareComputeDtype(options.modelDir);
  copyTokenizerFiles(options.tokenizerDir, options.modelDir);
  await Deno.writeTextFile(
    join(options.modelDir, "training_summary.json"),
    JSON.stringify(summary, null, 2) + "\n",
  );
  log(`held-out: ${JSON.stringify(evalMetrics)}`);
  log(
    `wrote ${options.modelDir} (step ${state.global_step}/${options.maxSteps})`,
  );
  model.dispose();
  return summary;
}

/**
 * The weights are stored in float16 to keep the folder small; `torch_dtype: float32` makes Python
 * `transformers` (dtype "auto") load them as float32, which CPU fine-tuning needs.
 */
async function declareComputeDtype(modelDir: string): Promise<void> {
  const path = join(modelDir, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  config.torch_dtype = "float32";
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2) + "\n");
}

function prefixed(
  metrics: Record<string, number>,
  prefix: string,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(metrics).map(([key, value]) => [prefix + key, value]),
  );
}

const FLAG_NAMES: Record<string, keyof PretrainOptions> = {
  "--corpus": "corpusDir",
  "--tokenizer": "tokenizerDir",
  "--out": "outputDir",
  "--model-out": "modelDir",
  "--minutes": "minutes",
  "--max-steps": "maxSteps",
  "--batch-size": "batchSize",
  "--seq-length": "seqLength",
  "--long-seq-length": "longSeqLength",
  "--long-fraction": "longFraction",
  "--lr": "learningRate",
  "--warmup-ratio": "warmupRatio",
  "--weight-decay": "weightDecay",
  "--max-grad-norm": "maxGradNorm",
  "--log-steps": "logSteps",
  "--eval-steps": "evalSteps",
  "--eval-examples": "evalExamples",
  "--save-minutes": "saveMinutes",
  "--save-total-limit": "saveTotalLimit",
  "--seed": "seed",
  "--backend": "backend",
  "--export-dtype": "exportDtype",
  "--hidden": "hidden",
  "--layers": "layers",
  "--heads": "heads",
  "--intermediate": "intermediate",
  "--max-documents": "maxDocuments",
  "--stop-at-step": "stopAtStep",
  "--init-from": "initFrom",
  "--mlm-probability": "mlmProbability",
};

export function parsePretrainFlags(args: string[]): PretrainOptions {
  const options: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--quiet" || args[i] === "--no-dropout") {
      options[args[i] === "--quiet" ? "quiet" : "noDropout"] = true;
      continue;
    }
    const key = FLAG_NAMES[args[i]];
    const value = args[i + 1];
    if (!key || value === undefined) {
      throw new CourseError(
        "PRETRAIN_FLAG",
        `unknown or incomplete flag ${args[i]}`,
        `사용할 수 있는 옵션: ${Object.keys(FLAG_NAMES).join(", ")}`,
      );
    }
    const isText = typeof DEFAULT_OPTIONS[key] === "string" ||
      key === "backend" || key === "initFrom";
    const isPath = key.endsWith("Dir") || key === "initFrom";
    options[key] = isText ? (isPath ? resolve(value) : value) : Number(value);
    i++;
  }
  return options as PretrainOptions;
}

if (import.meta.main) {
  await pretrain(parsePretrainFlags(Deno.args));
}
