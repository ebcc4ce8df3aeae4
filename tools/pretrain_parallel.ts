/**
 * Synchronous data parallelism for tools/pretrain.ts (`--workers N`). tfjs's wasm backend runs on
 * one CPU thread under Deno, so one process trains on one core; N Workers train on N.
 *
 * Every Worker (tools/pretrain_worker.ts) holds an identical replica: the same model (same seed, or
 * the same checkpoint / `--init-from` weights) and the same AdamW state. For each step this thread
 * (which keeps the data pipeline, the schedule, logging and checkpoint timing) cuts the masked batch
 * into N contiguous shards, one per Worker. A Worker computes its shard's loss and gradients and
 * copies them, flattened in one fixed parameter order, straight from the backend's memory into its
 * own SharedArrayBuffer slot (the one read-back a step needs; no message carries them, and no
 * buffer is allocated per step); this thread adds the slots up, in rank order, into a shared sum
 * every Worker reads, and every Worker clips and applies that sum with the same learning rate.
 * Same inputs, same single-threaded kernels: the replicas stay bit-identical, and any one of them
 * can write the checkpoint (worker 0 does, in the usual format, so a run can resume with another
 * `--workers`). The protocol's messages are small: examples, learning rates, stats, timings.
 *
 * Exactness: the batch loss is mean MLM loss over the batch's masked tokens + mean NSP loss over
 * its pairs. A shard's loss is scaled by its share of each: (m_r / M) * mlm_r + (n_r / N) * nsp_r.
 * The plain sum of the shard gradients is then the full-batch gradient (up to float rounding), even
 * when shards hold different numbers of masked tokens; a plain mean of shard gradients would weight
 * a masked token of a shard with few masked tokens more than one of a shard with many.
 *
 * Dropout masks are drawn per shard (worker 0 with the seed `--workers 1` uses, the others with
 * their own), so a 2-worker run is deterministic but not the same run as a 1-worker one.
 */
import * as tf from "@tensorflow/tfjs-core";
import { collate, disposeBatch, type Example } from "../lib/data/mod.ts";
import { initBackend } from "../lib/runtime/backend.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  addStats,
  type BatchStats,
  type CheckpointState,
  chunksOf,
  dropoutSeed,
  EMPTY_STATS,
  type LossWeights,
  type PretrainOptions,
  Replica,
  type Replicas,
  type ReplicaSource,
  statsFrom,
  type Vocabulary,
} from "./pretrain.ts";

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
  stats: BatchStats;
  tensors: number;
  computeMs: number;
  readbackMs: number;
};

/** pretrainingLoss's stats: [mlmLossSum, mlmCorrect, mlmCount, nspLoss, nspCorrect]. */
const STATS_LENGTH = 5;

const WORKER_HINT =
  "--workers 1로 같은 명령을 실행하면 오류가 이 프로세스에서 바로 보입니다.";

/** Contiguous shards whose sizes differ by at most one (the batch is length-sorted, so shards are too). */
export function shardsOf<T>(items: T[], count: number): T[][] {
  const base = Math.floor(items.length / count);
  const extra = items.length % count;
  const shards: T[][] = [];
  let start = 0;
  for (let rank = 0; rank < count; rank++) {
    const size = base + (rank < extra ? 1 : 0);
    shards.push(items.slice(start, start + size));
    start += size;
  }
  return shards;
}

/** Per shard: its share of the batch's masked tokens (MLM) and of its pairs (NSP). */
export function shardWeights(shards: Example[][]): LossWeights[] {
  const maskedIn = (shard: Example[]) =>
    shard.reduce(
      (n, e) =>
        n + (e.labels as number[]).filter((label) => label !== -100).length,
      0,
    );
  const masked = shards.map(maskedIn);
  const totalMasked = Math.max(1, masked.reduce((a, b) => a + b, 0));
  const totalPairs = shards.reduce((n, shard) => n + shard.length, 0);
  return shards.map((shard, rank) => ({
    mlm: masked[rank] / totalMasked,
    nsp: shard.length / totalPairs,
  }));
}

type Pending = {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  rank: number;
  type: Request["type"];
};

/** N Workers, each with an identical replica; see the top of this file. */
export class WorkerReplicas implements Replicas {
  backend = "";
  parameters = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure?: Error;
  private closed = false;
  /** Each Worker's weighted shard gradient (written by the Worker during `gradients`). */
  private slots: Float32Array<ArrayBufferLike>[] = [];
  /** The summed gradient of the current step, read by every Worker during `apply`. */
  private sum: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Layout indexes no shard had a gradient for: not updated (as in a single-process step). */
  private skip: number[] = [];
  /** Answers to the last `apply`, awaited (for errors and timings) during the next step. */
  private applying?: Promise<unknown[]>;
  private lastTensors = 0;
  private totals = { steps: 0, compute: 0, readback: 0, reduce: 0, apply: 0 };

  private constructor(
    private readonly workers: Worker[],
    private readonly options: PretrainOptions,
  ) {
    workers.forEach((worker, rank) => {
      worker.onmessage = (event: MessageEvent<Reply>) =>
        this.settle(event.data);
      worker.onerror = (event: ErrorEvent) => {
        // Handled here: without preventDefault an uncaught Worker error ends the whole process.
        event.preventDefault();
        this.fail(
          new CourseError(
            "PRETRAIN_WORKER",
            `pretraining worker ${rank} failed: ${event.message}`,
            WORKER_HINT,
          ),
        );
      };
      worker.onmessageerror = () =>
        this.fail(
          new CourseError(
            "PRETRAIN_WORKER",
            `pretraining worker ${rank} sent a message that could not be read`,
            WORKER_HINT,
          ),
        );
    });
  }

  /** Starts `options.workers` Workers and waits until every replica is built and loaded. */
  static async start(
    options: PretrainOptions,
    vocabulary: Vocabulary,
    source: ReplicaSource = {},
  ): Promise<WorkerReplicas> {
    if (
      !Number.isInteger(options.workers) || options.workers < 1 ||
      options.workers > options.batchSize
    ) {
      throw new CourseError(
        "PRETRAIN_WORKERS",
        `--workers ${options.workers} is not a whole number from 1 to the batch size (${options.batchSize})`,
        "CPU 코어 수 이하의 정수를 주세요 (예: --workers 2).",
      );
    }
    const workers = Array.from(
      { length: options.workers },
      (_, rank) =>
        new Worker(new URL("./pretrain_worker.ts", import.meta.url), {
          type: "module",
          name: `pretrain-worker-${rank}`,
        }),
    );
    const pool = new WorkerReplicas(workers, options);
    try {
      const ready = await Promise.all(
        workers.map((_, rank) =>
          pool.request<InitReply>(rank, {
            type: "init",
            rank,
            options,
            vocabulary: {
              vocabSize: vocabulary.vocabSize,
              padTokenId: vocabulary.padTokenId,
            },
            source,
          })
        ),
      );
      const layout = JSON.stringify(ready[0].layout);
      ready.forEach((reply, rank) => {
        if (JSON.stringify(reply.layout) !== layout) {
          throw new CourseError(
            "PRETRAIN_WORKER",
            `worker ${rank} built a model with other parameters than worker 0`,
            WORKER_HINT,
          );
        }
      });
      pool.backend = ready[0].backend;
      pool.parameters = ready[0].parameters;
      const size = ready[0].layout.reduce((n, p) => n + p.size, 0);
      const sum = new SharedArrayBuffer(size * 4);
      // A slot holds a shard's gradient and, after it, the shard's stats.
      const slots = workers.map(() =>
        new SharedArrayBuffer((size + STATS_LENGTH) * 4)
      );
      pool.sum = new Float32Array(sum);
      pool.slots = slots.map((slot) => new Float32Array(slot));
      await Promise.all(
        workers.map((_, rank) =>
          pool.request(rank, { type: "attach", slot: slots[rank], sum })
        ),
      );
      return pool;
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Every shard's loss and gradients, summed into the shared buffer (not applied yet). Returns a
   * view of that buffer (valid until the next call) and the batch's summed stats.
   */
  async gradients(
    chunk: Example[],
    step: number,
    training: boolean,
  ): Promise<{ gradient: Float32Array<ArrayBufferLike>; stats: BatchStats }> {
    const shards = shardsOf(chunk, this.size);
    const weights = shardWeights(shards);
    // Posted before the previous apply is confirmed: each Worker handles its messages in order.
    const replies = Promise.all(
      shards.map((examples, rank) =>
        this.request<GradientsReply>(rank, {
          type: "gradients",
          examples,
          dropoutSeed: dropoutSeed(this.options.seed, step, rank),
          training,
          weights: weights[rank],
        })
      ),
    );
    replies.catch(() => {}); // awaited below, unless the previous apply failed first
    if (this.applying) {
      const applied = (await this.applying) as { applyMs: number }[];
      this.applying = undefined;
      this.totals.apply += Math.max(...applied.map((a) => a.applyMs));
    }
    const results = await replies;
    const started = performance.now();
    // No Worker touches the slots or the sum now: each is idle until its next request.
    const sum = this.sum;
    sum.set(this.slots[0].subarray(0, sum.length));
    for (const slot of this.slots.slice(1)) {
      for (let i = 0; i < sum.length; i++) sum[i] += slot[i];
    }
    this.totals.reduce += performance.now() - started;
    this.totals.compute += Math.max(...results.map((r) => r.computeMs));
    this.totals.readback += Math.max(...results.map((r) => r.readbackMs));
    this.totals.steps += 1;
    this.skip = results[0].missing.filter((index) =>
      results.every((r) => r.missing.includes(index))
    );
    this.lastTensors = results[0].tensors;
    const stats = results.reduce((total, r) => addStats(total, r.stats), {
      ...EMPTY_STATS,
    });
    // The batch's loss (each shard's `loss` is its own mean, which do not add up).
    stats.loss = stats.mlmLoss / Math.max(1, stats.mlmCount) +
      stats.nspLoss / Math.max(1, stats.nspCount);
    return { gradient: sum, stats };
  }

  /** Every Worker clips and applies the summed gradient; confirmed during the next step. */
  applyGradients(learningRate: number): void {
    const applying = Promise.all(
      this.workers.map((_, rank) =>
        this.request(rank, { type: "apply", learningRate, skip: this.skip })
      ),
    );
    applying.catch(() => {}); // awaited (and rethrown) by the next gradients() or close()
    this.applying = applying;
  }

  async step(
    chunk: Example[],
    step: number,
    learningRate: number,
  ): Promise<BatchStats> {
    const { stats } = await this.gradients(
      chunk,
      step,
      !this.options.noDropout,
    );
    this.applyGradients(learningRate);
    return stats;
  }

  /** Batches dealt round-robin (the held-out pairs are length-sorted, so the work is even); stats summed. */
  async evaluate(examples: Example[]): Promise<BatchStats> {
    const chunks = chunksOf(examples, this.options.batchSize);
    const parts = await Promise.all(
      this.workers.map((_, rank) =>
        this.request<BatchStats>(rank, {
          type: "evaluate",
          chunks: chunks.filter((_, i) => i % this.size === rank),
        })
      ),
    );
    return parts.reduce(addStats, { ...EMPTY_STATS });
  }

  async save(step: number, parts: CheckpointState): Promise<void> {
    await this.request(0, { type: "save", step, parts });
  }

  async exportTo(dir: string): Promise<void> {
    await this.request(0, { type: "export", dir });
  }

  /** SHA-256 of each replica's parameters: all equal while the replicas are in sync. */
  parameterHashes(): Promise<string[]> {
    return Promise.all(
      this.workers.map((_, rank) =>
        this.request<string>(rank, { type: "hash" })
      ),
    );
  }

  tensors(): number {
    return this.lastTensors;
  }

  /** Milliseconds per step since the last call, slowest Worker of each step. */
  timings(): Record<string, number> {
    const steps = Math.max(1, this.totals.steps);
    const perStep = (ms: number) => Math.round(ms / steps * 10) / 10;
    const result = {
      worker_compute_ms: perStep(this.totals.compute),
      worker_readback_ms: perStep(this.totals.readback),
      worker_apply_ms: perStep(this.totals.apply),
      reduce_ms: perStep(this.totals.reduce),
    };
    this.totals = { steps: 0, compute: 0, readback: 0, reduce: 0, apply: 0 };
    return result;
  }

  /**
   * Asks every Worker to finish and close itself, then terminates them. Deno can crash (SIGSEGV)
   * when the process exits right after terminate() of a Worker still tearing down its wasm module,
   * so a Worker is told to close (it answers once its queue is done) and given a moment first.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 10_000);
    });
    const closing = Promise.allSettled(
      this.workers.map((_, rank) =>
        this.request(rank, { type: "close" }, { evenAfterFailure: true })
      ),
    );
    await Promise.race([closing, timeout]);
    clearTimeout(timer);
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const worker of this.workers) worker.terminate();
    this.fail(new CourseError("PRETRAIN_WORKER", "workers closed", ""));
  }

  private request<T = unknown>(
    rank: number,
    message: Request,
    options: { evenAfterFailure?: boolean } = {},
  ): Promise<T> {
    if (this.failure && !options.evenAfterFailure) {
      return Promise.reject(this.failure);
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        rank,
        type: message.type,
      });
      this.workers[rank].postMessage({ id, ...message });
    });
  }

  private settle(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (reply.ok) {
      pending.resolve(reply.value);
      return;
    }
    const remote = reply.error;
    const cause = Object.assign(new Error(remote.message), {
      name: remote.name,
      stack: remote.stack,
    });
    const message = remote.hint
      ? remote.message.replace(`\n→ ${remote.hint}`, "")
      : remote.message;
    pending.reject(
      new CourseError(
        remote.code ?? "PRETRAIN_WORKER",
        `pretraining worker ${pending.rank} (${pending.type}): ${message}`,
        remote.hint ?? WORKER_HINT,
        { cause },
      ),
    );
  }

  /** Rejects everything outstanding; later requests fail at once with the same error. */
  private fail(error: Error): void {
    this.failure ??= error;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(this.failure);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side (tools/pretrain_worker.ts starts it).

/** The part of a Worker's global scope the replica server uses. */
export type WorkerScope = {
  postMessage(message: Reply): void;
  onmessage: ((event: MessageEvent<Request & { id: number }>) => void) | null;
  close(): void;
};

/**
 * Serves one replica in a Worker: answers every request, in arrival order, with a reply of the
 * same id, and reports its own errors in the reply (with their code and hint) instead of throwing
 * them into the void. `early` are messages that arrived before this module was loaded.
 */
export function serveReplica(
  scope: WorkerScope,
  early: MessageEvent<Request & { id: number }>[] = [],
): void {
  type Part = { name: string; shape: number[]; size: number; offset: number };

  let replica: Replica | undefined;
  let options: PretrainOptions;
  let padTokenId = 0;
  let layout: Part[] = [];
  let slot: Float32Array<ArrayBufferLike> = new Float32Array(0);
  let sum: Float32Array<ArrayBufferLike> = new Float32Array(0);

  /** One request at a time, even when a handler awaits: the order of messages is the order of work. */
  let queue = Promise.resolve();

  async function answer(request: Request & { id: number }): Promise<void> {
    try {
      const value = await handle(request);
      scope.postMessage({ id: request.id, ok: true, value });
    } catch (error) {
      scope.postMessage({ id: request.id, ok: false, error: describe(error) });
    }
    if (request.type === "close") {
      replica?.dispose();
      replica = undefined;
      scope.close();
    }
  }

  function ready(): Replica {
    if (!replica) {
      throw new CourseError(
        "PRETRAIN_WORKER",
        "the worker got a request before init",
        "tools/pretrain_parallel.ts의 WorkerReplicas.start()로 워커를 시작하세요.",
      );
    }
    return replica;
  }

  /** The reply's value (undefined for requests that only need to be confirmed). */
  async function handle(request: Request): Promise<unknown> {
    switch (request.type) {
      case "init": {
        options = request.options;
        padTokenId = request.vocabulary.padTokenId;
        const backend = await initBackend(options.backend);
        replica = await Replica.create(
          request.vocabulary,
          options,
          request.source,
        );
        let offset = 0;
        layout = replica.names.map((name) => {
          const { shape, size } = replica!.params.get(name)!;
          const part = { name, shape, size, offset };
          offset += size;
          return part;
        });
        const value: InitReply = {
          backend: backend.name,
          parameters: replica.model.countParameters().total,
          layout: layout.map(({ name, size }) => ({ name, size })),
        };
        return value;
      }
      case "attach":
        slot = new Float32Array(request.slot);
        sum = new Float32Array(request.sum);
        return undefined;
      case "gradients":
        return gradients(request);
      case "apply": {
        const started = performance.now();
        const skip = new Set(request.skip);
        const grads = new Map<string, tf.Tensor>();
        layout.forEach((part, index) => {
          if (skip.has(index)) return;
          // Copied into the backend's memory here: the sum is rewritten next step.
          grads.set(
            part.name,
            tf.tensor(
              sum.subarray(part.offset, part.offset + part.size),
              part.shape,
              "float32",
            ),
          );
        });
        ready().apply(grads, options.maxGradNorm, request.learningRate);
        return { applyMs: performance.now() - started };
      }
      case "evaluate":
        return ready().evaluationStats(request.chunks, padTokenId);
      case "save":
        await ready().save(
          options.outputDir,
          request.step,
          request.parts,
          options.saveTotalLimit,
        );
        return undefined;
      case "export":
        await ready().exportTo(request.dir, options.exportDtype);
        return undefined;
      case "hash":
        return await ready().parameterHash();
      case "close":
        return undefined;
    }
  }

  /**
   * The shard's weighted gradients, flattened in layout order with its 5 stats appended, copied
   * into this Worker's slot: the step's one read-back.
   */
  async function gradients(
    request: Extract<Request, { type: "gradients" }>,
  ): Promise<GradientsReply> {
    const started = performance.now();
    const batch = collate(request.examples, { padTokenId });
    try {
      const { grads, stats } = ready().gradients(batch, {
        training: request.training,
        dropoutSeed: request.dropoutSeed,
        weights: request.weights,
      });
      // The wasm backend computes synchronously: the time so far is the forward and backward pass.
      const computed = performance.now();
      const missing: number[] = [];
      const flat = tf.tidy(() =>
        tf.concat([
          ...layout.map((part, index) => {
            const grad = grads.get(part.name);
            if (grad) return tf.reshape(grad, [-1]);
            missing.push(index);
            return tf.zeros([part.size]);
          }),
          stats,
        ])
      );
      tf.dispose([...grads.values(), stats]);
      try {
        await copyInto(slot, flat);
      } finally {
        flat.dispose();
      }
      return {
        missing,
        stats: statsFrom(slot.subarray(sum.length), request.examples.length),
        tensors: tf.memory().numTensors,
        computeMs: computed - started,
        readbackMs: performance.now() - computed,
      };
    } finally {
      disposeBatch(batch);
    }
  }

  /**
   * Copies a float32 tensor into `target`. With the wasm backend straight from its memory (one
   * copy, nothing allocated: a fresh 25 MB buffer per step keeps the garbage collector busy).
   */
  async function copyInto(
    target: Float32Array<ArrayBufferLike>,
    tensor: tf.Tensor,
  ): Promise<void> {
    const backend = tf.backend() as {
      typedArrayFromHeap?: (tensor: tf.Tensor) => Float32Array;
    };
    if (
      tf.getBackend() === "wasm" &&
      typeof backend.typedArrayFromHeap === "function"
    ) {
      target.set(backend.typedArrayFromHeap(tensor));
    } else {
      target.set((await tensor.data()) as Float32Array);
    }
  }

  function describe(error: unknown): RemoteError {
    if (error instanceof CourseError) {
      return {
        name: error.name,
        message: error.message,
        code: error.code,
        hint: error.hint,
        stack: error.stack,
      };
    }
    if (error instanceof Error) {
      return { name: error.name, message: error.message, stack: error.stack };
    }
    return { name: "Error", message: String(error) };
  }
  for (const event of early) queue = queue.then(() => answer(event.data));
  scope.onmessage = (event) => {
    const request = event.data;
    queue = queue.then(() => answer(request));
  };
}
