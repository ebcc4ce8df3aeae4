/**
 * A frozen TensorFlow graph (a SavedModel folder) run by TensorFlow's own session through
 * tfjs-node's binding (`TF_LoadSessionFromSavedModel`, `TF_SessionRun`): the whole forward pass
 * is one native call, with TensorFlow's graph optimizations, instead of one JavaScript dispatch
 * per op. Only on the "tensorflow" backend; the results are ordinary tfjs tensors.
 */
import * as tf from "@tensorflow/tfjs-core";
import { nodeBackend } from "./native_ops.ts";

export class NativeGraphSession {
  private disposed = false;

  private constructor(
    private readonly id: number,
    private readonly inputNames: string[],
  ) {}

  /** Loads `<dir>/saved_model.pb` (tag `tag`); inputs are int32, fed in `inputNames` order. */
  static load(
    dir: string,
    tag: string,
    inputNames: string[],
  ): NativeGraphSession {
    const id = nodeBackend().loadSavedModelMetaGraph(dir, tag);
    return new NativeGraphSession(id, inputNames);
  }

  /** Runs the graph once: every input by name, the named outputs in order. */
  run(inputs: Record<string, tf.Tensor>, outputNames: string[]): tf.Tensor[] {
    if (this.disposed) {
      throw new Error("NativeGraphSession used after dispose()");
    }
    return nodeBackend().runSavedModel(
      this.id,
      this.inputNames.map((name) => inputs[name]),
      this.inputNames.map((name) => ({
        name: `${name}:0`,
        tfDtype: "DT_INT32",
      })),
      outputNames.map((name) => `${name}:0`),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    nodeBackend().deleteSavedModel(this.id);
  }
}
