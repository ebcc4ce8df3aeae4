/**
 * text-classification / sentiment-analysis: one label per text (or pair),
 * names from `config.id2label`, probabilities by softmax (sigmoid for
 * multi-label and single-output models, as Hugging Face does).
 */
import {
  inferRows,
  labelName,
  requireOutput,
  type TaskContext,
} from "../context.ts";
import {
  asList,
  encodeText,
  inputName,
  isTextInput,
  type TextInput,
  toTextPair,
  validTopK,
} from "../inputs.ts";
import { sigmoid, softmax, topKIndices } from "../math.ts";

export interface TextClassificationOptions {
  /** How many labels per input (default 1); "all" = every label. */
  topK?: number | "all";
  /** default: sigmoid for multi-label or one-output models, else softmax. */
  functionToApply?: "softmax" | "sigmoid" | "none";
}

export interface LabelScore {
  label: string;
  score: number;
}

/**
 * Like Hugging Face: one input and topK 1 -> `[{label, score}]`; a list and
 * topK 1 -> one `{label, score}` per input; topK > 1 -> a list per input
 * (nested for a list of inputs).
 */
export async function textClassification(
  ctx: TaskContext,
  inputs: TextInput | TextInput[],
  options: TextClassificationOptions = {},
): Promise<LabelScore[] | LabelScore[][]> {
  const { items, single } = asList(inputs, isTextInput);
  const rows = await inferRows(
    ctx,
    items.map((item, index) =>
      encodeText(ctx, toTextPair(item, inputName(single, index)))
    ),
  );
  const topK = options.topK ?? 1;
  const perInput = rows.map((row) => {
    const logits = requireOutput(row, "logits").data;
    const scores = applyFunction(
      logits,
      pickFunction(ctx, logits.length, options),
    );
    const k = topK === "all" ? scores.length : validTopK(topK);
    return topKIndices(scores, k).map((index) => ({
      label: labelName(ctx.config, index),
      score: scores[index],
    }));
  });
  // HF returns a flat list for topK 1, one entry per input (a list of one
  // for a single text).
  if (topK === 1) return perInput.map((labels) => labels[0]);
  return single ? perInput[0] : perInput;
}

function pickFunction(
  ctx: TaskContext,
  numLabels: number,
  options: TextClassificationOptions,
): "softmax" | "sigmoid" | "none" {
  if (options.functionToApply) return options.functionToApply;
  const multiLabel = ctx.config.problem_type === "multi_label_classification";
  if (ctx.config.problem_type === "regression") return "none";
  return multiLabel || numLabels === 1 ? "sigmoid" : "softmax";
}

export function applyFunction(
  logits: ArrayLike<number>,
  fn: "softmax" | "sigmoid" | "none",
): number[] {
  if (fn === "softmax") return softmax(logits);
  if (fn === "sigmoid") return Array.from(logits, sigmoid);
  return Array.from(logits);
}

/** This folder's tasks for `pipeline()` (lib/tasks/pipeline.ts gathers every folder's `TASKS`). */
export const TASKS = { "text-classification": textClassification } as const;
