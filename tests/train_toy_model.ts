/**
 * A tiny BERT-shaped classifier for the Trainer tests: the same contract as lib/models' heads
 * (HF parameter names, groups embeddings / encoder.layer.N / pooler / head, features ->
 * headForward -> computeLoss) but small enough that a whole training run takes a second on the cpu
 * backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getRandom, SeededRandom } from "../lib/runtime/random.ts";
import type {
  Example,
  ModelInputs,
  ModelOutputs,
  TrainableModel,
} from "../lib/train/types.ts";

export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
}

export interface ToyOptions {
  vocab?: number;
  hidden?: number;
  layers?: number;
  numLabels?: number;
  dropout?: number;
  seed?: number;
  /** Token classification: the head reads the sequence, labels are per token. */
  token?: boolean;
  /** After this many training forwards, the loss becomes NaN (guard test). */
  poisonAfter?: number;
}

export class ToyClassifier implements TrainableModel {
  readonly config: { num_labels: number; hidden_size: number };
  readonly headInput: "pooler_output" | "last_hidden_state";
  private readonly params = new Map<string, tf.Variable>();
  private readonly groups = new Map<string, string[]>();
  private readonly options: Required<Omit<ToyOptions, "poisonAfter">> & {
    poisonAfter?: number;
  };
  private trainingForwards = 0;
  readonly bert: {
    forward: (inputs: ModelInputs, o?: { training?: boolean }) => ModelOutputs;
  };

  constructor(options: ToyOptions = {}) {
    this.options = {
      vocab: 40,
      hidden: 8,
      layers: 2,
      numLabels: 2,
      dropout: 0.1,
      seed: 1,
      token: false,
      ...options,
    };
    const { vocab, hidden, layers, numLabels, seed } = this.options;
    this.config = { num_labels: numLabels, hidden_size: hidden };
    this.headInput = this.options.token ? "last_hidden_state" : "pooler_output";
    const rng = new SeededRandom(seed);
    const add = (
      group: string,
      name: string,
      shape: number[],
      kind: "normal" | "ones" | "zeros",
    ) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from(
        { length: size },
        () => kind === "ones" ? 1 : kind === "zeros" ? 0 : rng.normal(0, 0.5),
      );
      this.params.set(name, tf.variable(tf.tensor(values, shape), true));
      this.groups.set(group, [...(this.groups.get(group) ?? []), name]);
    };
    add(
      "embeddings",
      "bert.embeddings.word_embeddings.weight",
      [vocab, hidden],
      "normal",
    );
    add("embeddings", "bert.embeddings.LayerNorm.weight", [hidden], "ones");
    for (let l = 0; l < layers; l++) {
      add(`encoder.layer.${l}`, `bert.encoder.layer.${l}.output.dense.weight`, [
        hidden,
        hidden,
      ], "normal");
      add(`encoder.layer.${l}`, `bert.encoder.layer.${l}.output.dense.bias`, [
        hidden,
      ], "zeros");
    }
    if (!this.options.token) {
      add("pooler", "bert.pooler.dense.weight", [hidden, hidden], "normal");
      add("pooler", "bert.pooler.dense.bias", [hidden], "zeros");
    }
    add("head", "classifier.weight", [hidden, numLabels], "normal");
    add("head", "classifier.bias", [numLabels], "zeros");
    this.bert = {
      forward: (inputs, o) => this.encode(inputs, o?.training ?? false),
    };
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!;
  }

  private encode(inputs: ModelInputs, _training: boolean): ModelOutputs {
    return tf.tidy(() => {
      const { hidden, layers } = this.options;
      const [b, s] = inputs.input_ids.shape;
      let h = tf.mul(
        tf.gather(
          this.p("bert.embeddings.word_embeddings.weight"),
          inputs.input_ids,
        ),
        this.p("bert.embeddings.LayerNorm.weight"),
      ) as tf.Tensor3D;
      for (let l = 0; l < layers; l++) {
        const w = this.p(`bert.encoder.layer.${l}.output.dense.weight`);
        const bias = this.p(`bert.encoder.layer.${l}.output.dense.bias`);
        const dense = tf.add(
          tf.matMul(tf.reshape(h, [b * s, hidden]), w),
          bias,
        );
        h = tf.add(h, tf.reshape(tf.tanh(dense), [b, s, hidden]));
      }
      const out: ModelOutputs = { last_hidden_state: h };
      if (!this.options.token) {
        const mask = tf.expandDims(
          tf.cast(inputs.attention_mask!, "float32"),
          2,
        );
        const mean = tf.div(tf.sum(tf.mul(h, mask), 1), tf.sum(mask, 1));
        out.pooler_output = tf.tanh(
          tf.add(
            tf.matMul(mean, this.p("bert.pooler.dense.weight")),
            this.p("bert.pooler.dense.bias"),
          ),
        );
      }
      return out as tf.TensorContainer;
    }) as unknown as ModelOutputs;
  }

  features(encoded: ModelOutputs): tf.Tensor {
    return (this.options.token
      ? encoded.last_hidden_state
      : encoded.pooler_output) as tf.Tensor;
  }

  headForward(
    features: tf.Tensor,
    options: { training?: boolean } = {},
  ): tf.Tensor {
    return tf.tidy(() => {
      const x = options.training && this.options.dropout > 0
        ? tf.dropout(
          features,
          this.options.dropout,
          undefined,
          getRandom().seed(),
        )
        : features;
      const logits = tf.add(
        tf.matMul(
          tf.reshape(x, [-1, this.options.hidden]),
          this.p("classifier.weight"),
        ),
        this.p("classifier.bias"),
      );
      return features.rank === 3
        ? tf.reshape(logits, [...features.shape.slice(0, 2), -1])
        : logits;
    });
  }

  /** Mean cross-entropy over labels that are not -100. */
  computeLoss(
    logits: tf.Tensor | Record<string, tf.Tensor>,
    labels: tf.Tensor | Record<string, tf.Tensor>,
  ) {
    return tf.tidy(() => {
      const x = tf.reshape(logits as tf.Tensor, [-1, this.options.numLabels]);
      const y = tf.reshape(labels as tf.Tensor, [-1]);
      const valid = tf.cast(tf.notEqual(y, -100), "float32");
      const safe = tf.maximum(y, 0);
      const picked = tf.sum(
        tf.mul(
          tf.logSoftmax(x),
          tf.oneHot(tf.cast(safe, "int32"), this.options.numLabels),
        ),
        1,
      );
      return tf.div(
        tf.neg(tf.sum(tf.mul(picked, valid))),
        tf.maximum(tf.sum(valid), 1),
      ) as tf.Scalar;
    });
  }

  forward(
    inputs: ModelInputs,
    options: { training?: boolean } = {},
  ): ModelOutputs {
    const training = options.training ?? false;
    if (training) this.trainingForwards++;
    const poisoned = this.options.poisonAfter !== undefined &&
      this.trainingForwards > this.options.poisonAfter;
    return tf.tidy(() => {
      const encoded = this.encode(inputs, training);
      const logits = this.headForward(this.features(encoded), { training });
      const out: ModelOutputs = { logits, ...encoded };
      if (inputs.labels) {
        const loss = this.computeLoss(logits, inputs.labels);
        out.loss = (poisoned ? tf.mul(loss, NaN) : loss) as tf.Scalar;
      }
      return out as tf.TensorContainer;
    }) as unknown as ModelOutputs;
  }

  namedParameters(): Map<string, tf.Variable> {
    return new Map(this.params);
  }

  parameterGroups() {
    return [...this.groups].map(([name, names]) => ({
      name,
      variables: names.map((n) => this.p(n)),
    }));
  }

  setTrainable(groups: string[] | "all", trainable: boolean): void {
    const wanted = groups === "all" ? [...this.groups.keys()] : groups;
    for (const g of wanted) {
      for (const n of this.groups.get(g) ?? []) {
        this.p(n).trainable = trainable;
      }
    }
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/**
 * Separable toy data: label 1 when most tokens come from the upper half of the vocabulary.
 * Lengths vary (3..12) so dynamic padding and bucketing are exercised.
 */
export function toyDataset(
  n: number,
  seed = 7,
  vocab = 40,
  token = false,
): Example[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, () => {
    const length = 3 + rng.int(10);
    const positive = rng.next() < 0.5;
    const ids = Array.from({ length }, () => {
      const upper = rng.next() < (positive ? 0.8 : 0.2);
      return upper
        ? vocab / 2 + rng.int(vocab / 2)
        : 1 + rng.int(vocab / 2 - 1);
    });
    const label = token
      ? ids.map((id) => (id >= vocab / 2 ? 1 : 0))
      : positive
      ? 1
      : 0;
    return { input_ids: ids, label };
  });
}

export async function weightsOf(
  model: TrainableModel,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.namedParameters()) {
    out.set(name, Float32Array.from(await v.data()));
  }
  return out;
}

export function maxAbsDiff(
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
): number {
  let max = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) {
      max = Math.max(max, Math.abs(x[i] - y[i]));
    }
  }
  return max;
}
