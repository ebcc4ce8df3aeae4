/**
 * Inference on TensorFlow's own graph runtime: the exported ONNX graph translated to a frozen
 * TensorFlow graph (lib/models/tf_graph) and run by TensorFlow's session through tfjs-node, one
 * native call per batch. Needs the native ("tensorflow") backend; with a CUDA build of
 * TensorFlow (tfjs-node-gpu) the same graph runs on the GPU.
 */
import * as tf from "@tensorflow/tfjs-core";
import { exportTfGraph, SAVED_MODEL_TAG } from "../models/tf_graph/mod.ts";
import { initBackend } from "../runtime/backend.ts";
import { CourseError } from "../runtime/errors.ts";
import { NativeGraphSession } from "../runtime/native_graph.ts";
import { nativeKernels } from "../runtime/native_ops.ts";
import type { PaddedBatch } from "./batching.ts";
import type { EngineOutputs, InferenceEngine } from "./engine.ts";

/** Translates `onnxPath` into `<workDir>/saved_model.pb` and opens a session on it. */
export async function createTensorflowEngine(
  onnxPath: string,
  workDir: string,
): Promise<InferenceEngine> {
  await initBackend();
  if (!nativeKernels()) {
    throw new CourseError(
      "TASK_TENSORFLOW_UNAVAILABLE",
      `engine "tensorflow" needs the native TensorFlow backend, not ${tf.getBackend()}`,
      'engine: "tensorflow"는 네이티브 엔진(tfjs-node)에서만 동작합니다. bash tools/setup.sh로 ' +
        '설치하거나 engine: "onnx"로 실행하세요.',
    );
  }
  const graph = await exportTfGraph(onnxPath, workDir);
  let session: NativeGraphSession;
  try {
    session = NativeGraphSession.load(graph.dir, SAVED_MODEL_TAG, graph.inputs);
  } catch (cause) {
    if (cause instanceof CourseError) throw cause;
    throw new CourseError(
      "TASK_TENSORFLOW_LOAD_FAILED",
      `TensorFlow could not load the graph translated from ${onnxPath}`,
      'engine: "onnx"로 실행하고, 이 오류를 강사에게 알려 주세요.',
      { cause },
    );
  }

  return {
    name: "tensorflow",
    async run(batch: PaddedBatch): Promise<EngineOutputs> {
      const inputs: Record<string, tf.Tensor> = {
        input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
        attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
        token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
      };
      let tensors: tf.Tensor[];
      try {
        tensors = session.run(inputs, graph.outputs);
      } finally {
        tf.dispose(Object.values(inputs));
      }
      const result: EngineOutputs = {};
      for (const [index, name] of graph.outputs.entries()) {
        result[name] = {
          data: await tensors[index].data() as Float32Array,
          dims: [...tensors[index].shape],
        };
      }
      tf.dispose(tensors);
      return result;
    },
    dispose() {
      session.dispose();
      return Promise.resolve();
    },
  };
}
