/**
 * Parameters with their Hugging Face names. Every layer registers its tf.Variables here, so the
 * whole model can be listed, frozen, initialized, saved and loaded by name.
 */
import * as tf from "@tensorflow/tfjs-core";
import { SeededRandom } from "../runtime/random.ts";

export type InitKind = "normal" | "zeros" | "ones";

export interface ParameterInfo {
  /** Hugging Face name, e.g. `encoder.layer.0.attention.self.query.weight`. */
  name: string;
  variable: tf.Variable;
  init: InitKind;
  /** `nn.Linear` weight: stored as [out, in] by PyTorch, held as [in, out] here. */
  isLinearWeight: boolean;
  /** Embedding row HF keeps at zero (padding_idx). */
  paddingRow?: number | null;
}

export class ParameterList {
  readonly items: ParameterInfo[] = [];

  add(
    name: string,
    shape: number[],
    init: InitKind,
    extra: { isLinearWeight?: boolean; paddingRow?: number | null } = {},
  ): tf.Variable {
    // tidy frees the zeros tensor; the variable keeps its own reference to the data.
    const variable = tf.tidy(() => tf.variable(tf.zeros(shape), true));
    this.items.push({
      name,
      variable,
      init,
      isLinearWeight: extra.isLinearWeight ?? false,
      paddingRow: extra.paddingRow,
    });
    return variable;
  }

  /** Adds another list's parameters under a name prefix (e.g. `bert.`). */
  include(other: ParameterList, prefix: string): void {
    for (const item of other.items) {
      this.items.push({ ...item, name: prefix + item.name });
    }
  }
}

/**
 * HF `_init_weights`: normal(0, initializer_range) for matrices and embeddings, zero bias,
 * LayerNorm 1/0. Each normal matrix gets its own tfjs seed: the next raw 32-bit word of
 * `SeededRandom.fromState(seed)` (the course's one random stream type).
 */
export function initializeParameters(
  items: ParameterInfo[],
  initializerRange: number,
  seed: number,
): void {
  const rng = SeededRandom.fromState(seed >>> 0);
  for (const item of items) {
    const shape = item.variable.shape;
    const value = tf.tidy(() => {
      if (item.init === "zeros") return tf.zeros(shape);
      if (item.init === "ones") return tf.ones(shape);
      let w = tf.randomNormal(
        shape,
        0,
        initializerRange,
        "float32",
        rng.nextUint32(),
      );
      if (
        item.paddingRow !== undefined && item.paddingRow !== null &&
        item.paddingRow < shape[0]
      ) {
        const keep = tf.notEqual(
          tf.range(0, shape[0], 1, "int32"),
          item.paddingRow,
        );
        w = tf.mul(w, tf.expandDims(tf.cast(keep, "float32"), 1));
      }
      return w;
    });
    item.variable.assign(value);
    value.dispose();
  }
}
