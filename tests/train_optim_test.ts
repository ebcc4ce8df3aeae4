/** AdamW, clipping and schedules against torch / transformers (tests/fixtures/train_reference.json). */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { shouldDecay } from "../lib/train/adamw.ts";
import { clipByGlobalNorm } from "../lib/train/clipping.ts";
import {
  float32Tensors,
  parseSafetensors,
  serializeSafetensors,
} from "../lib/models/safetensors.ts";
import {
  lrFactor,
  LrSchedule,
  resolveWarmupSteps,
} from "../lib/train/schedules.ts";
import { useCpu } from "./train_toy_model.ts";
import {
  assertTorchFinalWeights,
  runAdamwReference,
  trainReference,
} from "./adamw_reference.ts";

await useCpu();
const reference = trainReference;

Deno.test("AdamW + global-norm clipping match torch.optim.AdamW over 3 steps", async () => {
  const r = reference.adamw;
  const { params, optimizer, normsBeforeClip } = await runAdamwReference();
  normsBeforeClip.forEach((norm, step) =>
    assert.ok(Math.abs(norm - r.grad_norms_before_clip[step]) < 1e-4)
  );
  await assertTorchFinalWeights(params);
  // The state round-trips through optimizer.safetensors bytes.
  const state = await optimizer.stateDict();
  const decoded = parseSafetensors(
    serializeSafetensors(state.tensors, {
      metadata: { steps: JSON.stringify(state.steps) },
    }),
  );
  const sq = float32Tensors(decoded).get("dense.weight.exp_avg_sq")!;
  (r.exp_avg_sq_weight as number[][]).flat().forEach((v, i) =>
    assert.ok(Math.abs(sq.data[i] - v) < 1e-6)
  );
  assert.deepEqual(JSON.parse(decoded.metadata.steps), {
    "dense.weight": 3,
    "dense.bias": 3,
  });
  optimizer.dispose();
  tf.dispose([...params.values()]);
});

Deno.test("no weight decay on biases and LayerNorm, as BERT", () => {
  assert.equal(
    shouldDecay("bert.encoder.layer.0.attention.self.query.weight"),
    true,
  );
  assert.equal(shouldDecay("classifier.weight"), true);
  assert.equal(shouldDecay("bert.encoder.layer.0.output.dense.bias"), false);
  assert.equal(shouldDecay("bert.embeddings.LayerNorm.weight"), false);
  assert.equal(shouldDecay("cls.predictions.transform.LayerNorm.bias"), false);
});

Deno.test("schedules match transformers' get_*_schedule_with_warmup", () => {
  const s = reference.schedules;
  s.linear_w3_t10.forEach((v: number, i: number) =>
    assert.ok(Math.abs(lrFactor("linear", i, 3, 10) - v) < 1e-12)
  );
  s.constant_with_warmup_w4_t8.forEach((v: number, i: number) =>
    assert.ok(Math.abs(lrFactor("constant_with_warmup", i, 4, 8) - v) < 1e-12)
  );
  assert.equal(resolveWarmupSteps(100, undefined, 0.06), 6);
  assert.equal(resolveWarmupSteps(100, 10, 0.5), 10);
  const curve = new LrSchedule({
    type: "linear",
    learningRate: 2e-5,
    warmupSteps: 2,
    totalSteps: 6,
  }).curve();
  assert.deepEqual(curve.map((x) => +x.toExponential(6)), [
    0,
    1e-5,
    2e-5,
    1.5e-5,
    1e-5,
    5e-6,
  ]);
});

Deno.test("clipping leaves small gradients alone", async () => {
  const grads = new Map([["a", tf.tensor([0.3, 0.4])]]);
  const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
  assert.ok(Math.abs((await norm.data())[0] - 0.5) < 1e-7);
  assert.deepEqual(
    Array.from(await clipped.get("a")!.data()).map((x) => +x.toFixed(6)),
    [0.3, 0.4],
  );
  tf.dispose([...grads.values(), ...clipped.values(), norm]);
});
