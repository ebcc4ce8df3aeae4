/** Losses with PyTorch semantics (mean reduction, ignore_index = -100). */
import * as tf from "@tensorflow/tfjs-core";

export const IGNORE_INDEX = -100;

/**
 * `nn.CrossEntropyLoss(ignore_index)`: logits [..., C], labels [...] int32. Mean over the
 * positions whose label is not ignored (0 when all are ignored, where torch would give NaN).
 */
export function crossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor,
  ignoreIndex = IGNORE_INDEX,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1];
    const flatLogits = tf.reshape(logits, [-1, classes]);
    const flatLabels = tf.reshape(tf.cast(labels, "int32"), [-1]);
    const n = flatLabels.shape[0];
    const keep = tf.notEqual(flatLabels, ignoreIndex);
    const safeLabels = tf.where(keep, flatLabels, tf.zerosLike(flatLabels));
    const logProbs = tf.logSoftmax(flatLogits);
    // Gather one log-probability per row instead of a one-hot [n, C] (C is 32000 for MLM).
    const index = tf.add(
      tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(classes, "int32")),
      safeLabels,
    );
    const picked = tf.gather(tf.reshape(logProbs, [-1]), index);
    const weights = tf.cast(keep, "float32");
    const count = tf.maximum(tf.sum(weights), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), count) as tf.Scalar;
  });
}

/** `nn.BCEWithLogitsLoss`: numerically stable, mean over every element. */
export function bceWithLogits(
  logits: tf.Tensor,
  targets: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const y = tf.cast(targets, "float32");
    const loss = tf.add(
      tf.sub(tf.relu(logits), tf.mul(logits, y)),
      tf.log1p(tf.exp(tf.neg(tf.abs(logits)))),
    );
    return tf.mean(loss) as tf.Scalar;
  });
}

/** `nn.MSELoss`. */
export function mse(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(
      tf.square(tf.sub(predictions, tf.cast(targets, "float32"))),
    ) as tf.Scalar
  );
}
