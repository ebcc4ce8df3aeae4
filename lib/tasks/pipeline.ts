/**
 * `pipeline(task, model, options)`: Hugging Face's one-line inference API on
 * our models. A pipeline tokenizes, batches with dynamic padding, runs an
 * engine (our tfjs BERT, onnxruntime on the exported ONNX graph, or TensorFlow's
 * graph runtime on the same graph) and turns
 * logits into labels, tokens, entities or answers.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveModelDir } from "../hub/mod.ts";
import {
  type BertPreTrainedModel,
  canonicalTaskName,
  checkpointHasHead,
  HEAD_TASKS,
  headForTask,
  type HeadRow,
  type HeadTask,
  TASK_ALIASES,
  type TaskAlias,
} from "../models/mod.ts";
import {
  exportOnnx,
  type ExportTask,
  type HfWeightsSource,
  readFolderStateDict,
} from "../models/onnx/mod.ts";
import { initBackend } from "../runtime/backend.ts";
import { CourseError } from "../runtime/errors.ts";
import { refuseQueuedAfterInterrupt } from "../runtime/kernel.ts";
import { AutoTokenizer, type BertTokenizer } from "../text/mod.ts";
import type { TaskContext, TaskModelConfig } from "./context.ts";
import type { EngineName, InferenceEngine } from "./engine.ts";
import { createOnnxEngine } from "./engine_onnx.ts";
import { createTensorflowEngine } from "./engine_tensorflow.ts";
import { createTfjsEngine, type ForwardModel } from "./engine_tfjs.ts";
import { TASKS as FILL_MASK } from "./fill_mask/pipeline.ts";
import { TASKS as QUESTION_ANSWERING } from "./question_answering/pipeline.ts";
import { TASKS as SENTENCE_PAIRS } from "./sentence_pairs/pipeline.ts";
import { TASKS as TEXT_CLASSIFICATION } from "./text_classification/pipeline.ts";
import { TASKS as TOKEN_CLASSIFICATION } from "./token_classification/pipeline.ts";

/**
 * The engine used when a pipeline does not name one. For inference on CPU
 * onnxruntime is the fastest: on the course model, 1,028 sentences/s vs 914 for
 * the same graph in TensorFlow's runtime, 493 for tfjs on the native engine and
 * 601 for PyTorch (tools/bench/bench_inference.ts, one run, 2 cores,
 * 2026-12-04, medians of 3), and
 * about 7x tfjs-wasm (1,040 vs 150 on 2026-12-03).
 */
export const DEFAULT_ENGINE: EngineName = "onnx";

const ENGINES: readonly EngineName[] = ["onnx", "tfjs", "tensorflow"];

/**
 * The implementation of each task of the head table (lib/models/head_table.ts),
 * gathered from the task folders: each folder's pipeline.ts exports its
 * `TASKS` (task name -> runner). A head-table task without a runner is a type
 * error here.
 */
const TASK_RUNNERS = {
  ...TEXT_CLASSIFICATION,
  ...FILL_MASK,
  ...SENTENCE_PAIRS,
  ...TOKEN_CLASSIFICATION,
  ...QUESTION_ANSWERING,
} as const satisfies { readonly [T in HeadTask]: unknown };

/** Inputs, options and result of a runner `(ctx, inputs, options = {}) => Promise<result>`. */
type SignatureOf<R> = R extends (
  ctx: TaskContext,
  inputs: infer I,
  options?: infer O,
) => Promise<infer Out> ? [I, Exclude<O, undefined>, Out]
  : never;

/**
 * Inputs, options and results of each task of the head table, for typed
 * pipelines: read off the task's runner.
 */
type CanonicalSignatures = {
  [T in HeadTask]: SignatureOf<(typeof TASK_RUNNERS)[T]>;
};

/** Each task of the head table and each alias (an alias has its task's signature). */
export type TaskSignatures =
  & { [T in HeadTask]: CanonicalSignatures[T] }
  & { [A in TaskAlias]: CanonicalSignatures[(typeof TASK_ALIASES)[A]] };

export type TaskName = keyof TaskSignatures;

export interface PipelineOptions {
  /**
   * "onnx" (onnxruntime, default), "tfjs" (our BERT on the tfjs backend) or
   * "tensorflow" (TensorFlow's graph runtime; native backend only).
   */
  engine?: EngineName;
  /** Tokenizer folder / Hub id, or a loaded tokenizer. Default: the model's. */
  tokenizer?: string | BertTokenizer;
  /** Inputs per forward pass (default 32). */
  batchSize?: number;
  /** Cap on tokens per input (default: the model's limit). */
  maxLength?: number;
  /** onnxruntime threads (onnx engine only; default: one per core). */
  threads?: number;
}

export type Pipeline<T extends TaskName> =
  & ((
    inputs: TaskSignatures[T][0],
    options?: TaskSignatures[T][1],
  ) => Promise<TaskSignatures[T][2]>)
  & {
    readonly task: T;
    readonly engine: EngineName;
    readonly tokenizer: BertTokenizer;
    readonly config: TaskModelConfig;
    dispose(): Promise<void>;
  };

interface TaskSpec {
  canonical: HeadTask;
  /** The head table row that serves the task. */
  head: HeadRow;
  exportTask: ExportTask;
  /** A weight only the right head has; its absence means "no head". */
  headWeight: string;
  outputs: readonly string[];
  /** The task's runner; inputs are checked at run time (TASK_BAD_INPUT). */
  run: (
    ctx: TaskContext,
    inputs: unknown,
    options: unknown,
  ) => Promise<unknown>;
}

function taskSpec(task: string): TaskSpec | undefined {
  const canonical = canonicalTaskName(task) as HeadTask;
  const head = headForTask(canonical);
  if (!head || !Object.hasOwn(TASK_RUNNERS, canonical)) return undefined;
  return {
    canonical,
    head,
    exportTask: head.onnx!.task as ExportTask,
    headWeight: head.headWeight!,
    outputs: Object.keys(head.outputs),
    run: TASK_RUNNERS[canonical] as TaskSpec["run"],
  };
}

/** A loaded model with its tokenizer (e.g. right after training). */
export interface LoadedModel {
  model: BertPreTrainedModel;
  tokenizer: BertTokenizer;
}

export async function pipeline<T extends TaskName>(
  task: T,
  model: string | LoadedModel,
  options: PipelineOptions = {},
): Promise<Pipeline<T>> {
  refuseQueuedAfterInterrupt(`pipeline("${task}")`);
  const spec = taskSpec(task);
  if (!spec) {
    throw new CourseError(
      "TASK_UNKNOWN",
      `unknown task "${task}"`,
      `task는 ${
        [...HEAD_TASKS, ...Object.keys(TASK_ALIASES)].join(", ")
      } 중 하나입니다.`,
    );
  }
  let engineName = options.engine ?? DEFAULT_ENGINE;
  if (!ENGINES.includes(engineName)) {
    throw new CourseError(
      "TASK_UNKNOWN_ENGINE",
      `unknown engine "${engineName}"`,
      'engine은 "onnx"(onnxruntime), "tfjs", "tensorflow"(TensorFlow 그래프) 중 하나입니다.',
    );
  }
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new CourseError(
      "TASK_BAD_OPTION",
      `batchSize must be a positive integer, got ${batchSize}`,
      "batchSize에는 1 이상의 정수를 넣으세요.",
    );
  }

  const source = typeof model === "string"
    ? await loadFolderSource(model)
    : loadedModelSource(model);
  checkArchitecture(task, spec, source.config);
  const tokenizer = await resolveTokenizer(options.tokenizer, source);
  let loaded: LoadedEngine;
  try {
    loaded = engineName === "onnx"
      ? await onnxEngine(spec, source, options.threads)
      : engineName === "tensorflow"
      ? await tensorflowEngine(spec, source)
      : await tfjsEngine(spec, source);
  } catch (error) {
    // The default engine falls back when onnxruntime cannot run here; an
    // engine the learner asked for does not.
    if (options.engine || !isRuntimeFailure(error)) throw error;
    console.warn(
      `[알림] onnxruntime을 쓸 수 없어 tfjs로 실행합니다: ${
        (error as Error).message.split("\n")[0]
      }`,
    );
    engineName = "tfjs";
    loaded = await tfjsEngine(spec, source);
  }

  const ctx: TaskContext = {
    tokenizer,
    config: source.config,
    engine: loaded.engine,
    maxLength: Math.min(
      options.maxLength ?? Infinity,
      tokenizer.modelMaxLength,
      source.config.max_position_embeddings ?? 512,
    ),
    batchSize,
  };
  const run = (inputs: unknown, callOptions?: unknown) =>
    spec.run(ctx, inputs, callOptions ?? {});
  return Object.assign(run, {
    task,
    engine: engineName,
    tokenizer,
    config: source.config,
    async dispose() {
      await loaded.engine.dispose();
      await loaded.cleanup();
    },
  }) as unknown as Pipeline<T>;
}

interface ModelSource {
  /** Local folder (absent for an in-memory model). */
  dir?: string;
  /** The Hub id `dir` was fetched for: its tokenizer is fetched by the same id. */
  hubId?: string;
  model?: BertPreTrainedModel;
  tokenizer?: BertTokenizer;
  config: TaskModelConfig & Record<string, unknown>;
}

async function loadFolderSource(dirOrHubId: string): Promise<ModelSource> {
  const local = isDirectory(dirOrHubId);
  const dir = local
    ? dirOrHubId
    : await resolveModelDir(dirOrHubId, ["config.json", "model.safetensors"]);
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) {
    throw new CourseError(
      "TASK_CONFIG_MISSING",
      `no config.json in ${dir}`,
      "savePretrained로 저장한 모델 폴더(config.json, model.safetensors, 토크나이저 파일)를 넘기세요.",
    );
  }
  return {
    dir,
    hubId: local ? undefined : dirOrHubId,
    config: JSON.parse(readFileSync(configPath, "utf8")),
  };
}

function loadedModelSource(loaded: LoadedModel): ModelSource {
  if (!loaded?.model || !loaded?.tokenizer) {
    throw new CourseError(
      "TASK_BAD_MODEL",
      "pipeline needs a model folder or {model, tokenizer}",
      "모델 폴더 경로를 넘기거나, 메모리의 모델이라면 { model, tokenizer }로 토크나이저도 함께 넘기세요.",
    );
  }
  const config = loaded.model.config as unknown as { toJSON(): object };
  return {
    model: loaded.model,
    tokenizer: loaded.tokenizer,
    config: {
      ...config.toJSON(),
      architectures: [loaded.model.constructor.name],
    } as ModelSource["config"],
  };
}

function isRuntimeFailure(error: unknown): boolean {
  return error instanceof CourseError &&
    ["TASK_ONNX_UNAVAILABLE", "TASK_ONNX_LOAD_FAILED"].includes(error.code);
}

function hasWeights(dir: string): boolean {
  return existsSync(join(dir, "model.safetensors")) ||
    existsSync(join(dir, "model.safetensors.index.json"));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function checkArchitecture(
  task: TaskName,
  spec: TaskSpec,
  config: TaskModelConfig,
): void {
  const architecture = config.architectures?.[0];
  if (!architecture || checkpointHasHead(architecture, spec.head)) return;
  const needed = spec.head.architecture;
  throw new CourseError(
    "TASK_HEAD_MISMATCH",
    `a ${architecture} checkpoint cannot run "${task}" (it needs ${needed})`,
    `이 모델은 ${architecture}로 저장되었습니다. "${task}"에는 ${needed}로 파인튜닝한 모델 폴더를 넘기세요.`,
  );
}

function missingHead(task: string, spec: TaskSpec, where: string): CourseError {
  return new CourseError(
    "TASK_HEAD_MISSING",
    `${where} has no "${spec.headWeight}": the ${spec.head.architecture} head that "${task}" needs is missing`,
    `"${task}"에는 학습된 헤드가 필요합니다. 사전학습만 된 모델이라면 먼저 ${spec.head.architecture}로 파인튜닝하고 savePretrained로 저장한 폴더를 넘기세요.`,
  );
}

async function resolveTokenizer(
  requested: PipelineOptions["tokenizer"],
  source: ModelSource,
): Promise<BertTokenizer> {
  if (requested && typeof requested !== "string") return requested;
  if (typeof requested === "string") {
    return await AutoTokenizer.fromPretrained(requested);
  }
  if (source.tokenizer) return source.tokenizer;
  // Only config.json and the weights were fetched for a Hub model.
  if (source.hubId) return await AutoTokenizer.fromPretrained(source.hubId);
  const dir = source.dir!;
  if (!TOKENIZER_FILES.some((file) => existsSync(join(dir, file)))) {
    throw new CourseError(
      "TASK_TOKENIZER_MISSING",
      `no tokenizer in ${dir} (no ${TOKENIZER_FILES.join(" or ")})`,
      `모델 폴더에 토크나이저 파일이 없습니다. 학습에 쓴 토크나이저를 tokenizer.savePretrained("${dir}")로 같은 폴더에 저장하거나, pipeline(task, "${dir}", { tokenizer })처럼 tokenizer 옵션에 토크나이저(또는 그 폴더·Hub id)를 넘기세요.`,
    );
  }
  return await AutoTokenizer.fromPretrained(dir);
}

/** Either is enough for AutoTokenizer (vocab.txt with the config's defaults). */
const TOKENIZER_FILES = ["tokenizer.json", "vocab.txt"];

interface LoadedEngine {
  engine: InferenceEngine;
  cleanup(): Promise<void>;
}

async function tfjsEngine(
  spec: TaskSpec,
  source: ModelSource,
): Promise<LoadedEngine> {
  await initBackend();
  if (source.model) {
    if (!source.model.namedParameters().has(spec.headWeight)) {
      throw missingHead(spec.canonical, spec, "the model");
    }
    return {
      engine: createTfjsEngine(
        source.model as unknown as ForwardModel,
        spec.outputs,
        { ownsModel: false },
      ),
      cleanup: () => Promise.resolve(),
    };
  }
  const model = await spec.head.modelClass.fromPretrained(source.dir!, {
    verbose: false,
  });
  if (model.loadingInfo?.missing_keys.includes(spec.headWeight)) {
    model.dispose();
    throw missingHead(spec.canonical, spec, source.dir!);
  }
  return {
    engine: createTfjsEngine(model as unknown as ForwardModel, spec.outputs, {
      ownsModel: true,
    }),
    cleanup: () => Promise.resolve(),
  };
}

async function onnxEngine(
  spec: TaskSpec,
  source: ModelSource,
  threads?: number,
): Promise<LoadedEngine> {
  const graph = await onnxGraph(spec, source);
  try {
    return {
      engine: await createOnnxEngine(graph.modelPath, { threads }),
      cleanup: graph.cleanup,
    };
  } catch (error) {
    await graph.cleanup();
    throw error;
  }
}

async function tensorflowEngine(
  spec: TaskSpec,
  source: ModelSource,
): Promise<LoadedEngine> {
  const graph = await onnxGraph(spec, source);
  const tempDir = await mkdtemp(join(tmpdir(), "course-tf-graph-"));
  const cleanup = async () => {
    await rm(tempDir, { recursive: true, force: true });
    await graph.cleanup();
  };
  try {
    return {
      engine: await createTensorflowEngine(graph.modelPath, tempDir),
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * The ONNX graph for this task: `<dir>/onnx/model.onnx` when the folder is an
 * export for this task; otherwise the weights exported to a temporary folder.
 */
async function onnxGraph(
  spec: TaskSpec,
  source: ModelSource,
): Promise<{ modelPath: string; cleanup(): Promise<void> }> {
  const exported = source.dir && join(source.dir, "onnx", "model.onnx");
  if (
    exported && existsSync(exported) &&
    !hasWeights(source.dir!)
  ) {
    return { modelPath: exported, cleanup: () => Promise.resolve() };
  }
  const tempDir = await mkdtemp(join(tmpdir(), "course-onnx-"));
  const cleanup = () => rm(tempDir, { recursive: true, force: true });
  try {
    const exportSource = source.model ?? {
      config: source.config as HfWeightsSource["config"],
      stateDict: await readFolderStateDict(source.dir!),
    };
    const names = source.model
      ? source.model.namedParameters()
      : (exportSource as { stateDict: Map<string, unknown> }).stateDict;
    if (!names.has(spec.headWeight)) {
      throw missingHead(spec.canonical, spec, source.dir ?? "the model");
    }
    const { modelPath } = await exportOnnx(exportSource, tempDir, {
      task: spec.exportTask,
    });
    return { modelPath, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
