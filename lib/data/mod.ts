export * from "./datasets.ts";
export {
  type Batch,
  collate,
  type CollateOptions,
  disposeBatch,
  type Example,
} from "./collate.ts";
export {
  batches,
  batchIndices,
  type BatchIndicesOptions,
  type ClassificationData,
  type PaddingStats,
  paddingStats,
  tokenizeDataset,
  tokenizeForClassification,
  type TokenizeForClassificationOptions,
} from "./batching.ts";
export {
  maskBatch,
  type MaskedTokens,
  maskOptionsFrom,
  maskTokens,
  type MaskTokensOptions,
} from "./masking.ts";
export {
  makeNspExamples,
  makeNspPairs,
  type NspExample,
  type NspOptions,
} from "./nsp.ts";
export {
  alignWordLabels,
  entitiesFromTokenLabels,
  type EntitySpan,
  type NerExample,
  type NerOptions,
  tokenizeAndAlignLabels,
} from "./ner.ts";
export {
  bestAnswerSpan,
  prepareQaFeatures,
  type QaAnswer,
  type QaFeature,
  type QaOptions,
  type QaPrediction,
  type QaSpan,
  type QaSpanOptions,
  type QaWindowLogits,
  rankAnswerSpans,
} from "./qa.ts";
