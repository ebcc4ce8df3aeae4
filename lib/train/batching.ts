/**
 * The Trainer's view of batching, on top of lib/data: which examples go together (seeded per
 * epoch, so a resumed run rebuilds exactly the same order) and how they become padded int32
 * tensors (dynamic padding: each batch is padded only to its own longest example).
 */
import * as tf from "@tensorflow/tfjs-core";
import { batchIndices } from "../data/batching.ts";
import { collate } from "../data/collate.ts";
import type { Example, ModelInputs } from "./types.ts";

export interface BatchOrderOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Similar lengths share a batch (little padding) while the batch order stays random. */
  bucketByLength?: boolean;
}

export function batchOrder(
  examples: Example[],
  options: BatchOrderOptions,
): number[][] {
  return batchIndices(examples, options);
}

export interface CollateOptions {
  padTokenId?: number;
  /** Regression heads (num_labels = 1) need float labels even when every target is whole. */
  floatLabels?: boolean;
}

export function collateExamples(
  examples: Example[],
  options: CollateOptions = {},
): ModelInputs {
  return collate(examples, {
    padTokenId: options.padTokenId ?? 0,
    labelDtype: options.floatLabels ? "float32" : undefined,
  }) as unknown as ModelInputs;
}

/** HF accepts both `label` and `labels`. */
export function labelOf(example: Example): number | number[] | undefined {
  return example.labels ?? example.label;
}

export function labelsTensor(
  labels: (number | number[])[],
  length: number,
  labelPadId = -100,
  floatLabels = false,
): tf.Tensor {
  if (typeof labels[0] === "number") {
    return tf.tensor1d(labels as number[], floatLabels ? "float32" : "int32");
  }
  const out = new Int32Array(labels.length * length).fill(labelPadId);
  (labels as number[][]).forEach((row, r) =>
    out.set(row.slice(0, length), r * length)
  );
  return tf.tensor2d(out, [labels.length, length], "int32");
}

export function disposeInputs(inputs: ModelInputs): void {
  for (const t of Object.values(inputs)) t?.dispose();
}
