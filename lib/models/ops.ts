/**
 * The few tensor operations BERT is made of, written so that they are exact (Hugging Face
 * semantics) and fast on every tfjs backend.
 *
 * Why two formulations: the tfjs wasm backend multiplies `A·B` with XNNPACK, but any transposed
 * operand (`transposeA`/`transposeB`) falls to a naive loop 10-30x slower, and tfjs' own matMul
 * gradient uses exactly those; so on wasm the gradients transpose explicitly (a cheap copy) and then
 * call the fast untransposed kernel. TensorFlow's native kernels (the "tensorflow" backend) read a
 * transposed operand for free and reduce over rows directly, so there the extra copies only cost:
 * they use tfjs' own gradients and plain reductions.
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients; the tfjs bundle registers them all (its ESM
// `register_all_gradients` has extensionless imports that Deno cannot load).
import "@tensorflow/tfjs";
import { registerWasmKernels } from "./kernels/unsorted_segment_sum.ts";
import { nativeKernels, statelessUniform } from "../runtime/native_ops.ts";
import {
  dropoutWithDraws,
  fusedKernels,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
  maskedSoftmaxBackward,
  maskedSoftmaxForward,
} from "../runtime/native_kernels.ts";

registerWasmKernels();

/** Swaps the last two axes (a copy). */
export function transposeLast2(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
  return tf.transpose(x, perm);
}

/** `a · b` (or `a · bᵀ` with transposeB) for 2-D or batched operands, fast backward. */
export function matMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeB = false,
): tf.Tensor {
  if (nativeKernels()) return tf.matMul(a, b, false, transposeB);
  const op = tf.customGrad((a, b, save) => {
    (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
    const value = tf.matMul(
      a as tf.Tensor,
      transposeB ? transposeLast2(b as tf.Tensor) : b as tf.Tensor,
    );
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [a, b] = saved;
        const da = tf.matMul(dy, transposeB ? b : transposeLast2(b));
        const db = transposeB
          ? tf.matMul(transposeLast2(dy), a)
          : tf.matMul(transposeLast2(a), dy);
        return [da, db];
      },
    };
  });
  return op(a, b);
}

/** `x · W + b` for x [n, in], W [in, out] (tfjs layout), b [out]. */
export function linear(
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias?: tf.Tensor1D,
): tf.Tensor2D {
  if (!bias) return matMul(x, weight) as tf.Tensor2D;
  if (nativeKernels()) {
    return tf.fused.matMul({ a: x, b: weight, bias }) as tf.Tensor2D;
  }
  const op = tf.customGrad((x, weight, bias, save) => {
    (save as tf.GradSaveFunc)([x as tf.Tensor, weight as tf.Tensor]);
    const value = tf.fused.matMul({
      a: x as tf.Tensor2D,
      b: weight as tf.Tensor2D,
      bias: bias as tf.Tensor,
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x, weight] = saved;
        return [
          tf.matMul(dy, tf.transpose(weight)),
          tf.matMul(tf.transpose(x), dy),
          columnSums(dy as tf.Tensor2D),
        ];
      },
    };
  });
  return op(x, weight, bias) as tf.Tensor2D;
}

/**
 * Sum over rows of [n, k] as `ones[1, n] · x`: on wasm a reduction over the outer axis
 * transposes first and is several times slower than this matmul.
 */
function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  if (nativeKernels()) return tf.sum(x, 0);
  return tf.tidy(() =>
    tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]])
  );
}

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU, `x·Φ(x)` with `Φ(x) = 0.5·(1 + erf(x/√2))` (HF "gelu"), with its analytic gradient
 * `Φ(x) + x·φ(x)`. Φ is kept from the forward pass for the backward, which then costs the
 * Gaussian density only.
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  if (fusedKernels()) return fusedGelu(x);
  const op = tf.customGrad((x, save) => {
    const cdf = tf.tidy(() =>
      tf.add(0.5, tf.mul(tf.erf(tf.mul(x as tf.Tensor, SQRT_HALF)), 0.5))
    );
    (save as tf.GradSaveFunc)([x as tf.Tensor, cdf]);
    const value = tf.mul(x as tf.Tensor, cdf);
    return {
      value,
      gradFunc: (dy: tf.Tensor, [x, cdf]: tf.Tensor[]) =>
        tf.tidy(() => {
          const xPdf = tf.mul(
            tf.mul(x, INV_SQRT_2PI),
            tf.exp(tf.mul(tf.square(x), -0.5)),
          );
          return tf.mul(dy, tf.add(cdf, xPdf));
        }),
    };
  });
  return op(x);
}

/** The same GELU as one native kernel each way (lib/runtime/native_kernels.cc). */
function fusedGelu(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([x as tf.Tensor]);
    return {
      value: geluForward(x as tf.Tensor),
      gradFunc: (dy: tf.Tensor, [x]: tf.Tensor[]) => geluBackward(dy, x),
    };
  });
  return op(x);
}

/** Tanh-approximated GELU (HF "gelu_new" and "gelu_pytorch_tanh"). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(
      Math.sqrt(2 / Math.PI),
      tf.add(x, tf.mul(0.044715, tf.pow(x, 3))),
    );
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

export function activation(name: string): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case "gelu":
      return geluErf;
    case "gelu_new":
    case "gelu_pytorch_tanh":
      return geluTanh;
    case "relu":
      return tf.relu;
    default:
      throw new Error(`unknown activation ${name}`); // BertConfig.validate() rejects it first
  }
}

/**
 * LayerNorm over the last axis with biased variance, as torch.nn.LayerNorm, with a hand-written
 * backward (autodiff through `moments` costs about twice the kernels).
 */
export function layerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): tf.Tensor {
  if (fusedKernels()) return fusedLayerNorm(x, gamma, beta, eps);
  const size = x.shape[x.rank - 1];
  const op = tf.customGrad((x, gamma, beta, save) => {
    const [normalized, rstd] = tf.tidy(() => {
      const { mean, variance } = tf.moments(x as tf.Tensor, -1, true);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      return [tf.mul(tf.sub(x as tf.Tensor, mean), rstd), rstd];
    });
    (save as tf.GradSaveFunc)([normalized, rstd, gamma as tf.Tensor]);
    const value = tf.add(
      tf.mul(normalized, gamma as tf.Tensor),
      beta as tf.Tensor,
    );
    return {
      value,
      gradFunc: (dy: tf.Tensor, [normalized, rstd, gamma]: tf.Tensor[]) =>
        tf.tidy(() => {
          // dx = rstd · (g - mean(g) - x̂ · mean(g · x̂)), with g = dy · γ
          const g = tf.mul(dy, gamma);
          const meanG = tf.mean(g, -1, true);
          const meanGx = tf.mean(tf.mul(g, normalized), -1, true);
          const dx = tf.mul(
            rstd,
            tf.sub(tf.sub(g, meanG), tf.mul(normalized, meanGx)),
          );
          const dy2d = tf.reshape(dy, [-1, size]) as tf.Tensor2D;
          const dGamma = columnSums(
            tf.reshape(tf.mul(dy, normalized), [-1, size]) as tf.Tensor2D,
          );
          return [dx, dGamma, columnSums(dy2d)];
        }),
    };
  });
  return op(x, gamma, beta);
}

/** The same LayerNorm as one native kernel each way; the backward recomputes x̂ from x. */
function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): tf.Tensor {
  const op = tf.customGrad((x, gamma, beta, save) => {
    const [value, mean, rstd] = layerNormForward(
      x as tf.Tensor,
      gamma as tf.Tensor,
      beta as tf.Tensor,
      eps,
    );
    (save as tf.GradSaveFunc)([x as tf.Tensor, gamma as tf.Tensor, mean, rstd]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, [x, gamma, mean, rstd]: tf.Tensor[]) =>
        layerNormBackward(dy, x, gamma, mean, rstd),
    };
  });
  return op(x, gamma, beta);
}

/**
 * Attention probabilities `softmax(scale·scores + maskBias)` over the keys: scores
 * [b, heads, queries, keys], maskBias [b, 1, 1, keys] (0 for real tokens, a large negative number
 * for padding). One native kernel each way where the fused kernels are loaded.
 */
export function attentionSoftmax(
  scores: tf.Tensor,
  maskBias: tf.Tensor,
  scale: number,
): tf.Tensor {
  const [b, , , keys] = scores.shape;
  if (
    !fusedKernels() || scores.rank !== 4 || maskBias.size !== b * keys ||
    maskBias.dtype !== "float32"
  ) {
    return tf.softmax(tf.add(tf.mul(scores, scale), maskBias));
  }
  const op = tf.customGrad((scores, save) => {
    const probs = maskedSoftmaxForward(scores as tf.Tensor, maskBias, scale);
    (save as tf.GradSaveFunc)([probs]);
    return {
      value: probs,
      gradFunc: (dy: tf.Tensor, [probs]: tf.Tensor[]) =>
        maskedSoftmaxBackward(dy, probs, scale),
    };
  });
  return op(scores);
}

/**
 * Row lookup `table[ids]`. The gradient scatter-adds into the table and leaves the padding row
 * at zero, like `nn.Embedding(padding_idx=...)`.
 */
export function embeddingLookup(
  table: tf.Tensor2D,
  ids: tf.Tensor,
  paddingIdx?: number | null,
): tf.Tensor {
  const flatIds = tf.reshape(ids, [-1]) as tf.Tensor1D;
  const op = tf.customGrad((table, save) => {
    // Saved so the ids outlive the forward pass's tidy scope until backprop.
    (save as tf.GradSaveFunc)([flatIds]);
    const value = tf.gather(table as tf.Tensor, flatIds);
    return {
      value,
      gradFunc: (dy: tf.Tensor, [ids]: tf.Tensor[]) =>
        tf.tidy(() => {
          let rows = dy;
          if (paddingIdx !== undefined && paddingIdx !== null) {
            const keep = tf.expandDims(
              tf.cast(
                tf.notEqual(ids, tf.scalar(paddingIdx, "int32")),
                "float32",
              ),
              1,
            );
            rows = tf.mul(dy, keep);
          }
          return tf.unsortedSegmentSum(
            rows,
            ids as tf.Tensor1D,
            (table as tf.Tensor).shape[0],
          );
        }),
    };
  });
  const rows = op(table);
  return tf.reshape(rows, [...ids.shape, table.shape[1]]);
}

/**
 * Inverted dropout, seeded: each element is kept with probability 1 − rate and scaled by
 * 1/(1 − rate). Identity when not training or rate 0. On the native engine the mask comes from
 * TensorFlow's Philox generator (`tf.dropout` draws its numbers in JavaScript, about a sixth of a
 * BERT training step); elsewhere from `tf.dropout`. The same seed gives the same mask on one
 * engine, not across engines.
 */
export function dropout(
  x: tf.Tensor,
  rate: number,
  training: boolean,
  seed: number,
): tf.Tensor {
  if (!training || rate <= 0) return x;
  if (!nativeKernels()) return tf.dropout(x, rate, undefined, seed);
  if (fusedKernels()) return fusedDropout(x, rate, seed);
  const scaledMask = tf.tidy(() =>
    tf.mul(
      tf.cast(
        tf.greaterEqual(
          statelessUniform(x.shape, [seed, DROPOUT_STREAM]),
          rate,
        ),
        "float32",
      ),
      1 / (1 - rate),
    )
  );
  const dropped = tf.mul(x, scaledMask);
  scaledMask.dispose();
  return dropped;
}

/**
 * The same mask and scale as one native kernel: the draws are kept for the backward, which is
 * the same kernel applied to dy.
 */
function fusedDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  const uniform = statelessUniform(x.shape, [seed, DROPOUT_STREAM]);
  const op = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([uniform]);
    return {
      value: dropoutWithDraws(x as tf.Tensor, uniform, rate),
      gradFunc: (dy: tf.Tensor, [uniform]: tf.Tensor[]) =>
        dropoutWithDraws(dy, uniform, rate),
    };
  });
  const dropped = op(x);
  uniform.dispose();
  return dropped;
}

/** Second seed word of dropout masks (the first is the per-call seed). */
const DROPOUT_STREAM = 0x5eed;
