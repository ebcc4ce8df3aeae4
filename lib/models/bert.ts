/**
 * BERT (Devlin et al. 2019) as in Hugging Face `modeling_bert.py`: embeddings, a stack of
 * encoder layers (self-attention + feed-forward, each with residual and post-LayerNorm), pooler.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BertConfig } from "./config.ts";
import { Embedding, LayerNorm, Linear } from "./layers.ts";
import {
  activation,
  attentionSoftmax,
  dropout,
  linear,
  matMul,
} from "./ops.ts";
import { nativeKernels } from "../runtime/native_ops.ts";
import type { ParameterList } from "./parameters.ts";
import { BertPreTrainedModel, type ModelOptions } from "./pretrained.ts";
import { CourseError } from "../runtime/errors.ts";
import { SeededRandom } from "../runtime/random.ts";
import { checkIdRanges, explainGatherError } from "./input_ids.ts";

/** What every `forward` accepts (HF argument names). int32 tensors [batch, seq]. */
export interface BertInputs {
  input_ids: tf.Tensor;
  attention_mask?: tf.Tensor;
  token_type_ids?: tf.Tensor;
  position_ids?: tf.Tensor;
}

export interface ForwardOptions {
  training?: boolean;
  output_hidden_states?: boolean;
  output_attentions?: boolean;
}

export interface BertModelOutput {
  last_hidden_state: tf.Tensor3D;
  pooler_output: tf.Tensor2D;
  hidden_states?: tf.Tensor3D[];
  attentions?: tf.Tensor4D[];
}

/**
 * Dropout seeds: a fresh tfjs seed per dropout call, the next raw 32-bit word of the model's
 * `SeededRandom` stream (state `seed ^ 0x5eed`). `Trainer.train` replaces `model.bert.seeds`
 * with its own stream, whose state goes into a checkpoint's `rng_state.json`.
 */
export class DropoutSeeds {
  readonly random: SeededRandom;
  constructor(seed: number) {
    this.random = SeededRandom.fromState(seed ^ 0x5eed);
  }
  take(): number {
    return this.random.nextUint32();
  }
}

interface Context {
  training: boolean;
  seeds: DropoutSeeds;
}

/** Most negative float32, HF's additive mask value: masked keys get exactly zero probability. */
const FLOAT32_MIN = -3.4028234663852886e38;

class BertEmbeddings {
  readonly word: Embedding;
  readonly position: Embedding;
  readonly tokenType: Embedding;
  readonly norm: LayerNorm;

  constructor(params: ParameterList, readonly config: BertConfig) {
    this.word = new Embedding(
      params,
      "embeddings.word_embeddings",
      config.vocab_size,
      config.hidden_size,
      config.pad_token_id,
    );
    this.position = new Embedding(
      params,
      "embeddings.position_embeddings",
      config.max_position_embeddings,
      config.hidden_size,
    );
    this.tokenType = new Embedding(
      params,
      "embeddings.token_type_embeddings",
      config.type_vocab_size,
      config.hidden_size,
    );
    this.norm = new LayerNorm(
      params,
      "embeddings.LayerNorm",
      config.hidden_size,
      config.layer_norm_eps,
    );
  }

  apply(inputs: BertInputs, ctx: Context): tf.Tensor3D {
    const [batch, seq] = inputs.input_ids.shape;
    const positionIds = inputs.position_ids ?? tf.range(0, seq, 1, "int32");
    const tokenTypeIds = inputs.token_type_ids ??
      tf.zeros([batch, seq], "int32");
    const sum = tf.add(
      tf.add(
        this.word.apply(inputs.input_ids),
        this.tokenType.apply(tokenTypeIds),
      ),
      this.position.apply(positionIds), // [seq, H] broadcast over the batch
    );
    return dropout(
      this.norm.apply(sum),
      this.config.hidden_dropout_prob,
      ctx.training,
      ctx.seeds.take(),
    ) as tf.Tensor3D;
  }
}

class BertSelfAttention {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly heads: number;
  readonly headSize: number;

  constructor(
    params: ParameterList,
    prefix: string,
    readonly config: BertConfig,
  ) {
    const h = config.hidden_size;
    this.query = new Linear(params, `${prefix}.query`, h, h);
    this.key = new Linear(params, `${prefix}.key`, h, h);
    this.value = new Linear(params, `${prefix}.value`, h, h);
    this.heads = config.num_attention_heads;
    this.headSize = config.head_size;
  }

  /** x [b, s, H], maskBias [b, 1, 1, s] -> context [b, s, H] and probabilities [b, heads, s, s]. */
  apply(
    x: tf.Tensor3D,
    maskBias: tf.Tensor,
    ctx: Context,
  ): { context: tf.Tensor3D; probs: tf.Tensor4D } {
    return nativeKernels()
      ? this.applyFused(x, maskBias, ctx)
      : this.applySeparate(x, maskBias, ctx);
  }

  /**
   * The same attention with Q, K and V from one [H, 3H] projection and one transpose, and
   * QKᵀ as a transposed batched matmul: on TensorFlow's kernels one wide matmul runs faster than
   * three narrow ones and a transposed operand costs nothing. The weights stay three HF tensors.
   */
  private applyFused(
    x: tf.Tensor3D,
    maskBias: tf.Tensor,
    ctx: Context,
  ): { context: tf.Tensor3D; probs: tf.Tensor4D } {
    const [b, s, hidden] = x.shape;
    const { heads, headSize } = this;
    const weight = tf.concat(
      [this.query.weight, this.key.weight, this.value.weight],
      1,
    ) as tf.Tensor2D;
    const bias = tf.concat(
      [this.query.bias, this.key.bias, this.value.bias],
    ) as tf.Tensor1D;
    const qkv = linear(
      tf.reshape(x, [b * s, hidden]) as tf.Tensor2D,
      weight,
      bias,
    );
    const [q, k, v] = tf.unstack(
      tf.transpose(tf.reshape(qkv, [b, s, 3, heads, headSize]), [
        2,
        0,
        3,
        1,
        4,
      ]),
    ); // each [b, heads, s, d]
    const { probs, dropped } = this.attend(matMul(q, k, true), maskBias, ctx);
    const context = tf.reshape(
      tf.transpose(matMul(dropped, v), [0, 2, 1, 3]),
      [b, s, hidden],
    );
    return { context: context as tf.Tensor3D, probs };
  }

  /** softmax(QKᵀ/√d + mask) and its dropout, shared by both layouts; QKᵀ comes in [b, heads, s, s]. */
  private attend(
    queryKeyScores: tf.Tensor,
    maskBias: tf.Tensor,
    ctx: Context,
  ): { probs: tf.Tensor4D; dropped: tf.Tensor } {
    const probs = attentionSoftmax(
      queryKeyScores,
      maskBias,
      1 / Math.sqrt(this.headSize),
    ) as tf.Tensor4D;
    const dropped = dropout(
      probs,
      this.config.attention_probs_dropout_prob,
      ctx.training,
      ctx.seeds.take(),
    );
    return { probs, dropped };
  }

  private applySeparate(
    x: tf.Tensor3D,
    maskBias: tf.Tensor,
    ctx: Context,
  ): { context: tf.Tensor3D; probs: tf.Tensor4D } {
    const [b, s, hidden] = x.shape;
    const split = (t: tf.Tensor, perm: number[]) =>
      tf.transpose(tf.reshape(t, [b, s, this.heads, this.headSize]), perm);
    const q = tf.reshape(split(this.query.apply(x), [0, 2, 1, 3]), [
      b * this.heads,
      s,
      this.headSize,
    ]);
    // Keys go straight to [b, heads, d, s] so QKᵀ needs no transposed matmul.
    const kT = tf.reshape(split(this.key.apply(x), [0, 2, 3, 1]), [
      b * this.heads,
      this.headSize,
      s,
    ]);
    const v = tf.reshape(split(this.value.apply(x), [0, 2, 1, 3]), [
      b * this.heads,
      s,
      this.headSize,
    ]);
    const { probs, dropped } = this.attend(
      tf.reshape(matMul(q, kT), [b, this.heads, s, s]),
      maskBias,
      ctx,
    );
    const context = matMul(tf.reshape(dropped, [b * this.heads, s, s]), v); // [b*heads, s, d]
    const merged = tf.reshape(
      tf.transpose(tf.reshape(context, [b, this.heads, s, this.headSize]), [
        0,
        2,
        1,
        3,
      ]),
      [b, s, hidden],
    );
    return { context: merged as tf.Tensor3D, probs };
  }
}

/** Dense + dropout + residual + LayerNorm: HF `BertSelfOutput` and `BertOutput`. */
class ResidualOutput {
  readonly dense: Linear;
  readonly norm: LayerNorm;

  constructor(
    params: ParameterList,
    prefix: string,
    inSize: number,
    readonly config: BertConfig,
  ) {
    this.dense = new Linear(
      params,
      `${prefix}.dense`,
      inSize,
      config.hidden_size,
    );
    this.norm = new LayerNorm(
      params,
      `${prefix}.LayerNorm`,
      config.hidden_size,
      config.layer_norm_eps,
    );
  }

  apply(x: tf.Tensor, residual: tf.Tensor, ctx: Context): tf.Tensor3D {
    const projected = dropout(
      this.dense.apply(x),
      this.config.hidden_dropout_prob,
      ctx.training,
      ctx.seeds.take(),
    );
    return this.norm.apply(tf.add(projected, residual)) as tf.Tensor3D;
  }
}

class BertFeedForward {
  readonly intermediate: Linear;
  readonly output: ResidualOutput;
  readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(params: ParameterList, prefix: string, config: BertConfig) {
    this.intermediate = new Linear(
      params,
      `${prefix}.intermediate.dense`,
      config.hidden_size,
      config.intermediate_size,
    );
    this.output = new ResidualOutput(
      params,
      `${prefix}.output`,
      config.intermediate_size,
      config,
    );
    this.act = activation(config.hidden_act);
  }

  apply(x: tf.Tensor3D, ctx: Context): tf.Tensor3D {
    return this.output.apply(this.act(this.intermediate.apply(x)), x, ctx);
  }
}

class BertLayer {
  readonly attention: BertSelfAttention;
  readonly attentionOutput: ResidualOutput;
  readonly feedForward: BertFeedForward;

  constructor(params: ParameterList, index: number, config: BertConfig) {
    const prefix = `encoder.layer.${index}`;
    this.attention = new BertSelfAttention(
      params,
      `${prefix}.attention.self`,
      config,
    );
    this.attentionOutput = new ResidualOutput(
      params,
      `${prefix}.attention.output`,
      config.hidden_size,
      config,
    );
    this.feedForward = new BertFeedForward(params, prefix, config);
  }

  apply(
    x: tf.Tensor3D,
    maskBias: tf.Tensor,
    ctx: Context,
  ): { hidden: tf.Tensor3D; probs: tf.Tensor4D } {
    const { context, probs } = this.attention.apply(x, maskBias, ctx);
    const attended = this.attentionOutput.apply(context, x, ctx);
    return { hidden: this.feedForward.apply(attended, ctx), probs };
  }
}

class BertPooler {
  readonly dense: Linear;
  constructor(params: ParameterList, config: BertConfig) {
    this.dense = new Linear(
      params,
      "pooler.dense",
      config.hidden_size,
      config.hidden_size,
    );
  }

  /** tanh(dense(hidden state of [CLS])). */
  apply(hidden: tf.Tensor3D): tf.Tensor2D {
    const [b, , h] = hidden.shape;
    const cls = tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]);
    return tf.tanh(this.dense.apply(cls)) as tf.Tensor2D;
  }
}

/** Shapes and dtypes, and every id inside its embedding table (cheaply: see input_ids.ts). */
export function checkInputs(
  inputs: BertInputs,
  config: BertConfig,
  { training = false } = {},
): void {
  const ids = inputs?.input_ids;
  if (!ids || ids.rank !== 2) {
    throw new CourseError(
      "model_inputs",
      `input_ids must be a 2-D int32 tensor [batch, seq], got ${
        ids ? `shape ${JSON.stringify(ids.shape)}` : "nothing"
      }`,
      'tokenizer(texts, { padding: true, returnTensors: "tf" })의 결과를 그대로 넘기세요.',
    );
  }
  if (ids.dtype !== "int32") {
    throw new CourseError(
      "model_inputs",
      `input_ids must be int32, got ${ids.dtype}`,
      'input_ids를 tf.tensor2d(ids, undefined, "int32")로 만드세요.',
    );
  }
  if (ids.shape[1]! > config.max_position_embeddings) {
    throw new CourseError(
      "model_seq_too_long",
      `sequence length ${
        ids.shape[1]
      } exceeds max_position_embeddings ${config.max_position_embeddings}`,
      `토크나이저에 truncation: true, maxLength: ${config.max_position_embeddings} 이하를 지정하세요.`,
    );
  }
  for (const key of ["attention_mask", "token_type_ids"] as const) {
    const t = inputs[key];
    if (t && (t.shape[0] !== ids.shape[0] || t.shape[1] !== ids.shape[1])) {
      throw new CourseError(
        "model_inputs",
        `${key} shape ${JSON.stringify(t.shape)} differs from input_ids shape ${
          JSON.stringify(ids.shape)
        }`,
        "input_ids, attention_mask, token_type_ids는 같은 토크나이저 호출에서 나온 같은 모양이어야 합니다.",
      );
    }
  }
  checkIdRanges(inputs, config, { training });
}

/** The bare encoder (HF `BertModel`); parameter names have no `bert.` prefix. */
export class BertModel extends BertPreTrainedModel {
  readonly basePrefix = "";
  readonly embeddings: BertEmbeddings;
  readonly layers: BertLayer[];
  readonly pooler: BertPooler | null;
  readonly seeds: DropoutSeeds;

  constructor(
    config: BertConfig,
    options: ModelOptions & { addPoolingLayer?: boolean } = {},
  ) {
    super(config);
    this.embeddings = new BertEmbeddings(this.params, config);
    this.layers = Array.from(
      { length: config.num_hidden_layers },
      (_, i) => new BertLayer(this.params, i, config),
    );
    this.pooler = (options.addPoolingLayer ?? true)
      ? new BertPooler(this.params, config)
      : null;
    this.seeds = new DropoutSeeds(options.seed ?? 42);
    this.finishInit(options);
  }

  /** The encoder itself (so `model.bert` works on every class). */
  get bert(): BertModel {
    return this;
  }

  /** HF `get_extended_attention_mask`: 0 where attended, float32 min where masked. [b, 1, 1, s]. */
  static maskBias(attentionMask: tf.Tensor): tf.Tensor {
    const [b, s] = attentionMask.shape;
    const masked = tf.sub(1, tf.cast(attentionMask, "float32"));
    return tf.reshape(tf.mul(masked, FLOAT32_MIN), [b, 1, 1, s]);
  }

  forward(inputs: BertInputs, options: ForwardOptions = {}): BertModelOutput {
    checkInputs(inputs, this.config, { training: options.training });
    const ctx: Context = {
      training: options.training ?? false,
      seeds: this.seeds,
    };
    return tf.tidy(() => {
      const [b, s] = inputs.input_ids.shape;
      const maskBias = BertModel.maskBias(
        inputs.attention_mask ?? tf.ones([b, s], "int32"),
      );
      let hidden = explainGatherError(
        () => this.embeddings.apply(inputs, ctx),
        inputs,
        this.config,
      );
      const hiddenStates: tf.Tensor3D[] = [hidden];
      const attentions: tf.Tensor4D[] = [];
      for (const layer of this.layers) {
        const out = layer.apply(hidden, maskBias, ctx);
        hidden = out.hidden;
        hiddenStates.push(hidden);
        if (options.output_attentions) attentions.push(out.probs);
      }
      const output = { last_hidden_state: hidden } as BertModelOutput;
      if (this.pooler) output.pooler_output = this.pooler.apply(hidden);
      if (options.output_hidden_states) output.hidden_states = hiddenStates;
      if (options.output_attentions) output.attentions = attentions;
      return output as unknown as tf.TensorContainer;
    }) as unknown as BertModelOutput;
  }

  get wordEmbeddings(): tf.Variable {
    return this.embeddings.word.weight;
  }
}
