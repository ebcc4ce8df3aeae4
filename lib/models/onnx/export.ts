/**
 * `exportOnnx(source, dir, {task})`: writes a folder that transformers.js
 * (and onnxruntime, and Python `optimum`) can load:
 *
 *   <dir>/onnx/model.onnx     the BertFor... graph (opset 17, float32)
 *   <dir>/config.json         the model config, with architectures for the task
 *   <dir>/tokenizer.json ...  tokenizer files copied from the model folder
 */
import { copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CourseError } from "../../runtime/errors.ts";
import {
  type BertGraphConfig,
  buildBertGraph,
  EXPORT_TASKS,
  type ExportTask,
  taskFromArchitectures,
} from "./bert_graph.ts";
import { headForExportTask, type TaskAlias } from "../head_table.ts";
import {
  type HfStateDict,
  readFolderStateDict,
  stateDictFromParameters,
  type TfjsParameter,
} from "./state_dict.ts";

/** A loaded model: anything with a config and HF-layout float32 weights. */
export interface HfWeightsSource {
  config: BertGraphConfig & Record<string, unknown>;
  stateDict: HfStateDict;
}

/** Any model that can hand over its weights in Hugging Face layout. */
export interface ModelWithHfStateDict {
  config: unknown;
  getHfStateDict(): Promise<HfStateDict> | HfStateDict;
}

/** Our tfjs models (lib/models): parameters with HF names, Linear as [in, out]. */
export interface ModelWithParameterInfo {
  config: unknown;
  parameterInfo(): TfjsParameter[];
}

export type ExportSource =
  | string
  | HfWeightsSource
  | ModelWithHfStateDict
  | ModelWithParameterInfo;

export interface ExportOnnxOptions {
  /** Which head to export; default: from `config.architectures`. */
  task?: ExportTask | TaskAlias;
  /**
   * Folder with the tokenizer files to copy (tokenizer.json,
   * tokenizer_config.json, vocab.txt, special_tokens_map.json). Default: the
   * source folder when `source` is a folder.
   */
  tokenizerDir?: string;
  /** A loaded tokenizer (lib/text BertTokenizer) to save next to the model. */
  tokenizer?: { savePretrained(dir: string): void | Promise<void> };
}

export interface ExportOnnxResult {
  dir: string;
  modelPath: string;
  task: ExportTask;
  bytes: number;
  copiedFiles: string[];
}

const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "vocab.txt",
  "special_tokens_map.json",
];

export async function exportOnnx(
  source: ExportSource,
  dir: string,
  options: ExportOnnxOptions = {},
): Promise<ExportOnnxResult> {
  const { config, stateDict } = await loadSource(source);
  const task = resolveTask(options.task, config);
  const graph = buildBertGraph(config, stateDict, task);

  await mkdir(join(dir, "onnx"), { recursive: true });
  const modelPath = join(dir, "onnx", "model.onnx");
  await writeFile(modelPath, graph);
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify(exportedConfig(config, task), null, 2) + "\n",
  );
  const tokenizerDir = options.tokenizerDir ??
    (typeof source === "string" ? source : undefined);
  const copiedFiles = tokenizerDir
    ? await copyTokenizerFiles(tokenizerDir, dir)
    : [];
  if (options.tokenizer) await options.tokenizer.savePretrained(dir);
  return { dir, modelPath, task, bytes: graph.byteLength, copiedFiles };
}

function resolveTask(
  requested: ExportOnnxOptions["task"],
  config: BertGraphConfig,
): ExportTask {
  if (requested === undefined) return taskFromArchitectures(config);
  const task = headForExportTask(requested)?.onnx?.task;
  if (task === undefined) {
    throw new CourseError(
      "ONNX_UNKNOWN_TASK",
      `Unknown export task "${requested}"`,
      `task는 ${EXPORT_TASKS.join(", ")} 중 하나여야 합니다.`,
    );
  }
  return task as ExportTask;
}

async function loadSource(source: ExportSource): Promise<HfWeightsSource> {
  if (typeof source === "string") return await loadFolder(source);
  if ("stateDict" in source) return source;
  if ("getHfStateDict" in source) {
    const config = toPlainConfig(source.config);
    return { config, stateDict: await source.getHfStateDict() };
  }
  if ("parameterInfo" in source) {
    const config = toPlainConfig(source.config);
    return {
      config,
      stateDict: stateDictFromParameters(source.parameterInfo()),
    };
  }
  throw new CourseError(
    "ONNX_BAD_SOURCE",
    "exportOnnx needs a model folder, a model, or {config, stateDict}",
    "savePretrained로 저장한 폴더 경로나 lib/models의 모델 객체를 넘기세요.",
  );
}

function toPlainConfig(
  config: unknown,
): BertGraphConfig & Record<string, unknown> {
  const withToJSON = config as { toJSON?: () => unknown };
  const plain = typeof withToJSON.toJSON === "function"
    ? withToJSON.toJSON()
    : config;
  return structuredClone(plain) as BertGraphConfig & Record<string, unknown>;
}

async function loadFolder(folder: string): Promise<HfWeightsSource> {
  let configText: string;
  try {
    configText = await readFile(join(folder, "config.json"), "utf8");
  } catch (cause) {
    throw new CourseError(
      "ONNX_CONFIG_MISSING",
      `No config.json in ${folder}`,
      "savePretrained로 저장한 모델 폴더(config.json + model.safetensors)를 넘기세요.",
      { cause },
    );
  }
  const config = JSON.parse(configText);
  const stateDict = await readFolderStateDict(folder);
  return { config, stateDict };
}

function exportedConfig(
  config: Record<string, unknown>,
  task: ExportTask,
): Record<string, unknown> {
  return {
    ...config,
    architectures: [headForExportTask(task)!.architecture],
    // transformers.js picks the quantized file on some devices by default;
    // we export only float32, so say so.
    "transformers.js_config": { dtype: "fp32" },
  };
}

async function copyTokenizerFiles(from: string, to: string): Promise<string[]> {
  const copied: string[] = [];
  for (const name of TOKENIZER_FILES) {
    const sourcePath = join(from, name);
    const exists = await stat(sourcePath).then(() => true, () => false);
    if (!exists || join(to, name) === sourcePath) continue;
    await copyFile(sourcePath, join(to, name));
    copied.push(name);
  }
  return copied;
}
