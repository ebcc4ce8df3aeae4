/**
 * Inference on an exported ONNX graph with onnxruntime-node, the native
 * runtime transformers.js itself uses under Deno and Node. Imported lazily:
 * the 45 MB native library loads only when a pipeline asks for it.
 */
import { physicalCoreCount } from "../runtime/cpu_cores.ts";
import { CourseError } from "../runtime/errors.ts";
import type { PaddedBatch } from "./batching.ts";
import type { EngineOutputs, InferenceEngine } from "./engine.ts";

export interface OnnxEngineOptions {
  /** onnxruntime intra-op threads; default: one per core (`physicalCoreCount()`). */
  threads?: number;
}

/** The intra-op thread count a session gets: the one asked for, else one per core. */
export function onnxThreads(threads?: number): number {
  return threads && threads > 0 ? threads : physicalCoreCount();
}

export async function createOnnxEngine(
  modelPath: string,
  options: OnnxEngineOptions = {},
): Promise<InferenceEngine> {
  let ort: typeof import("onnxruntime-node");
  try {
    ort = await import("onnxruntime-node");
  } catch (cause) {
    throw new CourseError(
      "TASK_ONNX_UNAVAILABLE",
      "onnxruntime-node could not be loaded on this machine",
      '이 플랫폼에서는 onnxruntime을 쓸 수 없습니다. pipeline(..., { engine: "tfjs" })로 실행하세요.',
      { cause },
    );
  }
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      graphOptimizationLevel: "all",
      intraOpNumThreads: onnxThreads(options.threads),
    });
  } catch (cause) {
    throw new CourseError(
      "TASK_ONNX_LOAD_FAILED",
      `onnxruntime could not load ${modelPath}`,
      'exportOnnx로 다시 내보낸 뒤 시도하거나, engine: "tfjs"로 실행하세요.',
      { cause },
    );
  }
  const int64 = (rows: number[][]) =>
    new ort.Tensor(
      "int64",
      BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
      [rows.length, rows[0].length],
    );

  return {
    name: "onnx",
    async run(batch: PaddedBatch): Promise<EngineOutputs> {
      const results = await session.run({
        input_ids: int64(batch.input_ids),
        attention_mask: int64(batch.attention_mask),
        token_type_ids: int64(batch.token_type_ids),
      });
      const outputs: EngineOutputs = {};
      for (const [name, tensor] of Object.entries(results)) {
        outputs[name] = {
          data: tensor.data as Float32Array,
          dims: [...tensor.dims],
        };
      }
      return outputs;
    },
    async dispose() {
      await session.release();
    },
  };
}
