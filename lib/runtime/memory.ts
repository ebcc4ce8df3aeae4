import * as tf from "@tensorflow/tfjs-core";
import { formatBytes } from "./format.ts";

export interface MemoryReport {
  /** Live tfjs tensors: a number that keeps growing during training means a leak (missing tf.tidy). */
  numTensors: number;
  /**
   * Bytes held by live tfjs tensors. On the native engine AdamW's moments live in TensorFlow
   * resource variables (lib/runtime/native_ops.ts), outside this count; `rssBytes` includes them.
   */
  tensorBytes: number;
  /** Resident memory of the whole Deno process (tensors, V8 heap, native code). */
  rssBytes: number;
  heapUsedBytes: number;
  /** Highest values seen by any memoryReport() call since the last resetMemoryPeak(). */
  peakRssBytes: number;
  peakTensorBytes: number;
  peakNumTensors: number;
}

let peakRssBytes = 0;
let peakTensorBytes = 0;
let peakNumTensors = 0;

/**
 * Samples memory now and updates the peaks. Sampling is cheap, so a training loop can call it
 * every step and report the peak at the end.
 */
export function memoryReport(): MemoryReport {
  const tensors = tf.memory();
  const usage = Deno.memoryUsage();
  peakRssBytes = Math.max(peakRssBytes, usage.rss);
  peakTensorBytes = Math.max(peakTensorBytes, tensors.numBytes);
  peakNumTensors = Math.max(peakNumTensors, tensors.numTensors);
  return {
    numTensors: tensors.numTensors,
    tensorBytes: tensors.numBytes,
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    peakRssBytes,
    peakTensorBytes,
    peakNumTensors,
  };
}

/** Starts a new peak measurement (e.g. before one training run). */
export function resetMemoryPeak(): void {
  peakRssBytes = 0;
  peakTensorBytes = 0;
  peakNumTensors = 0;
}

export function formatMemoryReport(
  report: MemoryReport = memoryReport(),
): string {
  return [
    `텐서 ${report.numTensors.toLocaleString()}개, ${
      formatBytes(report.tensorBytes)
    }` +
    ` (최대 ${report.peakNumTensors.toLocaleString()}개, ${
      formatBytes(report.peakTensorBytes)
    })`,
    `프로세스 메모리(RSS) ${formatBytes(report.rssBytes)} (최대 ${
      formatBytes(report.peakRssBytes)
    })`,
  ].join("\n");
}
