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

/** How a bad value reads in an error: `NaN`, `Infinity`, `undefined` and strings as written. */
function showValue(value: unknown): string {
  if (typeof value === "number" || value === undefined) return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function badArgument(name: string, value: unknown, hint: string): CourseError {
  return new CourseError(
    "train/bad-argument",
    `Invalid ${name}: ${showValue(value)}`,
    hint,
  );
}

function positiveInt(name: string, value: number, hint: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw badArgument(name, value, hint);
  }
  return value;
}

/** A finite number (NaN, Infinity and non-numbers are refused) that `ok` accepts. */
function checkNumber(
  name: string,
  value: number,
  ok: (v: number) => boolean,
  hint: string,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) {
    throw badArgument(name, value, hint);
  }
  return value;
}

/** Checks an optional argument only when it is given. */
function optional<T>(value: T | undefined, check: (v: T) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

export function resolveArguments(
  args: TrainingArguments = {},
): ResolvedArguments {
  const batchSize = positiveInt(
    "batchSize",
    args.batchSize ?? 16,
    "batchSize는 1 이상의 정수여야 합니다. 보통 16이나 32를 씁니다.",
  );
  // Before evalSteps, which defaults to it: a bad value is reported under the name it was given.
  const loggingSteps = positiveInt(
    "loggingSteps",
    args.loggingSteps ?? 10,
    "loggingSteps는 1 이상의 정수여야 합니다.",
  );
  const metric = args.metricForBestModel ?? "loss";
  const metricKey = metric.startsWith("eval_") ? metric : `eval_${metric}`;
  const resolved: ResolvedArguments = {
    outputDir: args.outputDir,
    numTrainEpochs: checkNumber(
      "numTrainEpochs",
      args.numTrainEpochs ?? 3,
      (v) => v > 0,
      "numTrainEpochs는 0보다 큰 수여야 합니다 (파인튜닝은 보통 2~4). 스텝 수로 정하려면 maxSteps를 쓰세요.",
    ),
    maxSteps: checkNumber(
      "maxSteps",
      args.maxSteps ?? -1,
      Number.isInteger,
      "maxSteps는 정수여야 합니다. 양수면 그 스텝 수만큼 학습하고, -1(기본값)이면 numTrainEpochs를 따릅니다.",
    ),
    batchSize,
    evalBatchSize: positiveInt(
      "evalBatchSize",
      args.evalBatchSize ?? batchSize * 2,
      "evalBatchSize(평가·예측 배치 크기)는 1 이상의 정수여야 합니다. 빼면 batchSize의 2배를 씁니다.",
    ),
    learningRate: checkNumber(
      "learningRate",
      args.learningRate ?? 5e-5,
      (v) => v > 0,
      "learningRate(학습률)는 0보다 큰 유한한 수여야 합니다. BERT 파인튜닝에는 2e-5 ~ 5e-5가 보통입니다.",
    ),
    warmupSteps: optional(args.warmupSteps, (v) =>
      checkNumber(
        "warmupSteps",
        v,
        (n) => Number.isInteger(n) && n >= 0,
        "warmupSteps는 0 이상의 정수(워밍업 스텝 수)여야 합니다. 비율로 주려면 warmupRatio(예: 0.1)를 쓰세요.",
      )),
    warmupRatio: optional(args.warmupRatio, (v) =>
      checkNumber(
        "warmupRatio",
        v,
        (n) => n >= 0 && n <= 1,
        "warmupRatio는 0~1 사이의 비율(전체 스텝 중 워밍업 비율)입니다. 0.06이나 0.1 같은 값을 쓰세요.",
      )),
    weightDecay: checkNumber(
      "weightDecay",
      args.weightDecay ?? 0,
      (v) => v >= 0,
      "weightDecay는 0 이상의 수여야 합니다 (보통 0 또는 0.01).",
    ),
    adamBeta1: checkNumber(
      "adamBeta1",
      args.adamBeta1 ?? 0.9,
      (v) => v >= 0 && v < 1,
      "adamBeta1은 0 이상 1 미만이어야 합니다 (기본값 0.9).",
    ),
    adamBeta2: checkNumber(
      "adamBeta2",
      args.adamBeta2 ?? 0.999,
      (v) => v >= 0 && v < 1,
      "adamBeta2는 0 이상 1 미만이어야 합니다 (기본값 0.999).",
    ),
    adamEpsilon: checkNumber(
      "adamEpsilon",
      args.adamEpsilon ?? 1e-8,
      (v) => v > 0,
      "adamEpsilon은 0보다 큰 수여야 합니다 (기본값 1e-8).",
    ),
    maxGradNorm: checkNumber(
      "maxGradNorm",
      args.maxGradNorm ?? 1,
      (v) => v >= 0,
      "maxGradNorm은 0 이상의 수여야 합니다 (보통 1.0, 0이면 그래디언트를 자르지 않습니다).",
    ),
    gradientAccumulationSteps: positiveInt(
      "gradientAccumulationSteps",
      args.gradientAccumulationSteps ?? 1,
      "gradientAccumulationSteps는 1 이상의 정수여야 합니다 (1 = 누적 없음).",
    ),
    evalStrategy: args.evalStrategy ?? "no",
    evalSteps: positiveInt(
      "evalSteps",
      args.evalSteps ?? args.loggingSteps ?? 50,
      'evalSteps는 1 이상의 정수여야 합니다 (evalStrategy: "steps"일 때 몇 스텝마다 평가할지).',
    ),
    saveStrategy: args.saveStrategy ?? "no",
    saveSteps: positiveInt(
      "saveSteps",
      args.saveSteps ?? 500,
      'saveSteps는 1 이상의 정수여야 합니다 (saveStrategy: "steps"일 때 몇 스텝마다 저장할지). 0으로는 아무것도 저장되지 않습니다.',
    ),
    saveTotalLimit: optional(args.saveTotalLimit, (v) =>
      positiveInt(
        "saveTotalLimit",
        v,
        "saveTotalLimit은 남겨 둘 체크포인트 수(1 이상의 정수)입니다. 모두 남기려면 saveTotalLimit을 빼세요.",
      )),
    loadBestModelAtEnd: args.loadBestModelAtEnd ?? false,
    metricForBestModel: metricKey,
    greaterIsBetter: args.greaterIsBetter ?? !/loss$/.test(metricKey),
    earlyStoppingPatience: optional(
      args.earlyStoppingPatience,
      (v) =>
        positiveInt(
          "earlyStoppingPatience",
          v,
          "earlyStoppingPatience는 개선 없이 참을 평가 횟수(1 이상의 정수)입니다. 보통 2~3을 씁니다.",
        ),
    ),
    lrSchedulerType: args.lrSchedulerType ?? "linear",
    seed: checkNumber(
      "seed",
      args.seed ?? 42,
      Number.isInteger,
      "seed는 정수여야 합니다 (예: 42).",
    ),
    loggingSteps,
    timeBudgetSeconds: optional(args.timeBudgetSeconds, (v) => {
      if (typeof v !== "number" || !(v > 0)) {
        throw badArgument(
          "timeBudgetSeconds",
          v,
          "timeBudgetSeconds는 0보다 큰 초 단위 시간이어야 합니다 (예: 600 = 10분). 시간 제한이 없으면 빼세요.",
        );
      }
      return v;
    }),
    bucketByLength: args.bucketByLength ?? true,
    freeze: checkFreezeStrategy(args.freeze ?? "full"),
    cacheFeatures: args.cacheFeatures ?? true,
    padTokenId: checkNumber(
      "padTokenId",
      args.padTokenId ?? 0,
      (v) => Number.isInteger(v) && v >= 0,
      "padTokenId는 0 이상의 정수여야 합니다. tokenizer.padTokenId를 넣으세요.",
    ),
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
  const schedulers: LrSchedulerType[] = [
    "linear",
    "constant_with_warmup",
    "constant",
  ];
  if (!schedulers.includes(resolved.lrSchedulerType)) {
    throw badArgument(
      "lrSchedulerType",
      resolved.lrSchedulerType,
      'lrSchedulerType는 "linear", "constant_with_warmup", "constant" 중 하나로 지정하세요.',
    );
  }
  return resolved;
}
