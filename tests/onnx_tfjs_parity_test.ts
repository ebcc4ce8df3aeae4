/**
 * Exporting our in-memory tfjs models (Linear weights held as [in, out])
 * gives ONNX graphs whose outputs equal the tfjs forward pass, for heads the
 * fixture has no reference for: token classification and QA with seeded
 * heads, and sequence classification after loading the fixture head.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  BertForQuestionAnswering,
  BertForTokenClassification,
} from "../lib/models/mod.ts";
import { exportOnnx } from "../lib/models/onnx/mod.ts";
import { initBackend } from "../lib/runtime/backend.ts";
import {
  assertClose,
  FIXTURE_DIR,
  loadReference,
  runOnnx,
} from "./onnx_helpers.ts";

await initBackend();
const reference = await loadReference();

async function compare(
  model: BertForTokenClassification | BertForQuestionAnswering,
  task: "token-classification" | "question-answering",
  outputs: string[],
  tolerance = 1e-4,
) {
  const dir = await mkdtemp(join(tmpdir(), "onnx-tfjs-"));
  try {
    const { modelPath } = await exportOnnx(model, dir, { task });
    for (const batch of reference.batches) {
      const onnxOut = await runOnnx(modelPath, batch);
      const tfjsOut = model.forward({
        input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
        attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
        token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
      });
      for (const name of outputs) {
        const want = tfjsOut[name] as tf.Tensor;
        assertClose(
          onnxOut[name].data as Float32Array,
          Array.from(await want.data()),
          `${task} ${batch.name} ${name}`,
          tolerance,
          tolerance,
        );
      }
      for (const value of Object.values(tfjsOut)) {
        if (value instanceof tf.Tensor) value.dispose();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

Deno.test("token-classification: ONNX export of a tfjs model equals its forward", async () => {
  const model = await BertForTokenClassification.fromPretrained(FIXTURE_DIR, {
    num_labels: 5,
    seed: 3,
    verbose: false,
  });
  try {
    await compare(model, "token-classification", ["logits"]);
  } finally {
    model.dispose();
  }
});

Deno.test("question-answering: ONNX export of a tfjs model equals its forward", async () => {
  const model = await BertForQuestionAnswering.fromPretrained(FIXTURE_DIR, {
    seed: 4,
    verbose: false,
  });
  try {
    await compare(model, "question-answering", ["start_logits", "end_logits"]);
  } finally {
    model.dispose();
  }
});

for (const act of ["gelu_new", "relu"] as const) {
  Deno.test(`${act} activation: the ONNX graph equals the tfjs forward`, async () => {
    const model = await BertForTokenClassification.fromPretrained(FIXTURE_DIR, {
      num_labels: 3,
      hidden_act: act,
      seed: 5,
      verbose: false,
    });
    try {
      assert.equal(model.config.hidden_act, act);
      // Tight: exact and tanh GELU differ by only ~1e-4 in these logits.
      await compare(model, "token-classification", ["logits"], 1e-6);
    } finally {
      model.dispose();
    }
  });
}
