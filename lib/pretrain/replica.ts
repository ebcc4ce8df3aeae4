/**
 * Who holds the model being pretrained: a `PretrainingReplica` (the model and its AdamW state), and
 * the `PretrainingReplicas` interface the training loop drives, here with one replica in this
 * thread (`localReplicas`, `--workers 1`); lib/pretrain/replicas.ts keeps N in Workers.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../runtime/mod.ts";
import type { BertTokenizer } from "../text/mod.ts";
import {
  type Batch,
  collate,
  disposeBatch,
  type Example,
} from "../data/mod.ts";
import { BertConfig, BertForPreTraining, DropoutSeeds } from "../models/mod.ts";
import {
  AdamW,
  type CheckpointParts,
  clipByGlobalNorm,
  readCheckpoint,
  restoreModelWeights,
  rotateCheckpoints,
  saveCheckpoint,
  type TrainableModel,
} from "../train/mod.ts";
import { chunksOf } from "./data.ts";
import {
  evaluationStats,
  type LossWeights,
  pretrainingLoss,
  type PretrainingStats,
  statsFrom,
} from "./loss.ts";
import { dropoutSeed, type PretrainOptions } from "./options.ts";

/** What building the model needs from the tokenizer (sent to Workers instead of the tokenizer). */
export type Vocabulary = Pick<BertTokenizer, "vocabSize" | "padTokenId">;

/** A freshly initialised BERT with MLM and NSP heads, shaped by `options` (seed `options.seed`). */
export function buildPretrainingModel(
  tokenizer: Vocabulary,
  options: PretrainOptions,
): BertForPreTraining {
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: options.hidden,
    num_hidden_layers: options.layers,
    num_attention_heads: options.heads,
    intermediate_size: options.intermediate,
    max_position_embeddings: options.maxPositions,
    pad_token_id: tokenizer.padTokenId,
    architectures: ["BertForPreTraining"],
  });
  return new BertForPreTraining(config, { seed: options.seed });
}

/**
 * Dropout masks from (seed, step) instead of one stream since model creation, so a run resumed
 * from a checkpoint draws the same masks as an uninterrupted one.
 */
function reseedDropout(model: BertForPreTraining, seed: number): void {
  (model.bert as unknown as { seeds: DropoutSeeds }).seeds = new DropoutSeeds(
    seed,
  );
}

/** Where a replica's weights come from besides `options.seed`: a checkpoint to resume, or `--init-from`. */
export type ReplicaSource = { resumeFrom?: string; initFrom?: string };

/** A checkpoint's parts other than the model and optimizer, which the replica holding them adds. */
export type CheckpointState = Omit<CheckpointParts, "model" | "optimizer">;

/**
 * The model and its AdamW state. `--workers 1` trains one in this thread; `--workers N` keeps N
 * identical ones, one per Worker (lib/pretrain/worker.ts).
 */
export class PretrainingReplica {
  readonly params: Map<string, tf.Variable>;
  /** Parameter names in a fixed order (the order of flattened gradients between Workers). */
  readonly names: string[];
  private readonly variables: tf.Variable[];

  private constructor(
    readonly model: BertForPreTraining,
    readonly optimizer: AdamW,
  ) {
    this.params = model.namedParameters();
    this.names = [...this.params.keys()];
    this.variables = this.names.map((name) => this.params.get(name)!);
  }

  /**
   * A model initialised from `options.seed`, then given a checkpoint's weights and AdamW moments
   * (`resumeFrom`) or only weights (`initFrom`: a new run, fresh moments).
   */
  static async create(
    vocabulary: Vocabulary,
    options: PretrainOptions,
    source: ReplicaSource = {},
  ): Promise<PretrainingReplica> {
    const model = buildPretrainingModel(vocabulary, options);
    const optimizer = new AdamW({
      learningRate: options.learningRate,
      weightDecay: options.weightDecay,
    });
    const replica = new PretrainingReplica(model, optimizer);
    if (source.resumeFrom) {
      const checkpoint = await readCheckpoint(source.resumeFrom);
      await restoreModelWeights(
        model as unknown as TrainableModel,
        source.resumeFrom,
      );
      optimizer.loadStateDict(checkpoint.optimizer);
    } else if (source.initFrom) {
      await restoreModelWeights(
        model as unknown as TrainableModel,
        source.initFrom,
      );
    }
    return replica;
  }

  /**
   * Loss and gradients of one batch. Gradients are keyed by parameter name (one outside the graph
   * has none); `stats` is pretrainingLoss's. The caller disposes both.
   */
  gradients(
    batch: Batch,
    options: { training: boolean; dropoutSeed: number; weights?: LossWeights },
  ): { grads: Map<string, tf.Tensor>; stats: tf.Tensor1D } {
    reseedDropout(this.model, options.dropoutSeed);
    let kept: tf.Tensor1D | undefined;
    try {
      const { value, grads } = tf.variableGrads(() => {
        const { loss, stats } = pretrainingLoss(
          this.model,
          batch,
          options.training,
          options.weights,
        );
        kept = tf.keep(stats);
        return loss;
      }, this.variables);
      value.dispose();
      const named = new Map<string, tf.Tensor>();
      this.names.forEach((name, i) => {
        const grad = grads[this.variables[i].name];
        if (grad) named.set(name, grad);
      });
      return { grads: named, stats: kept! };
    } catch (error) {
      kept?.dispose();
      throw error;
    }
  }

  /** Global-norm clipping and one AdamW step; disposes `grads`. */
  apply(
    grads: Map<string, tf.Tensor>,
    maxGradNorm: number,
    learningRate: number,
  ): void {
    const { grads: clipped, norm } = clipByGlobalNorm(grads, maxGradNorm);
    try {
      this.optimizer.applyGradients(this.params, clipped, learningRate);
    } finally {
      tf.dispose([
        norm,
        ...grads.values(),
        ...(clipped === grads ? [] : [...clipped.values()]),
      ]);
    }
  }

  evaluationStats(chunks: Example[][], padTokenId: number): PretrainingStats {
    return evaluationStats(this.model, chunks, padTokenId);
  }

  async save(
    outputDir: string,
    step: number,
    parts: CheckpointState,
    saveTotalLimit: number,
  ): Promise<void> {
    await saveCheckpoint(outputDir, step, {
      model: this.model as unknown as TrainableModel,
      optimizer: this.optimizer,
      ...parts,
    });
    await rotateCheckpoints(outputDir, saveTotalLimit);
  }

  /** The Hugging Face folder's weights and config (the caller adds tokenizer and summary). */
  async exportTo(dir: string, dtype: PretrainOptions["exportDtype"]) {
    await Deno.mkdir(dir, { recursive: true });
    await this.model.savePretrained(dir, { dtype });
  }

  /** SHA-256 of all parameters in order: equal hashes mean bit-identical weights. */
  async parameterHash(): Promise<string> {
    const flat = tf.tidy(() =>
      tf.concat(this.variables.map((v) => tf.reshape(v, [-1])))
    );
    const data = Float32Array.from(await flat.data());
    flat.dispose();
    const digest = await crypto.subtle.digest("SHA-256", data);
    return Array.from(
      new Uint8Array(digest),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}

/**
 * What the training loop asks of whoever holds the model: this thread (`--workers 1`,
 * `localReplicas`), or N Workers (`WorkerReplicas` in lib/pretrain/replicas.ts).
 */
export interface PretrainingReplicas {
  readonly backend: string;
  readonly parameters: number;
  /** One optimizer step on a batch; resolves with the batch's summed stats. */
  step(
    chunk: Example[],
    step: number,
    learningRate: number,
  ): Promise<PretrainingStats>;
  /** Summed stats of `examples` in batches of `--batch-size`. */
  evaluate(examples: Example[]): Promise<PretrainingStats>;
  save(step: number, parts: CheckpointState): Promise<void>;
  exportTo(dir: string): Promise<void>;
  /** tfjs tensors alive (one replica): a growing count in the log means a leak. */
  tensors(): number;
  /** Milliseconds per step spent on each part of a data-parallel step, for the log. */
  timings?(): Record<string, number>;
  close(): Promise<void>;
}

/** One replica, trained in this thread. */
export async function localReplicas(
  options: PretrainOptions,
  tokenizer: Vocabulary,
  source: ReplicaSource,
): Promise<PretrainingReplicas> {
  const backend = await initBackend(options.backend);
  const replica = await PretrainingReplica.create(tokenizer, options, source);
  const padTokenId = tokenizer.padTokenId;
  return {
    backend: backend.name,
    parameters: replica.model.countParameters().total,
    async step(chunk, step, learningRate) {
      const batch = collate(chunk, { padTokenId });
      try {
        const { grads, stats } = replica.gradients(batch, {
          training: !options.noDropout,
          dropoutSeed: dropoutSeed(options.seed, step),
        });
        try {
          replica.apply(grads, options.maxGradNorm, learningRate);
          return statsFrom(await stats.data(), chunk.length);
        } finally {
          stats.dispose();
        }
      } finally {
        disposeBatch(batch);
      }
    },
    evaluate: (examples) =>
      Promise.resolve(
        replica.evaluationStats(
          chunksOf(examples, options.batchSize),
          padTokenId,
        ),
      ),
    save: (step, parts) =>
      replica.save(options.outputDir, step, parts, options.saveTotalLimit),
    exportTo: (dir) => replica.exportTo(dir, options.exportDtype),
    tensors: () => tf.memory().numTensors,
    close() {
      replica.dispose();
      return Promise.resolve();
    },
  };
}
