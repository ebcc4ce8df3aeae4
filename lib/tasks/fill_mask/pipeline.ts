/**
 * fill-mask: the most likely tokens for each [MASK] in a text, from the MLM
 * head. `sequence` is the input with the mask replaced (a "##" piece is glued
 * to the word before it), so Korean spacing stays as typed.
 */
import { CourseError } from "../../runtime/errors.ts";
import {
  assertNonEmptyText,
  inferRows,
  requireOutput,
  type TaskContext,
} from "../context.ts";
import { asList, encodeText, inputName, validTopK } from "../inputs.ts";
import { softmax, topKIndices } from "../math.ts";

export interface FillMaskOptions {
  /** Candidates per mask (default 5). */
  topK?: number;
}

export interface FillMaskCandidate {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

/** Candidates for one mask, or a list of them when a text has several. */
export type FillMaskResult = FillMaskCandidate[] | FillMaskCandidate[][];

/**
 * One text with one mask -> candidates; several masks -> a list per mask;
 * a list of texts -> one such result per text.
 */
export async function fillMask(
  ctx: TaskContext,
  inputs: string | string[],
  options: FillMaskOptions = {},
): Promise<FillMaskResult | FillMaskResult[]> {
  const { items, single } = asList(inputs, (v) => typeof v === "string");
  const topK = validTopK(options.topK ?? 5);
  const { maskToken, maskTokenId } = ctx.tokenizer;
  const encodings = items.map((item, index) => {
    const text = assertNonEmptyText(item, inputName(single, index));
    const encoding = encodeText(ctx, { text });
    if (!encoding.input_ids.includes(maskTokenId)) {
      throw new CourseError(
        "TASK_NO_MASK",
        `no ${maskToken} token in "${text.slice(0, 60)}"`,
        `채울 자리에 ${maskToken}를 넣은 문장을 주세요. 예: "오늘 날씨가 정말 ${maskToken}."`,
      );
    }
    return encoding;
  });
  const rows = await inferRows(ctx, encodings);
  const results = rows.map((row, i): FillMaskResult => {
    const logits = requireOutput(row, "logits");
    const vocabSize = logits.dims[1];
    const maskPositions = encodings[i].input_ids.flatMap((id, position) =>
      id === maskTokenId ? [position] : []
    );
    const perMask = maskPositions.map((position, maskIndex) => {
      const probabilities = softmax(
        logits.data.subarray(position * vocabSize, (position + 1) * vocabSize),
      );
      return topKIndices(probabilities, topK).map((token) => {
        const tokenStr = ctx.tokenizer.convertIdsToTokens(token) as string;
        return {
          score: probabilities[token],
          token,
          token_str: tokenStr,
          sequence: replaceNthMask(items[i], maskToken, maskIndex, tokenStr),
        };
      });
    });
    return perMask.length === 1 ? perMask[0] : perMask;
  });
  return single ? results[0] : results;
}

function replaceNthMask(
  text: string,
  maskToken: string,
  n: number,
  token: string,
): string {
  const parts = text.split(maskToken);
  const before = parts.slice(0, n + 1).join(maskToken);
  const after = parts.slice(n + 1).join(maskToken);
  if (token.startsWith("##")) {
    return before.replace(/\s+$/, "") + token.slice(2) + after;
  }
  return before + token + after;
}

/** This folder's tasks for `pipeline()` (lib/tasks/pipeline.ts gathers every folder's `TASKS`). */
export const TASKS = { "fill-mask": fillMask } as const;
