import { CourseError } from "../runtime/errors.ts";
import { SeededRandom } from "../runtime/random.ts";
import type { BertTokenizer } from "../text/bert_tokenizer.ts";
import { defaultMaxLength } from "../text/truncation.ts";
import type { Example } from "./collate.ts";

export interface BatchIndicesOptions {
  batchSize: number;
  /** Shuffle example order (training); false keeps the order (evaluation). Default true. */
  shuffle?: boolean;
  seed?: number;
  /**
   * Put examples of similar length in the same batch so that less padding is computed:
   * shuffle, cut into chunks of `bucketChunkBatches` batches, sort each chunk by length,
   * cut into batches, then shuffle the batch order. Still random, much less padding.
   */
  bucketByLength?: boolean;
  bucketChunkBatches?: number;
  /** Drop the last, smaller batch. */
  dropLast?: boolean;
}

type Lengths = number[] | Example[];

function lengthsOf(items: Lengths): number[] {
  return items.map((item) =>
    typeof item === "number" ? item : item.input_ids.length
  );
}

/** Index groups (one per batch) over `examples` (or their lengths). Seeded: same seed, same batches. */
export function batchIndices(
  items: Lengths,
  options: BatchIndicesOptions,
): number[][] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new CourseError(
      "BATCH_SIZE",
      `batchSize must be a positive integer, got ${batchSize}`,
      "batchSize는 16, 32 같은 양의 정수로 주세요.",
    );
  }
  const lengths = lengthsOf(items);
  const rng = new SeededRandom(options.seed ?? 42);
  const shuffle = options.shuffle ?? true;
  let order = shuffle
    ? rng.permutation(lengths.length)
    : lengths.map((_, i) => i);
  let batches: number[][] = [];
  if (options.bucketByLength) {
    const chunkSize = batchSize * (options.bucketChunkBatches ?? 50);
    const sorted: number[] = [];
    for (let start = 0; start < order.length; start += chunkSize) {
      const chunk = order.slice(start, start + chunkSize);
      // Stable sort: equal lengths keep their shuffled order.
      chunk.sort((a, b) => lengths[b] - lengths[a]);
      sorted.push(...chunk);
    }
    order = sorted;
  }
  for (let start = 0; start < order.length; start += batchSize) {
    batches.push(order.slice(start, start + batchSize));
  }
  if (
    options.dropLast && batches.length > 0 && batches.at(-1)!.length < batchSize
  ) {
    batches.pop();
  }
  if (options.bucketByLength && shuffle) batches = rng.shuffle(batches);
  return batches;
}

/** The same batches as `batchIndices`, one at a time (for `for (const idx of batches(...))`). */
export function* batches(
  items: Lengths,
  options: BatchIndicesOptions,
): Generator<number[]> {
  yield* batchIndices(items, options);
}

export interface PaddingStats {
  realTokens: number;
  paddedTokens: number;
  /** Pad tokens / all tokens computed. */
  padFraction: number;
}

/** How much of the computation would be padding with these batches (dynamic padding). */
export function paddingStats(
  items: Lengths,
  batchGroups: number[][],
): PaddingStats {
  const lengths = lengthsOf(items);
  let real = 0;
  let total = 0;
  for (const group of batchGroups) {
    const longest = Math.max(...group.map((i) => lengths[i]));
    for (const i of group) real += lengths[i];
    total += longest * group.length;
  }
  return {
    realTokens: real,
    paddedTokens: total - real,
    padFraction: (total - real) / total,
  };
}

/** A nodejs-polars DataFrame, as far as we need it (no import: data stays decoupled). */
interface FrameLike {
  getColumn(name: string): { toArray(): unknown[] };
  columns: string[];
}

export interface ClassificationData {
  texts: string[];
  textPairs?: string[];
  labels?: (number | string)[];
}

export interface TokenizeForClassificationOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  maxLength?: number;
  /** Maps string labels to ids; required when labels are strings. */
  label2id?: Record<string, number>;
}

function isFrame(data: unknown): data is FrameLike {
  return typeof (data as FrameLike)?.getColumn === "function";
}

function column(frame: FrameLike, name: string): unknown[] {
  if (!frame.columns.includes(name)) {
    throw new CourseError(
      "DATA_NO_COLUMN",
      `no column "${name}" (columns: ${frame.columns.join(", ")})`,
      "textColumn / labelColumn 옵션에 실제 열 이름을 주세요.",
    );
  }
  return frame.getColumn(name).toArray();
}

function labelId(
  label: unknown,
  row: number,
  label2id: Record<string, number> | undefined,
): number {
  if (typeof label === "number" && Number.isFinite(label)) return label;
  if (typeof label === "string") {
    if (label2id && Object.hasOwn(label2id, label)) return label2id[label];
    const known = label2id
      ? Object.keys(label2id).join(", ")
      : "(label2id 없음)";
    throw new CourseError(
      "DATA_UNKNOWN_LABEL",
      `row ${row}: unknown label "${label}"; known labels: ${known}`,
      "문자열 라벨은 label2id로 숫자로 바꿉니다. label2id에 모든 라벨을 넣었는지, 오타가 없는지 확인하세요.",
    );
  }
  throw new CourseError(
    "DATA_BAD_LABEL",
    `row ${row}: label is ${label === null ? "null" : String(label)}`,
    "라벨이 비어 있는 행이 있습니다. 먼저 df.dropNulls()로 지우세요.",
  );
}

/**
 * Tokenizes sentences (or sentence pairs) and labels into unpadded examples for
 * `batchIndices` + `collate`. Accepts a DataFrame or `{texts, textPairs?, labels?}`.
 */
export function tokenizeForClassification(
  data: FrameLike | ClassificationData,
  tokenizer: BertTokenizer,
  options: TokenizeForClassificationOptions = {},
): Example[] {
  let texts: unknown[];
  let pairs: unknown[] | undefined;
  let labels: unknown[] | undefined;
  if (isFrame(data)) {
    texts = column(data, options.textColumn ?? "document");
    pairs = options.textPairColumn
      ? column(data, options.textPairColumn)
      : undefined;
    const labelColumn = options.labelColumn ?? "label";
    labels = data.columns.includes(labelColumn)
      ? column(data, labelColumn)
      : undefined;
  } else {
    ({ texts, textPairs: pairs, labels } = data);
  }
  if (labels && labels.length !== texts.length) {
    throw new CourseError(
      "DATA_LENGTH_MISMATCH",
      `${texts.length} texts but ${labels.length} labels`,
      "문장과 라벨의 개수가 같아야 합니다.",
    );
  }
  const maxLength = options.maxLength ?? defaultMaxLength(tokenizer);
  return texts.map((text, row) => {
    if (typeof text !== "string" || text.trim() === "") {
      throw new CourseError(
        "DATA_BAD_TEXT",
        `row ${row}: text is ${text === null ? "null" : JSON.stringify(text)}`,
        "빈 문장/누락된 문장이 있습니다. 먼저 빈 행을 지우세요 (예: df.filter(pl.col('document').isNotNull())).",
      );
    }
    const pair = pairs?.[row];
    const encoded = tokenizer(text, {
      textPair: typeof pair === "string" ? pair : undefined,
      truncation: true,
      maxLength,
    });
    const example: Example = {
      input_ids: encoded.input_ids,
      token_type_ids: encoded.token_type_ids,
    };
    if (labels) example.label = labelId(labels[row], row, options.label2id);
    return example;
  });
}

/** Alias named in docs/ARCHITECTURE.md. */
export const tokenizeDataset = tokenizeForClassification;
