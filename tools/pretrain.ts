/**
 * Pretrains the course's Korean mini-BERT (MLM + NSP) with the course library and writes it, in the
 * Hugging Face format, to models/ko-mini-bert/.
 *
 *   deno task pretrain --minutes 480 --max-steps 30000
 *   deno run -A tools/pretrain.ts --minutes 5 --max-steps 200      (a short check)
 *   deno task pretrain --minutes 480 --max-steps 30000 --workers 2  (on two CPU cores)
 *
 * Resumable: every `--save-minutes` (and when the time budget ends) it writes
 * `<out>/checkpoint-<step>/` (model, AdamW moments, data position); a new run continues from the
 * newest one. The learning-rate schedule is defined by `--max-steps`, so a run cut into pieces by
 * `--minutes` trains exactly as one long run. Sequence length is 64 for the first 90% of steps and
 * 128 for the rest, as BERT did (most of our documents are short reviews and comments).
 *
 * `--workers N` trains on N CPU cores (tfjs's wasm backend uses one): synchronous data parallelism
 * over N Workers holding identical replicas, each computing the gradients of a slice of every
 * batch; their sum (each slice's loss weighted by its share of the masked tokens and pairs, so the
 * sum is the full-batch gradient) is applied by every replica (tools/pretrain_parallel.ts,
 * tools/pretrain_worker.ts). The default, 1, trains in this thread. Checkpoints are the same either
 * way, so a run can resume with another `--workers`. Only dropout masks differ (drawn per slice),
 * so N workers train as well as one, not bit for bit the same run. Measured on two idle cores
 * (continuing the course model, same batches, steps 1-120): 1.19 steps/s with `--workers 2`
 * against 0.70 with one, a 1.70x speed-up, for 2.7 instead of 2.2 GB peak memory.
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
import {
  type CheckpointParts,
  rotateCheckpoints,
  saveCheckpoint,
} from "../lib/train/checkpoint.ts";
import type { TrainableModel } from "../lib/train/types.ts";
import { parseDocuments } from "./build_corpus.ts";
// pretrain_parallel.ts imports this module back; neither uses the other's values while loading.
import { WorkerReplicas } from "./pretrain_parallel.ts";

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
  /**
   * Workers training data-parallel, one CPU core each (1: train in this thread). The batch is
   * split among them, so the result is the same batch size's training, faster.
   */
  workers: number;
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
  workers: 1,
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
 * The dropout seed of a step (and, with `--workers`, of a worker's slice of the batch): worker 0
 * uses the single-process seed, the others their own, so no two slices share masks.
 */
export function dropoutSeed(seed: number, step: number, rank = 0): number {
  return rank === 0
    ? derivedSeed(seed, 4, step)
    : derivedSeed(seed, 4, derivedSeed(step, 5, rank));
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

/** What building the model needs from the tokenizer (sent to Workers instead of the tokenizer). */
export type Vocabulary = Pick<BertTokenizer, "vocabSize" | "padTokenId">;

export function buildModel(
  tokenizer: Vocabulary,
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

/** Scales of the MLM and NSP terms of a loss: a worker's share of its batch (tools/pretrain_parallel.ts). */
export type LossWeights = { mlm: number; nsp: number };

/**
 * MLM + NSP loss with the MLM head applied to masked positions only. Returns the loss (a scalar
 * for gradients) and kept per-batch statistics [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect].
 * With `weights` the loss is `weights.mlm * mlm + weights.nsp * nsp` (the statistics are unscaled).
 */
export function pretrainingLoss(
  model: BertForPreTraining,
  batch: Batch,
  training: boolean,
  weights?: LossWeights,
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
    const loss = weights
      ? tf.add(tf.mul(mlmLoss, weights.mlm), tf.mul(nspLoss, weights.nsp))
      : tf.add(mlmLoss, nspLoss);
    return { loss: loss as tf.Scalar, stats };
  });
}

export function statsFrom(
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

export function addStats(total: BatchStats, add: BatchStats): BatchStats {
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

export const EMPTY_STATS: BatchStats = {
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

export function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}

/** Summed stats of `chunks`, each one batch, without dropout or update. */
export function evaluationStats(
  model: BertForPreTraining,
  chunks: Example[][],
  padTokenId: number,
): BatchStats {
  let total = { ...EMPTY_STATS };
  for (const chunk of chunks) {
    const batch = collate(chunk, { padTokenId });
    try {
      const { loss, stats } = pretrainingLoss(model, batch, false);
      total = addStats(total, statsFrom(stats.dataSync(), chunk.length));
      tf.dispose([loss, stats]);
    } finally {
      disposeBatch(batch);
    }
  }
  return total;
}

export function evaluate(
  model: BertForPreTraining,
  examples: Example[],
  padTokenId: number,
  batchSize: number,
) {
  return summarize(
    evaluationStats(model, chunksOf(examples, batchSize), padTokenId),
  );
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

/** Where a replica's weights come from besides `options.seed`: a checkpoint to resume, or `--init-from`. */
export type ReplicaSource = { resumeFrom?: string; initFrom?: string };

/** A checkpoint's parts other than the model and optimizer, which the replica holding them adds. */
export type CheckpointState = Omit<CheckpointParts, "model" | "optimizer">;

/**
 * The model and its AdamW state. `--workers 1` trains one in this thread; `--workers N` keeps N
 * identical ones, one per Worker (tools/pretrain_worker.ts).
 */
export class Replica {
  readonly params: Map<string, tf.Variable>;
  /** Parameter names in a fixed order (the order of flattened gradients between Workers). */
  readonly names: string[];
  private readonly variables: tf.Variable[];

  private constructor(
    readonly model: BertForPreTraining,
    readonly optimizer: AdamW,
  ) {
    this.params = model.namedParameters();
    this.names = [...this.params.keys()];
    this.variables = this.names.map((name) => this.params.get(name)!);
  }

  /**
   * A model initialised from `options.seed`, then given a checkpoint's weights and AdamW moments
   * (`resumeFrom`) or only weights (`initFrom`: a new run, fresh moments).
   */
  static async create(
    vocabulary: Vocabulary,
    options: PretrainOptions,
    source: ReplicaSource = {},
  ): Promise<Replica> {
    const model = buildModel(vocabulary, options);
    const optimizer = new AdamW({
      learningRate: options.learningRate,
      weightDecay: options.weightDecay,
    });
    const replica = new Replica(model, optimizer);
    if (source.resumeFrom) {
      const checkpoint = await readCheckpoint(source.resumeFrom);
      await restoreModelWeights(
        model as unknown as TrainableModel,
        source.resumeFrom,
      );
      optimizer.loadStateDict(checkpoint.optimizer);
    } else if (source.initFrom) {
      await restoreModelWeights(
        model as unknown as TrainableModel,
        source.initFrom,
      );
    }
    return replica;
  }

  /**
   * Loss and gradients of one batch. Gradients are keyed by parameter name (one outside the graph
   * has none); `stats` is pretrainingLoss's. The caller disposes both.
   */
  gradients(
    batch: Batch,
    options: { training: boolean; dropoutSeed: number; weights?: LossWeights },
  ): { grads: Map<string, tf.Tensor>; stats: tf.Tensor1D } {
    reseedDropout(this.model, options.dropoutSeed);
    let kept: tf.Tensor1D | undefined;
    try {
      const { value, grads } = tf.variableGrads(() => {
        const { loss, stats } = pretrainingLoss(
          this.model,
          batch,
          options.training,
          options.weights,
        );
        kept = tf.keep(stats);
        return loss;
      }, this.variables);
      value.dispose();
      const named = new Map<string, tf.Tensor>();
      this.names.forEach((name, i) => {
        const grad = grads[this.variables[i].name];
        if (grad) named.set(name, grad);
      });
      return { grads: named, stats: kept! };
    } catch (error) {
      kept?.dispose();
      throw error;
    }
  }

  /** Global-norm clipping and one AdamW step; disposes `grads`. */
  apply(
    grads: Map<string, tf.Tensor>,
    maxGradNorm: number,
    learningRate: number,
  ): void {
    const { grads: clipped, norm } = clipByGlobalNorm(grads, maxGradNorm);
    try {
      this.optimizer.applyGradients(this.params, clipped, learningRate);
    } finally {
      tf.dispose([
        norm,
        ...grads.values(),
        ...(clipped === grads ? [] : [...clipped.values()]),
      ]);
    }
  }

  evaluationStats(chunks: Example[][], padTokenId: number): BatchStats {
    return evaluationStats(this.model, chunks, padTokenId);
  }

  async save(
    outputDir: string,
    step: number,
    parts: CheckpointState,
    saveTotalLimit: number,
  ): Promise<void> {
    await saveCheckpoint(outputDir, step, {
      model: this.model as unknown as TrainableModel,
      optimizer: this.optimizer,
      ...parts,
    });
    await rotateCheckpoints(outputDir, saveTotalLimit);
  }

  /** The Hugging Face folder's weights and config (the caller adds tokenizer and summary). */
  async exportTo(dir: string, dtype: PretrainOptions["exportDtype"]) {
    await Deno.mkdir(dir, { recursive: true });
    await this.model.savePretrained(dir, { dtype });
  }

  /** SHA-256 of all parameters in order: equal hashes mean bit-identical weights. */
  async parameterHash(): Promise<string> {
    const flat = tf.tidy(() =>
      tf.concat(this.variables.map((v) => tf.reshape(v, [-1])))
    );
    const data = Float32Array.from(await flat.data());
    flat.dispose();
    const digest = await crypto.subtle.digest("SHA-256", data);
    return Array.from(
      new Uint8Array(digest),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

/**
 * What the training loop asks of whoever holds the model: this thread (`--workers 1`), or N Workers
 * (`WorkerReplicas` in tools/pretrain_parallel.ts).
 */
export interface Replicas {
  readonly backend: string;
  readonly parameters: number;
  /** One optimizer step on a batch; resolves with the batch's summed stats. */
  step(
    chunk: Example[],
    step: number,
    learningRate: number,
  ): Promise<BatchStats>;
  /** Summed stats of `examples` in batches of `--batch-size`. */
  evaluate(examples: Example[]): Promise<BatchStats>;
  save(step: number, parts: CheckpointState): Promise<void>;
  exportTo(dir: string): Promise<void>;
  /** tfjs tensors alive (one replica): a growing count in the log means a leak. */
  tensors(): number;
  /** Milliseconds per step spent on each part of a data-parallel step, for the log. */
  timings?(): Record<string, number>;
  close(): Promise<void>;
}

async function localReplicas(
  options: PretrainOptions,
  tokenizer: BertTokenizer,
  source: ReplicaSource,
): Promise<Replicas> {
  const backend = await initBackend(options.backend);
  const replica = await Replica.create(tokenizer, options, source);
  const padTokenId = tokenizer.padTokenId;
  return {
    backend: backend.name,
    parameters: replica.model.countParameters().total,
    async step(chunk, step, learningRate) {
      const batch = collate(chunk, { padTokenId });
      try {
        const { grads, stats } = replica.gradients(batch, {
          training: !options.noDropout,
          dropoutSeed: dropoutSeed(options.seed, step),
        });
        try {
          replica.apply(grads, options.maxGradNorm, learningRate);
          return statsFrom(await stats.data(), chunk.length);
        } finally {
          stats.dispose();
        }
      } finally {
        disposeBatch(batch);
      }
    },
    evaluate: (examples) =>
      Promise.resolve(
        replica.evaluationStats(
          chunksOf(examples, options.batchSize),
          padTokenId,
        ),
      ),
    save: (step, parts) =>
      replica.save(options.outputDir, step, parts, options.saveTotalLimit),
    exportTo: (dir) => replica.exportTo(dir, options.exportDtype),
    tensors: () => tf.memory().numTensors,
    close() {
      replica.dispose();
      return Promise.resolve();
    },
  };
}

/** Runs (or continues) pretraining until `maxSteps` or the time budget; returns the training summary. */
export async function pretrain(options: PretrainOptions) {
  const log = (message: string) => options.quiet || console.log(message);
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
  const source: ReplicaSource = resumeFrom
    ? { resumeFrom }
    : { initFrom: options.initFrom };
  // Any other --workers than 1 (the default) goes to the pool, which also rejects invalid counts.
  const replicas = (options.workers ?? 1) === 1
    ? await localReplicas(options, tokenizer, source)
    : await WorkerReplicas.start(options, tokenizer, source);
  try {
    if (resumeFrom) {
      state = JSON.parse(
        await Deno.readTextFile(join(resumeFrom, "trainer_state.json")),
      ) as TrainerState;
      log(
        `resumed from ${resumeFrom} (step ${state.global_step}, epoch ${state.epoch})`,
      );
    } else if (options.initFrom) {
      log(`weights initialised from ${options.initFrom}`);
    }
    log(
      `backend ${replicas.backend}, ${replicas.parameters.toLocaleString()} parameters, ` +
        `${trainDocuments.length} documents, ${heldout.length} held-out pairs` +
        ((options.workers ?? 1) === 1 ? "" : `, ${options.workers} workers`),
    );
    return await train(replicas);
  } finally {
    await replicas.close();
  }

  async function train(replicas: Replicas) {
    const pairsOf = (epoch: number, maxLength: number) =>
      epochExamples(trainDocuments, tokenizer, {
        seed: options.seed,
        epoch,
        maxLength,
        batchSize: options.batchSize,
      });
    let examples = pairsOf(state.epoch, state.max_length);
    const started = performance.now();
    const startElapsed = state.elapsed_s;
    let lastSave = performance.now();
    let window = { ...EMPTY_STATS };
    let windowStart = performance.now();
    let windowTokens = 0;
    const budgetMs = options.minutes * 60_000;
    const evaluateHeldout = async () =>
      summarize(await replicas.evaluate(heldout));

    const save = async () => {
      state.elapsed_s = startElapsed + (performance.now() - started) / 1000;
      await replicas.save(state.global_step, {
        trainerState: state,
        schedulerState: { ...schedule.toJSON() },
        rngState: {
          seed: options.seed,
          note: "data order and masks are derived from (seed, epoch, step)",
        },
      });
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
        examples = pairsOf(state.epoch, wantedLength);
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
        examples = pairsOf(state.epoch, state.max_length);
      }
      const chunk = maskedExamples(
        examples.slice(state.cursor, state.cursor + options.batchSize),
        tokenizer,
        derivedSeed(options.seed, 2, state.global_step),
        options.mlmProbability,
      );
      state.cursor += options.batchSize;
      const stats = await replicas.step(
        chunk,
        state.global_step,
        schedule.lrAt(state.global_step),
      );
      if (!Number.isFinite(stats.loss)) {
        throw new CourseError(
          "PRETRAIN_NAN",
          `loss is ${stats.loss} at step ${state.global_step}`,
          "학습률(--lr)을 낮추거나 마지막 체크포인트에서 다시 시작하세요.",
        );
      }
      window = addStats(window, stats);
      // Tokens of the batch padded to its longest pair (what one collated batch holds).
      windowTokens += chunk.length *
        Math.max(...chunk.map((e) => e.input_ids.length));
      state.global_step += 1;

      if (state.global_step % options.logSteps === 0) {
        const seconds = (performance.now() - windowStart) / 1000;
        const timings = replicas.timings?.();
        const row = {
          step: state.global_step,
          epoch: state.epoch + state.cursor / examples.length,
          learning_rate: schedule.lrAt(state.global_step),
          ...summarize(window),
          steps_per_s: options.logSteps / seconds,
          tokens_per_s: windowTokens / seconds,
          seq_length: state.max_length,
          tensors: replicas.tensors(),
          elapsed_s: startElapsed + (performance.now() - started) / 1000,
          ...timings,
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
            } tokens/s` +
            (timings
              ? ` | ms/step: compute ${timings.worker_compute_ms}, read-back ${timings.worker_readback_ms}, ` +
                `reduce ${timings.reduce_ms}, apply ${timings.worker_apply_ms}`
              : ""),
        );
        window = { ...EMPTY_STATS };
        windowStart = performance.now();
        windowTokens = 0;
      }
      if (state.global_step % options.evalSteps === 0) {
        const metrics = await evaluateHeldout();
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
    const evalMetrics = await evaluateHeldout();
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
      backend: replicas.backend,
      hardware:
        `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os}/${Deno.build.arch}`,
      options: {
        ...options,
        corpusDir: undefined,
        tokenizerDir: undefined,
        outputDir: undefined,
        modelDir: undefined,
      },
      parameters: replicas.parameters,
      heldout: evalMetrics,
      log_history: state.log_history,
    };
    await replicas.exportTo(options.modelDir);
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
    return summary;
  }
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
  "--workers": "workers",
};

/** Flags that take no value and switch an option on. */
const SWITCHES: Record<string, keyof PretrainOptions> = {
  "--quiet": "quiet",
  "--no-dropout": "noDropout",
};

export function parsePretrainFlags(args: string[]): PretrainOptions {
  const options: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (let i = 0; i < args.length; i++) {
    if (SWITCHES[args[i]]) {
      options[SWITCHES[args[i]]] = true;
      continue;
    }
    const key = FLAG_NAMES[args[i]];
    const value = args[i + 1];
    if (!key || value === undefined) {
      throw new CourseError(
        "PRETRAIN_FLAG",
        `unknown or incomplete flag ${args[i]}`,
        `사용할 수 있는 옵션: ${
          [...Object.keys(FLAG_NAMES), ...Object.keys(SWITCHES)].join(", ")
        }`,
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
