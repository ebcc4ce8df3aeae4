/**
 * Checkpoints are read and written by lib/models' safetensors module, the course's one: the
 * bytes on disk keep their exact layout (header text, order, padding, data), existing files
 * (models/ko-mini-bert, any checkpoint) re-serialize byte-identically, and a checkpoint restores
 * what it saved.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  float32Tensors,
  parseSafetensors,
  serializeSafetensors,
} from "../lib/models/safetensors.ts";
import { AdamW } from "../lib/train/adamw.ts";
import {
  readCheckpoint,
  restoreModelWeights,
  saveCheckpoint,
} from "../lib/train/checkpoint.ts";
import { REPO_ROOT } from "./test_paths.ts";
import { ToyClassifier, useCpu } from "./train_toy_model.ts";

await useCpu();

const decoder = new TextDecoder();
function headerText(bytes: Uint8Array): string {
  const length = Number(
    new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true),
  );
  return decoder.decode(bytes.subarray(8, 8 + length));
}

const moments = new Map([
  ["dense.weight.exp_avg", {
    shape: [2, 2],
    data: new Float32Array([1, -2, 0.5, 3]),
  }],
  ["dense.bias.exp_avg", {
    shape: [2],
    data: new Float32Array([0.25, -0.125]),
  }],
]);

Deno.test("optimizer.safetensors layout: metadata first, names sorted, header padded with spaces to 8 bytes", () => {
  const bytes = serializeSafetensors(moments, {
    metadata: { steps: JSON.stringify({ "dense.weight": 3 }), hyper: "{}" },
  });
  // The exact header the Trainer's checkpoints have always had.
  assert.equal(
    headerText(bytes),
    '{"__metadata__":{"steps":"{\\"dense.weight\\":3}","hyper":"{}"},' +
      '"dense.bias.exp_avg":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"dense.weight.exp_avg":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}} ',
  );
  assert.equal(bytes.length, 240);
  // Data: little-endian float32, in name order (bias, then weight).
  assert.deepEqual(
    Array.from(new Float32Array(bytes.slice(8 + 208).buffer)),
    [0.25, -0.125, 1, -2, 0.5, 3],
  );
  // metadata: null writes no __metadata__ (Python's metadata=None).
  const bare = serializeSafetensors(moments, { metadata: null });
  assert.equal(
    headerText(bare),
    '{"dense.bias.exp_avg":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"dense.weight.exp_avg":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}      ',
  );
  assert.deepEqual(parseSafetensors(bare).metadata, {});
});

Deno.test("float32Tensors reads float tensors back (F16 converted) and leaves integer buffers out", () => {
  const f16 = parseSafetensors(
    serializeSafetensors(moments, { dtype: "F16" }),
  );
  const back = float32Tensors(f16);
  assert.deepEqual(Array.from(back.get("dense.weight.exp_avg")!.data), [
    1,
    -2,
    0.5,
    3,
  ]);
  // A file with an I64 buffer next to a weight (old HF checkpoints' position_ids).
  const header = JSON.stringify({
    "embeddings.position_ids": {
      dtype: "I64",
      shape: [2],
      data_offsets: [0, 16],
    },
    "w": { dtype: "F32", shape: [1], data_offsets: [16, 20] },
  });
  const headerBytes = new TextEncoder().encode(header);
  const file = new Uint8Array(8 + headerBytes.length + 20);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  file.set(headerBytes, 8);
  new DataView(file.buffer).setFloat32(8 + headerBytes.length + 16, 1.5, true);
  const tensors = float32Tensors(parseSafetensors(file));
  assert.deepEqual([...tensors.keys()], ["w"]);
  assert.deepEqual(Array.from(tensors.get("w")!.data), [1.5]);
});

Deno.test("models/ko-mini-bert/model.safetensors re-serializes byte-identically", async () => {
  const path = join(REPO_ROOT, "models", "ko-mini-bert", "model.safetensors");
  const original = await Deno.readFile(path);
  const file = parseSafetensors(original, path);
  const dtype = [...file.tensors.values()][0].dtype as "F16" | "F32";
  const again = serializeSafetensors(float32Tensors(file, path), {
    metadata: file.metadata,
    dtype,
  });
  assert.equal(again.length, original.length);
  assert.ok(again.every((v, i) => v === original[i]), "same bytes");
});

Deno.test("a checkpoint's model and optimizer files have the exact layout and restore what was saved", async () => {
  const outputDir = await Deno.makeTempDir({ prefix: "train_ckpt_format_" });
  const model = new ToyClassifier();
  const optimizer = new AdamW({ learningRate: 1e-2 });
  try {
    const params = model.namedParameters();
    // One AdamW step, so the moments are not all zero.
    const grads = new Map<string, tf.Tensor>();
    for (const [name, v] of params) grads.set(name, tf.onesLike(v));
    optimizer.applyGradients(params, grads, 1e-2);
    tf.dispose([...grads.values()]);
    const path = await saveCheckpoint(outputDir, 1, {
      model,
      optimizer,
      trainerState: { global_step: 1 },
      schedulerState: {},
      rngState: { global: 1, dropout: 2 },
    });
    const modelBytes = await Deno.readFile(join(path, "model.safetensors"));
    const modelHeader = JSON.parse(headerText(modelBytes));
    assert.deepEqual(modelHeader.__metadata__, { format: "pt" });
    const names = Object.keys(modelHeader).slice(1);
    assert.deepEqual(names, [...params.keys()].sort());
    const saved = float32Tensors(parseSafetensors(modelBytes));
    for (const [name, v] of params) {
      assert.deepEqual(
        Array.from(saved.get(name)!.data),
        Array.from(await v.data()),
      );
    }
    // Re-serializing what was read gives the same bytes (same writer, same layout).
    assert.deepEqual(
      serializeSafetensors(saved, { metadata: { format: "pt" } }),
      modelBytes,
    );
    const optimizerBytes = await Deno.readFile(
      join(path, "optimizer.safetensors"),
    );
    const optimizerFile = parseSafetensors(optimizerBytes);
    assert.deepEqual(Object.keys(optimizerFile.metadata), ["steps", "hyper"]);
    assert.deepEqual(
      serializeSafetensors(float32Tensors(optimizerFile), {
        metadata: optimizerFile.metadata,
      }),
      optimizerBytes,
    );

    // Restore: the weights come back exactly, the moments load into a fresh AdamW.
    const before = new Map<string, number[]>();
    for (const [name, v] of params) {
      before.set(name, Array.from(await v.data()));
    }
    for (const v of params.values()) v.assign(tf.zerosLike(v));
    await restoreModelWeights(model, path);
    for (const [name, v] of params) {
      assert.deepEqual(Array.from(await v.data()), before.get(name), name);
    }
    const checkpoint = await readCheckpoint(path);
    const state = await optimizer.stateDict();
    assert.deepEqual(checkpoint.optimizer.steps, state.steps);
    for (const [name, t] of state.tensors) {
      assert.deepEqual(
        Array.from(checkpoint.optimizer.tensors.get(name)!.data),
        Array.from(t.data),
        name,
      );
    }
  } finally {
    optimizer.dispose();
    model.dispose();
    await Deno.remove(outputDir, { recursive: true });
  }
});
