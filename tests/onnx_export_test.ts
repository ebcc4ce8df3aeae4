import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EXPORT_TASKS,
  exportOnnx,
  readStateDict,
} from "../lib/models/onnx/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  assertClose,
  FIXTURE_DIR,
  linearRows,
  loadReference,
  runOnnx,
  seededArray,
} from "./onnx_helpers.ts";

const reference = await loadReference();

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), "onnx-export-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function fixtureWithHead(
  head: Record<string, { shape: number[]; data: Float32Array }>,
  configExtra: Record<string, unknown> = {},
) {
  const stateDict = await readStateDict(
    join(FIXTURE_DIR, "model.safetensors"),
  );
  for (const [name, tensor] of Object.entries(head)) {
    stateDict.set(name, tensor);
  }
  const config = JSON.parse(
    await readFile(join(FIXTURE_DIR, "config.json"), "utf8"),
  );
  return { config: { ...config, ...configExtra }, stateDict };
}

Deno.test("fill-mask export matches HF prediction_logits (folder source)", async () => {
  await withTempDir(async (dir) => {
    const result = await exportOnnx(FIXTURE_DIR, dir);
    assert.equal(result.task, "fill-mask"); // from BertForPreTraining
    assert.deepEqual(result.copiedFiles, [
      "tokenizer_config.json",
      "vocab.txt",
    ]);
    const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    assert.deepEqual(config.architectures, ["BertForMaskedLM"]);
    for (const batch of reference.batches) {
      const out = await runOnnx(result.modelPath, batch);
      assert.deepEqual(out.logits.dims, [2, 8, 120]);
      assertClose(
        out.logits.data as Float32Array,
        batch.pretraining.prediction_logits.flat(2),
        `${batch.name} logits`,
      );
    }
  });
});

Deno.test("feature-extraction export matches last_hidden_state and pooler_output", async () => {
  await withTempDir(async (dir) => {
    const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
      task: "feature-extraction",
    });
    for (const batch of reference.batches) {
      const out = await runOnnx(modelPath, batch);
      assertClose(
        out.last_hidden_state.data as Float32Array,
        batch.pretraining.last_hidden_state.flat(2),
        `${batch.name} last_hidden_state`,
      );
      assertClose(
        out.pooler_output.data as Float32Array,
        batch.pretraining.pooler_output.flat(),
        `${batch.name} pooler_output`,
      );
    }
  });
});

Deno.test("next-sentence-prediction export matches seq_relationship_logits", async () => {
  await withTempDir(async (dir) => {
    const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
      task: "next-sentence-prediction",
    });
    for (const batch of reference.batches) {
      const out = await runOnnx(modelPath, batch);
      assertClose(
        out.logits.data as Float32Array,
        batch.pretraining.seq_relationship_logits.flat(),
        `${batch.name} nsp logits`,
      );
    }
  });
});

Deno.test("text-classification export matches the HF seqcls logits", async () => {
  const head = await readStateDict(join(FIXTURE_DIR, "seqcls.safetensors"));
  const source = await fixtureWithHead(
    Object.fromEntries(head),
    reference.seqcls_config,
  );
  await withTempDir(async (dir) => {
    const result = await exportOnnx(source, dir, {
      task: "sentiment-analysis",
    });
    assert.equal(result.task, "text-classification");
    const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    assert.deepEqual(config.id2label, {
      0: "LABEL_0",
      1: "LABEL_1",
      2: "LABEL_2",
    });
    for (const batch of reference.batches) {
      const out = await runOnnx(result.modelPath, batch);
      assert.deepEqual(out.logits.dims, [2, 3]);
      assertClose(
        out.logits.data as Float32Array,
        batch.seqcls.logits.flat(),
        `${batch.name} seqcls logits`,
      );
    }
  });
});

Deno.test("token-classification and QA heads equal a linear map of HF hidden states", async () => {
  const tokenWeight = seededArray(5 * 32, 11, 0.3);
  const tokenBias = seededArray(5, 12, 0.1);
  const qaWeight = seededArray(2 * 32, 13, 0.3);
  const qaBias = seededArray(2, 14, 0.1);
  const source = await fixtureWithHead({
    "classifier.weight": { shape: [5, 32], data: tokenWeight },
    "classifier.bias": { shape: [5], data: tokenBias },
    "qa_outputs.weight": { shape: [2, 32], data: qaWeight },
    "qa_outputs.bias": { shape: [2], data: qaBias },
  });
  await withTempDir(async (dir) => {
    const tokenModel = await exportOnnx(source, join(dir, "ner"), {
      task: "token-classification",
    });
    const qaModel = await exportOnnx(source, join(dir, "qa"), {
      task: "question-answering",
    });
    for (const batch of reference.batches) {
      const rows = batch.pretraining.last_hidden_state.flat(1);
      const tokenOut = await runOnnx(tokenModel.modelPath, batch);
      assert.deepEqual(tokenOut.logits.dims, [2, 8, 5]);
      assertClose(
        tokenOut.logits.data as Float32Array,
        linearRows(rows, tokenWeight, tokenBias).flat(),
        `${batch.name} token logits`,
      );
      const qaOut = await runOnnx(qaModel.modelPath, batch);
      const spans = linearRows(rows, qaWeight, qaBias);
      assert.deepEqual(qaOut.start_logits.dims, [2, 8]);
      assertClose(
        qaOut.start_logits.data as Float32Array,
        spans.map((s) => s[0]),
        "start",
      );
      assertClose(
        qaOut.end_logits.data as Float32Array,
        spans.map((s) => s[1]),
        "end",
      );
    }
  });
});

Deno.test("dynamic axes: one exported model runs any batch size and length", async () => {
  await withTempDir(async (dir) => {
    const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
      task: "feature-extraction",
    });
    const batch = reference.batches[0];
    // Row 1 alone, cut to its 5 real tokens: padding must not change outputs.
    const out = await runOnnx(modelPath, {
      input_ids: [batch.input_ids[1].slice(0, 5)],
      attention_mask: [batch.attention_mask[1].slice(0, 5)],
      token_type_ids: [batch.token_type_ids[1].slice(0, 5)],
    });
    assert.deepEqual(out.last_hidden_state.dims, [1, 5, 32]);
    assertClose(
      out.last_hidden_state.data as Float32Array,
      batch.pretraining.last_hidden_state[1].slice(0, 5).flat(),
      "unpadded row",
    );
    assert.ok((await stat(modelPath)).size > 100_000);
  });
});

Deno.test("export errors are CourseErrors with Korean hints", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => exportOnnx(FIXTURE_DIR, dir, { task: "question-answering" }),
      (error: unknown) =>
        error instanceof CourseError && error.code === "ONNX_MISSING_WEIGHT" &&
        /qa_outputs/.test(error.message) && /헤드/.test(error.hint),
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => exportOnnx(FIXTURE_DIR, dir, { task: "translation" as any }),
      (error: unknown) =>
        error instanceof CourseError && error.code === "ONNX_UNKNOWN_TASK",
    );
    await assert.rejects(
      () => exportOnnx(join(dir, "missing"), dir),
      (error: unknown) =>
        error instanceof CourseError && error.code === "ONNX_CONFIG_MISSING",
    );
  });
});

// The official ONNX checker (Python `onnx`, full shape inference), when the
// project's venv has it; CI without Python skips this test.
const PYTHON = join(import.meta.dirname!, "..", ".venv", "bin", "python");
const hasPythonOnnx = await new Deno.Command(PYTHON, {
  args: ["-c", "import onnx"],
  stdout: "null",
  stderr: "null",
}).output().then((r) => r.success, () => false);

Deno.test({
  name: "onnx.checker.check_model(full_check=True) accepts every task graph",
  ignore: !hasPythonOnnx,
  fn: async () => {
    const head = await readStateDict(join(FIXTURE_DIR, "seqcls.safetensors"));
    const source = await fixtureWithHead({
      ...Object.fromEntries(head),
      "qa_outputs.weight": { shape: [2, 32], data: seededArray(64, 1, 0.3) },
      "qa_outputs.bias": { shape: [2], data: seededArray(2, 2, 0.1) },
    }, reference.seqcls_config);
    await withTempDir(async (dir) => {
      const paths = [];
      for (const task of EXPORT_TASKS) {
        paths.push(
          (await exportOnnx(source, join(dir, task), { task })).modelPath,
        );
      }
      const script = "import onnx, sys\n" +
        "for p in sys.argv[1:]:\n" +
        "    m = onnx.load(p)\n" +
        "    onnx.checker.check_model(m, full_check=True)\n" +
        "    assert m.opset_import[0].version == 17\n" +
        "print('ok', len(sys.argv) - 1)";
      const result = await new Deno.Command(PYTHON, {
        args: ["-c", script, ...paths],
      }).output();
      const output = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      assert.ok(result.success, output);
      assert.match(output, new RegExp(`ok ${EXPORT_TASKS.length}`));
    });
  },
});
