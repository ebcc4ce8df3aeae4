export {
  exportOnnx,
  type ExportOnnxOptions,
  type ExportOnnxResult,
  type ExportSource,
  type HfWeightsSource,
  type ModelWithHfStateDict,
} from "./export.ts";
export {
  type BertGraphConfig,
  EXPORT_TASKS,
  type ExportTask,
  taskFromArchitectures,
} from "./bert_graph.ts";
export {
  type HfStateDict,
  type HfTensor,
  readSafetensors,
} from "./state_dict.ts";
