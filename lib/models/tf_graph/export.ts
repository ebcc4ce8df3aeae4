/**
 * `exportTfGraph(onnxPath, dir, options?)`: the TensorFlow SavedModel of an exported ONNX graph, written as
 * `<dir>/saved_model.pb` (weights frozen into the graph, so no variables folder).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tfGraphFromOnnx, type TfGraphOptions } from "./from_onnx.ts";

export interface ExportTfGraphResult {
  dir: string;
  inputs: string[];
  outputs: string[];
  bytes: number;
}

export async function exportTfGraph(
  onnxPath: string,
  dir: string,
  options: TfGraphOptions = {},
): Promise<ExportTfGraphResult> {
  const graph = tfGraphFromOnnx(await readFile(onnxPath), options);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "saved_model.pb"), graph.savedModel);
  return {
    dir,
    inputs: graph.inputs,
    outputs: graph.outputs,
    bytes: graph.savedModel.byteLength,
  };
}
