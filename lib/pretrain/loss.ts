/**
 * The pretraining objective (MLM + NSP) of one batch, and the statistics a run logs and evaluates:
 * sums per batch, added up over batches (and over the shards of data-parallel workers).
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Batch,
  collate,
  disposeBatch,
  type Example,
} from "../data/mod.ts";
import { type BertForPreTraining, crossEntropy } from "../models/mod.ts";
import { chunksOf } from "./data.ts";

/** Sums over a batch; accuracies are ratios of these, so they average correctly over many batches. */
export type PretrainingStats = {
  loss: number;
  mlmLoss: number;
  nspLoss: number;
  mlmCorrect: number;
  mlmCount: number;
  nspCorrect: number;
  nspCount: number;
};

/** Scales of the MLM and NSP terms of a loss: a worker's share of its batch (lib/pretrain/replicas.ts). */
export type LossWeights = { mlm: number; nsp: number };

/** Length of pretrainingLoss's stats: [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect]. */
export const STATS_LENGTH = 5;

/**
 * MLM + NSP loss with the MLM head applied to masked positions only (`MlmHead.applyAt`: the same
 * loss and gradients as Hugging Face's `BertForPreTraining`, which scores every position, with
 * far less work). Returns the loss (a scalar for gradients) and kept per-batch statistics
 * [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect]. With `weights` the loss is
 * `weights.mlm * mlm + weights.nsp * nsp` (the statistics are unscaled).
 */
export function pretrainingLoss(
  model: BertForPreTraining,
  batch: Batch,
  training: boolean,
  weights?: LossWeights,
): { loss: tf.Scalar; stats: tf.Tensor1D } {
  // Masked positions are read from the labels on the host: they are inputs, not part of the graph.
  const labelValues = batch.labels!.dataSync();
  const positions: number[] = [];
  const targetIds: number[] = [];
  labelValues.forEach((label, position) => {
    if (label !== -100) (positions.push(position), targetIds.push(label));
  });
  if (positions.length === 0) (positions.push(0), targetIds.push(-100));
  return tf.tidy(() => {
    const encoded = model.bert.forward(batch, { training });
    const logits = model.mlm.applyAt(
      encoded.last_hidden_state,
      tf.tensor1d(positions, "int32"),
      model.bert.wordEmbeddings,
    );
    const targets = tf.tensor1d(targetIds, "int32");
    const mlmLoss = crossEntropy(logits, targets);
    const nspLogits = model.seqRelationship.apply(encoded.pooler_output);
    const nspLabels = batch.next_sentence_label!;
    const nspLoss = crossEntropy(nspLogits, nspLabels);
    const valid = tf.cast(tf.notEqual(targets, -100), "float32");
    const mlmCorrect = tf.sum(
      tf.mul(
        tf.cast(tf.equal(tf.argMax(logits, -1), targets), "float32"),
        valid,
      ),
    );
    const nspCorrect = tf.sum(
      tf.cast(
        tf.equal(tf.argMax(nspLogits, -1), tf.cast(nspLabels, "int32")),
        "float32",
      ),
    );
    const stats = tf.stack([
      tf.mul(mlmLoss, tf.sum(valid)),
      mlmCorrect,
      tf.sum(valid),
      nspLoss,
      nspCorrect,
    ]) as tf.Tensor1D;
    const loss = weights
      ? tf.add(tf.mul(mlmLoss, weights.mlm), tf.mul(nspLoss, weights.nsp))
      : tf.add(mlmLoss, nspLoss);
    return { loss: loss as tf.Scalar, stats };
  });
}

/** A batch's stats from pretrainingLoss's `stats` values. */
export function statsFrom(
  values: Float32Array | Int32Array | Uint8Array,
  batchSize: number,
): PretrainingStats {
  const [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect] = Array.from(
    values,
  );
  return {
    loss: mlmLossSum / Math.max(1, mlmCount) + nspLoss,
    mlmLoss: mlmLossSum,
    nspLoss: nspLoss * batchSize,
    mlmCorrect,
    mlmCount,
    nspCorrect,
    nspCount: batchSize,
  };
}

export function addStats(
  total: PretrainingStats,
  add: PretrainingStats,
): PretrainingStats {
  return {
    loss: total.loss + add.loss,
    mlmLoss: total.mlmLoss + add.mlmLoss,
    nspLoss: total.nspLoss + add.nspLoss,
    mlmCorrect: total.mlmCorrect + add.mlmCorrect,
    mlmCount: total.mlmCount + add.mlmCount,
    nspCorrect: total.nspCorrect + add.nspCorrect,
    nspCount: total.nspCount + add.nspCount,
  };
}

export const EMPTY_STATS: PretrainingStats = {
  loss: 0,
  mlmLoss: 0,
  nspLoss: 0,
  mlmCorrect: 0,
  mlmCount: 0,
  nspCorrect: 0,
  nspCount: 0,
};

/** The numbers a log line and the model card report, from summed stats. */
export function summarize(stats: PretrainingStats) {
  const mlmLoss = stats.mlmLoss / Math.max(1, stats.mlmCount);
  return {
    mlm_loss: mlmLoss,
    mlm_perplexity: Math.exp(mlmLoss),
    mlm_accuracy: stats.mlmCorrect / Math.max(1, stats.mlmCount),
    nsp_loss: stats.nspLoss / Math.max(1, stats.nspCount),
    nsp_accuracy: stats.nspCorrect / Math.max(1, stats.nspCount),
  };
}

/** Summed stats of `chunks`, each one batch, without dropout or update. */
export function evaluationStats(
  model: BertForPreTraining,
  chunks: Example[][],
  padTokenId: number,
): PretrainingStats {
  let total = { ...EMPTY_STATS };
  for (const chunk of chunks) {
    const batch = collate(chunk, { padTokenId });
    try {
      const { loss, stats } = pretrainingLoss(model, batch, false);
      total = addStats(total, statsFrom(stats.dataSync(), chunk.length));
      tf.dispose([loss, stats]);
    } finally {
      disposeBatch(batch);
    }
  }
  return total;
}

/** Held-out MLM/NSP metrics of a model on `examples` (tools/pretraining/eval_course_model.ts). */
export function evaluatePretraining(
  model: BertForPreTraining,
  examples: Example[],
  padTokenId: number,
  batchSize: number,
): ReturnType<typeof summarize> {
  return summarize(
    evaluationStats(model, chunksOf(examples, batchSize), padTokenId),
  );
}
