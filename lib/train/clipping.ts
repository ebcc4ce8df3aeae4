/**
 * Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_: one norm over all gradients,
 * every gradient scaled by min(1, maxNorm / (norm + 1e-6)). Everything stays on the device; the
 * norm is returned as a tensor so the caller reads it back only when it logs.
 */
import * as tf from "@tensorflow/tfjs-core";

export function globalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const squares = [...grads].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(
      squares.length === 1 ? squares[0] : tf.addN(squares),
    ) as tf.Scalar;
  });
}

/**
 * Returns clipped gradients (new tensors; the caller disposes the old ones) and the norm before
 * clipping. With `maxNorm` <= 0 or Infinity the gradients are returned unchanged.
 */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = globalNorm(grads.values());
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { grads, norm };
  const clipped = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    for (const [name, g] of grads) clipped.set(name, tf.keep(tf.mul(g, coef)));
  });
  return { grads: clipped, norm };
}
