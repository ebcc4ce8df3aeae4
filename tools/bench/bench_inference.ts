/**
 * Inference throughput (sentences/s) on NSMC test reviews, for the course
 * model (models/ko-mini-bert with a new two-label head), run these ways:
 *
 *   - our pipeline("sentiment-analysis") on tfjs (the default engine:
 *     native when installed; COURSE_BACKEND=wasm for the fallback)
 *   - our pipeline on the exported ONNX graph (onnxruntime-node)
 *   - our pipeline on the same graph in TensorFlow's runtime (native only)
 *   - transformers.js pipeline("text-classification") on the same export
 *   - PyTorch (tools/bench/bench_inference_torch.py) on the same folder and sentences, when a
 *     Python with torch and transformers is found (COURSE_PYTHON, .venv, python3)
 *
 * Each measurement opens its pipeline, warms it up, times it and closes it,
 * so no idle onnxruntime thread pool competes with the one being timed, and
 * runs are interleaved (A B C, A B C, ...) so that load from other processes
 * falls on every engine alike.
 *
 * Usage: deno run -A tools/bench/bench_inference.ts [--sentences 512] [--batch 32]
 *        [--runs 3] [--json out/bench_inference.json] [--no-torch]
 * COURSE_QUICK=1 uses 64 sentences and one run.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  env as transformersEnv,
  pipeline as transformersPipeline,
} from "@huggingface/transformers";
import { resolveDataset } from "../../lib/hub/mod.ts";
import { BertForSequenceClassification } from "../../lib/models/mod.ts";
import { exportOnnx } from "../../lib/models/onnx/mod.ts";
import { getBackendInfo, initBackend } from "../../lib/runtime/backend.ts";
import { isQuickMode } from "../../lib/runtime/mode.ts";
import { type EngineName, pipeline } from "../../lib/tasks/mod.ts";
import { AutoTokenizer } from "../../lib/text/mod.ts";
import { parseCli } from "../cli.ts";
import { torchPython } from "./torch_python.ts";

const USAGE =
  `Usage: deno run -A tools/bench/bench_inference.ts [--sentences 512] [--batch 32]
       [--runs 3] [--json out/bench_inference.json] [--no-torch]
  COURSE_QUICK=1 uses 64 sentences and one run. --help prints this.`;

const { values: args } = parseCli(USAGE, {
  args: Deno.args,
  options: {
    sentences: { type: "string" },
    batch: { type: "string", default: "32" },
    runs: { type: "string" },
    json: { type: "string" },
    "no-torch": { type: "boolean", default: false },
  },
});
const quick = isQuickMode();
const sentenceCount = Number(args.sentences ?? (quick ? 64 : 512));
const batchSize = Number(args.batch);
const runs = Number(args.runs ?? (quick ? 1 : 3));
const TOKENIZER_DIR = new URL("../../models/ko-mini-bert", import.meta.url)
  .pathname;

async function nsmcReviews(count: number): Promise<string[]> {
  const path = await resolveDataset("nsmc/test");
  const lines = (await readFile(path, "utf8")).split("\n").slice(1);
  return lines.map((line) => line.split("\t")[1]?.trim() ?? "")
    .filter((text) => text.length > 0)
    .slice(0, count);
}

interface OpenPipeline {
  classify: (batch: string[]) => Promise<unknown>;
  dispose: () => Promise<void>;
}

interface Contender {
  engine: string;
  detail: string;
  /**
   * "list": all sentences in one call, the pipeline batches them itself
   * (ours sorts by length, so batches pad little); "chunks": one call per
   * batchSize sentences, padded to the longest of each chunk.
   */
  feed: "list" | "chunks";
  open?: () => Promise<OpenPipeline>;
  /** Instead of `open`: a whole measurement in another process (PyTorch). */
  measure?: (
    texts: string[],
  ) => Promise<{ rate: number; setupSeconds: number }>;
}

interface Measurement {
  engine: string;
  feed: Contender["feed"];
  detail: string;
  setupSeconds: number;
  sentencesPerSecond: number[];
  median: number;
}

async function timeOnce(
  contender: Contender,
  texts: string[],
): Promise<{ rate: number; setupSeconds: number }> {
  if (contender.measure) return await contender.measure(texts);
  const setupStart = performance.now();
  const opened = await contender.open!();
  const setupSeconds = (performance.now() - setupStart) / 1000;
  try {
    await opened.classify(texts.slice(0, batchSize)); // warm-up
    const start = performance.now();
    if (contender.feed === "list") {
      await opened.classify(texts);
    } else {
      for (let i = 0; i < texts.length; i += batchSize) {
        await opened.classify(texts.slice(i, i + batchSize));
      }
    }
    return {
      rate: texts.length / ((performance.now() - start) / 1000),
      setupSeconds,
    };
  } finally {
    await opened.dispose();
  }
}

async function measureAll(
  contenders: Contender[],
  texts: string[],
): Promise<Measurement[]> {
  const rates = contenders.map(() => [] as number[]);
  const setups = contenders.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    for (const [i, c] of contenders.entries()) {
      const { rate, setupSeconds } = await timeOnce(c, texts);
      rates[i].push(rate);
      setups[i].push(setupSeconds);
    }
  }
  return contenders.map((c, i) => {
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const rate = Math.round(median(rates[i]) * 10) / 10;
    const setupSeconds = Math.round(median(setups[i]) * 100) / 100;
    console.log(
      `${`${c.engine} [${c.feed}]`.padEnd(30)} ${
        rate.toFixed(1).padStart(7)
      } sentences/s, setup ${setupSeconds.toFixed(2)} s  (${c.detail}; runs: ${
        rates[i].map((r) => r.toFixed(1)).join(", ")
      })`,
    );
    return {
      engine: c.engine,
      feed: c.feed,
      detail: c.detail,
      setupSeconds,
      sentencesPerSecond: rates[i].map((r) => Math.round(r * 10) / 10),
      median: rate,
    };
  });
}

let torchVersion: string | undefined;
const root = await mkdtemp(join(tmpdir(), "bench-inference-"));
try {
  const texts = await nsmcReviews(sentenceCount);
  const tokenizer = await AutoTokenizer.fromPretrained(TOKENIZER_DIR);
  const lengths = texts.map((t) =>
    tokenizer(t, { truncation: true, maxLength: 128 }).input_ids.length
  );
  const averageTokens = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  console.log(
    `${texts.length} NSMC test reviews, ${
      averageTokens.toFixed(1)
    } tokens on average (max 128), batch ${batchSize}, ${runs} run(s)`,
  );

  const backend = await initBackend();
  // The course model's weights, not a fresh initialization: TensorFlow's graph optimizer folds
  // away zero biases and LayerNorm shifts, so the tensorflow engine's speed depends on them.
  const model = await BertForSequenceClassification.fromPretrained(
    TOKENIZER_DIR,
    {
      num_labels: 2,
      id2label: { 0: "부정", 1: "긍정" },
      seed: 7,
      verbose: false,
    },
  );
  const { config } = model;
  const modelDir = join(root, "model");
  await model.savePretrained(modelDir);
  tokenizer.savePretrained(modelDir);
  const parameters = model.countParameters().total;
  model.dispose();
  const exportDir = join(root, "onnx-export");
  const exported = await exportOnnx(modelDir, exportDir, {
    task: "text-classification",
  });
  console.log(
    `model: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}, ${
      (parameters / 1e6).toFixed(1)
    }M parameters; model.onnx ${(exported.bytes / 1e6).toFixed(1)} MB\n`,
  );

  const ours = (
    engine: EngineName,
    threads?: number,
  ) =>
  async (): Promise<OpenPipeline> => {
    const classifier = await pipeline("sentiment-analysis", modelDir, {
      engine,
      batchSize,
      threads,
    });
    return {
      classify: (b) => classifier(b),
      dispose: () => classifier.dispose(),
    };
  };
  transformersEnv.allowRemoteModels = false;
  transformersEnv.localModelPath = root + "/";
  const contenders: Contender[] = [
    {
      engine: "ours: tfjs",
      detail: `tfjs backend ${getBackendInfo()?.name ?? backend.name}`,
      feed: "list",
      open: ours("tfjs"),
    },
    {
      engine: "ours: onnx",
      detail:
        "onnxruntime-node, one intra-op thread per core (the default); setup includes the export",
      feed: "list",
      open: ours("onnx"),
    },
    {
      engine: "ours: onnx",
      detail: "same, fed like transformers.js",
      feed: "chunks",
      open: ours("onnx"),
    },
    ...(backend.name === "tensorflow"
      ? [{
        engine: "ours: tensorflow",
        detail: "TensorFlow graph runtime; setup includes both exports",
        feed: "list" as const,
        open: ours("tensorflow"),
      }]
      : []),
    {
      engine: "ours: onnx, 1 thread",
      detail: "onnxruntime-node, 1 intra-op thread",
      feed: "list",
      open: ours("onnx", 1),
    },
    {
      engine: "transformers.js",
      detail: "text-classification pipeline, onnxruntime-node, fp32",
      feed: "chunks",
      open: async () => {
        const classifier = await transformersPipeline(
          "text-classification",
          "onnx-export",
        );
        return {
          classify: (b) => classifier(b),
          dispose: () => classifier.dispose(),
        };
      },
    },
  ];

  const python = torchPython();
  if (python && !args["no-torch"]) {
    const textsPath = join(root, "texts.json");
    await writeFile(textsPath, JSON.stringify(texts));
    contenders.push({
      engine: "PyTorch",
      detail:
        "HF BertForSequenceClassification, sdpa attention, fast tokenizer, " +
        "sorted by length like ours; setup is imports and loading",
      feed: "list",
      measure: async () => {
        const { success, stdout } = await new Deno.Command(python, {
          args: [
            new URL("./bench_inference_torch.py", import.meta.url).pathname,
            "--model",
            modelDir,
            "--texts",
            textsPath,
            "--batch",
            String(batchSize),
            "--threads",
            String(navigator.hardwareConcurrency),
          ],
          stderr: "inherit",
        }).output();
        if (!success) throw new Error("bench_inference_torch.py failed");
        const line = JSON.parse(
          new TextDecoder().decode(stdout).trim().split("\n").pop()!,
        );
        torchVersion = line.torch;
        return { rate: line.sentences_per_s, setupSeconds: line.setup_s };
      },
    });
  } else {
    console.log(
      "PyTorch: not measured (no Python with torch and transformers, or --no-torch)",
    );
  }

  const loadBefore = Deno.loadavg();
  const results = await measureAll(contenders, texts);
  const loadAfter = Deno.loadavg();
  console.log(
    `\nload average (1 min) before/after: ${loadBefore[0].toFixed(1)} / ${
      loadAfter[0].toFixed(1)
    } on ${navigator.hardwareConcurrency} cores`,
  );

  const report = {
    sentences: texts.length,
    averageTokens,
    batchSize,
    runs,
    model: {
      layers: config.num_hidden_layers,
      hidden: config.hidden_size,
      heads: config.num_attention_heads,
      intermediate: config.intermediate_size,
      vocab: config.vocab_size,
      parameters,
      onnxBytes: exported.bytes,
    },
    cpuCores: navigator.hardwareConcurrency,
    torch: torchVersion ?? null,
    loadAverage: { before: loadBefore[0], after: loadAfter[0] },
    results,
  };
  if (args.json) {
    await writeFile(args.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`written: ${args.json}`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
