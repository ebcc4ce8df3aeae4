/**
 * Faster batched matmul for the tfjs wasm backend. Its `BatchMatMul` runs XNNPACK only when the
 * batch is 1; a real batch (attention: batch·heads matrices) falls to a naive loop near
 * 1 GFLOP/s. Here each batch item is a zero-copy view into the wasm heap (a tensor id registered
 * at an offset), multiplied on the XNNPACK path: about 10x faster for [256, 128, 64] operands.
 */
import * as tf from "@tensorflow/tfjs-core";
// Registers the wasm kernels, so that the original BatchMatMul exists to wrap.
import "@tensorflow/tfjs-backend-wasm";

interface WasmModule {
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  tfjs: {
    registerTensor(id: number, size: number, offset: number): void;
    disposeData(id: number): void;
  };
}

interface WasmBackendInternals {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

let wasmBatchMatMul: ((...args: unknown[]) => void) | null = null;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

function makeFastBatchMatMul(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as {
      transposeA: boolean;
      transposeB: boolean;
    };
    const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const plain = !transposeA && !transposeB && a.dtype === "float32" &&
      b.dtype === "float32";
    if (
      !plain || batch <= 1 || batch !== batchB ||
      a.shape.length !== b.shape.length
    ) {
      return original(args as never);
    }
    const backend = args.backend as WasmBackendInternals;
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 1];
    wasmBatchMatMul ??= backend.wasm.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]);
    const out = backend.makeOutput([...a.shape.slice(0, -2), m, n], "float32");
    const aOffset = backend.dataIdMap.get(a.dataId).memoryOffset;
    const bOffset = backend.dataIdMap.get(b.dataId).memoryOffset;
    const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
    const aShape = shapeBytes([1, m, k]);
    const bShape = shapeBytes([1, k, n]);
    const { tfjs } = backend.wasm;
    for (let i = 0; i < batch; i++) {
      const aId = backend.dataIdNextNumber++;
      const bId = backend.dataIdNextNumber++;
      const outId = backend.dataIdNextNumber++;
      tfjs.registerTensor(aId, m * k, aOffset + 4 * i * m * k);
      tfjs.registerTensor(bId, k * n, bOffset + 4 * i * k * n);
      tfjs.registerTensor(outId, m * n, outOffset + 4 * i * m * n);
      wasmBatchMatMul(aId, aShape, 3, bId, bShape, 3, false, false, outId);
      // Unregisters the views (and XNNPACK's cached operator for them); frees no memory.
      tfjs.disposeData(aId);
      tfjs.disposeData(bId);
      tfjs.disposeData(outId);
    }
    return out;
  }) as unknown as tf.KernelFunc;
}

let installed = false;

/** Replaces the wasm BatchMatMul kernel by the view-per-item version (idempotent). */
export function installFastWasmBatchMatMul(): void {
  if (installed) return;
  const original = tf.getKernel("BatchMatMul", "wasm");
  if (!original) return; // wasm backend not imported: nothing to speed up
  installed = true;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    kernelFunc: makeFastBatchMatMul(original.kernelFunc),
    setupFunc: original.setupFunc,
  });
}
