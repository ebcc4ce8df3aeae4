/**
 * Weights in Hugging Face layout (PyTorch names, Linear weights [out, in]) as
 * float32 arrays: the one format the ONNX exporter reads. Files are read with
 * lib/models' safetensors and checkpoint readers (shards, old names, the
 * `bert.` prefix), so the exporter accepts what `fromPretrained` accepts.
 */
import { alignNames, readCheckpointDir } from "../checkpoint.ts";
import { type RawTensor, readSafetensors, toFloat32 } from "../safetensors.ts";

export interface HfTensor {
  shape: number[];
  data: Float32Array;
}

export type HfStateDict = Map<string, HfTensor>;

// Checkpoints saved from `BertModel` lack the "bert." prefix that the task
// models (BertFor...) use; we normalize to the prefixed names.
const BASE_MODEL_PREFIXES = ["embeddings.", "encoder.", "pooler."];

export function withBertPrefix(name: string): string {
  return BASE_MODEL_PREFIXES.some((p) => name.startsWith(p))
    ? `bert.${name}`
    : name;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

function toStateDict(
  tensors: Map<string, RawTensor>,
  source: string,
): HfStateDict {
  const stateDict: HfStateDict = new Map();
  for (const [name, tensor] of tensors) {
    // Integer buffers such as the legacy `position_ids` are not weights.
    if (!FLOAT_DTYPES.has(tensor.dtype)) continue;
    stateDict.set(withBertPrefix(name), {
      shape: tensor.shape,
      data: toFloat32(tensor, name, source),
    });
  }
  return stateDict;
}

/** Every float tensor of one safetensors file, as float32 with HF names. */
export async function readStateDict(path: string): Promise<HfStateDict> {
  return toStateDict((await readSafetensors(path)).tensors, path);
}

/** A model folder's weights (`model.safetensors` or its shards). */
export async function readFolderStateDict(dir: string): Promise<HfStateDict> {
  return toStateDict(alignNames(await readCheckpointDir(dir), "bert."), dir);
}

/** One registered parameter of our tfjs models (lib/models ParameterInfo). */
export interface TfjsParameter {
  name: string;
  variable: { shape: number[]; dataSync(): ArrayLike<number> };
  /** tfjs keeps nn.Linear weights as [in, out]; HF stores [out, in]. */
  isLinearWeight: boolean;
}

/** Our tfjs model's parameters in Hugging Face layout and names. */
export function stateDictFromParameters(
  parameters: TfjsParameter[],
): HfStateDict {
  const tensors: HfStateDict = new Map();
  for (const { name, variable, isLinearWeight } of parameters) {
    const values = Float32Array.from(variable.dataSync());
    if (isLinearWeight) {
      const [inFeatures, outFeatures] = variable.shape;
      tensors.set(withBertPrefix(name), {
        shape: [outFeatures, inFeatures],
        data: transpose2d(values, inFeatures, outFeatures),
      });
    } else {
      tensors.set(withBertPrefix(name), {
        shape: [...variable.shape],
        data: values,
      });
    }
  }
  return tensors;
}

/** Row-major [rows, cols] -> [cols, rows]. */
export function transpose2d(
  data: Float32Array,
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}
