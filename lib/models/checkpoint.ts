/**
 * Hugging Face checkpoints <-> model parameters: names, the [out, in] layout of `nn.Linear`,
 * tied weights, the `bert.` prefix, shards, and HF-style missing/unexpected/mismatched reports.
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";
import type { ParameterInfo } from "./parameters.ts";
import {
  type RawTensor,
  readSafetensors,
  type TensorToWrite,
  toFloat32,
  writeSafetensors,
} from "./safetensors.ts";

export interface LoadingInfo {
  missing_keys: string[];
  unexpected_keys: string[];
  mismatched_keys: { key: string; checkpoint: number[]; model: number[] }[];
}

export interface StoredTensor extends RawTensor {
  file: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** All tensors of a model folder: `model.safetensors`, or the shards listed in its index. */
export async function readCheckpointDir(
  dir: string,
): Promise<Map<string, StoredTensor>> {
  const single = `${dir}/model.safetensors`;
  const index = `${dir}/model.safetensors.index.json`;
  const files: string[] = [];
  if (await exists(single)) {
    files.push(single);
  } else if (await exists(index)) {
    let weightMap: Record<string, string>;
    try {
      weightMap = JSON.parse(await Deno.readTextFile(index)).weight_map;
      if (!weightMap || typeof weightMap !== "object") {
        throw new Error("no weight_map");
      }
    } catch (cause) {
      throw new CourseError(
        "checkpoint_index",
        `${index} is not a valid shard index (it needs a "weight_map")`,
        "model.safetensors.index.json이 손상되었습니다. 모델 폴더를 다시 내려받으세요.",
        { cause },
      );
    }
    for (const shard of new Set(Object.values(weightMap))) {
      files.push(`${dir}/${shard}`);
    }
  } else {
    const hasTorchBin = await exists(`${dir}/pytorch_model.bin`);
    throw new CourseError(
      "checkpoint_missing",
      `no model.safetensors (or model.safetensors.index.json) in ${dir}`,
      hasTorchBin
        ? "이 폴더에는 pytorch_model.bin만 있습니다. Python에서 model.save_pretrained(폴더, safe_serialization=True)로 safetensors로 바꿔 주세요."
        : "모델 폴더 경로가 맞는지, savePretrained로 저장한 폴더인지 확인하세요.",
    );
  }
  const tensors = new Map<string, StoredTensor>();
  for (const file of files) {
    const parsed = await readSafetensors(file);
    for (const [name, tensor] of parsed.tensors) {
      tensors.set(name, { ...tensor, file });
    }
  }
  return tensors;
}

/** Names as HF writes them today (old TF conversions used gamma/beta for LayerNorm). */
function modernName(name: string): string {
  return name.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(
    /LayerNorm\.beta$/,
    "LayerNorm.bias",
  );
}

/** Buffers and tied copies that a loader skips silently, as HF does. */
function isIgnorable(name: string): boolean {
  return /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(name) ||
    name === "cls.predictions.decoder.weight" ||
    name === "cls.predictions.decoder.bias";
}

/**
 * Maps checkpoint names onto the model's names. `basePrefix` is "bert." for heads and "" for a
 * bare BertModel; a checkpoint saved from the other kind gets the prefix added or removed.
 */
export function alignNames(
  stored: Map<string, StoredTensor>,
  basePrefix: string,
): Map<string, StoredTensor> {
  const aligned = new Map<string, StoredTensor>();
  const names = [...stored.keys()];
  const hasPrefixed = names.some((n) => n.startsWith("bert."));
  for (const [rawName, tensor] of stored) {
    let name = modernName(rawName);
    if (
      basePrefix === "bert." && !hasPrefixed &&
      /^(embeddings|encoder|pooler)\./.test(name)
    ) name = `bert.${name}`;
    if (basePrefix === "" && name.startsWith("bert.")) name = name.slice(5);
    aligned.set(name, tensor);
  }
  // Some checkpoints keep only the decoder's bias: it is the same tensor as cls.predictions.bias.
  if (
    !aligned.has("cls.predictions.bias") &&
    aligned.has("cls.predictions.decoder.bias")
  ) {
    aligned.set(
      "cls.predictions.bias",
      aligned.get("cls.predictions.decoder.bias")!,
    );
  }
  return aligned;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Copies checkpoint tensors into parameters. Returns what was missing (left for the caller to
 * initialize), unexpected, or mismatched (an error unless `ignoreMismatchedSizes`).
 */
export function assignFromCheckpoint(
  params: ParameterInfo[],
  stored: Map<string, StoredTensor>,
  { ignoreMismatchedSizes = false, source = "checkpoint" } = {},
): LoadingInfo {
  const info: LoadingInfo = {
    missing_keys: [],
    unexpected_keys: [],
    mismatched_keys: [],
  };
  const used = new Set<string>();
  for (const param of params) {
    const tensor = stored.get(param.name);
    if (!tensor) {
      info.missing_keys.push(param.name);
      continue;
    }
    used.add(param.name);
    const modelShape = param.isLinearWeight
      ? [...param.variable.shape].reverse()
      : param.variable.shape;
    if (!sameShape(tensor.shape, modelShape)) {
      info.mismatched_keys.push({
        key: param.name,
        checkpoint: tensor.shape,
        model: [...modelShape],
      });
      continue;
    }
    const values = toFloat32(tensor, param.name, tensor.file);
    tf.tidy(() => {
      const t = tf.tensor(values, tensor.shape, "float32");
      param.variable.assign(param.isLinearWeight ? tf.transpose(t) : t);
    });
  }
  for (const name of stored.keys()) {
    if (!used.has(name) && !isIgnorable(name)) info.unexpected_keys.push(name);
  }
  if (info.mismatched_keys.length && !ignoreMismatchedSizes) {
    const lines = info.mismatched_keys.map((m) =>
      `${m.key}: checkpoint ${JSON.stringify(m.checkpoint)} vs model ${
        JSON.stringify(m.model)
      }`
    );
    throw new CourseError(
      "checkpoint_shape_mismatch",
      `tensor shapes in ${source} do not match the model:\n  ${
        lines.join("\n  ")
      }`,
      "config(예: num_labels, hidden_size)가 체크포인트와 같은지 확인하세요. 분류 헤드만 새로 만들려면 fromPretrained(..., { ignore_mismatched_sizes: true })를 쓰세요.",
    );
  }
  return info;
}

/** Parameter values in HF layout (Linear weights back to [out, in]). */
export function exportTensors(
  params: ParameterInfo[],
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const param of params) {
    const value = param.isLinearWeight
      ? tf.transpose(param.variable)
      : param.variable;
    out.set(param.name, {
      shape: [...value.shape],
      data: value.dataSync() as Float32Array,
    });
    if (value !== param.variable) value.dispose();
  }
  return out;
}

export async function writeCheckpoint(
  path: string,
  params: ParameterInfo[],
  dtype: "F32" | "F16" = "F32",
): Promise<void> {
  await writeSafetensors(path, exportTensors(params), {
    metadata: { format: "pt" },
    dtype,
  });
}
