/**
 * Inference throughput (sentences/s) on NSMC test reviews, for one BERT of
 * the course's size (4 layers, hidden 256, randomly initialized: speed does
 * not depend on the weights), run three ways:
 *
 *   - our pipeline("sentiment-analysis") on tfjs (backend: wasm unless
 *     COURSE_BACKEND says otherwise)
 *   - our pipeline on the exported ONNX graph (onnxruntime-node)
 *   - transformers.js pipeline("text-classification") on the same export
 *
 * Usage: deno run -A tools/bench_inference.ts [--sentences 512] [--batch 32]
 *        [--runs 3] [--json out/bench_inference.json]
 * COURSE_QUICK=1 uses 64 sentences and one run.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  env as transformersEnv,
  pipeline as transformersPipeline,
} from "@huggingface/transformers";
import { resolveDataset } from "../lib/hub/mod.ts";
import {
  BertConfig,
  BertForSequenceClassification,
} from "../lib/models/mod.ts";
import { exportOnnx } from "../lib/models/onnx/mod.ts";
import { getBackendInfo, initBackend } from "../lib/runtime/backend.ts";
import { isQuickMode } from "../lib/runtime/mode.ts";
import { pipeline } from "../lib/tasks/mod.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sentences: { type: "string" },
    batch: { type: "string", default: "32" },
    runs: { type: "string" },
    json: { type: "string" },
  },
});
const quick = isQuickMode();
const sentenceCount = Number(args.sentences ?? (quick ? 64 : 512));
const batchSize = Number(args.batch);
const runs = Number(args.runs ?? (quick ? 1 : 3));
const TOKENIZER_DIR = new URL("../models/ko-mini-bert", import.meta.url)
  .pathname;

async function nsmcReviews(count: number): Promise<string[]> {
  const path = await resolveDataset("nsmc/test");
  const lines = (await readFile(path, "utf8")).split("\n").slice(1);
  return lines.map((line) => line.split("\t")[1]?.trim() ?? "")
    .filter((text) => text.length > 0)
    .slice(0, count);
}

interface Contender {
  engine: string;
  detail: string;
  classify: (batch: string[]) => Promise<unknown>;
  dispose: () => Promise<void>;
  /**
   * "list": all sentences in one call, the pipeline batches them itself
   * (ours sorts by length, so batches pad little); "chunks": one call per
   * batchSize sentences, padded to the longest of each chunk.
   */
  feed: "list" | "chunks";
}

interface Measurement {
  engine: string;
  feed: Contender["feed"];
  detail: string;
  sentencesPerSecond: number[];
  median: number;
}

async function timeOnce(
  contender: Contender,
  texts: string[],
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < texts.length; i += batchSize) {
    await contender.classify(texts.slice(i, i + batchSize));
  }
  return texts.length / ((performance.now() - start) / 1000);
}

/**
 * Runs are interleaved (A B C, A B C, ...) so that load from other processes
 * on a shared machine falls on every engine alike.
 */
async function measureAll(
  contenders: Contender[],
  texts: string[],
): Promise<Measurement[]> {
  for (const c of contenders) await c.classify(texts.slice(0, batchSize)); // warm-up
  const rates = contenders.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    for (const [i, c] of contenders.entries()) {
      rates[i].push(await timeOnce(c, texts));
    }
  }
  return contenders.map((c, i) => {
    const sorted = [...rates[i]].sort((a, b) => a - b);
    const median = Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10;
    console.log(
      `${`${c.engine} [${c.feed}]`.padEnd(32)} ${
        median.toFixed(1).padStart(8)
      } sentences/s  (${c.detail}; runs: ${
        rates[i].map((r) => r.toFixed(1)).join(", ")
      })`,
    );
    return {
      engine: c.engine,
      feed: c.feed,
      detail: c.detail,
      sentencesPerSecond: rates[i].map((r) => Math.round(r * 10) / 10),
      median,
    };
  });
}

const root = await mkdtemp(join(tmpdir(), "bench-inference-"));
try {
  const texts = await nsmcReviews(sentenceCount);
  const tokenizer = await AutoTokenizer.fromPretrained(TOKENIZER_DIR);
  const lengths = texts.map((t) =>
    tokenizer(t, { truncation: true, maxLength: 128 }).input_ids.length
  );
  console.log(
    `${texts.length} NSMC test reviews, ${
      (lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(1)
    } tokens on average (max 128), batch ${batchSize}, ${runs} run(s)`,
  );

  const backend = await initBackend(Deno.env.get("COURSE_BACKEND") ?? "wasm");
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 1024,
    max_position_embeddings: 128,
    id2label: { 0: "부정", 1: "긍정" },
  });
  const model = new BertForSequenceClassification(config, { seed: 7 });
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
    `model: 4 layers, hidden 256, vocab ${tokenizer.vocabSize}, ${
      (parameters / 1e6).toFixed(1)
    }M parameters; model.onnx ${(exported.bytes / 1e6).toFixed(1)} MB\n`,
  );

  const contenders: Contender[] = [];
  let setupStart = performance.now();
  const tfjs = await pipeline("sentiment-analysis", modelDir, {
    engine: "tfjs",
    batchSize,
  });
  const setupSeconds: Record<string, number> = {
    "ours: tfjs": (performance.now() - setupStart) / 1000,
  };
  contenders.push({
    engine: "ours: tfjs",
    detail: `tfjs backend ${getBackendInfo()?.name ?? backend.name}`,
    classify: (b) => tfjs(b),
    dispose: () => tfjs.dispose(),
    feed: "list",
  });
  for (const threads of [undefined, 1]) {
    setupStart = performance.now();
    const onnx = await pipeline("sentiment-analysis", modelDir, {
      engine: "onnx",
      batchSize,
      threads,
    });
    // Includes exporting the ONNX graph from model.safetensors.
    setupSeconds["ours: onnx"] ??= (performance.now() - setupStart) / 1000;
    contenders.push({
      engine: `ours: onnx${threads ? ` (${threads} thread)` : ""}`,
      detail: `onnxruntime-node, ${threads ?? "default"} intra-op threads`,
      classify: (b) => onnx(b),
      dispose: () => onnx.dispose(),
      feed: "list",
    });
    if (!threads) {
      contenders.push({
        engine: "ours: onnx",
        detail: "same pipeline, fed like transformers.js",
        classify: (b) => onnx(b),
        dispose: () => Promise.resolve(),
        feed: "chunks",
      });
    }
  }
  transformersEnv.allowRemoteModels = false;
  transformersEnv.localModelPath = root + "/";
  setupStart = performance.now();
  const reference = await transformersPipeline(
    "text-classification",
    "onnx-export",
  );
  setupSeconds["transformers.js"] = (performance.now() - setupStart) / 1000;
  console.log(
    "pipeline setup (s): " +
      Object.entries(setupSeconds).map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(", "),
  );
  contenders.push({
    engine: "transformers.js",
    detail: "text-classification pipeline, onnxruntime-node, fp32",
    classify: (b) => reference(b),
    dispose: () => reference.dispose(),
    feed: "chunks",
  });

  const loadBefore = Deno.loadavg();
  const results = await measureAll(contenders, texts);
  const loadAfter = Deno.loadavg();
  for (const c of contenders) await c.dispose();
  console.log(
    `\nload average (1 min) before/after: ${loadBefore[0].toFixed(1)} / ${
      loadAfter[0].toFixed(1)
    } on ${navigator.hardwareConcurrency} cores`,
  );

  const report = {
    sentences: texts.length,
    averageTokens: lengths.reduce((a, b) => a + b, 0) / lengths.length,
    batchSize,
    runs,
    model: {
      layers: 4,
      hidden: 256,
      heads: 4,
      intermediate: 1024,
      vocab: tokenizer.vocabSize,
      parameters,
    },
    cpuCores: navigator.hardwareConcurrency,
    loadAverage: { before: loadBefore[0], after: loadAfter[0] },
    setupSeconds,
    results,
  };
  if (args.json) {
    await writeFile(args.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`\nwritten: ${args.json}`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
