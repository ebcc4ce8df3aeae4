/**
 * The Trainer's view of batching: which examples go together (seeded per epoch, so a resumed run
 * rebuilds exactly the same order) and how they become padded int32 tensors (dynamic padding:
 * each batch is padded only to its own longest example).
 */
import * as tf from "@tensorflow/tfjs-core";
import { SeededRandom } from "../runtime/random.ts";
import type { Example, ModelInputs } from "./types.ts";

export interface BatchOrderOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /**
   * Sort examples by length inside windows of 50 batches, cut batches, then shuffle the batches:
   * similar lengths share a batch (little padding) while the order stays random.
   */
  bucketByLength?: boolean;
}

const BUCKET_WINDOW_BATCHES = 50;

export function batchOrder(
  examples: Example[],
  options: BatchOrderOptions,
): number[][] {
  const { batchSize, shuffle, seed, bucketByLength } = options;
  const rng = new SeededRandom(seed);
  let order = Array.from({ length: examples.length }, (_, i) => i);
  if (shuffle) rng.shuffle(order);
  if (bucketByLength) {
    const window = batchSize * BUCKET_WINDOW_BATCHES;
    const sorted: number[] = [];
    for (let start = 0; start < order.length; start += window) {
      const chunk = order.slice(start, start + window);
      chunk.sort((a, b) =>
        examples[a].input_ids.length - examples[b].input_ids.length || a - b
      );
      sorted.push(...chunk);
    }
    order = sorted;
  }
  const groups: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    groups.push(order.slice(start, start + batchSize));
  }
  if (bucketByLength && shuffle) rng.shuffle(groups);
  return groups;
}

export interface CollateOptions {
  padTokenId?: number;
  labelPadId?: number;
  /** Regression heads (num_labels = 1) need float labels. */
  floatLabels?: boolean;
}

/** Pads a group of examples to its longest one; labels become `labels` when every example has one. */
export function collateExamples(
  examples: Example[],
  options: CollateOptions = {},
): ModelInputs {
  const { padTokenId = 0, labelPadId = -100, floatLabels = false } = options;
  const batch = examples.length;
  const length = Math.max(1, ...examples.map((e) => e.input_ids.length));
  const ids = new Int32Array(batch * length).fill(padTokenId);
  const mask = new Int32Array(batch * length);
  const types = new Int32Array(batch * length);
  examples.forEach((e, row) => {
    const offset = row * length;
    ids.set(e.input_ids, offset);
    mask.fill(1, offset, offset + e.input_ids.length);
    if (e.token_type_ids) types.set(e.token_type_ids, offset);
  });
  const inputs: ModelInputs = {
    input_ids: tf.tensor2d(ids, [batch, length], "int32"),
    attention_mask: tf.tensor2d(mask, [batch, length], "int32"),
    token_type_ids: tf.tensor2d(types, [batch, length], "int32"),
  };
  if (examples.length && examples.every((e) => e.label !== undefined)) {
    inputs.labels = labelsTensor(
      examples.map((e) => e.label!),
      length,
      labelPadId,
      floatLabels,
    );
  }
  // Span targets for question answering travel as their own int32 vectors, as in HF.
  for (const key of ["start_positions", "end_positions"]) {
    if (examples.length && examples.every((e) => typeof e[key] === "number")) {
      inputs[key] = tf.tensor1d(examples.map((e) => e[key] as number), "int32");
    }
  }
  return inputs;
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
