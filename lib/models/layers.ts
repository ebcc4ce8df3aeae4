/** Building blocks with parameters: Linear, LayerNorm, Embedding (PyTorch names and semantics). */
import * as tf from "@tensorflow/tfjs-core";
import { embeddingLookup, layerNorm, linear } from "./ops.ts";
import type { ParameterList } from "./parameters.ts";

/** `nn.Linear(in, out)`: `weight` held as [in, out] (saved as HF [out, in]), `bias` [out]. */
export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    params: ParameterList,
    name: string,
    inFeatures: number,
    outFeatures: number,
  ) {
    this.weight = params.add(
      `${name}.weight`,
      [inFeatures, outFeatures],
      "normal",
      { isLinearWeight: true },
    );
    this.bias = params.add(`${name}.bias`, [outFeatures], "zeros");
  }

  /** Any leading shape: flattened to 2-D, since wasm multiplies 2-D matrices much faster. */
  apply(x: tf.Tensor): tf.Tensor {
    const [inFeatures, outFeatures] = this.weight.shape;
    const leading = x.shape.slice(0, -1);
    const flat = x.rank === 2
      ? x as tf.Tensor2D
      : tf.reshape(x, [-1, inFeatures]) as tf.Tensor2D;
    const y = linear(
      flat,
      this.weight as tf.Tensor2D,
      this.bias as tf.Tensor1D,
    );
    return x.rank === 2 ? y : tf.reshape(y, [...leading, outFeatures]);
  }
}

export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    params: ParameterList,
    name: string,
    size: number,
    readonly eps: number,
  ) {
    this.weight = params.add(`${name}.weight`, [size], "ones");
    this.bias = params.add(`${name}.bias`, [size], "zeros");
  }

  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class Embedding {
  readonly weight: tf.Variable;

  constructor(
    params: ParameterList,
    name: string,
    count: number,
    size: number,
    readonly paddingIdx: number | null = null,
  ) {
    this.weight = params.add(`${name}.weight`, [count, size], "normal", {
      paddingRow: paddingIdx,
    });
  }

  apply(ids: tf.Tensor): tf.Tensor {
    return embeddingLookup(this.weight as tf.Tensor2D, ids, this.paddingIdx);
  }
}
