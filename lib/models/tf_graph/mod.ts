export { exportTfGraph, type ExportTfGraphResult } from "./export.ts";
export {
  SAVED_MODEL_TAG,
  type TfGraph,
  tfGraphFromOnnx,
  type TfGraphOptions,
} from "./from_onnx.ts";
