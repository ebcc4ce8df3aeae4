/**
 * The messages between the training thread (`WorkerReplicas`, lib/pretrain/replicas.ts) and a
 * pretraining Worker (`serveReplica`, lib/pretrain/serve.ts). They are small: examples, learning
 * rates, stats, timings; gradients travel through SharedArrayBuffers, never in a message.
 */
import type { Example } from "../data/mod.ts";
import type { LossWeights, PretrainingStats } from "./loss.ts";
import type { PretrainOptions } from "./options.ts";
import type { CheckpointState, ReplicaSource, Vocabulary } from "./replica.ts";

/** What this thread asks a Worker; the Worker answers each with a `Reply` of the same id. */
export type Request =
  | {
    type: "init";
    rank: number;
    options: PretrainOptions;
    vocabulary: Vocabulary;
    source: ReplicaSource;
  }
  | { type: "attach"; slot: SharedArrayBuffer; sum: SharedArrayBuffer }
  | {
    type: "gradients";
    examples: Example[];
    dropoutSeed: number;
    training: boolean;
    weights: LossWeights;
  }
  | { type: "apply"; learningRate: number; skip: number[] }
  | { type: "evaluate"; chunks: Example[][] }
  | { type: "save"; step: number; parts: CheckpointState }
  | { type: "export"; dir: string }
  | { type: "hash" }
  | { type: "close" };

export type RemoteError = {
  name: string;
  message: string;
  code?: string;
  hint?: string;
  stack?: string;
};

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: RemoteError };

export type InitReply = {
  backend: string;
  parameters: number;
  /** Parameter names and sizes in gradient order (every replica must agree). */
  layout: { name: string; size: number }[];
};

/** The shard's weighted gradients are in the Worker's slot, flattened in layout order (zeros for `missing`). */
export type GradientsReply = {
  /** Layout indexes of parameters that got no gradient. */
  missing: number[];
  stats: PretrainingStats;
  tensors: number;
  computeMs: number;
  readbackMs: number;
};

/** The part of a Worker's global scope the replica server uses. */
export type WorkerScope = {
  postMessage(message: Reply): void;
  onmessage: ((event: MessageEvent<Request & { id: number }>) => void) | null;
  close(): void;
};
