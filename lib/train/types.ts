/**
 * What the Trainer needs from a model. lib/models' BERT classes satisfy it; tests use tiny
 * hand-written models with the same shape, so the training loop is tested without BERT.
 */
import type * as tf from "@tensorflow/tfjs-core";

/** Int32 tensors as a collated batch carries them (Hugging Face names). */
export interface ModelInputs {
  input_ids: tf.Tensor;
  attention_mask?: tf.Tensor;
  token_type_ids?: tf.Tensor;
  labels?: tf.Tensor;
  [name: string]: tf.Tensor | undefined;
}

export interface ModelOutputs {
  loss?: tf.Scalar;
  logits?: tf.Tensor;
  last_hidden_state?: tf.Tensor;
  pooler_output?: tf.Tensor;
  start_logits?: tf.Tensor;
  end_logits?: tf.Tensor;
}

export interface ParameterGroup {
  name: string;
  variables: tf.Variable[];
}

/** The encoder part of a model with a head: used to compute frozen features once. */
export interface FeatureEncoder {
  forward(inputs: ModelInputs, options?: { training?: boolean }): ModelOutputs;
  /** lib/models draws one dropout seed per call from here; the Trainer swaps in a resumable stream. */
  seeds?: { take(): number };
}

export interface TrainableModel {
  config?: { num_labels?: number };
  forward(inputs: ModelInputs, options?: { training?: boolean }): ModelOutputs;
  namedParameters(): Map<string, tf.Variable>;
  parameterGroups(): ParameterGroup[];
  setTrainable(groups: string[] | "all", trainable: boolean): void;
  trainableVariables(): tf.Variable[];
  savePretrained?(dir: string): Promise<void>;
  /** Needed by the feature-extraction strategy only. */
  bert?: FeatureEncoder;
  headForward?(
    features: tf.Tensor,
    options?: { training?: boolean },
  ): tf.Tensor | Record<string, tf.Tensor>;
  computeLoss?(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ): tf.Scalar;
  /** Encoder output -> what headForward reads (lib/models heads have it). */
  features?(encoded: ModelOutputs): tf.Tensor;
  /** Loads a Hugging Face folder into this model in place (lib/models). */
  loadPretrainedWeights?(
    dir: string,
    options?: { verbose?: boolean },
  ): Promise<unknown>;
  /**
   * Which encoder output the head reads: sentence heads read `pooler_output`, token and span
   * heads read `last_hidden_state`. Defaults to `pooler_output`.
   */
  headInput?: "pooler_output" | "last_hidden_state";
}

/** One unpadded example: lib/data's type, so tokenized datasets go straight in. */
export type { Example } from "../data/collate.ts";
