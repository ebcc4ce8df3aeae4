/**
 * Weights in Hugging Face layout (PyTorch names, Linear weights [out, in]) as
 * float32 arrays: the one format the ONNX exporter reads. Loaders here turn a
 * `model.safetensors` file into that format.
 */
import { readFile } from "node:fs/promises";
import { CourseError } from "../../runtime/errors.ts";

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

/** Every floating-point tensor of a safetensors file, as float32 in HF names. */
export async function readStateDict(path: string): Promise<HfStateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new CourseError(
      "ONNX_WEIGHTS_MISSING",
      `Cannot read weights file ${path}`,
      "모델 폴더에 model.safetensors 파일이 있는지 확인하세요 (savePretrained로 저장한 폴더를 넘기세요).",
      { cause },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
  ) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const dataStart = 8 + headerLength;
  const tensors: HfStateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [begin, end] = info.data_offsets;
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    const data = toFloat32(info.dtype, raw);
    // Integer buffers such as the legacy `position_ids` are not weights.
    if (data) tensors.set(withBertPrefix(name), { shape: info.shape, data });
  }
  return tensors;
}

function toFloat32(dtype: string, raw: Uint8Array): Float32Array | null {
  switch (dtype) {
    case "F32":
      return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    case "F16":
      return Float32Array.from(
        new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2),
        halfToFloat,
      );
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const halves = new Uint16Array(
        raw.buffer,
        raw.byteOffset,
        raw.byteLength / 2,
      );
      const bits = Uint32Array.from(halves, (h) => h << 16);
      return new Float32Array(bits.buffer);
    }
    default:
      return null;
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
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
