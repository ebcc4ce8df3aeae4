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
