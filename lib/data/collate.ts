import * as tf from "@tensorflow/tfjs-core";
import { CourseError } from "../runtime/errors.ts";

/** One tokenized example, unpadded (what `tokenizeForClassification` & co. return). */
export interface Example {
  input_ids: number[];
  token_type_ids?: number[];
  attention_mask?: number[];
  /** Class id (int), regression target (float) or per-token labels (-100 = ignore). */
  label?: number | number[];
  /** Same as `label` (Hugging Face uses both names). */
  labels?: number | number[];
  next_sentence_label?: number;
  start_positions?: number;
  end_positions?: number;
}

export interface CollateOptions {
  padTokenId: number;
  /** Per-token labels are padded with this (cross-entropy ignores it). */
  labelPadId?: number;
  /** Round the padded length up (e.g. 8) so fewer distinct shapes reach the GPU. */
  padToMultipleOf?: number;
  /** Pad every batch to exactly this length (examples must not be longer). */
  maxLength?: number;
  /** Class labels must be in [0, numLabels). */
  numLabels?: number;
  /** Force the label dtype; default: int32 for integers, float32 when any label has a fraction. */
  labelDtype?: "int32" | "float32";
}

export interface Batch {
  input_ids: tf.Tensor2D;
  attention_mask: tf.Tensor2D;
  token_type_ids: tf.Tensor2D;
  labels?: tf.Tensor;
  next_sentence_label?: tf.Tensor1D;
  start_positions?: tf.Tensor1D;
  end_positions?: tf.Tensor1D;
}

const SCALAR_FIELDS = [
  "next_sentence_label",
  "start_positions",
  "end_positions",
] as const;

function fail(code: string, message: string, hint: string): never {
  throw new CourseError(code, message, hint);
}

function targetLength(examples: Example[], options: CollateOptions): number {
  const longest = Math.max(...examples.map((e) => e.input_ids.length));
  let length = longest;
  if (options.maxLength !== undefined) {
    if (longest > options.maxLength) {
      fail(
        "COLLATE_TOO_LONG",
        `an example has ${longest} tokens, more than maxLength ${options.maxLength}`,
        "토큰화할 때 { truncation: true, maxLength }로 잘라 주세요 (collate는 자르지 않습니다: [SEP]가 사라지니까요).",
      );
    }
    length = options.maxLength;
  }
  const multiple = options.padToMultipleOf;
  if (multiple && length % multiple !== 0) {
    length += multiple - (length % multiple);
  }
  return length;
}

function validateExamples(examples: Example[]): void {
  if (!Array.isArray(examples) || examples.length === 0) {
    fail(
      "COLLATE_EMPTY_BATCH",
      "collate got no examples",
      "배치에는 예제가 1개 이상 있어야 합니다. batchIndices의 결과와 데이터 길이를 확인하세요.",
    );
  }
  examples.forEach((example, i) => {
    const ids = example?.input_ids;
    if (!Array.isArray(ids) || ids.length === 0) {
      fail(
        "COLLATE_EMPTY_EXAMPLE",
        `examples[${i}] has no input_ids`,
        "토큰화 결과가 비어 있습니다. 빈 문장을 걸러내고 tokenizer(...)의 input_ids를 넣으세요.",
      );
    }
    if (
      example.token_type_ids && example.token_type_ids.length !== ids.length
    ) {
      fail(
        "COLLATE_LENGTH_MISMATCH",
        `examples[${i}]: token_type_ids (${example.token_type_ids.length}) and input_ids (${ids.length}) differ in length`,
        "input_ids와 token_type_ids는 같은 토크나이저 호출에서 나온 값을 함께 쓰세요.",
      );
    }
  });
}

function padRows(rows: number[][], length: number, value: number): Int32Array {
  const flat = new Int32Array(rows.length * length).fill(value);
  rows.forEach((row, i) => flat.set(row, i * length));
  return flat;
}

function labelOf(example: Example): number | number[] | undefined {
  return example.labels ?? example.label;
}

function collateLabels(
  examples: Example[],
  length: number,
  options: CollateOptions,
): tf.Tensor | undefined {
  const labels = examples.map(labelOf);
  const present = labels.filter((l) => l !== undefined).length;
  if (present === 0) return undefined;
  if (present !== labels.length) {
    fail(
      "COLLATE_MISSING_LABEL",
      `${labels.length - present} of ${labels.length} examples have no label`,
      "한 배치 안에서는 모든 예제에 label이 있거나, 모두 없어야 합니다.",
    );
  }
  if (labels.some(Array.isArray)) {
    const rows = labels as number[][];
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== examples[i].input_ids.length) {
        fail(
          "COLLATE_TOKEN_LABELS",
          `examples[${i}]: per-token labels must have one label per token`,
          "토큰 분류 라벨은 input_ids와 길이가 같아야 합니다 (tokenizeAndAlignLabels를 쓰세요).",
        );
      }
      row.forEach((label) => checkLabel(label, i, options, true));
    });
    return tf.tensor2d(padRows(rows, length, options.labelPadId ?? -100), [
      rows.length,
      length,
    ], "int32");
  }
  const values = labels as number[];
  values.forEach((label, i) => checkLabel(label, i, options, false));
  const dtype = options.labelDtype ??
    (values.every(Number.isInteger) ? "int32" : "float32");
  return tf.tensor1d(values, dtype);
}

function checkLabel(
  label: number,
  index: number,
  options: CollateOptions,
  perToken: boolean,
) {
  if (typeof label === "string") {
    fail(
      "COLLATE_BAD_LABEL",
      `examples[${index}] has label ${
        JSON.stringify(label)
      }, a string, not a number`,
      "라벨이 숫자가 아니라 문자열입니다. 숫자 문자열이면 Number(label), 이름이면 label2id[label]로 " +
        "바꾸세요 (CSV/TSV의 label 열이 문자열로 읽혔을 수 있습니다).",
    );
  }
  if (
    typeof label !== "number" || Number.isNaN(label) || !Number.isFinite(label)
  ) {
    fail(
      "COLLATE_BAD_LABEL",
      `examples[${index}] has label ${label}`,
      "라벨에 NaN/빈 값이 있습니다. 데이터에서 라벨이 없는 행을 지우세요.",
    );
  }
  const ignored = perToken && label === (options.labelPadId ?? -100);
  if (
    options.numLabels !== undefined && !ignored &&
    options.labelDtype !== "float32"
  ) {
    if (!Number.isInteger(label) || label < 0 || label >= options.numLabels) {
      fail(
        "COLLATE_LABEL_RANGE",
        `examples[${index}] has label ${label}, outside 0..${
          options.numLabels - 1
        } (num_labels = ${options.numLabels})`,
        "라벨은 0부터 num_labels-1까지의 정수여야 합니다. label2id 변환과 모델의 num_labels를 확인하세요.",
      );
    }
  }
}

/**
 * Pads a list of examples to the longest one (dynamic padding) and returns int32 tensors.
 * The caller owns the tensors: dispose them (or run inside tf.tidy) after the step.
 */
export function collate(examples: Example[], options: CollateOptions): Batch {
  validateExamples(examples);
  if (!Number.isInteger(options?.padTokenId)) {
    fail(
      "COLLATE_PAD_ID",
      "collate needs padTokenId",
      "collate(examples, { padTokenId: tokenizer.padTokenId })처럼 패딩 id를 주세요.",
    );
  }
  const length = targetLength(examples, options);
  // Validate everything before the first tensor exists, so an error leaks no memory.
  const scalars = SCALAR_FIELDS.filter((field) =>
    examples[0][field] !== undefined
  )
    .map((field) => [field, scalarValues(examples, field)] as const);
  const labels = collateLabels(examples, length, options);
  const shape: [number, number] = [examples.length, length];
  const ids = examples.map((e) => e.input_ids);
  const types = examples.map((e) => e.token_type_ids ?? []);
  const masks = examples.map((e) =>
    e.attention_mask ?? new Array(e.input_ids.length).fill(1)
  );
  const batch: Batch = {
    input_ids: tf.tensor2d(
      padRows(ids, length, options.padTokenId),
      shape,
      "int32",
    ),
    attention_mask: tf.tensor2d(padRows(masks, length, 0), shape, "int32"),
    token_type_ids: tf.tensor2d(padRows(types, length, 0), shape, "int32"),
  };
  if (labels) batch.labels = labels;
  for (const [field, values] of scalars) {
    batch[field] = tf.tensor1d(values, "int32");
  }
  return batch;
}

function scalarValues(
  examples: Example[],
  field: typeof SCALAR_FIELDS[number],
): number[] {
  return examples.map((e, i) => {
    const value = e[field];
    if (!Number.isInteger(value)) {
      fail(
        "COLLATE_BAD_LABEL",
        `examples[${i}].${field} is ${value}`,
        `모든 예제에 정수 ${field}가 있어야 합니다.`,
      );
    }
    return value as number;
  });
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: Batch): void {
  for (const value of Object.values(batch)) {
    (value as tf.Tensor | undefined)?.dispose();
  }
}
