/**
 * lib/tasks: one folder per downstream task (its training-side preparation, its decoding and
 * metrics, its pipeline), and the shared pipeline machinery at this level: `pipeline()`
 * (pipeline.ts), the engines (tfjs or ONNX), inputs, batching, windows.
 */
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
export * from "./text_classification/mod.ts";
export * from "./fill_mask/mod.ts";
export * from "./sentence_pairs/mod.ts";
export * from "./token_classification/mod.ts";
export * from "./question_answering/mod.ts";
