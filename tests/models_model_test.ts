/** Config, heads, losses, training controls, and training on the wasm backend. */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  BertConfig,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  crossEntropy,
} from "../lib/models/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  FIXTURE_DIR,
  fixtureAvailable,
  TEST_BACKEND,
  useBackend,
} from "./models_util.ts";

const haveFixture = await fixtureAvailable();
const opts = { sanitizeResources: false, sanitizeOps: false };
const tiny = {
  vocab_size: 50,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 32,
};

function assertThrowsCourseError(fn: () => unknown, code: string) {
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof CourseError && e.code === code && e.hint.length > 0,
  );
}

Deno.test({
  name:
    "BertConfig: HF defaults, id2label keys, unknown fields survive a round trip",
  ignore: !haveFixture,
  async fn() {
    const defaults = new BertConfig();
    assert.equal(defaults.hidden_size, 768);
    assert.equal(defaults.num_labels, 2);
    assert.equal(defaults.hidden_act, "gelu");
    const json = JSON.parse(
      await Deno.readTextFile(`${FIXTURE_DIR}/seqcls_config.json`),
    );
    const config = BertConfig.fromJSON({ ...json, my_extra_field: { a: 1 } });
    assert.equal(config.num_labels, 3);
    assert.equal(config.id2label[2], "LABEL_2");
    assert.equal(config.label2id.LABEL_1, 1);
    assert.deepEqual(config.toJSON(), { ...json, my_extra_field: { a: 1 } });
    const relabeled = BertConfig.fromJSON(json, { num_labels: 5 });
    assert.equal(relabeled.num_labels, 5);
    const named = new BertConfig({ id2label: { 0: "부정", 1: "긍정" } });
    assert.deepEqual(named.label2id, { "부정": 0, "긍정": 1 });
    assert.deepEqual(
      (named.toJSON().id2label as Record<string, string>)["1"],
      "긍정",
    );
  },
});

Deno.test("BertConfig validation errors are CourseErrors", () => {
  assertThrowsCourseError(
    () => new BertConfig({ hidden_size: 100, num_attention_heads: 12 }),
    "config_heads",
  );
  assertThrowsCourseError(
    () => new BertConfig({ hidden_act: "swish" as never }),
    "config_activation",
  );
  assertThrowsCourseError(
    () => new BertConfig({ num_labels: 0 }),
    "config_num_labels",
  );
  assertThrowsCourseError(
    () => new BertConfig({ hidden_dropout_prob: 1.5 }),
    "config_dropout",
  );
  assertThrowsCourseError(
    () => new BertConfig({ vocab_size: -3 }),
    "config_invalid",
  );
  assertThrowsCourseError(
    () => BertConfig.fromJSON({ model_type: "gpt2" }),
    "config_model_type",
  );
});

Deno.test({
  name:
    "activations: gelu (erf), gelu_new (tanh), relu all run and differ as they should",
  ...opts,
  async fn() {
    await useBackend(TEST_BACKEND);
    const outs: Record<string, Float32Array> = {};
    for (
      const act of ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"] as const
    ) {
      const model = new BertModel(
        new BertConfig({ ...tiny, hidden_act: act }),
        { seed: 3 },
      );
      outs[act] = tf.tidy(() =>
        model.forward({
          input_ids: tf.tensor2d([[2, 7, 9, 3]], undefined, "int32"),
        }).last_hidden_state.dataSync() as Float32Array
      );
      model.dispose();
    }
    assert.deepEqual(outs.gelu_new, outs.gelu_pytorch_tanh);
    const diff = (a: Float32Array, b: Float32Array) =>
      Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(
      diff(outs.gelu, outs.gelu_new) > 0 &&
        diff(outs.gelu, outs.gelu_new) < 1e-2,
      "tanh GELU is close to erf GELU",
    );
    assert.ok(diff(outs.gelu, outs.relu) > 1e-2);
  },
});

Deno.test({
  name: "heads: problem types, ignore_index, QA clamping",
  ...opts,
  async fn() {
    await useBackend(TEST_BACKEND);
    const ids = tf.tensor2d([[2, 5, 6, 3], [2, 8, 3, 0]], undefined, "int32");
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, "int32");

    const reg = new BertForSequenceClassification(
      new BertConfig({ ...tiny, num_labels: 1 }),
    );
    tf.tidy(() => {
      const out = reg.forward({
        input_ids: ids,
        attention_mask: mask,
        labels: tf.tensor1d([0.5, 2.0]),
      });
      const logits = out.logits!.dataSync();
      const want = ((logits[0] - 0.5) ** 2 + (logits[1] - 2) ** 2) / 2;
      assert.ok(Math.abs(out.loss!.dataSync()[0] - want) < 1e-5);
      assert.equal(reg.config.problem_type, "regression");
    });

    const multi = new BertForSequenceClassification(
      new BertConfig({ ...tiny, num_labels: 3 }),
    );
    tf.tidy(() => {
      const targets = [[1, 0, 1], [0, 0, 1]];
      const out = multi.forward({
        input_ids: ids,
        labels: tf.tensor2d(targets),
      });
      const x = out.logits!.arraySync() as number[][];
      let want = 0;
      x.forEach((row, i) =>
        row.forEach((v, j) =>
          want += -(targets[i][j] * Math.log(1 / (1 + Math.exp(-v))) +
            (1 - targets[i][j]) * Math.log(1 - 1 / (1 + Math.exp(-v))))
        )
      );
      assert.ok(Math.abs(out.loss!.dataSync()[0] - want / 6) < 1e-5);
      assert.equal(multi.config.problem_type, "multi_label_classification");
    });

    const token = new BertForTokenClassification(
      new BertConfig({ ...tiny, num_labels: 4 }),
    );
    tf.tidy(() => {
      const labels = tf.tensor2d(
        [[-100, 1, 2, -100], [-100, 3, -100, -100]],
        undefined,
        "int32",
      );
      const out = token.forward({
        input_ids: ids,
        attention_mask: mask,
        labels,
      });
      const logits = out.logits as tf.Tensor3D;
      const logp = tf.logSoftmax(logits).arraySync() as number[][][];
      const want = -(logp[0][1][1] + logp[0][2][2] + logp[1][1][3]) / 3;
      assert.ok(Math.abs(out.loss!.dataSync()[0] - want) < 1e-5);
      const allIgnored =
        crossEntropy(logits, tf.fill([2, 4], -100, "int32")).dataSync()[0];
      assert.ok(allIgnored === 0, "all ignored -> 0, not NaN");
    });

    const qa = new BertForQuestionAnswering(new BertConfig(tiny));
    tf.tidy(() => {
      const out = qa.forward({
        input_ids: ids,
        start_positions: tf.tensor1d([1, 99], "int32"), // 99 is past the end: clamped to 4 and ignored, as HF
        end_positions: tf.tensor1d([2, 2], "int32"),
      });
      const s = tf.logSoftmax(out.start_logits as tf.Tensor)
        .arraySync() as number[][];
      const e = tf.logSoftmax(out.end_logits as tf.Tensor)
        .arraySync() as number[][];
      const want = (-s[0][1] + (-(e[0][2] + e[1][2]) / 2)) / 2;
      assert.ok(Math.abs(out.loss!.dataSync()[0] - want) < 1e-5);
    });
    for (const m of [reg, multi, token, qa]) m.dispose();
    tf.dispose([ids, mask]);
  },
});

Deno.test({
  name:
    "parameter groups, freezing, counts, seeded init, dropout only in training",
  ...opts,
  async fn() {
    await useBackend(TEST_BACKEND);
    const config = new BertConfig({ ...tiny, num_labels: 3 });
    const model = new BertForSequenceClassification(config, { seed: 7 });
    assert.deepEqual(model.parameterGroups().map((g) => g.name), [
      "embeddings",
      "encoder.layer.0",
      "encoder.layer.1",
      "pooler",
      "head",
    ]);
    const counts = model.countParameters();
    const h = 16, i = 32;
    const layer = 4 * (h * h + h) + 2 * 2 * h + (h * i + i) + (i * h + h);
    assert.equal(counts.byGroup["encoder.layer.0"], layer);
    assert.equal(counts.byGroup.embeddings, (50 + 32 + 2) * h + 2 * h);
    assert.equal(counts.byGroup.head, h * 3 + 3);
    assert.equal(counts.total, counts.trainable);
    model.setTrainable("all", false);
    model.setTrainable(["head", "pooler"], true);
    assert.equal(model.countParameters().trainable, h * 3 + 3 + h * h + h);
    assert.equal(model.trainableVariables().length, 4);
    assert.throws(() => model.setTrainable(["decoder"], true), CourseError);

    const names = [...model.namedParameters().keys()];
    assert.ok(
      names.includes("bert.encoder.layer.1.attention.self.query.weight"),
    );
    assert.ok(names.includes("classifier.bias"));
    // HF init: LayerNorm 1/0, zero biases, std ≈ initializer_range, padding row 0.
    const p = model.namedParameters();
    assert.ok(
      p.get("bert.embeddings.LayerNorm.weight")!.dataSync().every((v) =>
        v === 1
      ),
    );
    assert.ok(
      p.get("bert.pooler.dense.bias")!.dataSync().every((v) => v === 0),
    );
    assert.ok(
      p.get("bert.embeddings.word_embeddings.weight")!.dataSync().slice(0, h)
        .every((v) => v === 0),
    );
    const w = p.get("bert.encoder.layer.0.intermediate.dense.weight")!
      .dataSync() as Float32Array;
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    assert.ok(Math.abs(std - 0.02) < 0.004, `std ${std}`);
    const again = new BertForSequenceClassification(config, { seed: 7 });
    assert.deepEqual(
      again.namedParameters().get("classifier.weight")!.dataSync(),
      p.get("classifier.weight")!.dataSync(),
    );

    const ids = tf.tensor2d([[2, 5, 6, 3]], undefined, "int32");
    const run = (training: boolean) =>
      tf.tidy(() =>
        model.forward({ input_ids: ids }, { training }).logits!.dataSync()
      );
    assert.deepEqual(run(false), run(false));
    assert.notDeepEqual(run(true), run(false));
    model.dispose();
    again.dispose();
    ids.dispose();
  },
});

Deno.test({
  name:
    "wasm: embedding gradients (UnsortedSegmentSum) match cpu, and training reduces the loss",
  ...opts,
  async fn() {
    const grads: Record<string, Float32Array> = {};
    let losses: number[] = [];
    for (const backend of ["cpu", "wasm"]) {
      assert.ok(await useBackend(backend), backend);
      const model = new BertForSequenceClassification(
        new BertConfig({ ...tiny, num_labels: 2 }),
        { seed: 1 },
      );
      const ids = tf.tensor2d(
        [[2, 5, 6, 5, 3], [2, 9, 9, 3, 0]],
        undefined,
        "int32",
      );
      const mask = tf.tensor2d(
        [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]],
        undefined,
        "int32",
      );
      const labels = tf.tensor1d([0, 1], "int32");
      const word = model.bert.wordEmbeddings;
      const { grads: g, value } = tf.variableGrads(
        () =>
          model.forward({ input_ids: ids, attention_mask: mask, labels }).loss!,
        [word],
      );
      grads[backend] = g[word.name].dataSync() as Float32Array;
      tf.dispose([value, g[word.name]]);
      if (backend === "wasm") {
        const optimizer = tf.train.adam(1e-2);
        losses = [];
        for (let step = 0; step < 15; step++) {
          const loss = optimizer.minimize(
            () =>
              model.forward({ input_ids: ids, attention_mask: mask, labels }, {
                training: true,
              }).loss!,
            true,
            model.trainableVariables(),
          );
          losses.push(loss!.dataSync()[0]);
          loss!.dispose();
        }
        optimizer.dispose();
      }
      model.dispose();
      tf.dispose([ids, mask, labels]);
    }
    const row = (g: Float32Array, r: number) =>
      Array.from(g.slice(r * 16, r * 16 + 16));
    assert.ok(
      row(grads.cpu, 0).every((v) => v === 0),
      "pad row gets no gradient",
    );
    assert.ok(
      row(grads.cpu, 9).some((v) => v !== 0),
      "row of a used token gets one",
    );
    grads.cpu.forEach((v, i) =>
      assert.ok(
        Math.abs(v - grads.wasm[i]) < 1e-5,
        `grad ${i}: ${v} vs ${grads.wasm[i]}`,
      )
    );
    assert.ok(
      losses[losses.length - 1] < losses[0] * 0.5,
      `loss ${losses[0]} -> ${losses[losses.length - 1]}`,
    );
  },
});

Deno.test({
  name:
    "wasm: the batched matmul kernel (zero-copy views) equals cpu, transposed cases fall back",
  ...opts,
  async fn() {
    const a = Array.from({ length: 6 * 5 * 7 }, (_, i) => Math.sin(i));
    const b = Array.from({ length: 6 * 7 * 3 }, (_, i) => Math.cos(i));
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ["cpu", "wasm"]) {
      assert.ok(await useBackend(backend));
      results[backend] = tf.tidy(() => {
        const ta = tf.tensor3d(a, [6, 5, 7]);
        const tb = tf.tensor3d(b, [6, 7, 3]);
        return [
          tf.matMul(ta, tb).dataSync() as Float32Array,
          tf.matMul(tf.reshape(ta, [2, 3, 5, 7]), tf.reshape(tb, [2, 3, 7, 3]))
            .dataSync() as Float32Array,
          tf.matMul(ta, tf.transpose(tb, [0, 2, 1]), false, true)
            .dataSync() as Float32Array,
        ];
      });
    }
    for (const [i, want] of results.cpu.entries()) {
      want.forEach((w, j) =>
        assert.ok(Math.abs(w - results.wasm[i][j]) < 1e-4, `case ${i} [${j}]`)
      );
    }
  },
});

Deno.test({
  name:
    "ids outside an embedding table are CourseErrors naming the argument, the value and the range",
  ...opts,
  async fn() {
    await useBackend(TEST_BACKEND);
    const model = new BertForSequenceClassification(new BertConfig(tiny), {
      seed: 1,
    }); // vocab_size 50, type_vocab_size 2
    const ids = (rows: number[][]) => tf.tensor2d(rows, undefined, "int32");
    const labels = tf.tensor1d([1], "int32");
    const rejects = (
      run: () => unknown,
      message: RegExp,
      hint: RegExp,
      label: string,
    ) =>
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof CourseError, `${label}: ${e}`);
        assert.equal(e.code, "model_input_out_of_range", label);
        assert.match(e.message, message, label);
        assert.match(e.hint, hint, label);
        return true;
      });
    const forward = (
      inputs: Parameters<typeof model.forward>[0],
      training = false,
    ) =>
    () => tf.tidy(() => model.forward(inputs, { training }).logits);

    rejects(
      forward({ input_ids: ids([[2, 7, 50, 3]]) }),
      /input_ids\[0\]\[2\] = 50 .*0\.\.49 \(vocab_size = 50\); 1 of 4/,
      /토크나이저와 모델의 어휘/,
      "id from a bigger vocabulary",
    );
    rejects(
      forward({ input_ids: ids([[2, -100, 3]]) }),
      /input_ids\[0\]\[1\] = -100/,
      /labels/,
      "-100 fed as an input id",
    );
    rejects(
      forward({
        input_ids: ids([[2, 7, 3]]),
        token_type_ids: ids([[0, 1, 2]]),
      }),
      /token_type_ids\[0\]\[2\] = 2 .*0\.\.1 \(type_vocab_size = 2\)/,
      /token_type_ids/,
      "token type 2",
    );
    // The training path (inside tf.variableGrads), ids made from arrays as collate makes them.
    rejects(
      () =>
        tf.variableGrads(() =>
          model.forward({ input_ids: ids([[2, 60, 3]]), labels }, {
            training: true,
          }).loss!
        ),
      /input_ids\[0\]\[1\] = 60/,
      /vocab_size 50/,
      "training step",
    );
    // Valid ids still run.
    const ok = tf.tidy(() =>
      model.forward({ input_ids: ids([[2, 49, 3]]) }).logits!.shape
    );
    assert.deepEqual(ok, [1, 2]);

    if (tf.getBackend() === "tensorflow") {
      // Ids already used by an op live in TensorFlow, not in JS: a training step does not read
      // them back, and a bad one still comes out as the CourseError (from the gather's failure).
      const resident = (rows: number[][]) => {
        const t = ids(rows);
        tf.add(t, 0).dispose();
        let reads = 0;
        const dataSync = t.dataSync.bind(t);
        t.dataSync = (() => (reads++, dataSync())) as typeof t.dataSync;
        return { t, reads: () => reads };
      };
      const good = resident([[2, 7, 3]]);
      tf.dispose(
        tf.variableGrads(() =>
          model.forward({ input_ids: good.t, labels }, { training: true })
            .loss!
        ).grads,
      );
      assert.equal(good.reads(), 0, "no readback in a training step");
      tf.tidy(() => model.forward({ input_ids: good.t }).logits);
      assert.equal(good.reads(), 1, "inference checks, with one readback");
      const bad = resident([[2, 70, 3]]);
      rejects(
        forward({ input_ids: bad.t, labels }, true),
        /input_ids\[0\]\[1\] = 70/,
        /토크나이저/,
        "device-resident bad id in training",
      );
    }
    model.dispose();
  },
});

Deno.test("a type_vocab_size 1 model explains a sentence pair", () => {
  const model = new BertModel(new BertConfig({ ...tiny, type_vocab_size: 1 }));
  assert.throws(
    () =>
      model.forward({
        input_ids: tf.tensor2d([[2, 7, 3, 8, 3]], undefined, "int32"),
        token_type_ids: tf.tensor2d([[0, 0, 0, 1, 1]], undefined, "int32"),
      }),
    (e: unknown) =>
      e instanceof CourseError &&
      /token_type_ids\[0\]\[3\] = 1 .*0\.\.0 \(type_vocab_size = 1\)/.test(
        e.message,
      ) && /type_vocab_size가 1/.test(e.hint),
  );
  model.dispose();
});
