/**
 * Input shapes the pipelines accept, as in Hugging Face: one text or a list
 * of texts, which is always a batch (two strings are two texts, not a pair).
 * A sentence pair is only ever an object, {text, textPair} (or {text,
 * text_pair}, Python transformers' spelling).
 */
import { CourseError } from "../runtime/errors.ts";
import type { Encoding } from "./batching.ts";
import {
  assertNonEmptyText,
  describeValue,
  type TaskContext,
} from "./context.ts";

export interface TextPair {
  text: string;
  textPair?: string | null;
  /** Python transformers' name for `textPair`. */
  text_pair?: string | null;
}

export type TextInput = string | TextPair;

const TEXT_SHAPES =
  '문장 하나는 문자열, 여러 문장은 문자열 배열, 문장 쌍은 {text: "문장 A", textPair: "문장 B"} 객체(여러 쌍은 그 배열)로 넘기세요.';

/** Splits "one input" from "a list of inputs". */
export function asList<T>(
  inputs: T | T[],
  isSingle: (value: unknown) => boolean,
  shapes = TEXT_SHAPES,
): { items: T[]; single: boolean } {
  if (isSingle(inputs)) return { items: [inputs as T], single: true };
  if (!Array.isArray(inputs)) {
    throw new CourseError(
      "TASK_BAD_INPUT",
      `unsupported input: ${describeValue(inputs)}`,
      shapes,
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

/** One text or one pair object; any array is a list of inputs. */
export function isTextInput(value: unknown): boolean {
  return typeof value === "string" ||
    (typeof value === "object" && value !== null && !Array.isArray(value));
}

/** How messages name an input: `input` alone, `inputs[2]` in a list. */
export function inputName(single: boolean, index: number): string {
  return single ? "input" : `inputs[${index}]`;
}

/** Checks one input (named `name` in errors) and reads it as {text, textPair}. */
export function toTextPair(input: unknown, name: string): TextPair {
  if (typeof input === "string") {
    return { text: assertNonEmptyText(input, name) };
  }
  if (Array.isArray(input)) {
    throw new CourseError(
      "TASK_BAD_INPUT",
      `${name} is ${describeValue(input)}: a list inside the list of inputs`,
      `${name}에 배열이 들어 있습니다. 문장 쌍은 배열이 아니라 {text: "문장 A", textPair: "문장 B"} 객체로 넘기세요(Hugging Face와 같습니다). 문자열 배열은 문장 여러 개로 읽습니다.`,
    );
  }
  if (typeof input !== "object" || input === null) {
    throw new CourseError(
      "TASK_BAD_INPUT",
      `${name} must be a string or a {text, textPair} object, got ${
        describeValue(input)
      }`,
      `${name}에는 문자열(문장)을 넣으세요(받은 값: ${
        describeValue(input)
      }). ${TEXT_SHAPES}`,
    );
  }
  const pair = input as TextPair;
  const second = pair.textPair ?? pair.text_pair;
  return {
    text: assertNonEmptyText(pair.text, `${name}.text`),
    textPair: second == null
      ? null
      : assertNonEmptyText(second, `${name}.textPair`),
  };
}

/**
 * [CLS] text [SEP] (pair [SEP]), cut to the model's length limit. Texts that
 * are too long lose their end (documented: HF pipelines do the same with
 * truncation on).
 */
export function encodeText(ctx: TaskContext, input: TextPair): Encoding {
  const text = assertNonEmptyText(input.text, "text");
  const second = input.textPair ?? input.text_pair;
  const pair = second == null ? null : assertNonEmptyText(second, "textPair");
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

/** A `topK` option: a positive integer. */
export function validTopK(topK: number): number {
  if (!Number.isInteger(topK) || topK < 1) {
    throw new CourseError(
      "TASK_BAD_OPTION",
      `topK must be a positive integer, got ${topK}`,
      'topK에는 1 이상의 정수(또는 "all")를 넣으세요.',
    );
  }
  return topK;
}
