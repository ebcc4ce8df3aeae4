/**
 * Generic evaluation metrics with the semantics learners will meet again in Python:
 * scikit-learn (accuracy, precision/recall/F1, confusion matrix), scipy (Pearson, Spearman).
 * Plain numbers in, plain numbers out. Task metrics live with their task in lib/tasks:
 * seqeval's entity F1 in token_classification/metrics.ts, SQuAD / KorQuAD EM and F1 in
 * question_answering/metrics.ts.
 */
import { checkSameLength } from "../runtime/same_length.ts";

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
