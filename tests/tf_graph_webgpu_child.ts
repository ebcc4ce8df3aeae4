/**
 * Child process of tf_graph_test.ts ("WebGPU's LLVM..."): loads the native engine, asks for a
 * WebGPU adapter (which maps Mesa's libLLVM here), then opens and runs a TensorFlow graph.
 * Prints one JSON line; a segfault shows up as the parent's exit status.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { exportOnnx } from "../lib/models/onnx/mod.ts";
import { exportTfGraph, SAVED_MODEL_TAG } from "../lib/models/tf_graph/mod.ts";
import { probeGpuAdapter } from "../lib/runtime/backend.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  foreignLlvmLibrary,
  NativeGraphSession,
} from "../lib/runtime/native_graph.ts";
import { useBackend } from "./models_util.ts";
import { FIXTURE_DIR } from "./onnx_helpers.ts";

if (!(await useBackend("tensorflow"))) throw new Error("no native engine");
const adapter = await probeGpuAdapter();
const llvmMapped = foreignLlvmLibrary() !== undefined;
const dir = await mkdtemp(join(tmpdir(), "tf-graph-webgpu-"));
let outcome: string;
try {
  const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
    task: "feature-extraction",
  });
  const graph = await exportTfGraph(modelPath, join(dir, "tf"));
  const session = NativeGraphSession.load(
    graph.dir,
    SAVED_MODEL_TAG,
    graph.inputs,
  );
  const ids = tf.tensor2d([[2, 5, 6, 3]], undefined, "int32");
  const ones = tf.onesLike(ids);
  const zeros = tf.zerosLike(ids);
  const [hidden] = session.run(
    { input_ids: ids, attention_mask: ones, token_type_ids: zeros },
    graph.outputs,
  );
  const finite = (await hidden.data()).every(Number.isFinite);
  tf.dispose([ids, ones, zeros, hidden]);
  session.dispose();
  outcome = finite ? "ran" : "non-finite output";
} catch (error) {
  outcome = error instanceof CourseError
    ? `refused ${error.code}`
    : String(error);
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(
  JSON.stringify({ adapter: adapter !== undefined, llvmMapped, outcome }),
);
