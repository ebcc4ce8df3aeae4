import { CourseError } from "../runtime/errors.ts";

/**
 * The one default length limit of the data helpers: the task's usual length (`preferred`, e.g.
 * 384 for QA as in Hugging Face's examples) but never more than the tokenizer's
 * `model_max_length` or BERT's 512 positions, so a default never overflows the model.
 */
export function defaultMaxLength(
  tokenizer: { modelMaxLength: number },
  preferred = Infinity,
): number {
  return Math.min(preferred, tokenizer.modelMaxLength, 512);
}

export type TruncationStrategy =
  | "longest_first"
  | "only_first"
  | "only_second";

/**
 * How many word pieces of each sequence to keep so that both fit in `budget` (the length
 * without special tokens). Cutting happens on word pieces BEFORE [CLS]/[SEP] are added, so the
 * final [SEP] always survives (transformers.js 4.3.1 cuts after and loses it).
 *
 * Pass lengths from `visibleLength` to match Hugging Face token for token.
 */
export function truncatedLengths(
  lengthA: number,
  lengthB: number | null,
  budget: number,
  strategy: TruncationStrategy,
): [number, number | null] {
  const total = lengthA + (lengthB ?? 0);
  if (total <= budget) return [lengthA, lengthB];
  if (lengthB === null || strategy === "only_first") {
    const keepA = budget - (lengthB ?? 0);
    if (keepA <= 0) throw tooShort("first", budget);
    return [keepA, lengthB];
  }
  if (strategy === "only_second") {
    const keepB = budget - lengthA;
    if (keepB <= 0) throw tooShort("second", budget);
    return [lengthA, keepB];
  }
  // "longest_first", the arithmetic of Hugging Face tokenizers' truncate_encodings: the
  // shorter sequence stays whole if it can; otherwise both get half and the longer the odd one.
  const swap = lengthA > lengthB;
  let n1 = swap ? lengthB : lengthA;
  let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

/**
 * The length Hugging Face's truncation sees: tokenizers 0.23 stops encoding a long text at the
 * first word boundary at or after `maxLength` tokens, so its pair arithmetic works on that.
 * (Measured: this reproduces HF on every case in tests/fixtures/tokenizer_reference.json.)
 */
export function visibleLength(tokens: string[], maxLength: number): number {
  for (let i = maxLength; i < tokens.length; i++) {
    if (!tokens[i].startsWith("##") || tokens[i].length <= 2) return i;
  }
  return tokens.length;
}

function tooShort(which: "first" | "second", budget: number): CourseError {
  const other = which === "first" ? "두 번째" : "첫 번째";
  return new CourseError(
    "TOKENIZER_TRUNCATION",
    `Truncation: the ${which} sequence cannot be cut enough; the other sequence alone ` +
      `does not fit in ${budget} word pieces`,
    `${other} 문장(질문 등)이 너무 길어서 maxLength 안에 넣을 수 없습니다. ` +
      "maxLength를 늘리거나 truncation: 'longest_first'를 쓰세요.",
  );
}
