/**
 * Pure TypeScript safetensors reader/writer (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length, a JSON header, then raw little-endian tensor bytes.
 * Written files are byte-identical to what the Python `safetensors` library writes.
 *
 * The course's one safetensors implementation: model weights (lib/models), checkpoints'
 * `optimizer.safetensors` and weight restore (lib/train), the ONNX export's state dict. It lives
 * in lib/models, the lowest layer that reads or writes these files; it imports only lib/runtime.
 */
import { CourseError } from "../runtime/errors.ts";

export type SafetensorsDtype =
  | "F32"
  | "F16"
  | "BF16"
  | "F64"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** A tensor as stored in the file: its dtype, shape and raw bytes (a view into the file). */
export interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
}

function corrupt(path: string, what: string): CourseError {
  return new CourseError(
    "safetensors_corrupt",
    `${path} is not a valid safetensors file: ${what}`,
    "파일이 손상되었거나 덜 내려받아졌습니다. 캐시에서 지우고 다시 내려받거나, savePretrained로 다시 저장하세요.",
  );
}

export function parseSafetensors(
  buffer: Uint8Array,
  path = "<memory>",
): SafetensorsFile {
  if (buffer.byteLength < 8) {
    throw corrupt(path, `only ${buffer.byteLength} bytes`);
  }
  const view = new DataView(
    buffer.buffer,
    buffer.byteOffset,
    buffer.byteLength,
  );
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > buffer.byteLength) {
    throw corrupt(
      path,
      `header says ${headerLength} bytes but the file has ${buffer.byteLength}`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder().decode(buffer.subarray(8, 8 + headerLength)),
    );
  } catch {
    throw corrupt(path, "the JSON header does not parse");
  }
  const dataStart = 8 + headerLength;
  const dataLength = buffer.byteLength - dataStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const elementBytes = BYTES_PER_ELEMENT[dtype];
    if (
      !elementBytes || !Array.isArray(shape) || !Array.isArray(data_offsets)
    ) {
      throw corrupt(path, `tensor "${name}" has a bad header entry`);
    }
    const [begin, end] = data_offsets;
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * elementBytes || begin < 0 || end > dataLength) {
      throw corrupt(
        path,
        `tensor "${name}" (${dtype} ${
          JSON.stringify(shape)
        }) has offsets [${begin}, ${end}] outside the ${dataLength} data bytes`,
      );
    }
    tensors.set(name, {
      dtype,
      shape,
      bytes: buffer.subarray(dataStart + begin, dataStart + end),
    });
  }
  return { metadata, tensors };
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let buffer: Uint8Array;
  try {
    buffer = await Deno.readFile(path);
  } catch (cause) {
    throw new CourseError(
      "safetensors_missing",
      `cannot read ${path}`,
      "모델 폴더에 model.safetensors가 있는지 확인하세요.",
      { cause },
    );
  }
  return parseSafetensors(buffer, path);
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Round-to-nearest-even float32 -> float16 bits (what `torch.Tensor.half()` does). */
function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  return sign | half;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** Float32 values of a stored tensor (F32 as is, F16/BF16/F64 converted). */
export function toFloat32(
  tensor: RawTensor,
  name: string,
  path: string,
): Float32Array {
  const { dtype, bytes } = tensor;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // F32: a copy in a fresh aligned buffer (the view may start at an unaligned offset).
  if (dtype === "F32") return new Float32Array(bytes.slice().buffer);
  const n = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case "F16":
      for (let i = 0; i < n; i++) {
        out[i] = f16ToF32(view.getUint16(2 * i, true));
      }
      break;
    case "BF16":
      for (let i = 0; i < n; i++) {
        u32Scratch[0] = view.getUint16(2 * i, true) << 16;
        out[i] = f32Scratch[0];
      }
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    default:
      throw new CourseError(
        "safetensors_dtype",
        `tensor "${name}" in ${path} has dtype ${dtype}; a float tensor (F32, F16, BF16) was expected`,
        "이 가중치 파일은 BERT 부동소수점 가중치가 아닙니다. 올바른 체크포인트인지 확인하세요.",
      );
  }
  return out;
}

/** A tensor as float32 values: what the writer takes and `float32Tensors` gives. */
export interface TensorToWrite {
  shape: number[];
  data: Float32Array;
}

/**
 * Every float tensor of a parsed file as float32 values (`toFloat32`), by name. Tensors of
 * other dtypes (e.g. an old checkpoint's I64 `position_ids` buffer) are not parameters and are
 * left out.
 */
export function float32Tensors(
  file: SafetensorsFile,
  path = "<memory>",
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, tensor] of file.tensors) {
    if (!FLOAT_DTYPES.has(tensor.dtype)) continue;
    out.set(name, {
      shape: tensor.shape,
      data: toFloat32(tensor, name, path),
    });
  }
  return out;
}

/** How to write: `metadata` null writes no `__metadata__` entry (Python's `metadata=None`). */
export interface SerializeOptions {
  metadata?: Record<string, string> | null;
  dtype?: "F32" | "F16";
}

/**
 * Serializes float32 tensors. Names are sorted and offsets contiguous, and the header is padded
 * with spaces to a multiple of 8, as the Python library does, so equal tensors give equal bytes.
 */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  { metadata = { format: "pt" }, dtype = "F32" }: SerializeOptions = {},
): Uint8Array {
  const entries = [
    ...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors)),
  ]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const elementBytes = BYTES_PER_ELEMENT[dtype];
  const header: Record<string, unknown> = metadata === null
    ? {}
    : { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of entries) {
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new CourseError(
        "safetensors_shape",
        `tensor "${name}" has ${data.length} values but shape ${
          JSON.stringify(shape)
        }`,
        "저장하려는 텐서의 모양과 값 개수가 맞지 않습니다.",
      );
    }
    header[name] = {
      dtype,
      shape,
      data_offsets: [offset, offset + count * elementBytes],
    };
    offset += count * elementBytes;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.byteLength / 8) * 8;
  if (padded !== headerBytes.byteLength) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(
    0,
    BigInt(headerBytes.byteLength),
    true,
  );
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const [, { data }] of entries) {
    if (dtype === "F32") {
      out.set(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        position,
      );
      position += data.byteLength;
    } else {
      const view = new DataView(out.buffer, position, data.length * 2);
      for (let i = 0; i < data.length; i++) {
        view.setUint16(2 * i, f32ToF16(data[i]), true);
      }
      position += data.length * 2;
    }
  }
  return out;
}

export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  options?: SerializeOptions,
): Promise<void> {
  const bytes = serializeSafetensors(tensors, options);
  // Write then rename, so an interrupted save never leaves a half-written checkpoint behind.
  const temporary = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, path);
}
