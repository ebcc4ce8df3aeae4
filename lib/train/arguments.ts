/**
 * Training options, named after Hugging Face `TrainingArguments` in camelCase, with defaults
 * checked once so the training loop can trust them.
 */
import { CourseError } from "../runtime/errors.ts";
import { checkFreezeStrategy, type FreezeStrategy } from "./freeze.ts";
import type { LrSchedulerType } from "./schedules.ts";
import type { ProgressMode } from "./progress.ts";

export type IntervalStrategy = "no" | "steps" | "epoch";

export interface TrainingArguments {
  outputDir?: string;
  numTrainEpochs?: number;
  /** > 0 overrides numTrainEpochs: train exactly this many optimizer steps. */
  maxSteps?: number;
  batchSize?: number;
  evalBatchSize?: number;
  learningRate?: number;
  warmupSteps?: number;
  warmupRatio?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Global-norm clipping; 0 turns it off. */
  maxGradNorm?: number;
  gradientAccumulationSteps?: number;
  evalStrategy?: IntervalStrategy;
  evalSteps?: number;
  saveStrategy?: IntervalStrategy;
  saveSteps?: number;
  saveTotalLimit?: number;
  loadBestModelAtEnd?: boolean;
  /** e.g. "accuracy" or "eval_accuracy"; default "loss". */
  metricForBestModel?: string;
  greaterIsBetter?: boolean;
  /** Stop after this many evaluations without improvement of metricForBestModel. */
  earlyStoppingPatience?: number;
  lrSchedulerType?: LrSchedulerType;
  seed?: number;
  loggingSteps?: number;
  /** Stop cleanly (and save, when saving is on) once training has run this long. */
  timeBudgetSeconds?: number;
  bucketByLength?: boolean;
  freeze?: FreezeStrategy;
  /**
   * Feature extraction only: compute the frozen encoder's features once (default true). `false`
   * runs the frozen encoder on every step, as a naive loop would (to measure the difference).
   */
  cacheFeatures?: boolean;
  padTokenId?: number;
  progress?: ProgressMode | false;
  liveLossCurve?: boolean;
}

export type ResolvedArguments =
  & Required<
    Omit<
      TrainingArguments,
      | "outputDir"
      | "timeBudgetSeconds"
      | "saveTotalLimit"
      | "earlyStoppingPatience"
      | "warmupSteps"
      | "warmupRatio"
      | "greaterIsBetter"
      | "progress"
    >
  >
  & Pick<
    TrainingArguments,
    | "outputDir"
    | "timeBudgetSeconds"
    | "saveTotalLimit"
    | "earlyStoppingPatience"
    | "warmupSteps"
    | "warmupRatio"
  >
  & { greaterIsBetter: boolean; progress: ProgressMode };

function badArgument(name: string, value: unknown, hint: string): CourseError {
  return new CourseError(
    "train/bad-argument",
    `Invalid ${name}: ${JSON.stringify(value)}`,
    hint,
  );
}

function positiveInt(name: string, value: number, hint: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw badArgument(name, value, hint);
  }
  return value;
}

export function resolveArguments(
  args: TrainingArguments = {},
): ResolvedArguments {
  const batchSize = positiveInt(
    "batchSize",
    args.batchSize ?? 16,
    "batchSize는 1 이상의 정수여야 합니다. 보통 16이나 32를 씁니다.",
  );
  const metric = args.metricForBestModel ?? "loss";
  const metricKey = metric.startsWith("eval_") ? metric : `eval_${metric}`;
  const resolved: ResolvedArguments = {
    outputDir: args.outputDir,
    numTrainEpochs: args.numTrainEpochs ?? 3,
    maxSteps: args.maxSteps ?? -1,
    batchSize,
    evalBatchSize: args.evalBatchSize ?? batchSize * 2,
    learningRate: args.learningRate ?? 5e-5,
    warmupSteps: args.warmupSteps,
    warmupRatio: args.warmupRatio,
    weightDecay: args.weightDecay ?? 0,
    adamBeta1: args.adamBeta1 ?? 0.9,
    adamBeta2: args.adamBeta2 ?? 0.999,
    adamEpsilon: args.adamEpsilon ?? 1e-8,
    maxGradNorm: args.maxGradNorm ?? 1,
    gradientAccumulationSteps: positiveInt(
      "gradientAccumulationSteps",
      args.gradientAccumulationSteps ?? 1,
      "gradientAccumulationSteps는 1 이상의 정수여야 합니다 (1 = 누적 없음).",
    ),
    evalStrategy: args.evalStrategy ?? "no",
    evalSteps: args.evalSteps ?? args.loggingSteps ?? 50,
    saveStrategy: args.saveStrategy ?? "no",
    saveSteps: args.saveSteps ?? 500,
    saveTotalLimit: args.saveTotalLimit,
    loadBestModelAtEnd: args.loadBestModelAtEnd ?? false,
    metricForBestModel: metricKey,
    greaterIsBetter: args.greaterIsBetter ?? !/loss$/.test(metricKey),
    earlyStoppingPatience: args.earlyStoppingPatience,
    lrSchedulerType: args.lrSchedulerType ?? "linear",
    seed: args.seed ?? 42,
    loggingSteps: positiveInt(
      "loggingSteps",
      args.loggingSteps ?? 10,
      "loggingSteps는 1 이상의 정수여야 합니다.",
    ),
    timeBudgetSeconds: args.timeBudgetSeconds,
    bucketByLength: args.bucketByLength ?? true,
    freeze: checkFreezeStrategy(args.freeze ?? "full"),
    cacheFeatures: args.cacheFeatures ?? true,
    padTokenId: args.padTokenId ?? 0,
    progress: args.progress === false ? "silent" : args.progress ?? "auto",
    liveLossCurve: args.liveLossCurve ?? true,
  };
  for (const s of ["evalStrategy", "saveStrategy"] as const) {
    if (!["no", "steps", "epoch"].includes(resolved[s])) {
      throw badArgument(
        s,
        resolved[s],
        `${s}는 "no", "steps", "epoch" 중 하나입니다.`,
      );
    }
  }
  if (resolved.saveStrategy !== "no" && !resolved.outputDir) {
    throw badArgument(
      "outputDir",
      undefined,
      '체크포인트를 저장하려면 outputDir를 지정하세요. 예: outputDir: "runs/nsmc"',
    );
  }
  if (
    resolved.loadBestModelAtEnd &&
    (resolved.evalStrategy === "no" || resolved.saveStrategy === "no")
  ) {
    throw badArgument(
      "loadBestModelAtEnd",
      true,
      'loadBestModelAtEnd를 쓰려면 evalStrategy와 saveStrategy를 같은 값("steps" 또는 "epoch")으로 켜세요.',
    );
  }
  if (
    resolved.earlyStoppingPatience !== undefined &&
    resolved.evalStrategy === "no"
  ) {
    throw badArgument(
      "earlyStoppingPatience",
      resolved.earlyStoppingPatience,
      '조기 종료는 평가 결과를 보고 멈춥니다. evalStrategy를 "steps"나 "epoch"로 켜고 evalDataset을 주세요.',
    );
  }
  if (!(resolved.learningRate > 0)) {
    throw badArgument(
      "learningRate",
      resolved.learningRate,
      "학습률은 양수여야 합니다. BERT 파인튜닝에는 2e-5 ~ 5e-5가 보통입니다.",
    );
  }
  return resolved;
}
