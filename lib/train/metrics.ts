/**
 * Evaluation metrics with the semantics learners will meet again in Python: scikit-learn
 * (accuracy, precision/recall/F1, confusion matrix), scipy (Pearson, Spearman), seqeval (entity F1
 * for BIO tags, default non-strict mode), the SQuAD v1.1 script (EM/F1) and the KorQuAD 1.0 script
 * (character-level F1). Plain numbers in, plain numbers out.
 */
import { type Entity, getEntities } from "../data/bio.ts";
import { CourseError } from "../runtime/errors.ts";

function checkSameLength(
  a: ArrayLike<unknown>,
  b: ArrayLike<unknown>,
  what: string,
): void {
  if (a.length !== b.length) {
    throw new CourseError(
      "metrics/length-mismatch",
      `${what}: predictions (${a.length}) and references (${b.length}) differ in length`,
      "예측값과 정답의 개수가 같아야 합니다. 같은 데이터셋에서 나온 것인지 확인하세요.",
    );
  }
}

export function accuracy(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): number {
  checkSameLength(predictions, labels, "accuracy");
  if (labels.length === 0) return 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (predictions[i] === labels[i]) correct++;
  }
  return correct / labels.length;
}

/** Row = true label, column = predicted label (sklearn's layout). */
export function confusionMatrix(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  numLabels?: number,
): number[][] {
  checkSameLength(predictions, labels, "confusionMatrix");
  let n = numLabels ?? 0;
  if (numLabels === undefined) {
    for (let i = 0; i < labels.length; i++) {
      n = Math.max(n, labels[i] + 1, predictions[i] + 1);
    }
  }
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < labels.length; i++) matrix[labels[i]][predictions[i]]++;
  return matrix;
}

export interface ClassificationReport {
  accuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  weightedF1: number;
  confusionMatrix: number[][];
}

/** Per-class and macro precision/recall/F1; 0 where a denominator is 0 (sklearn's zero_division=0). */
export function classificationReport(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  numLabels?: number,
): ClassificationReport {
  const matrix = confusionMatrix(predictions, labels, numLabels);
  const n = matrix.length;
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  const support: number[] = [];
  for (let c = 0; c < n; c++) {
    const tp = matrix[c][c];
    const predicted = matrix.reduce((sum, row) => sum + row[c], 0);
    const actual = matrix[c].reduce((sum, v) => sum + v, 0);
    const p = predicted === 0 ? 0 : tp / predicted;
    const r = actual === 0 ? 0 : tp / actual;
    precision.push(p);
    recall.push(r);
    f1.push(p + r === 0 ? 0 : (2 * p * r) / (p + r));
    support.push(actual);
  }
  const mean = (
    xs: number[],
  ) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const total = support.reduce((a, b) => a + b, 0);
  return {
    accuracy: accuracy(predictions, labels),
    precision,
    recall,
    f1,
    support,
    macroPrecision: mean(precision),
    macroRecall: mean(recall),
    macroF1: mean(f1),
    weightedF1: total === 0
      ? 0
      : f1.reduce((sum, v, c) => sum + v * support[c], 0) / total,
    confusionMatrix: matrix,
  };
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, "pearson");
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Ranks from 1, ties get the average rank (scipy.stats.rankdata "average"). */
export function rankData(values: ArrayLike<number>): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (
      end + 1 < order.length && values[order[end + 1]] === values[order[start]]
    ) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]] = averageRank;
    start = end + 1;
  }
  return ranks;
}

export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, "spearman");
  return pearson(rankData(x), rankData(y));
}

// ---------------------------------------------------------------- entity-level F1 (seqeval)

// The BIO/BIOES chunker (seqeval's get_entities) lives in lib/data/bio.ts, the one home of BIO
// decoding (NER spans, the token-classification pipeline's groups, these scores).
export { type Entity, getEntities } from "../data/bio.ts";

export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Per entity type, with support = number of true entities of that type. */
  perType: Record<
    string,
    { precision: number; recall: number; f1: number; support: number }
  >;
}

function prf(tp: number, predicted: number, actual: number) {
  const precision = predicted === 0 ? 0 : tp / predicted;
  const recall = actual === 0 ? 0 : tp / actual;
  const f1 = precision + recall === 0
    ? 0
    : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** Micro-averaged entity precision/recall/F1 over sentences (seqeval.metrics f1_score etc.). */
export function entityScores(
  predictions: string[][],
  references: string[][],
): EntityScores {
  checkSameLength(predictions, references, "entityScores");
  const key = (sentence: number, e: Entity) =>
    `${sentence}|${e.type}|${e.start}|${e.end}`;
  const trueSet = new Set<string>(), predSet = new Set<string>();
  const types = new Set<string>();
  predictions.forEach((tags, s) => {
    checkSameLength(tags, references[s], `entityScores sentence ${s}`);
    for (const e of getEntities(tags)) {
      predSet.add(key(s, e)), types.add(e.type);
    }
    for (const e of getEntities(references[s])) {
      trueSet.add(key(s, e)), types.add(e.type);
    }
  });
  const typeOf = (k: string) => k.split("|")[1];
  const perType: EntityScores["perType"] = {};
  for (const type of [...types].sort()) {
    const t = [...trueSet].filter((k) => typeOf(k) === type);
    const p = [...predSet].filter((k) => typeOf(k) === type);
    const tp = p.filter((k) => trueSet.has(k)).length;
    perType[type] = { ...prf(tp, p.length, t.length), support: t.length };
  }
  const tp = [...predSet].filter((k) => trueSet.has(k)).length;
  return { ...prf(tp, predSet.size, trueSet.size), perType };
}

// ---------------------------------------------------------------- QA: SQuAD and KorQuAD

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

// ---------------------------------------------------------------- helpers for computeMetrics

/** Row-wise argmax of a flat [rows, cols] logits array. */
export function argmaxRows(logits: ArrayLike<number>, cols: number): number[] {
  const rows = Math.floor(logits.length / cols);
  const out = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) {
      if (logits[r * cols + c] > logits[r * cols + best]) best = c;
    }
    out[r] = best;
  }
  return out;
}
