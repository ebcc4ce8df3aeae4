/**
 * Pretrains the course's Korean mini-BERT (MLM + NSP) with the course library and writes it, in the
 * Hugging Face format, to models/ko-mini-bert/.
 *
 *   deno task pretrain --minutes 480 --max-steps 30000
 *   deno run -A tools/pretraining/pretrain.ts --minutes 5 --max-steps 200      (a short check)
 *   deno task pretrain --minutes 480 --max-steps 30000 --workers 2  (wasm, two cores)
 *
 * Resumable: every `--save-minutes` (and when the time budget ends) it writes
 * `<out>/checkpoint-<step>/` (model, AdamW moments, data position); a new run continues from the
 * newest one. The learning-rate schedule is defined by `--max-steps`, so a run cut into pieces by
 * `--minutes` trains exactly as one long run. Sequence length is 64 for the first 90% of steps and
 * 128 for the rest, as BERT did (most of our documents are short reviews and comments).
 *
 * `--workers N` trains on N CPU cores (tfjs's wasm backend uses one): synchronous data parallelism
 * over N Workers holding identical replicas, each computing the gradients of a slice of every
 * batch; their sum (each slice's loss weighted by its share of the masked tokens and pairs, so the
 * sum is the full-batch gradient) is applied by every replica (lib/pretrain/replicas.ts,
 * lib/pretrain/worker.ts). The default, 1, trains in this thread. Checkpoints are the same either
 * way, so a run can resume with another `--workers`. Only dropout masks differ (drawn per slice),
 * so N workers train as well as one, not bit for bit the same run. Measured on two idle cores
 * (continuing the course model, same batches, steps 1-120): 1.19 steps/s with `--workers 2`
 * against 0.70 with one, a 1.70x speed-up, for 2.7 instead of 2.2 GB peak memory. That is on
 * wasm. The native engine (the default) already uses every core inside TensorFlow, so workers only
 * add copying there; measured the same way (steps 1-80, before AdamW used TensorFlow's fused
 * kernel): 2.1-2.6 steps/s, 47 s, 2.30 GB peak with one worker against 2.0-2.3 steps/s, 52 s,
 * 2.71 GB with `--workers 2`. Again on 2026-12-05 with the course's fused kernels (Intel Xeon,
 * 2 cores, steps 1-80 from models/ko-mini-bert): 4.4-5.5 steps/s, 24.8 s, 2.21 GB with one worker
 * against 3.2-3.7 steps/s, 31.9 s, 2.79 GB with `--workers 2`. Keep 1 on native.
 *
 * Why the loss is not `BertForPreTraining.forward`'s: HF's head scores all positions against the
 * whole vocabulary, but only the ~15% masked positions count. Scoring only those (`MlmHead.applyAt`,
 * as the original BERT code does with `masked_lm_positions`) gives the same loss and gradients with
 * about a sixth of the work of the largest matrix product.
 *
 * This file is the command line only (flags, printing); the training is lib/pretrain.
 */
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CourseError } from "../../lib/runtime/mod.ts";
import {
  pretrain,
  PRETRAIN_DEFAULTS,
  type PretrainOptions,
} from "../../lib/pretrain/mod.ts";
import { parseOrExit } from "../cli.ts";

/** Flags that take a value, and the option each sets. */
const FLAG_NAMES: Record<string, keyof PretrainOptions> = {
  "corpus": "corpusDir",
  "tokenizer": "tokenizerDir",
  "out": "outputDir",
  "model-out": "modelDir",
  "minutes": "minutes",
  "max-steps": "maxSteps",
  "batch-size": "batchSize",
  "seq-length": "seqLength",
  "long-seq-length": "longSeqLength",
  "long-fraction": "longFraction",
  "lr": "learningRate",
  "warmup-ratio": "warmupRatio",
  "weight-decay": "weightDecay",
  "max-grad-norm": "maxGradNorm",
  "log-steps": "logSteps",
  "eval-steps": "evalSteps",
  "eval-examples": "evalExamples",
  "save-minutes": "saveMinutes",
  "save-total-limit": "saveTotalLimit",
  "seed": "seed",
  "backend": "backend",
  "export-dtype": "exportDtype",
  "hidden": "hidden",
  "layers": "layers",
  "heads": "heads",
  "intermediate": "intermediate",
  "max-documents": "maxDocuments",
  "stop-at-step": "stopAtStep",
  "init-from": "initFrom",
  "mlm-probability": "mlmProbability",
  "workers": "workers",
};

/** Flags that take no value and switch an option on. */
const SWITCHES: Record<string, keyof PretrainOptions> = {
  "quiet": "quiet",
  "no-dropout": "noDropout",
};

/**
 * `PRETRAIN_DEFAULTS` with the flags applied: text options as given (folders and `--init-from`
 * resolved against the working folder), the others as numbers. An unknown flag, a flag without
 * its value, a value given to a switch or a stray argument is a CourseError listing the flags.
 */
export function parsePretrainFlags(args: string[]): PretrainOptions {
  // Not strict: parseArgs' strict mode refuses values that start with "-" (`--seed -1`), and the
  // errors below name the flags in the course's words.
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries([
      ...Object.keys(FLAG_NAMES).map((name) => [name, { type: "string" }]),
      ...Object.keys(SWITCHES).map((name) => [name, { type: "boolean" }]),
    ]) as Record<string, { type: "string" | "boolean" }>,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options: Record<string, unknown> = { ...PRETRAIN_DEFAULTS };
  for (const token of tokens) {
    const name = token.kind === "option" ? token.name : "";
    const value = token.kind === "option" ? token.value : undefined;
    if (Object.hasOwn(SWITCHES, name) && value === undefined) {
      options[SWITCHES[name]] = true;
      continue;
    }
    if (!Object.hasOwn(FLAG_NAMES, name) || value === undefined) {
      const flag = token.kind === "option"
        ? token.rawName
        : token.kind === "positional"
        ? token.value
        : "--";
      throw new CourseError(
        "PRETRAIN_FLAG",
        `unknown or incomplete flag ${flag}`,
        `사용할 수 있는 옵션: ${
          [...Object.keys(FLAG_NAMES), ...Object.keys(SWITCHES)].map((name) =>
            `--${name}`
          ).join(", ")
        }`,
      );
    }
    const key = FLAG_NAMES[name];
    const isText = typeof PRETRAIN_DEFAULTS[key] === "string" ||
      key === "backend" || key === "initFrom";
    const isPath = key.endsWith("Dir") || key === "initFrom";
    options[key] = isText ? (isPath ? resolve(value) : value) : Number(value);
  }
  return options as PretrainOptions;
}

/** Every flag with its default (folders relative to the repository). */
function usage(): string {
  const root = resolve(import.meta.dirname!, "../..");
  const shown = (value: unknown) =>
    typeof value === "string" && value.startsWith(root)
      ? relative(root, value)
      : value === undefined
      ? ""
      : String(value);
  return [
    "Usage: deno task pretrain [--flag value ...]   (deno run -A tools/pretraining/pretrain.ts ...)",
    "  flag                default",
    ...Object.entries(FLAG_NAMES).map(([name, key]) =>
      `  --${name.padEnd(18)}${shown(PRETRAIN_DEFAULTS[key])}`.trimEnd()
    ),
    ...Object.keys(SWITCHES).map((name) => `  --${name}`),
    "  --help              print this and exit",
  ].join("\n");
}

if (import.meta.main) {
  const options = parseOrExit(usage(), Deno.args, parsePretrainFlags);
  await pretrain(options, { log: (message) => console.log(message) });
}
