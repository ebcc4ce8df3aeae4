/**
 * What a task pipeline needs from a model: run a padded batch and hand back
 * named float32 outputs (Hugging Face names: logits, start_logits, ...).
 * Three engines implement it: our tfjs BERT, onnxruntime on the exported
 * ONNX graph (the runtime transformers.js uses), and TensorFlow's graph
 * runtime on the same graph translated (native backend only).
 */
import type { PaddedBatch } from "./batching.ts";

export type EngineName = "tfjs" | "onnx" | "tensorflow";

export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export type EngineOutputs = Record<string, OutputTensor>;

export interface InferenceEngine {
  readonly name: EngineName;
  run(batch: PaddedBatch): Promise<EngineOutputs>;
  dispose(): Promise<void>;
}

/** Row `index` of a [batch, ...rest] output, as its own flat array. */
export function rowOf(output: OutputTensor, index: number): Float32Array {
  const rowSize = output.dims.slice(1).reduce((a, b) => a * b, 1);
  return output.data.subarray(index * rowSize, (index + 1) * rowSize);
}
