/**
 * The torch.optim.AdamW reference of tests/fixtures/train_reference.json, run through the course's
 * AdamW and global-norm clipping on whatever backend is current; both the cpu test
 * (train_optim_test.ts) and the native one (native_ops_test.ts) check against it.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { AdamW } from "../lib/train/adamw.ts";
import { clipByGlobalNorm } from "../lib/train/clipping.ts";

export const trainReference = JSON.parse(
  await Deno.readTextFile(
    new URL("./fixtures/train_reference.json", import.meta.url),
  ),
);

/**
 * Three clipped AdamW steps from the reference's initial weights and gradients. Returns the
 * parameters, the optimizer (the caller disposes both) and the gradient norms before clipping.
 */
export async function runAdamwReference(): Promise<{
  params: Map<string, tf.Variable>;
  optimizer: AdamW;
  normsBeforeClip: number[];
}> {
  const r = trainReference.adamw;
  const params = new Map<string, tf.Variable>(
    Object.entries(r.init).map((
      [name, value],
    ) => [name, tf.tidy(() => tf.variable(tf.tensor(value as number[])))]),
  );
  const optimizer = new AdamW({ weightDecay: r.weight_decay });
  const normsBeforeClip: number[] = [];
  for (let step = 0; step < 3; step++) {
    const grads = new Map<string, tf.Tensor>(
      Object.entries(r.grads[step]).map((
        [name, value],
      ) => [name, tf.tensor(value as number[])]),
    );
    const { grads: clipped, norm } = clipByGlobalNorm(grads, r.max_grad_norm);
    normsBeforeClip.push((await norm.data())[0]);
    optimizer.applyGradients(params, clipped, r.lrs[step]);
    tf.dispose([...grads.values(), ...clipped.values(), norm]);
  }
  return { params, optimizer, normsBeforeClip };
}

/** The parameters equal torch's after the three steps (2e-6). */
export async function assertTorchFinalWeights(
  params: Map<string, tf.Variable>,
): Promise<void> {
  for (const [name, want] of Object.entries(trainReference.adamw.final)) {
    const got = await params.get(name)!.data();
    (want as number[]).flat().forEach((v, i) =>
      assert.ok(Math.abs(got[i] - v) < 2e-6, `${name}[${i}]`)
    );
  }
}
