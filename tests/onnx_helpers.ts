/** Shared helpers for the ONNX tests: fixture paths, ORT runs, comparisons. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";

export const FIXTURE_DIR = join(
  import.meta.dirname!,
  "..",
  "..",
  "shared",
  "fixtures",
  "hf-bert-tiny",
);

export interface ReferenceBatch {
  name: string;
  texts: [string, string | null][];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  pretraining: {
    last_hidden_state: number[][][];
    pooler_output: number[][];
    prediction_logits: number[][][];
    seq_relationship_logits: number[][];
  };
  seqcls: { logits: number[][] };
}

export interface Reference {
  batches: ReferenceBatch[];
  seqcls_config: Record<string, unknown>;
}

export async function loadReference(): Promise<Reference> {
  return JSON.parse(
    await readFile(join(FIXTURE_DIR, "reference.json"), "utf8"),
  );
}

export function int64Tensor(rows: number[][]): ort.Tensor {
  const data = BigInt64Array.from(rows.flat(), (v) => BigInt(v));
  return new ort.Tensor("int64", data, [rows.length, rows[0].length]);
}

export async function runOnnx(
  modelPath: string,
  batch: Pick<
    ReferenceBatch,
    "input_ids" | "attention_mask" | "token_type_ids"
  >,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    return await session.run({
      input_ids: int64Tensor(batch.input_ids),
      attention_mask: int64Tensor(batch.attention_mask),
      token_type_ids: int64Tensor(batch.token_type_ids),
    });
  } finally {
    await session.release();
  }
}

/** Largest |got - want| beyond atol + rtol·|want|; throws with details. */
export function assertClose(
  got: ArrayLike<number>,
  want: number[],
  label: string,
  atol = 1e-4,
  rtol = 1e-4,
): number {
  if (got.length !== want.length) {
    throw new Error(`${label}: length ${got.length} != ${want.length}`);
  }
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    maxDiff = Math.max(maxDiff, diff);
    if (!(diff <= atol + rtol * Math.abs(want[i]))) {
      throw new Error(
        `${label}[${i}]: got ${got[i]}, want ${want[i]} (diff ${diff})`,
      );
    }
  }
  return maxDiff;
}

/** x·Wᵀ + b in float64 over the last axis, W given as [out, in]. */
export function linearRows(
  rows: number[][],
  weight: Float32Array,
  bias: Float32Array,
): number[][] {
  const outFeatures = bias.length;
  return rows.map((x) =>
    Array.from({ length: outFeatures }, (_, o) => {
      let sum = bias[o];
      for (let i = 0; i < x.length; i++) sum += x[i] * weight[o * x.length + i];
      return sum;
    })
  );
}

/** A deterministic float32 array in [-scale, scale) (mulberry32). */
export function seededArray(length: number, seed: number, scale: number) {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return (unit * 2 - 1) * scale;
  });
}

export function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
