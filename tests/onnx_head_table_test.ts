/**
 * The head table (lib/models/head_table.ts) is the one place that says which
 * head serves which task: every row has what the exporter and pipeline() need,
 * the exported graphs and the tfjs classes have exactly the row's inputs and
 * outputs, and an alias works as its task in both.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import * as tf from "@tensorflow/tfjs-core";
import {
  canonicalTaskName,
  checkpointHasHead,
  HEAD_TABLE,
  HEAD_TASKS,
  headByArchitecture,
  headForExportTask,
  headForTask,
  type HeadRow,
  type HeadTask,
  TASK_ALIASES,
} from "../lib/models/mod.ts";
import {
  EXPORT_TASKS,
  exportOnnx,
  HEAD_GRAPHS,
  readStateDict,
  taskFromArchitectures,
} from "../lib/models/onnx/mod.ts";
import { pipeline } from "../lib/tasks/mod.ts";
import { initBackend } from "../lib/runtime/backend.ts";
import {
  FIXTURE_DIR,
  int64Tensor,
  loadReference,
  seededArray,
} from "./onnx_helpers.ts";
import { makeTaskFolders, type TaskFolders } from "./tasks_helpers.ts";

await initBackend();
const reference = await loadReference();
const ROWS = HEAD_TABLE as readonly HeadRow[];

/** Per task: a folder with its head and an input (a new task must add both). */
const TASK_SAMPLES: Record<
  HeadTask,
  { folder: keyof TaskFolders; input: unknown }
> = {
  "text-classification": { folder: "sentiment", input: ["안녕하세요 !"] },
  "sentence-similarity": {
    folder: "similarity",
    input: [{ text: "좋아요 감사합니다", textPair: "감사합니다" }],
  },
  "token-classification": {
    folder: "ner",
    input: "안녕하세요 한국어 학생 hello",
  },
  "fill-mask": { folder: "pretraining", input: "the [MASK] is good" },
  "question-answering": {
    folder: "qa",
    input: {
      question: "감사합니다 ?",
      context: "안녕하세요 ! 좋아요 감사합니다 .",
    },
  },
  "next-sentence": {
    folder: "pretraining",
    input: [{ text: "hello", textPair: "좋아요 감사합니다" }],
  },
};

/** The fixture with every head the graphs need (seq-cls weights serve token-cls too). */
async function fullSource() {
  const stateDict = await readStateDict(join(FIXTURE_DIR, "model.safetensors"));
  const seqcls = await readStateDict(join(FIXTURE_DIR, "seqcls.safetensors"));
  for (const [name, tensor] of seqcls) stateDict.set(name, tensor);
  stateDict.set("qa_outputs.weight", {
    shape: [2, 32],
    data: seededArray(64, 1, 0.3),
  });
  stateDict.set("qa_outputs.bias", {
    shape: [2],
    data: seededArray(2, 2, 0.1),
  });
  const config = {
    ...JSON.parse(await readFile(join(FIXTURE_DIR, "config.json"), "utf8")),
    ...reference.seqcls_config,
  };
  return { config, stateDict };
}

/** Rank of an output or input: its dynamic axes plus the fixed ones. */
function axesOf(row: HeadRow, name: string) {
  return row.outputs[name] ?? row.onnx!.inputs[name];
}

Deno.test("every head row: a class of its name, and a graph builder with a pipeline task, or export-only, or carried heads", () => {
  const architectures = ROWS.map((row) => row.architecture);
  assert.equal(new Set(architectures).size, ROWS.length, "one row per head");
  for (const row of ROWS) {
    const where = row.architecture;
    assert.equal(row.modelClass.name, row.architecture, where);
    assert.equal(typeof row.modelClass.fromPretrained, "function", where);
    assert.ok(Object.keys(row.outputs).length > 0, `${where}: outputs`);
    for (const name of row.optionalOutputs ?? []) {
      assert.ok(Object.hasOwn(row.outputs, name), `${where}: ${name}`);
    }
    if (row.onnx) {
      assert.equal(
        typeof HEAD_GRAPHS[where as keyof typeof HEAD_GRAPHS],
        "function",
        `${where} has an ONNX graph builder`,
      );
      assert.deepEqual(
        Object.keys(row.onnx.inputs),
        ["input_ids", "attention_mask", "token_type_ids"],
        `${where}: the inputs optimum exports and transformers.js feeds`,
      );
      assert.equal(row.carries, undefined, where);
      if (row.exportOnly) {
        assert.deepEqual(row.tasks, [], `${where} is export-only`);
      } else {
        assert.ok(row.tasks.length > 0, `${where} serves a pipeline task`);
        assert.ok(row.headWeight, `${where}: pipeline checks its head weight`);
      }
    } else {
      // No graph of its own: exported and served as the heads it carries.
      assert.ok(
        row.carries?.length,
        `${where}: no ONNX graph, no carried heads`,
      );
      assert.deepEqual(row.tasks, [], where);
      for (const carried of row.carries!) {
        assert.ok(
          headByArchitecture(carried)?.onnx,
          `${where} carries ${carried}`,
        );
        assert.ok(checkpointHasHead(where, headByArchitecture(carried)!));
      }
    }
  }
  // No builder without a row, no export task or pipeline task twice.
  assert.deepEqual(
    Object.keys(HEAD_GRAPHS).sort(),
    ROWS.filter((row) => row.onnx).map((row) => row.architecture).sort(),
  );
  assert.equal(new Set(EXPORT_TASKS).size, EXPORT_TASKS.length);
  assert.equal(new Set(HEAD_TASKS).size, HEAD_TASKS.length);
  assert.deepEqual(Object.keys(TASK_SAMPLES).sort(), [...HEAD_TASKS].sort());
  for (const task of HEAD_TASKS) {
    assert.ok(headForTask(task)?.tasks.includes(task), task);
  }
});

Deno.test("each alias resolves to its task, for the exporter and pipeline alike", async () => {
  assert.ok(Object.keys(TASK_ALIASES).length >= 2);
  for (const [alias, task] of Object.entries(TASK_ALIASES)) {
    assert.equal(canonicalTaskName(alias), task);
    assert.ok(!HEAD_TASKS.includes(alias as HeadTask), `${alias} is a task`);
    assert.ok(!(EXPORT_TASKS as string[]).includes(alias), alias);
    const row = ROWS.find((r) => Object.hasOwn(r.aliases ?? {}, alias))!;
    assert.ok(
      row.tasks.includes(task) || row.onnx?.task === task,
      `${alias} -> ${task}, a task of ${row.architecture}`,
    );
    assert.equal(headForTask(alias), headForTask(task), alias);
    assert.equal(headForExportTask(alias), headForExportTask(task), alias);
  }
  // Behaviour: the same graph and the same pipeline results under either name.
  const source = await fullSource();
  const dir = await mkdtemp(join(tmpdir(), "head-table-"));
  const folders = await makeTaskFolders();
  try {
    for (const [alias, task] of Object.entries(TASK_ALIASES)) {
      if (!headForExportTask(task)) continue;
      const [byAlias, byTask] = await Promise.all(
        [alias, task].map((name) =>
          exportOnnx(source, join(dir, name), { task: name as "ner" })
        ),
      );
      assert.equal(byAlias.task, byTask.task);
      assert.deepEqual(
        await readFile(byAlias.modelPath),
        await readFile(byTask.modelPath),
        `${alias} exports the ${task} graph`,
      );
    }
    for (const [alias, task] of Object.entries(TASK_ALIASES)) {
      if (!HEAD_TASKS.includes(task as HeadTask)) continue;
      const sample = TASK_SAMPLES[task as HeadTask];
      const results = [];
      for (const name of [alias, task]) {
        const run = await pipeline(
          name as "ner",
          folders[sample.folder] as string,
          { engine: "tfjs" },
        );
        try {
          assert.equal(run.task, name);
          results.push(await run(sample.input as string));
        } finally {
          await run.dispose();
        }
      }
      assert.deepEqual(results[0], results[1], `${alias} = ${task}`);
    }
  } finally {
    await folders.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("every table task runs in pipeline() on its head, with the default engine", async () => {
  const folders = await makeTaskFolders();
  try {
    for (const task of HEAD_TASKS) {
      const sample = TASK_SAMPLES[task];
      const run = await pipeline(task, folders[sample.folder] as string);
      try {
        const result = await run(sample.input as string);
        assert.ok(result !== undefined && result !== null, task);
      } finally {
        await run.dispose();
      }
    }
  } finally {
    await folders.cleanup();
  }
});

Deno.test("every exported graph has its row's inputs, outputs and dynamic axes", async () => {
  const { config, stateDict } = await fullSource();
  const batch = reference.batches[0];
  // Two shapes: [2, 8] and row 1 cut to [1, 5].
  const feeds = [
    {
      input_ids: batch.input_ids,
      attention_mask: batch.attention_mask,
      token_type_ids: batch.token_type_ids,
    },
    {
      input_ids: [batch.input_ids[1].slice(0, 5)],
      attention_mask: [batch.attention_mask[1].slice(0, 5)],
      token_type_ids: [batch.token_type_ids[1].slice(0, 5)],
    },
  ];
  const dir = await mkdtemp(join(tmpdir(), "head-table-"));
  try {
    for (const task of EXPORT_TASKS) {
      const row = headForExportTask(task)!;
      const result = await exportOnnx(
        { config, stateDict },
        join(dir, task),
        { task },
      );
      const saved = JSON.parse(
        await readFile(join(dir, task, "config.json"), "utf8"),
      );
      assert.deepEqual(saved.architectures, [row.architecture]);
      assert.equal(taskFromArchitectures(saved), task);
      const session = await ort.InferenceSession.create(result.modelPath);
      try {
        assert.deepEqual(session.inputNames, Object.keys(row.onnx!.inputs));
        assert.deepEqual(session.outputNames, Object.keys(row.outputs), task);
        const fixed: Record<string, number[]> = {};
        for (const feed of feeds) {
          const out = await session.run(
            Object.fromEntries(
              Object.entries(feed).map(([k, v]) => [k, int64Tensor(v)]),
            ),
          );
          const size: Record<string, number> = {
            batch_size: feed.input_ids.length,
            sequence_length: feed.input_ids[0].length,
          };
          for (const name of session.outputNames) {
            const axes = axesOf(row, name);
            const dims = out[name].dims;
            const rest = dims.filter((_, i) => !(i in axes));
            for (const [axis, symbol] of Object.entries(axes)) {
              assert.equal(dims[Number(axis)], size[symbol], `${task} ${name}`);
            }
            fixed[name] ??= rest;
            assert.deepEqual(rest, fixed[name], `${task} ${name} fixed axes`);
          }
        }
      } finally {
        await session.release();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // A checkpoint that only carries heads is exported as the first one.
  for (const row of ROWS.filter((r) => r.carries)) {
    assert.equal(
      taskFromArchitectures({ ...config, architectures: [row.architecture] }),
      headByArchitecture(row.carries![0])!.onnx!.task,
    );
  }
});

Deno.test("each head class's forward returns its row's outputs with their dynamic axes", async () => {
  const batch = reference.batches[0];
  const [b, s] = [batch.input_ids.length, batch.input_ids[0].length];
  for (const row of ROWS) {
    const model = await row.modelClass.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    }) as unknown as {
      forward(inputs: Record<string, tf.Tensor>): Record<string, unknown>;
      dispose(): void;
    };
    try {
      const out = model.forward({
        input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
        attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
        token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
      });
      for (const [name, axes] of Object.entries(row.outputs)) {
        const tensor = out[name];
        assert.ok(tensor instanceof tf.Tensor, `${row.architecture}.${name}`);
        for (const [axis, symbol] of Object.entries(axes)) {
          assert.equal(
            tensor.shape[Number(axis)],
            symbol === "batch_size" ? b : s,
            `${row.architecture}.${name} axis ${axis}`,
          );
        }
      }
      for (const value of Object.values(out)) {
        if (value instanceof tf.Tensor) value.dispose();
      }
    } finally {
      model.dispose();
    }
  }
});
