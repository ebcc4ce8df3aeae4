/**
 * `UnsortedSegmentSum` for the tfjs wasm backend, which lacks it. tfjs needs it for the gradient
 * of `tf.gather`, i.e. of every embedding lookup, so without it nothing trains on wasm.
 * A plain JS loop over the wasm heap: the op is memory-bound and runs once per step.
 */
import * as tf from "@tensorflow/tfjs-core";
import { installFastWasmBatchMatMul } from "./batch_matmul.ts";
import { installFastWasmGather } from "./gather.ts";

interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

function unsortedSegmentSumWasm(
  args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  },
): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, segmentIds } = args.inputs as {
    x: tf.TensorInfo;
    segmentIds: tf.TensorInfo;
  };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rowSize = x.shape.slice(segmentIds.shape.length).reduce(
    (a, b) => a * b,
    1,
  );
  const out = backend.makeOutput([
    numSegments,
    ...x.shape.slice(segmentIds.shape.length),
  ], x.dtype);
  // makeOutput can grow the wasm heap, which detaches earlier views: take them afterwards.
  const values = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const result = backend.typedArrayFromHeap(out);
  result.fill(0);
  for (let row = 0; row < rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue; // as TensorFlow: out-of-range ids drop out
    const src = row * rowSize;
    const dst = segment * rowSize;
    for (let j = 0; j < rowSize; j++) result[dst + j] += values[src + j];
  }
  return out;
}

let registered = false;

/** Registers the missing wasm kernels once (safe to call many times, before or after setBackend). */
export function registerWasmKernels(): void {
  installFastWasmBatchMatMul();
  installFastWasmGather();
  if (registered) return;
  registered = true;
  const alreadyThere = tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined;
  if (!alreadyThere) {
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
    });
  }
}
