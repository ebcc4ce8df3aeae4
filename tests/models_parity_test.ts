/**
 * Parity with Hugging Face transformers on the hf-bert-tiny fixture: forward outputs, heads,
 * losses and gradients, on the cpu and wasm backends (and webgpu when an adapter exists).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  BertForPreTraining,
  BertForSequenceClassification,
  BertModel,
  readSafetensors,
  toFloat32,
} from "../lib/models/mod.ts";
import {
  assertClose,
  FIXTURE_DIR,
  fixtureAvailable,
  useBackend,
} from "./models_util.ts";

const haveFixture = await fixtureAvailable();
// deno-lint-ignore no-explicit-any
const reference: any = haveFixture
  ? JSON.parse(await Deno.readTextFile(`${FIXTURE_DIR}/reference.json`))
  : null;

// deno-lint-ignore no-explicit-any
function inputsOf(batch: any) {
  return {
    input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
    attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
    token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
  };
}

/** Seq-cls model as the fixture describes: bert.* from model.safetensors + classifier from seqcls. */
async function loadSeqCls(): Promise<BertForSequenceClassification> {
  const model = await BertForSequenceClassification.fromPretrained(
    FIXTURE_DIR,
    { num_labels: 3, verbose: false },
  );
  const head = await readSafetensors(`${FIXTURE_DIR}/seqcls.safetensors`);
  const w = head.tensors.get("classifier.weight")!;
  const b = head.tensors.get("classifier.bias")!;
  tf.tidy(() => {
    model.classifier.weight.assign(
      tf.transpose(tf.tensor(toFloat32(w, "w", ""), w.shape)),
    );
    model.classifier.bias.assign(tf.tensor(toFloat32(b, "b", ""), b.shape));
  });
  return model;
}

/** Async reads: the webgpu backend cannot read synchronously under Deno. */
async function read(
  t: tf.Tensor | tf.Tensor[] | undefined,
): Promise<Float32Array> {
  return (await (t as tf.Tensor).data()) as Float32Array;
}

async function checkBackend(name: string): Promise<void> {
  const pre = await BertForPreTraining.fromPretrained(FIXTURE_DIR, {
    verbose: false,
  });
  assert.deepEqual(pre.loadingInfo?.missing_keys, []);
  assert.deepEqual(pre.loadingInfo?.unexpected_keys, []);
  const seqcls = await loadSeqCls();
  // deno-lint-ignore no-explicit-any
  for (const b of reference.batches as any[]) {
    const want = b.pretraining;
    const tag = `${name}/${b.name}`;
    const inputs = inputsOf(b);
    const mlmLabels = tf.tensor2d(b.mlm_labels, undefined, "int32");
    const nspLabels = tf.tensor1d(b.next_sentence_label, "int32");
    const out = pre.forward(
      { ...inputs, labels: mlmLabels, next_sentence_label: nspLabels },
      { output_hidden_states: true, output_attentions: true },
    );
    assertClose(
      await read(out.last_hidden_state),
      want.last_hidden_state,
      `${tag} last_hidden_state`,
    );
    assertClose(
      await read(out.pooler_output),
      want.pooler_output,
      `${tag} pooler_output`,
    );
    assertClose(
      await read(out.prediction_logits),
      want.prediction_logits,
      `${tag} prediction_logits`,
    );
    assertClose(
      await read(out.seq_relationship_logits),
      want.seq_relationship_logits,
      `${tag} seq_relationship_logits`,
    );
    assert.equal(out.hidden_states!.length, want.hidden_states.length);
    for (const [i, h] of out.hidden_states!.entries()) {
      assertClose(
        await read(h),
        want.hidden_states[i],
        `${tag} hidden_states[${i}]`,
      );
    }
    assert.equal(out.attentions!.length, want.attentions.length);
    for (const [i, a] of out.attentions!.entries()) {
      assertClose(await read(a), want.attentions[i], `${tag} attentions[${i}]`);
    }
    assertClose(
      await read(out.loss),
      [want.loss],
      `${tag} pretraining loss`,
      1e-5,
      1e-5,
    );
    // The bare encoder gives the same features.
    const bare = pre.bert.forward(inputs);
    assertClose(
      await read(bare.last_hidden_state),
      want.last_hidden_state,
      `${tag} bert.last_hidden_state`,
    );
    tf.dispose([
      out as unknown as tf.TensorContainer,
      bare as unknown as tf.TensorContainer,
      mlmLabels,
      nspLabels,
    ]);

    const cls = b.seqcls;
    const labels = tf.tensor1d([0, 2], "int32");
    const clsOut = seqcls.forward(inputs);
    assertClose(await read(clsOut.logits), cls.logits, `${tag} seqcls logits`);
    tf.dispose(clsOut as unknown as tf.TensorContainer);
    const names = Object.keys(cls.grads);
    const named = seqcls.namedParameters();
    const variables = names.map((n) => named.get(n)!);
    const { value, grads } = tf.variableGrads(
      () => seqcls.forward({ ...inputs, labels }).loss!,
      variables,
    );
    assertClose(
      await read(value),
      [cls.loss],
      `${tag} seqcls loss`,
      1e-5,
      1e-5,
    );
    for (const [i, n] of names.entries()) {
      const g = grads[variables[i].name];
      // Linear weights are held as [in, out]; HF gradients are [out, in].
      const hfLayout = n.endsWith("embeddings.weight") ? g : tf.transpose(g);
      assertClose(await read(hfLayout), cls.grads[n], `${tag} grad ${n}`);
      if (hfLayout !== g) hfLayout.dispose();
    }
    tf.dispose([
      value,
      ...Object.values(grads),
      labels,
      ...Object.values(inputs),
    ]);
  }
  pre.dispose();
  seqcls.dispose();
}

for (const backend of ["tensorflow", "cpu", "wasm", "webgpu"]) {
  Deno.test({
    name: `models parity with Hugging Face (${backend})`,
    ignore: !haveFixture,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      if (!(await useBackend(backend))) {
        console.log(`  (${backend} backend not available here: skipped)`);
        return;
      }
      const before = tf.memory().numTensors;
      await checkBackend(backend);
      assert(
        tf.memory().numTensors <= before,
        `${backend}: leaked ${tf.memory().numTensors - before} tensors`,
      );
      void t;
    },
  });
}

Deno.test({
  name: "models: BertModel loads a checkpoint whose keys have the bert. prefix",
  ignore: !haveFixture,
  async fn() {
    await useBackend("cpu");
    const model = await BertModel.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    assert.deepEqual(model.loadingInfo?.missing_keys, []);
    // The MLM/NSP head tensors are unused by the bare encoder and reported as such.
    assert(
      model.loadingInfo!.unexpected_keys.every((k) => k.startsWith("cls.")),
    );
    const out = tf.tidy(() =>
      model.forward(inputsOf(reference.batches[0])).pooler_output!.dataSync()
    );
    assertClose(
      out,
      reference.batches[0].pretraining.pooler_output,
      "pooler_output",
    );
    model.dispose();
  },
});
