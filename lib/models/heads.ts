/**
 * Task heads on top of BertModel, named and computed as in Hugging Face `modeling_bert.py`.
 * Each head splits its forward into `bert` -> features -> `headForward` -> logits -> `computeLoss`,
 * so notebooks can run the encoder once (feature extraction) and train only the head.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type BertInputs,
  BertModel,
  type BertModelOutput,
  type ForwardOptions,
} from "./bert.ts";
import type { BertConfig } from "./config.ts";
import { LayerNorm, Linear } from "./layers.ts";
import { bceWithLogits, crossEntropy, mse } from "./losses.ts";
import { activation, dropout, matMul } from "./ops.ts";
import { BertPreTrainedModel, type ModelOptions } from "./pretrained.ts";
import { CourseError } from "../runtime/errors.ts";

export interface HeadOutput extends Partial<BertModelOutput> {
  loss?: tf.Scalar;
  logits?: tf.Tensor;
  [key: string]: tf.Tensor | tf.Tensor[] | undefined;
}

export interface HeadInputs extends BertInputs {
  labels?: tf.Tensor;
  next_sentence_label?: tf.Tensor;
  start_positions?: tf.Tensor;
  end_positions?: tf.Tensor;
}

/** A BERT encoder plus a head; subclasses say which features the head reads and how. */
abstract class BertWithHead<Features = tf.Tensor> extends BertPreTrainedModel {
  readonly basePrefix = "bert.";
  readonly bert: BertModel;

  constructor(
    config: BertConfig,
    options: ModelOptions,
    addPoolingLayer: boolean,
  ) {
    super(config);
    this.bert = new BertModel(config, {
      ...options,
      initialize: false,
      addPoolingLayer,
    });
    this.params.include(this.bert.params, "bert.");
  }

  /** Encoder output -> what `headForward` takes (pooled [CLS] or the token sequence). */
  abstract features(encoded: BertModelOutput): Features;
  abstract headForward(
    features: Features,
    options?: { training?: boolean },
  ): tf.Tensor | Record<string, tf.Tensor>;
  abstract computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ): tf.Scalar;

  protected abstract labelsOf(
    inputs: HeadInputs,
  ): tf.Tensor | Record<string, tf.Tensor> | undefined;
  protected abstract name(
    logits: tf.Tensor | Record<string, tf.Tensor>,
  ): Record<string, tf.Tensor>;

  forward(inputs: HeadInputs, options: ForwardOptions = {}): HeadOutput {
    return tf.tidy(() => {
      const encoded = this.bert.forward(inputs, options);
      const logits = this.headForward(this.features(encoded), {
        training: options.training,
      });
      const output: HeadOutput = { ...this.name(logits) };
      const labels = this.labelsOf(inputs);
      if (labels) output.loss = this.computeLoss(logits, labels);
      // Beyond HF's head outputs, but free and handy in lessons: the encoder's own outputs.
      output.last_hidden_state = encoded.last_hidden_state;
      if (encoded.pooler_output) output.pooler_output = encoded.pooler_output;
      if (encoded.hidden_states) output.hidden_states = encoded.hidden_states;
      if (encoded.attentions) output.attentions = encoded.attentions;
      return output as unknown as tf.TensorContainer;
    }) as unknown as HeadOutput;
  }

  protected headDropout(x: tf.Tensor, training?: boolean): tf.Tensor {
    const rate = this.config.classifier_dropout ??
      this.config.hidden_dropout_prob;
    return dropout(x, rate, training ?? false, this.bert.seeds.take());
  }
}

/** MLM transform (dense + act + LayerNorm) and the decoder tied to the word embeddings. */
class MlmHead {
  readonly dense: Linear;
  readonly norm: LayerNorm;
  readonly bias: tf.Variable;
  readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(model: BertWithHead<unknown>, config: BertConfig) {
    this.dense = new Linear(
      model.params,
      "cls.predictions.transform.dense",
      config.hidden_size,
      config.hidden_size,
    );
    this.norm = new LayerNorm(
      model.params,
      "cls.predictions.transform.LayerNorm",
      config.hidden_size,
      config.layer_norm_eps,
    );
    this.bias = model.params.add(
      "cls.predictions.bias",
      [config.vocab_size],
      "zeros",
    );
    this.act = activation(config.hidden_act);
  }

  apply(sequence: tf.Tensor3D, wordEmbeddings: tf.Variable): tf.Tensor3D {
    const [b, s, h] = sequence.shape;
    const logits = this.rowLogits(
      tf.reshape(sequence, [b * s, h]),
      wordEmbeddings,
    );
    return tf.reshape(logits, [b, s, -1]) as tf.Tensor3D;
  }

  /**
   * Logits `[positions, vocab]` at some positions only (`positions` index the flattened
   * `[batch * seq]` axis), as the original BERT code's `masked_lm_positions`. Pretraining needs
   * the ~15% masked positions only: the same loss and gradients as `apply` followed by a
   * cross-entropy over all positions, with about a sixth of the work of the largest matrix
   * product (the vocabulary projection). Row for row the same numbers as `apply`.
   */
  applyAt(
    sequence: tf.Tensor3D,
    positions: tf.Tensor1D,
    wordEmbeddings: tf.Variable,
  ): tf.Tensor2D {
    const [b, s, h] = sequence.shape;
    return this.rowLogits(
      tf.gather(tf.reshape(sequence, [b * s, h]), positions),
      wordEmbeddings,
    );
  }

  /** Transform (dense, activation, LayerNorm), then the tied vocabulary projection plus bias. */
  private rowLogits(
    rows: tf.Tensor2D,
    wordEmbeddings: tf.Variable,
  ): tf.Tensor2D {
    const transformed = this.norm.apply(this.act(this.dense.apply(rows)));
    return tf.add(
      matMul(transformed, wordEmbeddings, true),
      this.bias,
    ) as tf.Tensor2D;
  }
}

function requireLabels(labels: unknown, key: string): tf.Tensor {
  if (!(labels instanceof tf.Tensor)) {
    throw new CourseError(
      "model_labels",
      `${key} must be a tensor`,
      `${key}를 int32 텐서로 넘기세요.`,
    );
  }
  return labels;
}

export class BertForPreTraining
  extends BertWithHead<{ sequence: tf.Tensor3D; pooled: tf.Tensor2D }> {
  readonly mlm: MlmHead;
  readonly seqRelationship: Linear;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, true);
    this.mlm = new MlmHead(this, config);
    this.seqRelationship = new Linear(
      this.params,
      "cls.seq_relationship",
      config.hidden_size,
      2,
    );
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return {
      sequence: encoded.last_hidden_state,
      pooled: encoded.pooler_output,
    };
  }

  headForward(features: { sequence: tf.Tensor3D; pooled: tf.Tensor2D }) {
    return {
      prediction_logits: this.mlm.apply(
        features.sequence,
        this.bert.wordEmbeddings,
      ),
      seq_relationship_logits: this.seqRelationship.apply(features.pooled),
    };
  }

  /** MLM cross-entropy (ignoring -100) + NSP cross-entropy, as HF. */
  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ): tf.Scalar {
    const l = logits as Record<string, tf.Tensor>;
    const y = labels as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      let loss = crossEntropy(
        l.prediction_logits,
        requireLabels(y.labels, "labels"),
      );
      if (y.next_sentence_label) {
        loss = tf.add(
          loss,
          crossEntropy(l.seq_relationship_logits, y.next_sentence_label),
        );
      }
      return loss as tf.Scalar;
    });
  }

  protected labelsOf(inputs: HeadInputs) {
    if (!inputs.labels) return undefined;
    const labels: Record<string, tf.Tensor> = { labels: inputs.labels };
    if (inputs.next_sentence_label) {
      labels.next_sentence_label = inputs.next_sentence_label;
    }
    return labels;
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return logits as Record<string, tf.Tensor>;
  }
}

export class BertForMaskedLM extends BertWithHead<tf.Tensor3D> {
  readonly mlm: MlmHead;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, false); // HF: BertForMaskedLM has no pooler
    this.mlm = new MlmHead(this, config);
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return encoded.last_hidden_state;
  }

  headForward(sequence: tf.Tensor3D) {
    return this.mlm.apply(sequence, this.bert.wordEmbeddings);
  }

  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ) {
    return crossEntropy(logits as tf.Tensor, labels as tf.Tensor);
  }

  protected labelsOf(inputs: HeadInputs) {
    return inputs.labels;
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return { logits: logits as tf.Tensor };
  }
}

export class BertForNextSentencePrediction extends BertWithHead<tf.Tensor2D> {
  readonly seqRelationship: Linear;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, true);
    this.seqRelationship = new Linear(
      this.params,
      "cls.seq_relationship",
      config.hidden_size,
      2,
    );
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return encoded.pooler_output;
  }

  headForward(pooled: tf.Tensor2D) {
    return this.seqRelationship.apply(pooled);
  }

  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ) {
    return crossEntropy(logits as tf.Tensor, labels as tf.Tensor);
  }

  protected labelsOf(inputs: HeadInputs) {
    return inputs.labels ?? inputs.next_sentence_label;
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return { logits: logits as tf.Tensor };
  }
}

export class BertForSequenceClassification extends BertWithHead<tf.Tensor2D> {
  readonly classifier: Linear;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, true);
    this.classifier = new Linear(
      this.params,
      "classifier",
      config.hidden_size,
      config.num_labels,
    );
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return encoded.pooler_output;
  }

  headForward(pooled: tf.Tensor2D, options: { training?: boolean } = {}) {
    return this.classifier.apply(this.headDropout(pooled, options.training));
  }

  /**
   * Loss chosen by `problem_type`, or inferred like HF on first use: one label -> regression
   * (MSE), int labels -> single-label (cross-entropy), float labels -> multi-label (BCE).
   */
  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ): tf.Scalar {
    const x = logits as tf.Tensor;
    const y = requireLabels(labels, "labels");
    if (!this.config.problem_type) {
      this.config.problem_type = this.config.num_labels === 1
        ? "regression"
        : y.dtype === "int32"
        ? "single_label_classification"
        : "multi_label_classification";
    }
    switch (this.config.problem_type) {
      case "regression":
        return this.config.num_labels === 1
          ? mse(tf.reshape(x, [-1]), tf.reshape(y, [-1]))
          : mse(x, y);
      case "single_label_classification":
        return crossEntropy(x, y);
      case "multi_label_classification":
        return bceWithLogits(x, y);
    }
  }

  protected labelsOf(inputs: HeadInputs) {
    return inputs.labels;
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return { logits: logits as tf.Tensor };
  }
}

export class BertForTokenClassification extends BertWithHead<tf.Tensor3D> {
  readonly classifier: Linear;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, false); // HF: no pooler
    this.classifier = new Linear(
      this.params,
      "classifier",
      config.hidden_size,
      config.num_labels,
    );
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return encoded.last_hidden_state;
  }

  headForward(sequence: tf.Tensor3D, options: { training?: boolean } = {}) {
    return this.classifier.apply(this.headDropout(sequence, options.training));
  }

  /** Cross-entropy over tokens whose label is not -100 (padding, later word pieces). */
  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ) {
    return crossEntropy(logits as tf.Tensor, labels as tf.Tensor);
  }

  protected labelsOf(inputs: HeadInputs) {
    return inputs.labels;
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return { logits: logits as tf.Tensor };
  }
}

export class BertForQuestionAnswering extends BertWithHead<tf.Tensor3D> {
  readonly qaOutputs: Linear;

  constructor(config: BertConfig, options: ModelOptions = {}) {
    super(config, options, false); // HF: no pooler
    this.qaOutputs = new Linear(
      this.params,
      "qa_outputs",
      config.hidden_size,
      2,
    );
    this.finishInit(options);
  }

  features(encoded: BertModelOutput) {
    return encoded.last_hidden_state;
  }

  headForward(sequence: tf.Tensor3D) {
    return tf.tidy(() => {
      const [b, s] = sequence.shape;
      const logits = this.qaOutputs.apply(sequence); // [b, s, 2]
      const [start, end] = tf.split(logits, 2, -1);
      return {
        start_logits: tf.reshape(start, [b, s]),
        end_logits: tf.reshape(end, [b, s]),
      };
    });
  }

  /** Mean of start and end cross-entropy; positions outside the sequence are clamped and ignored (HF). */
  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ): tf.Scalar {
    const l = logits as Record<string, tf.Tensor>;
    const y = labels as Record<string, tf.Tensor>;
    return tf.tidy(() => {
      const ignored = l.start_logits.shape[1]!;
      // Clipped as float32 (exact for positions): wasm's ClipByValue leaves int32 data unclipped.
      const clamp = (t: tf.Tensor) =>
        tf.cast(
          tf.clipByValue(tf.reshape(tf.cast(t, "float32"), [-1]), 0, ignored),
          "int32",
        );
      const start = crossEntropy(
        l.start_logits,
        clamp(requireLabels(y.start_positions, "start_positions")),
        ignored,
      );
      const end = crossEntropy(
        l.end_logits,
        clamp(requireLabels(y.end_positions, "end_positions")),
        ignored,
      );
      return tf.div(tf.add(start, end), 2) as tf.Scalar;
    });
  }

  protected labelsOf(inputs: HeadInputs) {
    if (!inputs.start_positions || !inputs.end_positions) return undefined;
    return {
      start_positions: inputs.start_positions,
      end_positions: inputs.end_positions,
    };
  }

  protected name(logits: tf.Tensor | Record<string, tf.Tensor>) {
    return logits as Record<string, tf.Tensor>;
  }
}
