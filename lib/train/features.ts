/**
 * Feature extraction done once: with the encoder frozen, its output for an example never changes,
 * so we run the encoder a single time (eval mode, no dropout) and train the head on the cached
 * features. Sentence heads keep one [N, hidden] tensor on the device; token/span heads keep each
 * example's [length, hidden] block on the host and pad it per batch.
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";
import {
  interruptedError,
  interruptPending,
  refuseQueuedAfterInterrupt,
} from "../runtime/kernel.ts";
import {
  batchOrder,
  collateExamples,
  disposeInputs,
  labelOf,
  labelsTensor,
} from "./batching.ts";
import type { Example, TrainableModel } from "./types.ts";

export interface FeatureCache {
  kind: "pooler_output" | "last_hidden_state";
  hidden: number;
  /** [N, hidden], row i = example i (pooled kind). */
  pooled?: tf.Tensor2D;
  /** Per example, length*hidden floats (sequence kind). */
  sequences?: Float32Array[];
  lengths: number[];
  seconds: number;
}

export function requireHead(model: TrainableModel): void {
  if (!model.bert || !model.headForward || !model.computeLoss) {
    throw new CourseError(
      "train/no-feature-extraction",
      "This model does not support feature extraction (needs bert, headForward, computeLoss)",
      'freeze: "feature_extraction"은 분류 헤드가 있는 모델(BertForSequenceClassification 등)에서만 쓸 수 있습니다.',
    );
  }
}

export async function computeFeatures(
  model: TrainableModel,
  examples: Example[],
  batchSize: number,
  padTokenId: number,
): Promise<FeatureCache> {
  refuseQueuedAfterInterrupt("computeFeatures");
  requireHead(model);
  const started = performance.now();
  const preferred = model.headInput ?? "pooler_output";
  const groups = batchOrder(examples, {
    batchSize,
    shuffle: false,
    seed: 0,
    bucketByLength: true,
  });
  const pooledParts: tf.Tensor2D[] = [];
  const sequences: Float32Array[] = new Array(examples.length);
  let hidden = 0;
  let kind: FeatureCache["kind"] = preferred;
  for (const [done, group] of groups.entries()) {
    if (await interruptPending()) {
      for (const part of pooledParts) part.dispose();
      throw interruptedError(
        "특성 계산",
        `${done}/${groups.length}개 배치까지 계산했고, 계산한 특성은 버렸습니다.`,
      );
    }
    const inputs = collateExamples(
      group.map((i) => ({
        ...examples[i],
        label: undefined,
        labels: undefined,
      })),
      { padTokenId },
    );
    const features = tf.tidy(() => {
      const out = model.bert!.forward(inputs, { training: false });
      const f = model.features
        ? model.features(out)
        : out[preferred] as tf.Tensor | undefined;
      if (!f) {
        throw new CourseError(
          "train/missing-features",
          `The encoder returned no ${preferred}`,
          "모델의 headInput 설정과 인코더 출력 이름이 맞는지 확인하세요.",
        );
      }
      return f;
    });
    kind = features.rank === 2 ? "pooler_output" : "last_hidden_state";
    disposeInputs(inputs);
    hidden = features.shape[features.shape.length - 1];
    if (kind === "pooler_output") {
      pooledParts.push(features as tf.Tensor2D);
    } else {
      const [, length] = features.shape;
      const data = (await features.data()) as Float32Array;
      features.dispose();
      group.forEach((exampleIndex, row) => {
        const len = examples[exampleIndex].input_ids.length;
        const start = row * length * hidden;
        sequences[exampleIndex] = data.slice(start, start + len * hidden);
      });
    }
  }
  const cache: FeatureCache = {
    kind,
    hidden,
    lengths: examples.map((e) => e.input_ids.length),
    seconds: 0,
  };
  if (kind === "pooler_output") {
    // Bucketing reordered the examples; put row i back at example i.
    const order = groups.flat();
    const inverse = new Int32Array(order.length);
    order.forEach((
      exampleIndex,
      position,
    ) => (inverse[exampleIndex] = position));
    cache.pooled = tf.tidy(() =>
      tf.gather(tf.concat(pooledParts, 0), tf.tensor1d(inverse, "int32"))
    );
    pooledParts.forEach((t) => t.dispose());
  } else {
    cache.sequences = sequences;
  }
  if (kind === "pooler_output") await cache.pooled!.data(); // finish the work before timing it
  cache.seconds = (performance.now() - started) / 1000;
  return cache;
}

/** The head's input for a group of examples, plus labels, from the cache. */
export function featureBatch(
  cache: FeatureCache,
  examples: Example[],
  indices: number[],
  floatLabels = false,
): { features: tf.Tensor; labels?: tf.Tensor | Record<string, tf.Tensor> } {
  const length = Math.max(...indices.map((i) => cache.lengths[i]));
  const withLabels = indices.every((i) => labelOf(examples[i]) !== undefined);
  const withSpans = indices.every((i) =>
    typeof examples[i].start_positions === "number"
  );
  const labels = withLabels
    ? labelsTensor(
      indices.map((i) => labelOf(examples[i])!),
      length,
      -100,
      floatLabels,
    )
    : withSpans
    ? spanLabels(examples, indices)
    : undefined;
  if (cache.kind === "pooler_output") {
    const features = tf.tidy(() =>
      tf.gather(cache.pooled!, tf.tensor1d(indices, "int32"))
    );
    return { features, labels };
  }
  const out = new Float32Array(indices.length * length * cache.hidden);
  indices.forEach((i, row) =>
    out.set(cache.sequences![i], row * length * cache.hidden)
  );
  return {
    features: tf.tensor3d(out, [indices.length, length, cache.hidden]),
    labels,
  };
}

/** Question answering: start/end token positions, as HF's `start_positions`/`end_positions`. */
function spanLabels(
  examples: Example[],
  indices: number[],
): Record<string, tf.Tensor> {
  const column = (key: "start_positions" | "end_positions") =>
    tf.tensor1d(indices.map((i) => examples[i][key] as number), "int32");
  return {
    start_positions: column("start_positions"),
    end_positions: column("end_positions"),
  };
}

export function disposeFeatures(cache: FeatureCache | undefined): void {
  cache?.pooled?.dispose();
}
