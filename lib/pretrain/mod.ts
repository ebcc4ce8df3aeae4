/**
 * lib/pretrain: pretraining BERT from scratch (masked LM + next sentence prediction), the recipe
 * of the course's Korean mini-BERT (`tools/pretraining/pretrain.ts` is its command line).
 *
 * - options.ts: `PretrainOptions`, `PRETRAIN_DEFAULTS`, the sequence length and seeds of a step;
 * - data.ts: corpus documents -> NSP pairs per epoch (length-grouped) -> masked examples per step;
 * - loss.ts: the MLM + NSP loss on masked positions only (`MlmHead.applyAt`) and its statistics;
 * - replica.ts: the model and its AdamW state (`PretrainingReplica`), one in this thread;
 * - replicas.ts, protocol.ts, serve.ts, worker.ts: N replicas in Workers (`workers: N`);
 * - loop.ts: `pretrain(options)`, the resumable training loop and the exported model folder.
 *
 * Sits beside lib/train: it imports runtime, text, data, models and train (through their mod.ts);
 * nothing in lib imports it except lib/mod.ts.
 */
export {
  dropoutSeed,
  PRETRAIN_DEFAULTS,
  type PretrainOptions,
  sequenceLengthAt,
} from "./options.ts";
export {
  epochExamples,
  heldoutExamples,
  lengthGroupedOrder,
  maskedExamples,
  parseDocuments,
  readDocuments,
} from "./data.ts";
export {
  evaluatePretraining,
  pretrainingLoss,
  type PretrainingStats,
} from "./loss.ts";
export {
  buildPretrainingModel,
  PretrainingReplica,
  type PretrainingReplicas,
  type ReplicaSource,
} from "./replica.ts";
export { shardsOf, shardWeights, WorkerReplicas } from "./replicas.ts";
export { pretrain, type PretrainHooks } from "./loop.ts";
