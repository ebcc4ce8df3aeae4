/** lib/tasks: Hugging Face-style pipelines on our models (tfjs or ONNX). */
export {
  DEFAULT_ENGINE,
  type LoadedModel,
  type Pipeline,
  pipeline,
  type PipelineOptions,
  type TaskName,
  type TaskSignatures,
} from "./pipeline.ts";
export type { EngineName } from "./engine.ts";
export type { TextInput, TextPair } from "./inputs.ts";
export type {
  LabelScore,
  TextClassificationOptions,
} from "./text_classification.ts";
export type {
  FillMaskCandidate,
  FillMaskOptions,
  FillMaskResult,
} from "./fill_mask.ts";
export type { NextSentenceResult, SimilarityResult } from "./sentence_pairs.ts";
export type {
  EntityGroup,
  TokenClassificationOptions,
  TokenPrediction,
} from "./token_classification.ts";
export type {
  Answer,
  QuestionAnsweringInput,
  QuestionAnsweringOptions,
} from "./question_answering.ts";
