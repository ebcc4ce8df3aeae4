import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/runtime/backend.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import { collate, disposeBatch, type Example } from "../lib/data/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  epochExamples,
  maskedExamples,
  pretrain,
  PretrainingReplica,
  shardsOf,
  shardWeights,
  WorkerReplicas,
} from "../lib/pretrain/mod.ts";
import { parsePretrainFlags } from "../tools/pretraining/pretrain.ts";
import { formatDocuments } from "../tools/pretraining/build_corpus.ts";
import {
  COURSE_TOKENIZER_DIR,
  SHORT_DOCUMENTS,
  TINY_PRETRAIN,
} from "./pretrain_fixtures.ts";

await initBackend();
const tokenizer = await AutoTokenizer.fromPretrained(COURSE_TOKENIZER_DIR, {
  quiet: true,
});

/** A masked batch of 8 pairs, as the training loop builds them. */
function batchOfEight(): Example[] {
  const many = Array.from({ length: 4 }, () => SHORT_DOCUMENTS).flat();
  const pairs = epochExamples(many, tokenizer, {
    seed: 3,
    epoch: 0,
    maxLength: 64,
    batchSize: 8,
  }).slice(0, 8);
  return maskedExamples(pairs, tokenizer, 3);
}

Deno.test("--workers is read as a number, defaults to 1, and must be 1 to the batch size", async () => {
  assert.equal(parsePretrainFlags([]).workers, 1);
  assert.equal(parsePretrainFlags(["--workers", "2"]).workers, 2);
  for (const workers of [0, 1.5, NaN, 9]) {
    await assert.rejects(
      WorkerReplicas.start({ ...TINY_PRETRAIN, workers }, tokenizer),
      /PRETRAIN_WORKERS|is not a whole number/,
    );
  }
});

Deno.test("shards are contiguous, differ by one at most, and weigh masked tokens and pairs", () => {
  assert.deepEqual(shardsOf([1, 2, 3, 4, 5], 2), [[1, 2, 3], [4, 5]]);
  assert.deepEqual(shardsOf([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2, 3], [4, 5], [
    6,
    7,
  ]]);
  const shards = shardsOf(batchOfEight(), 2);
  const weights = shardWeights(shards);
  const sum = (key: "mlm" | "nsp") => weights.reduce((s, w) => s + w[key], 0);
  assert.ok(
    Math.abs(sum("mlm") - 1) < 1e-12 && Math.abs(sum("nsp") - 1) < 1e-12,
  );
  assert.deepEqual(weights.map((w) => w.nsp), [0.5, 0.5]);
});

Deno.test({
  name:
    "2 workers: summed shard gradients equal the full-batch gradient, and the replicas stay bit-identical",
  sanitizeResources: false,
  async fn() {
    const options = { ...TINY_PRETRAIN, workers: 2 };
    const chunk = batchOfEight();
    const weights = shardWeights(shardsOf(chunk, 2));
    // Unequal shares of masked tokens: a plain mean of the shard gradients would be wrong here.
    assert.notEqual(weights[0].mlm, 0.5, "pick a batch with unequal shards");

    const pool = await WorkerReplicas.start(options, tokenizer);
    const local = await PretrainingReplica.create(tokenizer, options);
    try {
      // The reference: one replica, the whole batch, as `--workers 1` computes it (no dropout, so
      // both see the same network).
      const batch = collate(chunk, { padTokenId: tokenizer.padTokenId });
      const { grads, stats } = local.gradients(batch, {
        training: false,
        dropoutSeed: 0,
      });
      const flat = tf.tidy(() =>
        tf.concat(local.names.map((name) => tf.reshape(grads.get(name)!, [-1])))
      );
      const expected = flat.dataSync();
      const [mlmLossSum, , mlmCount, nspLoss] = stats.dataSync();
      tf.dispose([flat, stats, ...grads.values()]);
      disposeBatch(batch);

      const { gradient, stats: summed } = await pool.gradients(chunk, 0, false);
      assert.equal(gradient.length, expected.length);
      let maxDiff = 0, maxAbs = 0;
      expected.forEach((g, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(g - gradient[i]));
        maxAbs = Math.max(maxAbs, Math.abs(g));
      });
      assert.ok(
        maxDiff <= 1e-5 * maxAbs,
        `gradients differ by ${maxDiff} (largest ${maxAbs})`,
      );
      assert.equal(summed.mlmCount, mlmCount);
      const loss = mlmLossSum / mlmCount + nspLoss;
      assert.ok(
        Math.abs(summed.loss - loss) < 1e-5,
        `loss ${summed.loss} vs ${loss}`,
      );

      // Three training steps (dropout on, a different mask per shard): the replicas stay equal.
      const [before] = await pool.parameterHashes();
      const tensors: number[] = [];
      for (let step = 0; step < 3; step++) {
        const stepStats = await pool.step(chunk, step, 3e-3);
        assert.ok(Number.isFinite(stepStats.loss));
        tensors.push(pool.tensors());
      }
      const after = await pool.parameterHashes();
      assert.equal(after[0], after[1], "replicas diverged");
      assert.notEqual(after[0], before, "the steps changed no weight");
      // Counted before each step's update; AdamW's moments exist from the second step on.
      assert.equal(tensors[1], tensors[2], `tensor count grows: ${tensors}`);
    } finally {
      local.dispose();
      await pool.close();
    }
  },
});

Deno.test({
  name:
    "a checkpoint written with 2 workers resumes with 1 worker: same weights, same held-out loss",
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pretrain-parallel-" });
    try {
      const documents = Array.from({ length: 6 }, () => SHORT_DOCUMENTS).flat()
        .map((sentences) => ({ source: "test", sentences }));
      await Deno.writeTextFile(
        join(root, "pretrain.txt"),
        formatDocuments(documents),
      );
      await Deno.writeTextFile(
        join(root, "heldout.txt"),
        formatDocuments(documents.slice(0, 12)),
      );
      const common = {
        ...TINY_PRETRAIN,
        corpusDir: root,
        outputDir: join(root, "run"),
        modelDir: join(root, "model"),
        maxSteps: 4,
      };
      const lines: string[] = [];
      const two = await pretrain({
        ...common,
        workers: 2,
        stopAtStep: 2,
        quiet: false,
      }, {
        log: (line) => lines.push(line),
      });
      assert.equal(two.global_step, 2);
      // On native, where one process already uses every core, the run says workers are slower.
      const backend = lines.find((line) => line.startsWith("backend "));
      assert.ok(backend, lines.join("\n"));
      assert.equal(
        lines.some((line) => line.includes("--workers 1이 더 빠릅니다")),
        backend.startsWith("backend tensorflow"),
        lines.join("\n"),
      );
      const logged = two.log_history.find((r) => r.mlm_loss !== undefined)!;
      assert.ok(logged.worker_compute_ms > 0, JSON.stringify(logged));

      // Resumed by one worker at the same step: it evaluates the same weights (the 2-worker
      // held-out number was computed with the batches dealt to both workers).
      const one = await pretrain({ ...common, workers: 1, stopAtStep: 2 });
      assert.equal(one.global_step, 2);
      for (const [key, value] of Object.entries(two.heldout)) {
        const other = one.heldout[key as keyof typeof one.heldout];
        assert.ok(
          Math.abs(value - other) < 1e-5,
          `${key} ${value} vs ${other}`,
        );
      }
      const finished = await pretrain({ ...common, workers: 1 });
      assert.equal(finished.global_step, 4);
      assert.ok(finished.finished);
      assert.ok(
        finished.log_history.some((r) => r.worker_compute_ms !== undefined),
        "the log history of the 2-worker part is kept",
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "an error inside a worker reaches the caller with its worker and cause",
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pretrain-parallel-" });
    try {
      const error = await WorkerReplicas.start(
        { ...TINY_PRETRAIN, workers: 2 },
        tokenizer,
        { initFrom: join(root, "no-such-model") },
      ).then(() => undefined, (e) => e);
      assert.ok(error instanceof CourseError, String(error));
      assert.match(error.message, /pretraining worker [01] \(init\)/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
