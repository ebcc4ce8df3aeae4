/**
 * Synchronous data parallelism for pretraining (`tools/pretraining/pretrain.ts --workers N`). tfjs's wasm
 * backend runs on one CPU thread under Deno, so one process trains on one core; N Workers train on N.
 *
 * Every Worker (lib/pretrain/worker.ts, served by lib/pretrain/serve.ts) holds an identical
 * replica: the same model (same seed, or the same checkpoint / `--init-from` weights) and the same
 * AdamW state. For each step this thread (which keeps the data pipeline, the schedule, logging and
 * checkpoint timing) cuts the masked batch into N contiguous shards, one per Worker. A Worker
 * computes its shard's loss and gradients and copies them, flattened in one fixed parameter order,
 * straight from the backend's memory into its own SharedArrayBuffer slot (the one read-back a step
 * needs; no message carries them, and no buffer is allocated per step); this thread adds the slots
 * up, in rank order, into a shared sum every Worker reads, and every Worker clips and applies that
 * sum with the same learning rate. Same inputs, same single-threaded kernels: the replicas stay
 * bit-identical, and any one of them can write the checkpoint (worker 0 does, in the usual format,
 * so a run can resume with another `--workers`). The protocol's messages (lib/pretrain/protocol.ts)
 * are small: examples, learning rates, stats, timings.
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
import type { Example } from "../data/mod.ts";
import { CourseError } from "../runtime/mod.ts";
import { chunksOf } from "./data.ts";
import {
  addStats,
  EMPTY_STATS,
  type LossWeights,
  type PretrainingStats,
  STATS_LENGTH,
} from "./loss.ts";
import { dropoutSeed, type PretrainOptions } from "./options.ts";
import type { GradientsReply, InitReply, Reply, Request } from "./protocol.ts";
import type {
  CheckpointState,
  PretrainingReplicas,
  ReplicaSource,
  Vocabulary,
} from "./replica.ts";

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
export class WorkerReplicas implements PretrainingReplicas {
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
        new Worker(new URL("./worker.ts", import.meta.url), {
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
  ): Promise<
    { gradient: Float32Array<ArrayBufferLike>; stats: PretrainingStats }
  > {
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
  ): Promise<PretrainingStats> {
    const { stats } = await this.gradients(
      chunk,
      step,
      !this.options.noDropout,
    );
    this.applyGradients(learningRate);
    return stats;
  }

  /** Batches dealt round-robin (the held-out pairs are length-sorted, so the work is even); stats summed. */
  async evaluate(examples: Example[]): Promise<PretrainingStats> {
    const chunks = chunksOf(examples, this.options.batchSize);
    const parts = await Promise.all(
      this.workers.map((_, rank) =>
        this.request<PretrainingStats>(rank, {
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
