/** lib/models: BERT in TensorFlow.js, matching Hugging Face, reading and writing its checkpoints. */
export {
  BertConfig,
  type BertConfigInit,
  type HiddenAct,
  type ProblemType,
} from "./config.ts";
export {
  type BertInputs,
  BertModel,
  type BertModelOutput,
  DropoutSeeds,
  type ForwardOptions,
} from "./bert.ts";
export {
  BertForMaskedLM,
  BertForNextSentencePrediction,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  type HeadInputs,
  type HeadOutput,
} from "./heads.ts";
export {
  canonicalTaskName,
  checkpointHasHead,
  type DynamicAxes,
  type ExportedArchitecture,
  exportedHead,
  HEAD_TABLE,
  HEAD_TASKS,
  headByArchitecture,
  type HeadClass,
  headForExportTask,
  headForTask,
  type HeadRow,
  type HeadTask,
  TASK_ALIASES,
  type TaskAlias,
} from "./head_table.ts";
export {
  BertPreTrainedModel,
  type FromPretrainedOptions,
  type ModelOptions,
  type ParameterCount,
  type ParameterGroup,
} from "./pretrained.ts";
export type { LoadingInfo } from "./checkpoint.ts";
export { bceWithLogits, crossEntropy, IGNORE_INDEX, mse } from "./losses.ts";
export {
  parseSafetensors,
  readSafetensors,
  type SafetensorsFile,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
} from "./safetensors.ts";
export { registerWasmKernels } from "./kernels/unsorted_segment_sum.ts";
