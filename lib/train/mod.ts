export { AdamW, type AdamWOptions, shouldDecay } from "./adamw.ts";
export {
  type IntervalStrategy,
  resolveArguments,
  type TrainingArguments,
} from "./arguments.ts";
export { batchOrder, collateExamples } from "./batching.ts";
export {
  type CheckpointParts,
  latestCheckpoint,
  listCheckpoints,
  readCheckpoint,
  restoreModelWeights,
  rotateCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
export { clipByGlobalNorm, globalNorm } from "./clipping.ts";
export { computeFeatures, type FeatureCache } from "./features.ts";
export {
  applyFreeze,
  countTrainable,
  type FreezeStrategy,
  trainableGroupsFor,
} from "./freeze.ts";
export {
  type EvalLogRow,
  type LrRow,
  TrainingHistory,
  type TrainLogRow,
} from "./history.ts";
export * from "./metrics.ts";
export {
  lrFactor,
  LrSchedule,
  type LrSchedulerType,
  resolveWarmupSteps,
} from "./schedules.ts";
export {
  checkLabels,
  type ComputeMetrics,
  type EvalPrediction,
  type PredictionOutput,
  type StopReason,
  Trainer,
  type TrainerOptions,
  type TrainOutput,
} from "./trainer.ts";
export type {
  Example,
  ModelInputs,
  ModelOutputs,
  TrainableModel,
} from "./types.ts";
export {
  groupsByName,
  snapshotWeights,
  type WeightMovement,
  weightMovement,
  type WeightSnapshot,
} from "./weight_movement.ts";
export * from "./progress.ts";
export {
  CharNgramCounter,
  LogisticRegression,
  majorityClass,
  MultinomialNaiveBayes,
  naiveBayes,
  type SparseRow,
  type TextBaseline,
  tfidfLogisticRegression,
  TfidfVectorizer,
} from "./baselines.ts";
