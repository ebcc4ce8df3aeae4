/**
 * Learning-rate schedules with the same shapes as Hugging Face `get_scheduler`: the factor that
 * multiplies the base learning rate at optimizer step `step` (0-based, as the LambdaLR sees it).
 */
import { CourseError } from "../runtime/errors.ts";

export type LrSchedulerType = "linear" | "constant_with_warmup" | "constant";

export interface ScheduleOptions {
  type: LrSchedulerType;
  learningRate: number;
  warmupSteps: number;
  totalSteps: number;
}

export function lrFactor(
  type: LrSchedulerType,
  step: number,
  warmupSteps: number,
  totalSteps: number,
): number {
  if (type === "constant") return 1;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (type === "constant_with_warmup") return 1;
  if (type === "linear") {
    return Math.max(
      0,
      (totalSteps - step) / Math.max(1, totalSteps - warmupSteps),
    );
  }
  throw new CourseError(
    "train/unknown-scheduler",
    `Unknown lrSchedulerType: ${type}`,
    'lrSchedulerType는 "linear", "constant_with_warmup", "constant" 중 하나로 지정하세요.',
  );
}

/** A schedule bound to its options; `lrAt(step)` is what the optimizer uses at that step. */
export class LrSchedule {
  constructor(readonly options: ScheduleOptions) {
    lrFactor(options.type, 0, options.warmupSteps, options.totalSteps);
  }

  lrAt(step: number): number {
    const { type, learningRate, warmupSteps, totalSteps } = this.options;
    return learningRate * lrFactor(type, step, warmupSteps, totalSteps);
  }

  /** The whole curve, for plotting before training starts. */
  curve(): number[] {
    return Array.from(
      { length: this.options.totalSteps },
      (_, s) => this.lrAt(s),
    );
  }

  toJSON(): ScheduleOptions {
    return { ...this.options };
  }
}

/** HF rule: warmupSteps wins over warmupRatio; the ratio is rounded up. */
export function resolveWarmupSteps(
  totalSteps: number,
  warmupSteps?: number,
  warmupRatio?: number,
): number {
  if (warmupSteps !== undefined && warmupSteps > 0) return warmupSteps;
  if (warmupRatio !== undefined && warmupRatio > 0) {
    if (warmupRatio > 1) {
      throw new CourseError(
        "train/bad-warmup",
        `warmupRatio must be in [0, 1], got ${warmupRatio}`,
        "warmupRatio는 전체 스텝 중 워밍업 비율입니다. 0.06이나 0.1 같은 값을 쓰세요.",
      );
    }
    return Math.ceil(totalSteps * warmupRatio);
  }
  return 0;
}
