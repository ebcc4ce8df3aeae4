/**
 * The native engine's own kernels (lib/runtime/native_ops.ts): AdamW through TensorFlow's fused
 * ResourceApplyAdam matches torch and the tfjs formulation, its state round-trips exactly, and
 * dropout masks from TensorFlow's Philox generator are seeded, unbiased and used by the backward;
 * exact GELU's gradient with Φ kept from the forward pass.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { AdamW } from "../lib/train/adamw.ts";
import {
  assertTorchFinalWeights,
  runAdamwReference,
  trainReference,
} from "./adamw_reference.ts";
import { dropout, geluErf } from "../lib/models/ops.ts";
import { statelessUniform } from "../lib/runtime/native_ops.ts";
import { useBackend } from "./models_util.ts";

const nativeHere = await useBackend("tensorflow");
await tf.setBackend("cpu");
const ignore = !nativeHere;

async function onBackend<T>(name: string, f: () => Promise<T>): Promise<T> {
  assert.ok(await useBackend(name), `backend ${name}`);
  try {
    return await f();
  } finally {
    await tf.setBackend("cpu");
  }
}

function seeded(seed: number, n: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/**
 * Five AdamW steps on three parameters: decayed and not, one that joins at step 3 (its own bias
 * correction), and one that the caller's code changes between steps 2 and 3 (a checkpoint load,
 * say), which the native twin must notice. Returns the final values.
 */
async function fiveSteps(): Promise<Record<string, number[]>> {
  const params = new Map<string, tf.Variable>([
    ["dense.weight", tf.variable(tf.tensor(seeded(1, 12), [3, 4]))],
    ["dense.bias", tf.variable(tf.tensor(seeded(2, 4)))],
    ["late.weight", tf.variable(tf.tensor(seeded(3, 6), [2, 3]))],
  ]);
  const optimizer = new AdamW({ weightDecay: 0.1 });
  for (let step = 0; step < 5; step++) {
    const grads = new Map<string, tf.Tensor>();
    for (const [name, p] of params) {
      if (name === "late.weight" && step < 2) continue;
      grads.set(
        name,
        tf.tensor(seeded(10 * step + name.length, p.size), p.shape),
      );
    }
    if (step === 2) {
      params.get("dense.weight")!.assign(tf.tensor(seeded(99, 12), [3, 4]));
    }
    optimizer.applyGradients(params, grads, 1e-2 * (1 + step));
    tf.dispose([...grads.values()]);
  }
  const out: Record<string, number[]> = {};
  for (const [name, p] of params) out[name] = Array.from(await p.data());
  optimizer.dispose();
  tf.dispose([...params.values()]);
  return out;
}

Deno.test({
  name:
    "native AdamW (ResourceApplyAdam) equals the tfjs formulation step for step",
  ignore,
  async fn() {
    const tfjs = await fiveSteps(); // cpu backend
    const native = await onBackend("tensorflow", fiveSteps);
    for (const name of Object.keys(tfjs)) {
      tfjs[name].forEach((want, i) =>
        assert.ok(
          Math.abs(native[name][i] - want) <=
            2e-6 * Math.max(1, Math.abs(want)),
          `${name}[${i}]: native ${native[name][i]} vs tfjs ${want}`,
        )
      );
    }
  },
});

Deno.test({
  name:
    "native AdamW matches torch.optim.AdamW and its moments, leaking no tensor",
  ignore,
  async fn() {
    await onBackend("tensorflow", async () => {
      const r = trainReference.adamw;
      const before = tf.memory().numTensors;
      const { params, optimizer } = await runAdamwReference();
      await assertTorchFinalWeights(params);
      const state = await optimizer.stateDict();
      const sq = state.tensors.get("dense.weight.exp_avg_sq")!;
      (r.exp_avg_sq_weight as number[][]).flat().forEach((v, i) =>
        assert.ok(Math.abs(sq.data[i] - v) < 1e-6)
      );
      optimizer.dispose();
      tf.dispose([...params.values()]);
      assert.equal(
        tf.memory().numTensors,
        before,
        "moments, scalars and weights freed",
      );
    });
  },
});

Deno.test({
  name:
    "native AdamW state saved after 3 steps and loaded into a new optimizer continues bit for bit",
  ignore,
  async fn() {
    await onBackend("tensorflow", async () => {
      const gradsAt = (step: number) =>
        new Map([["w", tf.tensor(seeded(step + 7, 8), [2, 4])]]);
      const run = async (split: boolean) => {
        const params = new Map([[
          "w",
          tf.variable(tf.tensor(seeded(5, 8), [2, 4])),
        ]]);
        let optimizer = new AdamW({ weightDecay: 0.01 });
        for (let step = 0; step < 5; step++) {
          if (split && step === 3) {
            const state = await optimizer.stateDict();
            optimizer.dispose();
            optimizer = new AdamW({ weightDecay: 0.01 });
            optimizer.loadStateDict(state);
          }
          const grads = gradsAt(step);
          optimizer.applyGradients(params, grads, 1e-2);
          tf.dispose([...grads.values()]);
        }
        const values = Array.from(await params.get("w")!.data());
        optimizer.dispose();
        params.get("w")!.dispose();
        return values;
      };
      assert.deepEqual(await run(true), await run(false));
    });
  },
});

Deno.test({
  name:
    "Philox dropout masks: seeded, keep 1 - rate, scaled, and the same mask in the backward",
  ignore,
  async fn() {
    await onBackend("tensorflow", async () => {
      const a = await statelessUniform([4, 5], [7, 9]).data();
      const b = await statelessUniform([4, 5], [7, 9]).data();
      const c = await statelessUniform([4, 5], [8, 9]).data();
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      assert.ok(a.every((u) => u >= 0 && u < 1));

      const x = tf.ones([200, 500]);
      const rate = 0.1;
      const y = await dropout(x, rate, true, 1234).data();
      const kept = y.filter((v) => v !== 0);
      const keptShare = kept.length / y.length;
      assert.ok(Math.abs(keptShare - (1 - rate)) < 0.005, `kept ${keptShare}`);
      assert.ok(kept.every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6));
      assert.deepEqual(await dropout(x, rate, true, 1234).data(), y);
      assert.notDeepEqual(await dropout(x, rate, true, 1235).data(), y);
      // Not training: the identity.
      assert.equal(dropout(x, rate, false, 1234), x);
      x.dispose();
    });
  },
});

Deno.test({
  name:
    "dropout's gradient is its mask: d/dx sum(dropout(x)) is 0 where dropped, 1/(1-rate) where kept",
  ignore,
  async fn() {
    await onBackend("tensorflow", async () => {
      const rate = 0.25;
      const v = tf.variable(tf.fill([64, 64], 2), true, "dropout_grad_x");
      const { grads } = tf.variableGrads(
        () => tf.sum(dropout(v, rate, true, 42)) as tf.Scalar,
        [v],
      );
      const g = await grads[v.name].data();
      const y = await dropout(v, rate, true, 42).data();
      g.forEach((gi, i) => {
        if (y[i] === 0) assert.equal(gi, 0);
        else assert.ok(Math.abs(gi - 1 / (1 - rate)) < 1e-6);
      });
      tf.dispose([v, ...Object.values(grads)]);
    });
  },
});

Deno.test("exact GELU's gradient (Φ kept from the forward) is Φ(x) + x·φ(x), on cpu and native", async () => {
  const xs = [-3, -1, -0.5, 0, 0.5, 1, 2.5];
  const erf = (z: number) => {
    // erf in float64 by Simpson's rule on e^(-t²), 2000 panels
    const n = 2000, h = z / n;
    let s = 0;
    for (let i = 0; i <= n; i++) {
      const t = i * h, w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
      s += w * Math.exp(-t * t);
    }
    return (2 / Math.sqrt(Math.PI)) * s * h / 3;
  };
  const want = xs.map((x) =>
    0.5 * (1 + erf(x / Math.SQRT2)) +
    x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI)
  );
  for (const backend of nativeHere ? ["cpu", "tensorflow"] : ["cpu"]) {
    await onBackend(backend, async () => {
      const v = tf.variable(tf.tensor1d(xs), true, `gelu_x_${backend}`);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(geluErf(v)) as tf.Scalar,
        [v],
      );
      const got = await grads[v.name].data();
      want.forEach((w, i) =>
        assert.ok(
          Math.abs(got[i] - w) < 1e-5,
          `${backend} x=${xs[i]}: ${got[i]} vs ${w}`,
        )
      );
      tf.dispose([v, value, ...Object.values(grads)]);
    });
  }
});
