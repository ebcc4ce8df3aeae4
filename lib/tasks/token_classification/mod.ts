/**
 * lib/tasks/token_classification (NER): training labels aligned to word pieces (prepare.ts),
 * the one BIO decoder (bio.ts), seqeval-style entity scores (metrics.ts) and the
 * token-classification pipeline (pipeline.ts).
 */
export {
  alignWordLabels,
  type NerExample,
  type NerOptions,
  tokenizeAndAlignLabels,
} from "./prepare.ts";
export {
  entitiesFromTokenLabels,
  type Entity,
  type EntitySpan,
  getEntities,
} from "./bio.ts";
export { type EntityScores, entityScores } from "./metrics.ts";
export type {
  EntityGroup,
  TokenClassificationOptions,
  TokenPrediction,
} from "./pipeline.ts";
