/**
 * What every task pipeline works with: the tokenizer, the model config, an
 * inference engine, and the helpers that batch encodings through the engine.
 */
import { CourseError } from "../runtime/errors.ts";
import type { BertTokenizer } from "../text/mod.ts";
import { type Encoding, lengthSortedBatches, padBatch } from "./batching.ts";
import type { InferenceEngine, OutputTensor } from "./engine.ts";
import { rowOf } from "./engine.ts";

/** The config fields the tasks read (Hugging Face names). */
export interface TaskModelConfig {
  num_labels?: number;
  id2label?: Record<string | number, string>;
  problem_type?: string | null;
  max_position_embeddings?: number;
  architectures?: string[];
}

export interface TaskContext {
  tokenizer: BertTokenizer;
  config: TaskModelConfig;
  engine: InferenceEngine;
  /** Longest input the model accepts, [CLS]/[SEP] included. */
  maxLength: number;
  batchSize: number;
}

/** One row of a model output, batch axis removed. */
export type RowOutputs = Record<string, OutputTensor>;

/** Runs encodings through the engine in length-sorted, dynamically padded batches. */
export async function inferRows(
  ctx: TaskContext,
  encodings: Encoding[],
): Promise<RowOutputs[]> {
  const results: RowOutputs[] = new Array(encodings.length);
  const groups = lengthSortedBatches(
    encodings.map((e) => e.input_ids.length),
    ctx.batchSize,
  );
  for (const group of groups) {
    const batch = padBatch(
      group.map((i) => encodings[i]),
      ctx.tokenizer.padTokenId,
    );
    const outputs = await ctx.engine.run(batch);
    group.forEach((encodingIndex, row) => {
      const rowOutputs: RowOutputs = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        // Copy: the batch buffers are released with the batch.
        rowOutputs[name] = {
          data: rowOf(tensor, row).slice(),
          dims: tensor.dims.slice(1),
        };
      }
      results[encodingIndex] = rowOutputs;
    });
  }
  return results;
}

export function requireOutput(row: RowOutputs, name: string): OutputTensor {
  const output = row[name];
  if (!output) {
    throw new CourseError(
      "TASK_OUTPUT_MISSING",
      `the model produced no "${name}" output (got: ${
        Object.keys(row).join(", ")
      })`,
      "이 작업(task)에 맞는 헤드가 있는 모델인지 확인하세요. ONNX 모델이라면 같은 task로 다시 내보내세요.",
    );
  }
  return output;
}

/** The label name of class `index`: id2label, else Hugging Face's LABEL_i. */
export function labelName(config: TaskModelConfig, index: number): string {
  return config.id2label?.[index] ?? config.id2label?.[String(index)] ??
    `LABEL_${index}`;
}

/** What a value is, for messages that say what was received: `number 123`, `undefined`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") {
    return `string ${JSON.stringify(value.slice(0, 40))}`;
  }
  if (Array.isArray(value)) {
    return `an array of ${value.length} (${preview(value)})`;
  }
  if (typeof value === "object") return `an object ${preview(value)}`;
  return `${typeof value} ${String(value)}`;
}

function preview(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 60);
  } catch {
    return String(value).slice(0, 60); // cycles, BigInt
  }
}

export function assertNonEmptyText(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new CourseError(
      "TASK_BAD_INPUT",
      `${what} must be a string, got ${describeValue(value)}`,
      `${what}에는 문자열을 넣으세요(받은 값: ${
        describeValue(value)
      }). 여러 개는 문자열 배열로 넘깁니다.`,
    );
  }
  if (value.trim() === "") {
    throw new CourseError(
      "TASK_EMPTY_INPUT",
      `${what} is empty`,
      `빈 문자열은 처리할 수 없습니다. ${what}에 내용이 있는 문장을 넣으세요.`,
    );
  }
  return value;
}
