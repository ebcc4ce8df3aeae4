/**
 * Range checks for the ids that index BERT's embedding tables (`input_ids` -> word embeddings,
 * `token_type_ids` -> token type embeddings, `position_ids` -> position embeddings).
 *
 * Without them an id from another tokenizer (36440 into a 32000-row table), a -100 label fed as an
 * input, or a pair (type 1) into a `type_vocab_size: 1` model fails inside the gather kernel
 * ("GatherV2: the index value ... is not in [0, ...]") on cpu/wasm/TensorFlow-CPU, and on GPU
 * backends silently reads zeros or garbage.
 *
 * Cost: reading the ids must not add a GPU->CPU readback to every training step. The values are
 * read only where that is free: on the cpu and wasm backends (tensors live in host memory), and on
 * the others (tensorflow, webgpu) while tfjs still keeps the values it was given in JS (an input
 * tensor made from arrays by the tokenizer or `collate`, not yet used by an op: the usual case).
 * Outside training (inference, evaluation, feature extraction) a tensor already inside TensorFlow
 * is read back too (one small int32 transfer, next to the logits read anyway); webgpu cannot read
 * synchronously under Deno (its readSync needs a canvas), so there such a tensor goes unchecked.
 * During training with device-resident ids the check is skipped; a gather error, if the backend
 * raises one, still becomes the same CourseError (see `explainGatherError`).
 *
 * The scan is one pass over batch x seq ints (a second only to describe an error). Measured here:
 * 10-13 µs for input_ids + token_type_ids of 32 x 128 on cpu and tensorflow, against ~600 ms for
 * one training step of a 2-layer, 128-wide BERT on the tensorflow backend (0.002 %).
 */
import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";
import type { BertConfig } from "./config.ts";

/** The id inputs of `forward`, as in `BertInputs` (kept structural so bert.ts need not export). */
export interface IdInputs {
  input_ids: tf.Tensor;
  token_type_ids?: tf.Tensor;
  position_ids?: tf.Tensor;
}

type IdKey = "input_ids" | "token_type_ids" | "position_ids";

interface IdTable {
  key: IdKey;
  rows: number;
  sizeName: string;
}

function idTables(config: BertConfig): IdTable[] {
  return [
    { key: "input_ids", rows: config.vocab_size, sizeName: "vocab_size" },
    {
      key: "token_type_ids",
      rows: config.type_vocab_size,
      sizeName: "type_vocab_size",
    },
    {
      key: "position_ids",
      rows: config.max_position_embeddings,
      sizeName: "max_position_embeddings",
    },
  ];
}

interface TensorStorage {
  has(dataId: object): boolean;
  get(dataId: object): { values?: unknown } | undefined;
}

/**
 * The values of `t` when reading them costs no device readback, else null: the cpu and wasm
 * backends hold tensors in host memory; tensorflow (tfjs-node) and webgpu keep the values a tensor
 * was created from in JS until an op first uploads them.
 */
export function hostValues(t: tf.Tensor): ArrayLike<number> | null {
  const backend = tf.getBackend();
  if (backend === "cpu" || backend === "wasm") {
    return t.dataSync() as ArrayLike<number>;
  }
  const storage = (tf.backend() as unknown as { tensorMap?: TensorStorage })
    .tensorMap;
  // `has` first: DataStorage.get would move (read back) a tensor held by another backend.
  if (typeof storage?.has !== "function" || !storage.has(t.dataId)) return null;
  const values = storage.get(t.dataId)?.values;
  return ArrayBuffer.isView(values) && !(values instanceof DataView)
    ? values as unknown as ArrayLike<number>
    : null;
}

/** Synchronous reads work on TensorFlow's engine; webgpu's needs an OffscreenCanvas Deno lacks. */
function canReadBack(): boolean {
  return tf.getBackend() === "tensorflow";
}

function hint(key: IdKey, config: BertConfig, value: number): string {
  if (key === "token_type_ids") {
    return config.type_vocab_size === 1
      ? "이 모델은 type_vocab_size가 1이라 문장 구분(token_type_ids)을 쓰지 않습니다. token_type_ids를 넘기지 말거나 0으로 채우세요 (문장 쌍이라면 textPair 없이 한 문장으로 이어 붙이세요)."
      : "token_type_ids는 0(첫 문장)과 1(두 번째 문장)만 씁니다. 토크나이저가 만든 token_type_ids를 그대로 넘기고, 토크나이저와 모델이 같은 체크포인트에서 왔는지 확인하세요.";
  }
  if (key === "position_ids") {
    return `position_ids는 보통 넘기지 않습니다(0부터 자동). 넘긴다면 0..${
      config.max_position_embeddings - 1
    } 안이어야 하니, 긴 문장은 토크나이저에서 truncation: true, maxLength: ${config.max_position_embeddings} 이하로 자르세요.`;
  }
  if (value < 0) {
    return value === -100
      ? "-100은 labels에서 '이 위치는 손실에서 빼라'는 표시입니다. input_ids에 넣지 말고, 패딩 위치에는 tokenizer.padTokenId를 쓰세요 (labels와 input_ids가 뒤바뀌지 않았는지 확인하세요)."
      : "토큰 id는 0 이상입니다. input_ids는 토크나이저가 만든 값을 그대로 넘기고, 패딩에는 tokenizer.padTokenId를 쓰세요.";
  }
  return `토크나이저와 모델의 어휘가 다릅니다 (모델 vocab_size ${config.vocab_size}). 같은 체크포인트의 AutoTokenizer.fromPretrained(...)와 모델을 함께 쓰세요. 어휘를 새로 만들었다면 모델 config의 vocab_size를 tokenizer.vocabSize로 맞추세요.`;
}

function position(shape: number[], flat: number): string {
  const index: number[] = [];
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index.unshift(rest % shape[axis]);
    rest = Math.floor(rest / shape[axis]);
  }
  return index.map((i) => `[${i}]`).join("");
}

/** One pass for min and max; a second, only when something is out of range, for the report. */
function checkTable(
  t: tf.Tensor,
  values: ArrayLike<number>,
  table: IdTable,
  config: BertConfig,
): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min >= 0 && max < table.rows) return;
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < 0 || values[i] >= table.rows) {
      count++;
      if (first < 0) first = i;
    }
  }
  const value = values[first];
  throw new CourseError(
    "model_input_out_of_range",
    `${table.key}${position(t.shape, first)} = ${value} is outside the ${
      table.key === "input_ids"
        ? "word"
        : table.key === "token_type_ids"
        ? "token type"
        : "position"
    } embedding table: ${table.key} must be in 0..${
      table.rows - 1
    } (${table.sizeName} = ${table.rows}); ${count} of ${values.length} values are outside (min ${min}, max ${max})`,
    hint(table.key, config, value),
  );
}

/**
 * Throws a CourseError naming the argument, the bad value, its position and the allowed range when
 * an id is outside its embedding table. `training`: skip tensors whose values would need a device
 * readback (see the file comment); `force`: read them anyway (used once an error happened).
 */
export function checkIdRanges(
  inputs: IdInputs,
  config: BertConfig,
  { training = false, force = false } = {},
): void {
  for (const table of idTables(config)) {
    const t = inputs[table.key];
    if (!t) continue;
    if (t.dtype !== "int32") {
      throw new CourseError(
        "model_inputs",
        `${table.key} must be int32, got ${t.dtype}`,
        `${table.key}를 tf.tensor2d(ids, undefined, "int32")로 만드세요 (토크나이저의 returnTensors: "tf"는 int32입니다).`,
      );
    }
    const values = hostValues(t) ??
      (canReadBack() && (force || !training)
        ? t.dataSync() as ArrayLike<number>
        : null);
    if (values) checkTable(t, values, table, config);
  }
}

/**
 * Runs `embed` (the embedding lookups); a gather error there (an id the pre-check could not read
 * cheaply) becomes the CourseError of `checkIdRanges`, read back now that speed no longer matters.
 */
export function explainGatherError<T>(
  embed: () => T,
  inputs: IdInputs,
  config: BertConfig,
): T {
  try {
    return embed();
  } catch (error) {
    if (/gather|indices|index value/i.test(String(error))) {
      checkIdRanges(inputs, config, { force: true });
    }
    throw error;
  }
}
