/**
 * The TensorFlow graph engine (lib/models/tf_graph, lib/runtime/native_graph.ts): the exported
 * ONNX graph translated to a frozen TensorFlow graph gives Hugging Face's outputs on the shared
 * fixture (real weights with nonzero biases and LayerNorm shifts, so TensorFlow's fusions fire),
 * equals onnxruntime for the seeded heads, runs through pipeline() without leaking tensors, and
 * refuses what it cannot translate or run. Native backend only.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  BertForQuestionAnswering,
  BertForTokenClassification,
} from "../lib/models/mod.ts";
import {
  exportOnnx,
  type ExportTask,
  readStateDict,
} from "../lib/models/onnx/mod.ts";
import { onnx } from "../lib/models/onnx/proto.ts";
import {
  exportTfGraph,
  SAVED_MODEL_TAG,
  tfGraphFromOnnx,
  type TfGraphOptions,
} from "../lib/models/tf_graph/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { NativeGraphSession } from "../lib/runtime/native_graph.ts";
import {
  createTensorflowEngine,
  graphAttempts,
  openTranslatedGraph,
} from "../lib/tasks/engine_tensorflow.ts";
import { pipeline } from "../lib/tasks/mod.ts";
import { useBackend } from "./models_util.ts";
import {
  assertClose,
  FIXTURE_DIR,
  loadReference,
  type ReferenceBatch,
  runOnnx,
} from "./onnx_helpers.ts";
import { makeTaskFolders } from "./tasks_helpers.ts";

type Scores = { label: string; score: number };

const ignore = !(await useBackend("tensorflow"));
const reference = await loadReference();

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "tf-graph-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `onnxPath` translated, on each reference batch: output name -> flat values. */
async function runTranslated(
  onnxPath: string,
  dir: string,
  batches: ReferenceBatch[],
  options: TfGraphOptions = {},
): Promise<Record<string, Float32Array>[]> {
  const graph = await exportTfGraph(onnxPath, join(dir, "tf"), options);
  const session = NativeGraphSession.load(
    graph.dir,
    SAVED_MODEL_TAG,
    graph.inputs,
  );
  try {
    return batches.map((batch) =>
      tf.tidy(() => {
        const outputs = session.run({
          input_ids: tf.tensor2d(batch.input_ids, undefined, "int32"),
          attention_mask: tf.tensor2d(batch.attention_mask, undefined, "int32"),
          token_type_ids: tf.tensor2d(batch.token_type_ids, undefined, "int32"),
        }, graph.outputs);
        return Object.fromEntries(
          graph.outputs.map((
            name,
            i,
          ) => [name, outputs[i].dataSync() as Float32Array]),
        );
      })
    );
  } finally {
    session.dispose();
  }
}

async function fixtureWithSeqclsHead() {
  const stateDict = await readStateDict(join(FIXTURE_DIR, "model.safetensors"));
  for (
    const [name, tensor] of await readStateDict(
      join(FIXTURE_DIR, "seqcls.safetensors"),
    )
  ) {
    stateDict.set(name, tensor);
  }
  const config = JSON.parse(
    await readFile(join(FIXTURE_DIR, "config.json"), "utf8"),
  );
  return { config: { ...config, ...reference.seqcls_config }, stateDict };
}

const HF_CASES: {
  task: ExportTask;
  want: Record<string, (batch: ReferenceBatch) => number[]>;
}[] = [
  {
    task: "fill-mask",
    want: { logits: (b) => b.pretraining.prediction_logits.flat(2) },
  },
  {
    task: "next-sentence-prediction",
    want: { logits: (b) => b.pretraining.seq_relationship_logits.flat() },
  },
  {
    task: "feature-extraction",
    want: {
      last_hidden_state: (b) => b.pretraining.last_hidden_state.flat(2),
      pooler_output: (b) => b.pretraining.pooler_output.flat(),
    },
  },
  {
    task: "text-classification",
    want: { logits: (b) => b.seqcls.logits.flat() },
  },
];

/** oneDNN's LayerNorm, plain ops, and the course's attention and LayerNorm kernels (loaded by setup). */
const VARIANTS: TfGraphOptions[] = [
  { layerNorm: "fused" },
  { layerNorm: "ops" },
  { layerNorm: "course", attention: "course" },
];

for (const { task, want } of HF_CASES) {
  Deno.test({
    name:
      `${task}: the TensorFlow graph matches Hugging Face's outputs, LayerNorm fused, as ops, and with the course's kernels`,
    ignore,
    fn: () =>
      withTempDir(async (dir) => {
        const source = task === "text-classification"
          ? await fixtureWithSeqclsHead()
          : FIXTURE_DIR;
        const { modelPath } = await exportOnnx(source, dir, { task });
        for (const options of VARIANTS) {
          const got = await runTranslated(
            modelPath,
            dir,
            reference.batches,
            options,
          );
          const variant = options.attention ?? options.layerNorm;
          for (const [i, batch] of reference.batches.entries()) {
            for (const [name, values] of Object.entries(want)) {
              assertClose(
                got[i][name],
                values(batch),
                `${task} ${variant} ${batch.name} ${name}`,
              );
            }
          }
        }
      }),
  });
}

Deno.test({
  name:
    "with the course's kernels each attention block is one CourseAttention op and each residual LayerNorm one CourseAddLayerNorm",
  ignore,
  fn: async () => {
    const dir = await mkdtemp(join(tmpdir(), "tf-graph-test-"));
    try {
      const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
        task: "feature-extraction",
      });
      const onnxBytes = await readFile(modelPath);
      const count = (options: TfGraphOptions, op: string) => {
        const text = new TextDecoder("latin1").decode(
          tfGraphFromOnnx(onnxBytes, options).savedModel,
        );
        return text.split(`\x12${String.fromCharCode(op.length)}${op}`)
          .length - 1;
      };
      const layers = JSON.parse(
        await readFile(join(FIXTURE_DIR, "config.json"), "utf8"),
      ).num_hidden_layers as number;
      const course = { layerNorm: "course", attention: "course" } as const;
      assert.equal(count(course, "CourseAttention"), layers);
      // Two residual sums per layer, and the embeddings' sum of three lookups.
      assert.equal(count(course, "CourseAddLayerNorm"), 2 * layers + 1);
      for (const op of ["Softmax", "Transpose", "BatchMatMulV2", "SplitV"]) {
        assert.equal(count(course, op), 0, op);
        assert.ok(count({}, op) > 0, op);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});

Deno.test({
  name:
    "the engine opens the graph with the course's kernels here, else oneDNN's LayerNorm, and falls back to plain ops where that kernel is missing",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
        task: "feature-extraction",
      });
      const open = async (attempts?: TfGraphOptions[]) => {
        const opened = await openTranslatedGraph(
          modelPath,
          join(dir, "tf"),
          attempts,
        );
        opened.session.dispose();
        return opened.options;
      };
      // Setup builds the course's kernels (native_kernels_test fails where they are missing) and
      // x86 TensorFlow 2.21 has oneDNN's: the fastest graph is the default.
      assert.deepEqual(graphAttempts()[0], {
        layerNorm: "course",
        attention: "course",
      });
      assert.equal((await open()).attention, "course");
      assert.equal((await open(graphAttempts().slice(1))).layerNorm, "fused");
      const missing = {
        layerNorm: "fused" as const,
        layerNormKernel: "_NoSuchLayerNorm",
      };
      assert.equal(
        (await open([missing, { layerNorm: "ops" }])).layerNorm,
        "ops",
      );
      await assert.rejects(
        () => open([missing]),
        (error: unknown) =>
          error instanceof CourseError &&
          error.code === "TASK_TENSORFLOW_LOAD_FAILED" &&
          /engine: "onnx"/.test(error.hint) &&
          /_NoSuchLayerNorm/.test(String((error.cause as Error).message)),
      );
    }),
});

Deno.test({
  name: "token-classification and QA: the TensorFlow graph equals onnxruntime",
  ignore,
  fn: async () => {
    const models = [
      {
        task: "token-classification" as const,
        model: await BertForTokenClassification.fromPretrained(FIXTURE_DIR, {
          num_labels: 5,
          seed: 3,
          verbose: false,
        }),
      },
      {
        task: "question-answering" as const,
        model: await BertForQuestionAnswering.fromPretrained(FIXTURE_DIR, {
          seed: 4,
          verbose: false,
        }),
      },
    ];
    try {
      for (const { task, model } of models) {
        await withTempDir(async (dir) => {
          const { modelPath } = await exportOnnx(model, dir, { task });
          const got = await runTranslated(modelPath, dir, reference.batches);
          for (const [i, batch] of reference.batches.entries()) {
            const want = await runOnnx(modelPath, batch);
            assert.deepEqual(
              Object.keys(got[i]).sort(),
              Object.keys(want).sort(),
            );
            for (const [name, tensor] of Object.entries(want)) {
              assertClose(
                got[i][name],
                Array.from(tensor.data as Float32Array),
                `${task} ${batch.name} ${name}`,
                1e-5,
                1e-5,
              );
            }
          }
        });
      }
    } finally {
      for (const { model } of models) model.dispose();
    }
  },
});

Deno.test({
  name:
    'pipeline(..., { engine: "tensorflow" }) gives the onnx engine\'s results, leak-free',
  ignore,
  fn: async () => {
    const folders = await makeTaskFolders();
    try {
      const inputs = ["안녕하세요 !", "한국어 학생 hello", "좋아요"];
      const onnxPipe = await pipeline("text-classification", folders.sentiment);
      const want = await onnxPipe(inputs, { topK: "all" }) as Scores[][];
      await onnxPipe.dispose();
      const tfPipe = await pipeline("text-classification", folders.sentiment, {
        engine: "tensorflow",
      });
      assert.equal(tfPipe.engine, "tensorflow");
      await tfPipe(inputs); // the first run optimizes the graph
      const before = tf.memory().numTensors;
      const got = await tfPipe(inputs, { topK: "all" }) as Scores[][];
      assert.equal(tf.memory().numTensors, before);
      await tfPipe.dispose();
      assert.equal(got.length, want.length);
      for (const [i, row] of got.entries()) {
        assert.deepEqual(row.map((r) => r.label), want[i].map((r) => r.label));
        assertClose(
          row.map((r) => r.score),
          want[i].map((r) => r.score),
          `row ${i}`,
          1e-6,
          1e-5,
        );
      }
    } finally {
      await folders.cleanup();
    }
  },
});

Deno.test({
  name: "an operator the translator does not know is refused, not approximated",
  ignore,
  fn: () =>
    withTempDir(async (dir) => {
      const { modelPath } = await exportOnnx(FIXTURE_DIR, dir, {
        task: "feature-extraction",
      });
      const model = onnx.ModelProto.decode(await readFile(modelPath));
      const erf = model.graph!.node!.find((node) => node.opType === "Erf")!;
      erf.opType = "Celu";
      const edited = onnx.ModelProto.encode(model).finish();
      assert.throws(
        () => tfGraphFromOnnx(edited),
        (error: unknown) =>
          error instanceof CourseError &&
          error.code === "TF_GRAPH_UNSUPPORTED" &&
          /Celu/.test(error.message),
      );
    }),
});

Deno.test({
  name: 'engine "tensorflow" off the native backend says so in Korean',
  ignore,
  fn: async () => {
    await tf.setBackend("cpu");
    try {
      await assert.rejects(
        () => createTensorflowEngine("unused.onnx", "unused"),
        (error: unknown) =>
          error instanceof CourseError &&
          error.code === "TASK_TENSORFLOW_UNAVAILABLE" &&
          /tools\/setup\.sh/.test(error.hint),
      );
    } finally {
      await tf.setBackend("tensorflow");
    }
  },
});

Deno.test({
  name:
    "WebGPU's LLVM (Mesa) in the process: the graph is refused in Korean, or runs with LD_BIND_NOW, never a segfault",
  ignore: ignore || Deno.build.os !== "linux",
  fn: async () => {
    const child = new URL("./tf_graph_webgpu_child.ts", import.meta.url);
    const runChild = async (bindNow: boolean) => {
      const env = { ...Deno.env.toObject() };
      delete env.LD_BIND_NOW;
      if (bindNow) env.LD_BIND_NOW = "1";
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child.pathname],
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
      assert.equal(
        out.code,
        0,
        `child (LD_BIND_NOW=${bindNow ? 1 : "unset"}) exited ${out.code}${
          out.signal ? ` (${out.signal})` : ""
        }: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
      );
      return JSON.parse(stdout.at(-1)!) as {
        adapter: boolean;
        llvmMapped: boolean;
        outcome: string;
      };
    };
    const lazy = await runChild(false);
    assert.equal(
      lazy.outcome,
      lazy.llvmMapped ? "refused RUNTIME_TENSORFLOW_GRAPH_LLVM_CLASH" : "ran",
    );
    const eager = await runChild(true);
    assert.equal(eager.outcome, "ran");
    if (!lazy.llvmMapped) {
      console.log(
        `no foreign libLLVM mapped here (WebGPU adapter: ${lazy.adapter}); only the plain run was checked`,
      );
    }
  },
});
