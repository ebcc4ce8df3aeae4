/**
 * Extractive QA scores with the semantics of the official scripts: SQuAD v1.1 (exact match,
 * token-level F1) and KorQuAD 1.0 (its normalization, character-level F1). Plain strings in,
 * plain numbers out.
 */
import { checkSameLength } from "../../runtime/same_length.ts";

// string.punctuation in Python: the ASCII punctuation set the official scripts remove.
const ASCII_PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

function removePunctuation(text: string): string {
  return [...text].filter((ch) => !ASCII_PUNCTUATION.has(ch)).join("");
}

function whiteSpaceFix(text: string): string {
  return text.split(/\s+/).filter(Boolean).join(" ");
}

/** SQuAD v1.1 `normalize_answer`: lower, drop punctuation, drop a/an/the, squeeze spaces. */
export function normalizeSquadAnswer(text: string): string {
  const noPunct = removePunctuation(text.toLowerCase());
  return whiteSpaceFix(noPunct.replace(/\b(a|an|the)\b/g, " "));
}

/** KorQuAD 1.0 `normalize_answer`: quotes and brackets to spaces, then lower/punct/space. */
export function normalizeKorquadAnswer(text: string): string {
  const noBrackets = text.replace(/['"《》<>〈〉()‘’]/g, " ");
  return whiteSpaceFix(removePunctuation(noBrackets.toLowerCase()));
}

function overlapF1(prediction: string[], truth: string[]): number {
  const counts = new Map<string, number>();
  for (const t of truth) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const p of prediction) {
    const left = counts.get(p) ?? 0;
    if (left > 0) {
      same++;
      counts.set(p, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / prediction.length;
  const recall = same / truth.length;
  return (2 * precision * recall) / (precision + recall);
}

export function squadExactMatch(prediction: string, truth: string): boolean {
  return normalizeSquadAnswer(prediction) === normalizeSquadAnswer(truth);
}

/** Token-level F1 over whitespace tokens (SQuAD). */
export function squadF1(prediction: string, truth: string): number {
  return overlapF1(
    normalizeSquadAnswer(prediction).split(" ").filter(Boolean),
    normalizeSquadAnswer(truth).split(" ").filter(Boolean),
  );
}

export function korquadExactMatch(prediction: string, truth: string): boolean {
  return normalizeKorquadAnswer(prediction) === normalizeKorquadAnswer(truth);
}

/** Character-level F1 (KorQuAD 1.0): Korean words inflect, so characters are fairer than words. */
export function korquadF1(prediction: string, truth: string): number {
  const chars = (s: string) => [...normalizeKorquadAnswer(s).replace(/ /g, "")];
  return overlapF1(chars(prediction), chars(truth));
}

export interface QaScores {
  /** Percent, as the official scripts print. */
  exact_match: number;
  f1: number;
}

/**
 * Max over the reference answers of each question, averaged, in percent.
 * `style: "korquad"` uses KorQuAD's normalization and character-level F1.
 */
export function qaScores(
  predictions: string[],
  references: string[][],
  style: "squad" | "korquad" = "squad",
): QaScores {
  checkSameLength(predictions, references, "qaScores");
  const em = style === "squad" ? squadExactMatch : korquadExactMatch;
  const f1 = style === "squad" ? squadF1 : korquadF1;
  let emSum = 0, f1Sum = 0;
  predictions.forEach((p, i) => {
    emSum += Math.max(0, ...references[i].map((t) => (em(p, t) ? 1 : 0)));
    f1Sum += Math.max(0, ...references[i].map((t) => f1(p, t)));
  });
  const n = Math.max(1, predictions.length);
  return { exact_match: (100 * emSum) / n, f1: (100 * f1Sum) / n };
}
