/**
 * A frozen TensorFlow graph (a SavedModel folder) run by TensorFlow's own session through
 * tfjs-node's binding (`TF_LoadSessionFromSavedModel`, `TF_SessionRun`): the whole forward pass
 * is one native call, with TensorFlow's graph optimizations, instead of one JavaScript dispatch
 * per op. Only on the "tensorflow" backend; the results are ordinary tfjs tensors.
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "./errors.ts";
import { nodeBackend } from "./native_ops.ts";

/**
 * The shared library of an LLVM other than TensorFlow's own, mapped into this process: Mesa's
 * Vulkan drivers (llvmpipe, radeonsi) bring `libLLVM-*.so` in when WebGPU asks for an adapter.
 * Linux only (elsewhere there is no /proc/self/maps, and no such clash is known).
 */
export function foreignLlvmLibrary(): string | undefined {
  let maps: string;
  try {
    maps = Deno.readTextFileSync("/proc/self/maps");
  } catch {
    return undefined;
  }
  return maps.match(/\S*\/libLLVM[-.][^\s/]*\.so[^\s/]*/)?.[0];
}

/**
 * The foreign LLVM that would crash TensorFlow's graph optimizer (MLIR): it binds its LLVM calls
 * lazily, by name, and would land in that library on the first graph it loads. With
 * `LD_BIND_NOW` set, TensorFlow's calls were bound to its own copy when it loaded, and the two
 * coexist.
 */
export function conflictingLlvm(): string | undefined {
  return Deno.env.get("LD_BIND_NOW") ? undefined : foreignLlvmLibrary();
}

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
    const llvm = conflictingLlvm();
    if (llvm) {
      throw new CourseError(
        "RUNTIME_TENSORFLOW_GRAPH_LLVM_CLASH",
        `WebGPU's Vulkan driver loaded ${llvm} into this process; TensorFlow's graph ` +
          "optimizer would crash on it",
        `이 프로세스에서 WebGPU가 먼저 시작되어 Vulkan 드라이버가 ${llvm}을(를) 불러왔습니다. ` +
          "이 상태에서 TensorFlow 그래프를 열면 커널이 비정상 종료(segfault)되므로 열지 않았습니다. " +
          'engine: "onnx"로 실행하거나, 커널을 다시 시작한 뒤 WebGPU(backend: "webgpu")를 쓰지 ' +
          "않고 실행하세요. 스크립트라면 LD_BIND_NOW=1 환경 변수로 시작하면 둘을 함께 쓸 수 있습니다.",
      );
    }
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
