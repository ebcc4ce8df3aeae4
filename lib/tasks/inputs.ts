/**
 * Input shapes the pipelines accept, as in Hugging Face: one text or a list,
 * and sentence pairs as {text, textPair} or [text, textPair].
 */
import { CourseError } from "../runtime/errors.ts";
import type { Encoding } from "./batching.ts";
import { assertNonEmptyText, type TaskContext } from "./context.ts";

export interface TextPair {
  text: string;
  textPair?: string | null;
}

export type TextInput = string | TextPair | [string, string];

/** Splits "one input" from "a list of inputs" (a [a, b] pair is one input). */
export function asList<T>(
  inputs: T | T[],
  isSingle: (value: unknown) => boolean,
): { items: T[]; single: boolean } {
  if (isSingle(inputs)) return { items: [inputs as T], single: true };
  if (!Array.isArray(inputs)) {
    throw new CourseError(
      "TASK_BAD_INPUT",
      `unsupported input: ${JSON.stringify(inputs)?.slice(0, 80)}`,
      "문자열, 문자열 배열, 또는 {text, textPair} 객체(배열)를 넘기세요.",
    );
  }
  if (inputs.length === 0) {
    throw new CourseError(
      "TASK_EMPTY_INPUT",
      "the input list is empty",
      "처리할 문장을 하나 이상 넣으세요.",
    );
  }
  return { items: inputs, single: false };
}

export function isTextInput(value: unknown): boolean {
  if (typeof value === "string") return true;
  if (isStringPair(value)) return true;
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringPair(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 &&
    value.every((v) => typeof v === "string");
}

export function toTextPair(input: TextInput): TextPair {
  if (typeof input === "string") return { text: input };
  if (isStringPair(input)) return { text: input[0], textPair: input[1] };
  return input as TextPair;
}

/**
 * [CLS] text [SEP] (pair [SEP]), cut to the model's length limit. Texts that
 * are too long lose their end (documented: HF pipelines do the same with
 * truncation on).
 */
export function encodeText(ctx: TaskContext, input: TextPair): Encoding {
  const text = assertNonEmptyText(input.text, "text");
  const pair = input.textPair == null
    ? null
    : assertNonEmptyText(input.textPair, "textPair");
  const encoding = ctx.tokenizer(text, {
    textPair: pair,
    truncation: true,
    maxLength: ctx.maxLength,
  });
  return {
    input_ids: encoding.input_ids,
    token_type_ids: encoding.token_type_ids,
  };
}
