/**
 * The pretraining loop (MLM + NSP): data position, schedule, logging, held-out evaluation,
 * checkpoints and resume, and the final Hugging Face folder. The model itself is held by
 * `PretrainingReplicas`: one in this thread (`workers: 1`) or N Workers (lib/pretrain/replicas.ts).
 *
 * Resumable: every `saveMinutes` (and when the time budget ends) it writes
 * `<outputDir>/checkpoint-<step>/` (model, AdamW moments, data position); a new run continues from
 * the newest one. The learning-rate schedule is defined by `maxSteps`, so a run cut into pieces by
 * `minutes` trains exactly as one long run. Checkpoints are the same with any number of workers, so
 * a run can resume with another `workers`.
 */
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CourseError } from "../runtime/mod.ts";
import { AutoTokenizer } from "../text/mod.ts";
import { latestCheckpoint, LrSchedule } from "../train/mod.ts";
import {
  epochExamples,
  heldoutExamples,
  maskedExamples,
  readDocuments,
} from "./data.ts";
import { addStats, EMPTY_STATS, summarize } from "./loss.ts";
import {
  derivedSeed,
  type PretrainOptions,
  SEED_PURPOSE,
  sequenceLengthAt,
} from "./options.ts";
import {
  localReplicas,
  type PretrainingReplicas,
  type ReplicaSource,
} from "./replica.ts";
import { WorkerReplicas } from "./replicas.ts";

/** Where a run's messages go; by default `console.log`, or nowhere with `options.quiet`. */
export type PretrainHooks = { log?: (message: string) => void };

/** `trainer_state.json` of a pretraining checkpoint: where the run is. */
export type TrainerState = {
  global_step: number;
  epoch: number;
  /** Position in the current epoch's shuffled examples. */
  cursor: number;
  /** Sequence length the current epoch's examples were built for. */
  max_length: number;
  elapsed_s: number;
  log_history: Record<string, number>[];
};

function copyTokenizerFiles(from: string, to: string): void {
  if (resolve(from) === resolve(to)) return;
  for (
    const file of [
      "tokenizer.json",
      "vocab.txt",
      "tokenizer_config.json",
      "special_tokens_map.json",
    ]
  ) {
    if (existsSync(join(from, file))) {
      copyFileSync(join(from, file), join(to, file));
    }
  }
}

/** Runs (or continues) pretraining until `maxSteps` or the time budget; returns the training summary. */
export async function pretrain(
  options: PretrainOptions,
  hooks: PretrainHooks = {},
) {
  const log = (message: string) =>
    options.quiet || (hooks.log ?? console.log)(message);
  const tokenizer = await AutoTokenizer.fromPretrained(options.tokenizerDir, {
    quiet: true,
  });
  const trainDocuments = await readDocuments(
    join(options.corpusDir, "pretrain.txt"),
    options.maxDocuments,
  );
  const heldout = heldoutExamples(
    await readDocuments(
      join(options.corpusDir, "heldout.txt"),
      options.maxDocuments,
    ),
    tokenizer,
    options,
  );
  const schedule = new LrSchedule({
    type: "linear",
    learningRate: options.learningRate,
    warmupSteps: Math.ceil(options.maxSteps * options.warmupRatio),
    totalSteps: options.maxSteps,
  });

  let state: TrainerState = {
    global_step: 0,
    epoch: 0,
    cursor: 0,
    max_length: sequenceLengthAt(0, options),
    elapsed_s: 0,
    log_history: [],
  };
  const resumeFrom = await latestCheckpoint(options.outputDir);
  const source: ReplicaSource = resumeFrom
    ? { resumeFrom }
    : { initFrom: options.initFrom };
  // Any other --workers than 1 (the default) goes to the pool, which also rejects invalid counts.
  const replicas = (options.workers ?? 1) === 1
    ? await localReplicas(options, tokenizer, source)
    : await WorkerReplicas.start(options, tokenizer, source);
  try {
    if (resumeFrom) {
      state = JSON.parse(
        await Deno.readTextFile(join(resumeFrom, "trainer_state.json")),
      ) as TrainerState;
      log(
        `resumed from ${resumeFrom} (step ${state.global_step}, epoch ${state.epoch})`,
      );
    } else if (options.initFrom) {
      log(`weights initialised from ${options.initFrom}`);
    }
    log(
      `backend ${replicas.backend}, ${replicas.parameters.toLocaleString()} parameters, ` +
        `${trainDocuments.length} documents, ${heldout.length} held-out pairs` +
        ((options.workers ?? 1) === 1 ? "" : `, ${options.workers} workers`),
    );
    if ((options.workers ?? 1) > 1 && replicas.backend === "tensorflow") {
      // Measured (tools/pretraining/pretrain.ts): on native, workers only add copying.
      log(
        "참고: 네이티브 엔진(tensorflow)은 이미 모든 코어를 씁니다. --workers 1이 더 빠릅니다 " +
          "(2코어에서 잰 값: 4.4-5.5 대 3.2-3.7 steps/s).",
      );
    }
    return await train(replicas);
  } finally {
    await replicas.close();
  }

  async function train(replicas: PretrainingReplicas) {
    const pairsOf = (epoch: number, maxLength: number) =>
      epochExamples(trainDocuments, tokenizer, {
        seed: options.seed,
        epoch,
        maxLength,
        batchSize: options.batchSize,
      });
    let examples = pairsOf(state.epoch, state.max_length);
    const started = performance.now();
    const startElapsed = state.elapsed_s;
    let lastSave = performance.now();
    let window = { ...EMPTY_STATS };
    let windowStart = performance.now();
    let windowTokens = 0;
    const budgetMs = options.minutes * 60_000;
    const evaluateHeldout = async () =>
      summarize(await replicas.evaluate(heldout));

    const save = async () => {
      state.elapsed_s = startElapsed + (performance.now() - started) / 1000;
      await replicas.save(state.global_step, {
        trainerState: state,
        schedulerState: { ...schedule.toJSON() },
        rngState: {
          seed: options.seed,
          note: "data order and masks are derived from (seed, epoch, step)",
        },
      });
      lastSave = performance.now();
    };

    const lastStep = Math.min(options.maxSteps, options.stopAtStep ?? Infinity);
    while (
      state.global_step < lastStep && performance.now() - started < budgetMs
    ) {
      const wantedLength = sequenceLengthAt(state.global_step, options);
      if (wantedLength !== state.max_length) {
        // Longer sequences for the last phase: rebuild this epoch's pairs at the new length.
        const done = state.cursor / Math.max(1, examples.length);
        examples = pairsOf(state.epoch, wantedLength);
        // Same share of the epoch done: the new pairs are packed differently, so keep the position by fraction.
        state = {
          ...state,
          max_length: wantedLength,
          cursor: Math.floor(done * examples.length / options.batchSize) *
            options.batchSize,
        };
      }
      if (state.cursor + options.batchSize > examples.length) {
        state = { ...state, epoch: state.epoch + 1, cursor: 0 };
        examples = pairsOf(state.epoch, state.max_length);
      }
      const chunk = maskedExamples(
        examples.slice(state.cursor, state.cursor + options.batchSize),
        tokenizer,
        derivedSeed(options.seed, SEED_PURPOSE.stepMasks, state.global_step),
        options.mlmProbability,
      );
      state.cursor += options.batchSize;
      const stats = await replicas.step(
        chunk,
        state.global_step,
        schedule.lrAt(state.global_step),
      );
      if (!Number.isFinite(stats.loss)) {
        throw new CourseError(
          "PRETRAIN_NAN",
          `loss is ${stats.loss} at step ${state.global_step}`,
          "학습률(--lr)을 낮추거나 마지막 체크포인트에서 다시 시작하세요.",
        );
      }
      window = addStats(window, stats);
      // Tokens of the batch padded to its longest pair (what one collated batch holds).
      windowTokens += chunk.length *
        Math.max(...chunk.map((e) => e.input_ids.length));
      state.global_step += 1;

      if (state.global_step % options.logSteps === 0) {
        const seconds = (performance.now() - windowStart) / 1000;
        const timings = replicas.timings?.();
        const row = {
          step: state.global_step,
          epoch: state.epoch + state.cursor / examples.length,
          learning_rate: schedule.lrAt(state.global_step),
          ...summarize(window),
          steps_per_s: options.logSteps / seconds,
          tokens_per_s: windowTokens / seconds,
          seq_length: state.max_length,
          tensors: replicas.tensors(),
          elapsed_s: startElapsed + (performance.now() - started) / 1000,
          ...timings,
        };
        state.log_history.push(row);
        log(
          `step ${row.step} | epoch ${row.epoch.toFixed(2)} | lr ${
            row.learning_rate.toExponential(2)
          } | ` +
            `mlm ${row.mlm_loss.toFixed(3)} acc ${
              (100 * row.mlm_accuracy).toFixed(1)
            }% | ` +
            `nsp ${row.nsp_loss.toFixed(3)} acc ${
              (100 * row.nsp_accuracy).toFixed(1)
            }% | ` +
            `${row.steps_per_s.toFixed(2)} steps/s, ${
              row.tokens_per_s.toFixed(0)
            } tokens/s` +
            (timings
              ? ` | ms/step: compute ${timings.worker_compute_ms}, read-back ${timings.worker_readback_ms}, ` +
                `reduce ${timings.reduce_ms}, apply ${timings.worker_apply_ms}`
              : ""),
        );
        window = { ...EMPTY_STATS };
        windowStart = performance.now();
        windowTokens = 0;
      }
      if (state.global_step % options.evalSteps === 0) {
        const metrics = await evaluateHeldout();
        state.log_history.push({
          step: state.global_step,
          ...prefixed(metrics, "eval_"),
        });
        log(`eval step ${state.global_step}: ${JSON.stringify(metrics)}`);
      }
      if (performance.now() - lastSave > options.saveMinutes * 60_000) {
        await save();
      }
    }

    await save();
    const evalMetrics = await evaluateHeldout();
    state.log_history.push({
      step: state.global_step,
      ...prefixed(evalMetrics, "eval_"),
    });
    const summary = {
      global_step: state.global_step,
      max_steps: options.maxSteps,
      finished: state.global_step >= options.maxSteps,
      epochs: state.epoch + state.cursor / examples.length,
      train_seconds: state.elapsed_s,
      train_documents: trainDocuments.length,
      heldout_pairs: heldout.length,
      backend: replicas.backend,
      hardware:
        `${navigator.hardwareConcurrency} CPU threads, ${Deno.build.os}/${Deno.build.arch}`,
      options: {
        ...options,
        corpusDir: undefined,
        tokenizerDir: undefined,
        outputDir: undefined,
        modelDir: undefined,
      },
      parameters: replicas.parameters,
      heldout: evalMetrics,
      log_history: state.log_history,
    };
    await replicas.exportTo(options.modelDir);
    await declareComputeDtype(options.modelDir);
    copyTokenizerFiles(options.tokenizerDir, options.modelDir);
    await Deno.writeTextFile(
      join(options.modelDir, "training_summary.json"),
      JSON.stringify(summary, null, 2) + "\n",
    );
    log(`held-out: ${JSON.stringify(evalMetrics)}`);
    log(
      `wrote ${options.modelDir} (step ${state.global_step}/${options.maxSteps})`,
    );
    return summary;
  }
}

/**
 * The weights are stored in float16 to keep the folder small; `torch_dtype: float32` makes Python
 * `transformers` (dtype "auto") load them as float32, which CPU fine-tuning needs.
 */
async function declareComputeDtype(modelDir: string): Promise<void> {
  const path = join(modelDir, "config.json");
  const config = JSON.parse(await Deno.readTextFile(path));
  config.torch_dtype = "float32";
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2) + "\n");
}

function prefixed(
  metrics: Record<string, number>,
  prefix: string,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(metrics).map(([key, value]) => [prefix + key, value]),
  );
}
