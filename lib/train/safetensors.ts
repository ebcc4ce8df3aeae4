/**
 * Minimal F32 safetensors reader/writer for optimizer state and weight restore on resume. Same byte
 * layout as the `safetensors` library: u64 LE header length, JSON header (names sorted, contiguous
 * offsets, padded with spaces to 8 bytes), raw little-endian data.
 */
import { CourseError } from "../runtime/errors.ts";

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors.get(name)!;
    header[name] = {
      dtype: "F32",
      shape,
      data_offsets: [offset, offset + data.byteLength],
    };
    offset += data.byteLength;
  }
  let headerText = JSON.stringify(header);
  headerText += " ".repeat(
    (8 - (new TextEncoder().encode(headerText).length % 8)) % 8,
  );
  const headerBytes = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      position,
    );
    position += data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const bad = (why: string) =>
    new CourseError(
      "train/bad-safetensors",
      `Not a valid safetensors file: ${why}`,
      "파일이 손상되었거나 저장 도중 중단되었습니다. 다른 체크포인트를 쓰거나 다시 저장하세요.",
    );
  if (bytes.length < 8) throw bad("too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw bad("header longer than file");
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
  );
  const base = 8 + headerLength;
  const tensors = new Map<string, NamedArray>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [start, end] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (dtype !== "F32") continue; // e.g. old I64 position_ids buffers: not parameters
    if (base + end > bytes.length) {
      throw bad(`tensor ${name} runs past the end`);
    }
    // Copy so the array is 4-byte aligned whatever the header length was.
    const data = new Float32Array(bytes.slice(base + start, base + end).buffer);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata: header.__metadata__ ?? {} };
}
