/**
 * The options of a pretraining run (MLM + NSP), their defaults (the course model's recipe), and
 * what follows from them alone: the sequence length of a step and the seeds of its random draws.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, resolved from this file (the default corpus, cache and model folders). */
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

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

export const PRETRAIN_DEFAULTS: PretrainOptions = {
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

/** Sequence length 64 for the first steps, 128 for the last `longFraction` of them, as BERT did. */
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
export function derivedSeed(seed: number, purpose: number, n: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(purpose + 1, 0x85ebca6b) ^
    Math.imul(n + 1, 0xc2b2ae35)) | 0;
}

/** The `purpose` numbers of `derivedSeed`: one stream per kind of draw. */
export const SEED_PURPOSE = {
  epochPairs: 1,
  stepMasks: 2,
  heldoutMasks: 3,
  dropout: 4,
  dropoutRank: 5,
} as const;

/**
 * The dropout seed of a step (and, with `--workers`, of a worker's slice of the batch): worker 0
 * uses the single-process seed, the others their own, so no two slices share masks.
 */
export function dropoutSeed(seed: number, step: number, rank = 0): number {
  return rank === 0
    ? derivedSeed(seed, SEED_PURPOSE.dropout, step)
    : derivedSeed(
      seed,
      SEED_PURPOSE.dropout,
      derivedSeed(step, SEED_PURPOSE.dropoutRank, rank),
    );
}
