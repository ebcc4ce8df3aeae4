/**
 * The Worker side of data-parallel pretraining: `serveReplica` holds one `PretrainingReplica` and
 * answers the training thread's requests (lib/pretrain/protocol.ts). lib/pretrain/worker.ts starts
 * it; lib/pretrain/replicas.ts describes the protocol and why the replicas stay identical.
 */
import * as tf from "@tensorflow/tfjs-core";
import { collate, disposeBatch } from "../data/mod.ts";
import { CourseError, initBackend } from "../runtime/mod.ts";
import { statsFrom } from "./loss.ts";
import type { PretrainOptions } from "./options.ts";
import type {
  GradientsReply,
  InitReply,
  RemoteError,
  Request,
  WorkerScope,
} from "./protocol.ts";
import { PretrainingReplica } from "./replica.ts";

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

  let replica: PretrainingReplica | undefined;
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

  function ready(): PretrainingReplica {
    if (!replica) {
      throw new CourseError(
        "PRETRAIN_WORKER",
        "the worker got a request before init",
        "lib/pretrain/replicas.ts의 WorkerReplicas.start()로 워커를 시작하세요.",
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
        replica = await PretrainingReplica.create(
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
