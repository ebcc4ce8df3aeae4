/**
 * Inference on TensorFlow's own graph runtime: the exported ONNX graph translated to a frozen
 * TensorFlow graph (lib/models/tf_graph) and run by TensorFlow's session through tfjs-node, one
 * native call per batch. Needs the native ("tensorflow") backend; with a CUDA build of
 * TensorFlow (tfjs-node-gpu) the same graph runs on the GPU.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  exportTfGraph,
  type ExportTfGraphResult,
  SAVED_MODEL_TAG,
  type TfGraphOptions,
} from "../models/tf_graph/mod.ts";
import { initBackend } from "../runtime/backend.ts";
import { CourseError } from "../runtime/errors.ts";
import { fusedKernels } from "../runtime/native_kernels.ts";
import { NativeGraphSession } from "../runtime/native_graph.ts";
import { nativeKernels } from "../runtime/native_ops.ts";
import type { PaddedBatch } from "./batching.ts";
import type { EngineOutputs, InferenceEngine } from "./engine.ts";

/**
 * The graphs to try, fastest first: with the course's fused kernels for attention and LayerNorm
 * when they are loaded (lib/runtime/native_kernels.ts), then with oneDNN's LayerNorm kernel, then,
 * for a build without that kernel (not x86, or an older libtensorflow), LayerNorm as plain ops.
 */
export function graphAttempts(): TfGraphOptions[] {
  return [
    ...(fusedKernels()
      ? [{ layerNorm: "course", attention: "course" } as const]
      : []),
    { layerNorm: "fused" },
    { layerNorm: "ops" },
  ];
}

/** Opens the first of `attempts` (by default `graphAttempts()`) that this TensorFlow loads. */
export async function openTranslatedGraph(
  onnxPath: string,
  workDir: string,
  attempts: TfGraphOptions[] = graphAttempts(),
): Promise<{
  graph: ExportTfGraphResult;
  session: NativeGraphSession;
  options: TfGraphOptions;
}> {
  const failures: unknown[] = [];
  for (const options of attempts) {
    const graph = await exportTfGraph(onnxPath, workDir, options);
    try {
      const session = NativeGraphSession.load(
        graph.dir,
        SAVED_MODEL_TAG,
        graph.inputs,
      );
      return { graph, session, options };
    } catch (cause) {
      if (cause instanceof CourseError) throw cause; // the LLVM clash: no variant helps
      failures.push(cause);
    }
  }
  throw new CourseError(
    "TASK_TENSORFLOW_LOAD_FAILED",
    `TensorFlow could not load the graph translated from ${onnxPath}`,
    'engine: "onnx"로 실행하고, 이 오류를 강사에게 알려 주세요.',
    {
      cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
    },
  );
}

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
  const { graph, session } = await openTranslatedGraph(onnxPath, workDir);

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
