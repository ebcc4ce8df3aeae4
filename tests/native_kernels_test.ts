/**
 * The fused kernels (lib/runtime/native_kernels.cc, loaded by native_kernels.ts): setup
 * builds them for the wheel engine and the kernel loads them; each agrees with the tfjs formulation
 * it replaces (GELU, LayerNorm, attention softmax, dropout), forward and backward, on shapes that
 * split over threads, and so do the inference graph's attention and residual LayerNorm; a BERT training step gives
 * the same loss and gradients with them as without (dropout on, same masks); LayerNorm's reductions
 * are deterministic; bad input is an error, not a crash; a library built from another source is
 * never loaded. (The Hugging Face fixture parity in models_parity_test.ts runs with them too, as
 * it runs on the default engine.)
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { dirname, join } from "node:path";
import {
  attentionSoftmax,
  dropout,
  geluErf,
  layerNorm,
} from "../lib/models/ops.ts";
import {
  BertConfig,
  BertForSequenceClassification,
} from "../lib/models/mod.ts";
import { bindingPath, readBuildInfo } from "../lib/runtime/native.ts";
import {
  fusedKernels,
  fusedKernelsDetail,
  geluBackward,
  kernelsLibraryName,
  layerNormBackward,
  layerNormForward,
  selfTest,
  staleKernels,
} from "../lib/runtime/native_kernels.ts";
import { formatDeviceReport } from "../lib/runtime/device.ts";
import { initBackend } from "../lib/runtime/backend.ts";
import { nodeBackend } from "../lib/runtime/native_ops.ts";
import { useBackend } from "./models_util.ts";

const nativeHere = await useBackend("tensorflow");
const buildInfo = (() => {
  const binding = bindingPath("@tensorflow/tfjs-node");
  return binding ? readBuildInfo(binding) : undefined;
})();
const ignore = !nativeHere;

/** Runs `f` with the fused kernels switched off (tfjs' composite ops). */
function composite<T>(f: () => T): T {
  Deno.env.set("COURSE_NATIVE_KERNELS", "0");
  try {
    return f();
  } finally {
    Deno.env.delete("COURSE_NATIVE_KERNELS");
  }
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

Deno.test({
  name: "setup's fused kernels load with the wheel engine on Linux x86-64",
  ignore: ignore || buildInfo?.source !== "wheel" ||
    buildInfo.device !== "cpu" || Deno.build.arch !== "x86_64",
  fn() {
    assert.ok(buildInfo?.kernels, "build info names no kernels library");
    assert.equal(dirname(buildInfo.kernels), dirname(buildInfo.libDir));
    assert.equal(fusedKernelsDetail(), "");
    assert.ok(fusedKernels());
    assert.equal(selfTest(), "");
  },
});

Deno.test({
  name: "fused GELU and LayerNorm match tfjs' ops forward and backward",
  ignore: ignore || !fusedKernels(),
  fn() {
    tf.tidy(() => {
      // 3000 rows of 256: LayerNorm's backward sums dγ, dβ over several row blocks.
      const x = tf.randomNormal([3, 1000, 256], 0, 3, "float32", 11);
      const dy = tf.randomNormal([3, 1000, 256], 0, 1, "float32", 12);
      const gamma = tf.randomNormal([256], 1, 0.2, "float32", 13);
      const beta = tf.randomNormal([256], 0, 0.2, "float32", 14);
      const run = () => {
        const gelu = tf.valueAndGrad((x: tf.Tensor) => geluErf(x))(x, dy);
        const ln = tf.valueAndGrads((
          x: tf.Tensor,
          g: tf.Tensor,
          b: tf.Tensor,
        ) => layerNorm(x, g, b, 1e-12))([x, gamma, beta], dy);
        return [gelu.value, gelu.grad, ln.value, ...ln.grads];
      };
      const fused = run();
      const reference = composite(run);
      const names = ["gelu", "gelu dx", "layerNorm", "dx", "dgamma", "dbeta"];
      fused.forEach((got, i) => {
        const scale = Math.max(1, tf.max(tf.abs(reference[i])).dataSync()[0]);
        const diff = maxDiff(got, reference[i]);
        assert.ok(
          diff <= 2e-6 * scale,
          `${names[i]}: ${diff} (scale ${scale})`,
        );
      });
      // dγ and dβ are summed in a fixed block order: the same bits every time.
      const again = run();
      assert.equal(maxDiff(again[4], fused[4]), 0);
      assert.equal(maxDiff(again[5], fused[5]), 0);
    });
  },
});

Deno.test({
  name:
    "fused attention softmax matches tfjs' ops with padding masked, forward and backward",
  ignore: ignore || !fusedKernels(),
  fn() {
    tf.tidy(() => {
      const scores = tf.randomNormal([3, 4, 50, 50], 0, 4, "float32", 31);
      const dy = tf.randomNormal([3, 4, 50, 50], 0, 1, "float32", 32);
      const lengths = [50, 31, 7];
      const maskBias = tf.tensor4d(
        lengths.flatMap((n) =>
          Array.from(
            { length: 50 },
            (_, i) => i < n ? 0 : -3.4028234663852886e38,
          )
        ),
        [3, 1, 1, 50],
      );
      const run = () =>
        tf.valueAndGrad((s: tf.Tensor) => attentionSoftmax(s, maskBias, 0.125))(
          scores,
          dy,
        );
      const fused = run();
      const reference = composite(run);
      assert.ok(maxDiff(fused.value, reference.value) <= 1e-6);
      assert.ok(maxDiff(fused.grad, reference.grad) <= 1e-6);
      // Padded keys get probability 0.
      const padded = tf.slice(fused.value, [2, 0, 0, 7], [1, 4, 50, 43]);
      assert.equal(tf.max(padded).dataSync()[0], 0);
    });
  },
});

Deno.test({
  name: "fused dropout keeps the composite path's mask and scale",
  ignore: ignore || !fusedKernels(),
  fn() {
    tf.tidy(() => {
      const x = tf.randomNormal([4, 64, 128], 0, 1, "float32", 21);
      const dy = tf.randomNormal([4, 64, 128], 0, 1, "float32", 22);
      const run = () => {
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
          dropout(x, 0.1, true, 1234)
        )(x, dy);
        return [value, grad];
      };
      const [value, grad] = run();
      const [refValue, refGrad] = composite(run);
      assert.equal(maxDiff(value, refValue), 0);
      assert.equal(maxDiff(grad, refGrad), 0);
      const kept =
        tf.mean(tf.cast(tf.notEqual(value, 0), "float32")).dataSync()[0];
      assert.ok(Math.abs(kept - 0.9) < 0.01, `kept ${kept}`);
    });
  },
});

Deno.test({
  name:
    "a BERT training step gives the same loss and gradients with and without fused kernels",
  ignore: ignore || !fusedKernels(),
  fn() {
    const config = new BertConfig({
      vocab_size: 300,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 128,
      num_labels: 3,
    });
    // Two models from one seed: the same weights and the same dropout seeds, call for call.
    const models = [0, 1].map(() =>
      new BertForSequenceClassification(config, { seed: 5 })
    );
    const ids = Array.from({ length: 4 * 16 }, (_, i) => 5 + (i * 37) % 290);
    const input_ids = tf.tensor2d(ids, [4, 16], "int32");
    const attention_mask = tf.tensor2d(
      ids.map((_, i) => (i % 16 < 12 || i < 16 ? 1 : 0)),
      [4, 16],
      "int32",
    );
    const labels = tf.tensor1d([0, 2, 1, 2], "int32");
    const step = (model: BertForSequenceClassification) => {
      const { value, grads } = tf.variableGrads(
        () =>
          model.forward({ input_ids, attention_mask, labels }, {
            training: true,
          }).loss!,
        model.trainableVariables(),
      );
      // Keyed by parameter name, not by the variables' process-wide unique names.
      const names = new Map(
        model.trainableVariables().map((v, i) => [v.name, String(i)]),
      );
      return {
        value,
        grads: Object.fromEntries(
          Object.entries(grads).map(([k, g]) => [names.get(k)!, g]),
        ),
      };
    };
    const fused = step(models[0]);
    const reference = composite(() => step(models[1]));
    try {
      assert.ok(
        Math.abs(fused.value.dataSync()[0] - reference.value.dataSync()[0]) <
          1e-5,
      );
      for (const [name, grad] of Object.entries(fused.grads)) {
        const want = reference.grads[name];
        const scale = Math.max(1e-3, tf.max(tf.abs(want)).dataSync()[0]);
        const diff = maxDiff(grad, want);
        assert.ok(diff <= 1e-4 * scale, `${name}: ${diff} (scale ${scale})`);
      }
    } finally {
      tf.dispose([
        fused.value,
        ...Object.values(fused.grads),
        reference.value,
        ...Object.values(reference.grads),
        input_ids,
        attention_mask,
        labels,
      ]);
      models.forEach((m) => m.dispose());
    }
  },
});

/** The inference graph's kernels, run eagerly: CourseAttention and CourseAddLayerNorm. */
function runKernel(
  op: string,
  inputs: tf.Tensor[],
  attrs: { name: string; type: "int" | "float"; value: number }[] = [],
): tf.Tensor {
  const backend = nodeBackend();
  return backend.executeSingleOutput(
    op,
    attrs.map(({ name, type, value }) => ({
      name,
      type: type === "int"
        ? backend.binding.TF_ATTR_INT
        : backend.binding.TF_ATTR_FLOAT,
      value,
    })),
    inputs,
  );
}

Deno.test({
  name:
    "CourseAttention equals split heads, masked softmax and merge in tfjs ops, padding included; CourseAddLayerNorm equals LayerNorm(x + residual)",
  ignore: ignore || !fusedKernels(),
  fn() {
    tf.tidy(() => {
      // Head sizes 32, 64 and 128 take the register-blocked path, 16 the general one; 37 keys
      // are padded to 48 inside the kernel, 16 are not.
      const batch = 3;
      for (const [heads, size] of [[4, 16], [2, 32], [4, 64], [1, 128]]) {
        for (const seq of [37, 16]) {
          const hidden = heads * size;
          const qkv = tf.randomNormal(
            [batch * seq, 3 * hidden],
            0,
            1,
            "float32",
            11,
          );
          const lengths = [seq, Math.ceil(seq / 2), 1];
          const maskBias = tf.tensor4d(
            lengths.flatMap((n) =>
              Array.from(
                { length: seq },
                (_, i) => i < n ? 0 : -3.4028234663852886e38,
              )
            ),
            [batch, 1, 1, seq],
          );
          const got = runKernel("CourseAttention", [qkv, maskBias], [
            { name: "heads", type: "int", value: heads },
            { name: "scale", type: "float", value: 1 / Math.sqrt(size) },
          ]);
          const [q, k, v] = tf.split(qkv, 3, 1).map((t) =>
            tf.transpose(tf.reshape(t, [batch, seq, heads, size]), [0, 2, 1, 3])
          );
          const probs = tf.softmax(
            tf.add(
              tf.div(tf.matMul(q, k, false, true), Math.sqrt(size)),
              maskBias,
            ),
          );
          const want = tf.reshape(
            tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]),
            [batch * seq, hidden],
          );
          assert.deepEqual(got.shape, want.shape);
          assert.ok(
            maxDiff(got, want) < 1e-5,
            `attention, head size ${size}, seq ${seq}: ${maxDiff(got, want)}`,
          );
        }
      }

      const x = tf.randomNormal([600, 256], 0, 2, "float32", 12);
      const residual = tf.randomNormal([600, 256], 0, 1, "float32", 13);
      const gamma = tf.randomNormal([256], 1, 0.1, "float32", 14);
      const beta = tf.randomNormal([256], 0, 0.1, "float32", 15);
      const fusedSum = runKernel("CourseAddLayerNorm", [
        x,
        residual,
        gamma,
        beta,
      ], [{ name: "epsilon", type: "float", value: 1e-12 }]);
      const [separate] = layerNormForward(
        tf.add(x, residual),
        gamma,
        beta,
        1e-12,
      );
      assert.ok(maxDiff(fusedSum, separate) < 1e-5);

      assert.throws(
        () =>
          runKernel(
            "CourseAttention",
            [tf.zeros([batch * 16, 3 * 64]), tf.zeros([batch, 1, 1, 15])],
            [
              { name: "heads", type: "int", value: 4 },
              { name: "scale", type: "float", value: 1 },
            ],
          ),
        /mask_bias must be/,
      );
      assert.throws(
        () =>
          runKernel(
            "CourseAddLayerNorm",
            [x, tf.ones([600, 255]), gamma, beta],
            [
              { name: "epsilon", type: "float", value: 1e-12 },
            ],
          ),
        /differ in shape/,
      );
    });
  },
});

Deno.test({
  name: "fused kernels reject mismatched shapes with an error, not a crash",
  ignore: ignore || !fusedKernels(),
  fn() {
    tf.tidy(() => {
      const x = tf.ones([2, 8]);
      assert.throws(
        () => layerNormForward(x, tf.ones([7]), tf.zeros([8]), 1e-12),
        /gamma and beta/,
      );
      assert.throws(() => geluBackward(tf.ones([2, 7]), x), /differ in shape/);
      const [, mean, rstd] = layerNormForward(
        x,
        tf.ones([8]),
        tf.zeros([8]),
        1e-5,
      );
      assert.throws(
        () =>
          layerNormBackward(
            tf.ones([2, 8]),
            x,
            tf.ones([8]),
            tf.ones([3]),
            rstd,
          ),
        /wrong size/,
      );
      mean.dispose();
    });
  },
});

Deno.test({
  name: "the device report says when the fused kernels are off",
  ignore: ignore || !fusedKernels(),
  async fn() {
    await initBackend("tensorflow");
    assert.doesNotMatch(formatDeviceReport(), /융합 커널/);
    assert.match(
      composite(() => formatDeviceReport()),
      /융합 커널 꺼짐 \(COURSE_NATIVE_KERNELS=0\)/,
    );
  },
});

Deno.test("a kernels library built from another native_kernels.cc is never loaded", () => {
  const current = join("/cache", kernelsLibraryName());
  assert.match(kernelsLibraryName(), /^native_kernels-[0-9a-f]{8}\.so$/);
  assert.equal(staleKernels(current), undefined);
  assert.match(
    staleKernels("/cache/native_kernels-00000000.so") ?? "",
    /another version/,
  );
});
