/**
 * Row gather (`tf.gather(x, ids)` on axis 0) for the tfjs wasm backend. Its own kernel walks
 * element by element through generic strides: ~60 ms to look up 8192 embedding rows of 128.
 * Copying whole rows inside the wasm heap takes about 1 ms. Other axes use the original kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";

interface WasmBackendInternals {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
};

function makeRowGather(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: KernelArgs) => {
    const { x, indices } = args.inputs as {
      x: tf.TensorInfo;
      indices: tf.TensorInfo;
    };
    const { axis, batchDims } = args.attrs as {
      axis: number;
      batchDims: number;
    };
    const isRowGather = (axis === 0 || axis === -x.shape.length) &&
      !batchDims &&
      (x.dtype === "float32" || x.dtype === "int32") && x.shape.length >= 1;
    if (!isRowGather) return original(args as never);
    const backend = args.backend as WasmBackendInternals;
    const rows = x.shape[0];
    const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const count = indices.shape.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput(
      [...indices.shape, ...x.shape.slice(1)],
      x.dtype,
    );
    // Views taken after makeOutput, which may grow (and detach) the heap.
    const source = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(indices);
    const target = backend.typedArrayFromHeap(out);
    for (let i = 0; i < count; i++) {
      const row = ids[i];
      if (!(row >= 0 && row < rows)) {
        throw new Error(
          `GatherV2: the index value ${row} is not in [0, ${rows - 1}]`,
        );
      }
      target.set(
        source.subarray(row * rowSize, (row + 1) * rowSize),
        i * rowSize,
      );
    }
    return out;
  }) as unknown as tf.KernelFunc;
}

let installed = false;

export function installFastWasmGather(): void {
  if (installed) return;
  const original = tf.getKernel("GatherV2", "wasm");
  if (!original) return;
  installed = true;
  tf.unregisterKernel("GatherV2", "wasm");
  tf.registerKernel({
    kernelName: "GatherV2",
    backendName: "wasm",
    kernelFunc: makeRowGather(original.kernelFunc),
    setupFunc: original.setupFunc,
  });
}
