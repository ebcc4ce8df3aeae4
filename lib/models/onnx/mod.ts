export {
  exportOnnx,
  type ExportOnnxOptions,
  type ExportOnnxResult,
  type ExportSource,
  type HfWeightsSource,
  type ModelWithHfStateDict,
  type ModelWithParameterInfo,
} from "./export.ts";
export {
  type BertGraphConfig,
  EXPORT_TASKS,
  type ExportTask,
  HEAD_GRAPHS,
  type HeadGraphBuilder,
  type HeadGraphOutput,
  taskFromArchitectures,
} from "./bert_graph.ts";
export {
  type HfStateDict,
  type HfTensor,
  readFolderStateDict,
  readStateDict,
  stateDictFromParameters,
  type TfjsParameter,
} from "./state_dict.ts";
