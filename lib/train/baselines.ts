/**
 * The classic text classifiers every BERT score in the course is compared with, trained by the
 * course itself on the same split: majority class, multinomial naive Bayes on character n-gram
 * counts, and TF-IDF over character n-grams with L2-regularized logistic regression (the usual
 * strong bag-of-words baseline for Korean, where words carry particles and endings).
 *
 * Conventions follow scikit-learn so a Python reader gets the same numbers:
 * `TfidfVectorizer(analyzer="char", ngram_range=(1, 3))` (lowercase, whitespace collapsed, smooth
 * idf = ln((1+n)/(1+df)) + 1, rows L2-normalized), `LogisticRegression(C=1.0)` (objective
 * Σ cross-entropy + ||W||²/(2C), intercept not penalized, L-BFGS, at most 100 iterations; the
 * softmax form for any number of classes), `MultinomialNB(alpha=1.0)`.
 * Plain TypeScript on sparse rows: no tensors, so it is the same on every backend.
 */
import { CourseError } from "../runtime/errors.ts";

/** One document as sorted feature indices and their values. */
export interface SparseRow {
  indices: Int32Array;
  values: Float64Array;
}

export interface NgramOptions {
  minN?: number;
  maxN?: number;
  /** Keep n-grams seen in at least this many training documents. */
  minDf?: number;
}

/** Character n-gram counts (scikit-learn's analyzer="char"). */
export class CharNgramCounter {
  readonly minN: number;
  readonly maxN: number;
  readonly minDf: number;
  /** n-gram -> feature index, after `fit`. */
  vocabulary = new Map<string, number>();
  /** Documents containing each feature, in training. */
  documentFrequency = new Int32Array(0);
  documents = 0;

  constructor(options: NgramOptions = {}) {
    this.minN = options.minN ?? 1;
    this.maxN = options.maxN ?? 3;
    this.minDf = options.minDf ?? 1;
  }

  /** The n-grams of one text, with repeats. */
  ngrams(text: string): string[] {
    const chars = Array.from(text.toLowerCase().replace(/\s+/g, " "));
    const grams: string[] = [];
    for (let n = this.minN; n <= this.maxN; n++) {
      for (let i = 0; i + n <= chars.length; i++) {
        grams.push(chars.slice(i, i + n).join(""));
      }
    }
    return grams;
  }

  fit(texts: string[]): this {
    const df = new Map<string, number>();
    for (const text of texts) {
      for (const gram of new Set(this.ngrams(text))) {
        df.set(gram, (df.get(gram) ?? 0) + 1);
      }
    }
    // Sorted like scikit-learn's vocabulary, so feature order does not depend on input order.
    const kept = [...df].filter(([, n]) => n >= this.minDf).map(([g]) => g)
      .sort();
    this.vocabulary = new Map(kept.map((g, i) => [g, i]));
    this.documentFrequency = Int32Array.from(kept, (g) => df.get(g)!);
    this.documents = texts.length;
    return this;
  }

  get numFeatures(): number {
    return this.vocabulary.size;
  }

  /** Counts of known n-grams; unseen ones are ignored. */
  transform(texts: string[]): SparseRow[] {
    if (this.documents === 0) {
      throw new CourseError(
        "baseline/not-fitted",
        "the n-gram counter is used before fit()",
        "먼저 학습 텍스트로 fit(texts)을 호출하세요.",
      );
    }
    return texts.map((text) => {
      const counts = new Map<number, number>();
      for (const gram of this.ngrams(text)) {
        const index = this.vocabulary.get(gram);
        if (index !== undefined) {
          counts.set(index, (counts.get(index) ?? 0) + 1);
        }
      }
      const indices = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
      return {
        indices,
        values: Float64Array.from(indices, (i) => counts.get(i)!),
      };
    });
  }
}

/** TF-IDF weighting of counts: smooth idf, L2-normalized rows (scikit-learn's defaults). */
export class TfidfVectorizer {
  readonly counter: CharNgramCounter;
  idf = new Float64Array(0);

  constructor(options: NgramOptions = {}) {
    this.counter = new CharNgramCounter(options);
  }

  fit(texts: string[]): this {
    this.counter.fit(texts);
    const n = this.counter.documents;
    this.idf = Float64Array.from(
      this.counter.documentFrequency,
      (df) => Math.log((1 + n) / (1 + df)) + 1,
    );
    return this;
  }

  transform(texts: string[]): SparseRow[] {
    return this.counter.transform(texts).map(({ indices, values }) => {
      const weighted = Float64Array.from(
        values,
        (v, k) => v * this.idf[indices[k]],
      );
      let squares = 0;
      for (const v of weighted) squares += v * v;
      const norm = Math.sqrt(squares) || 1;
      return { indices, values: weighted.map((v) => v / norm) };
    });
  }
}

export interface LogisticRegressionOptions {
  /** Inverse regularization strength (scikit-learn's C). */
  C?: number;
  maxIter?: number;
  /** Stop when the largest gradient component falls below this. */
  tolerance?: number;
}

/** Softmax regression with an L2 penalty on the weights, fitted by L-BFGS. */
export class LogisticRegression {
  readonly C: number;
  readonly maxIter: number;
  readonly tolerance: number;
  numFeatures = 0;
  numLabels = 0;
  /** [numLabels * numFeatures] weights followed by numLabels intercepts. */
  coefficients: Float64Array = new Float64Array(0);
  iterations = 0;

  constructor(options: LogisticRegressionOptions = {}) {
    this.C = options.C ?? 1;
    this.maxIter = options.maxIter ?? 100;
    this.tolerance = options.tolerance ?? 1e-4;
  }

  fit(
    rows: SparseRow[],
    labels: number[],
    numFeatures: number,
    numLabels?: number,
  ): this {
    checkLabels(rows, labels, "LogisticRegression");
    this.numFeatures = numFeatures;
    this.numLabels = numLabels ?? labelCount(labels);
    const start = new Float64Array((numFeatures + 1) * this.numLabels);
    const result = lbfgs(
      (w) => this.objective(w, rows, labels),
      start,
      { maxIter: this.maxIter, tolerance: this.tolerance },
    );
    this.coefficients = result.x;
    this.iterations = result.iterations;
    return this;
  }

  /** Σ cross-entropy + ||W||²/(2C) and its gradient (exported through the class for tests). */
  objective(
    w: Float64Array,
    rows: SparseRow[],
    labels: number[],
  ): { value: number; gradient: Float64Array } {
    const K = this.numLabels;
    const F = this.numFeatures;
    const gradient = new Float64Array(w.length);
    let value = 0;
    const scores = new Float64Array(K);
    for (let i = 0; i < rows.length; i++) {
      const { indices, values } = rows[i];
      for (let k = 0; k < K; k++) {
        let s = w[K * F + k];
        const offset = k * F;
        for (let j = 0; j < indices.length; j++) {
          s += w[offset + indices[j]] * values[j];
        }
        scores[k] = s;
      }
      const max = Math.max(...scores);
      let total = 0;
      for (let k = 0; k < K; k++) total += Math.exp(scores[k] - max);
      const logTotal = Math.log(total) + max;
      value += logTotal - scores[labels[i]];
      for (let k = 0; k < K; k++) {
        const residual = Math.exp(scores[k] - logTotal) -
          (k === labels[i] ? 1 : 0);
        const offset = k * F;
        for (let j = 0; j < indices.length; j++) {
          gradient[offset + indices[j]] += residual * values[j];
        }
        gradient[K * F + k] += residual;
      }
    }
    for (let p = 0; p < K * F; p++) {
      value += (w[p] * w[p]) / (2 * this.C);
      gradient[p] += w[p] / this.C;
    }
    return { value, gradient };
  }

  /** Class probabilities per row. */
  predictProba(rows: SparseRow[]): number[][] {
    const K = this.numLabels;
    const F = this.numFeatures;
    const w = this.coefficients;
    return rows.map(({ indices, values }) => {
      const scores = Array.from({ length: K }, (_, k) => {
        let s = w[K * F + k];
        for (let j = 0; j < indices.length; j++) {
          s += w[k * F + indices[j]] * values[j];
        }
        return s;
      });
      return softmax(scores);
    });
  }

  predict(rows: SparseRow[]): number[] {
    return this.predictProba(rows).map(argmax);
  }
}

/** Multinomial naive Bayes with Laplace/Lidstone smoothing `alpha`. */
export class MultinomialNaiveBayes {
  readonly alpha: number;
  numFeatures = 0;
  logPrior: number[] = [];
  /** [label][feature] log P(feature | label). */
  logLikelihood: Float64Array[] = [];

  constructor(options: { alpha?: number } = {}) {
    this.alpha = options.alpha ?? 1;
  }

  fit(
    rows: SparseRow[],
    labels: number[],
    numFeatures: number,
    numLabels?: number,
  ): this {
    checkLabels(rows, labels, "MultinomialNaiveBayes");
    const K = numLabels ?? labelCount(labels);
    this.numFeatures = numFeatures;
    const counts = Array.from(
      { length: K },
      () => new Float64Array(numFeatures),
    );
    const docs = new Array(K).fill(0);
    rows.forEach(({ indices, values }, i) => {
      docs[labels[i]]++;
      for (let j = 0; j < indices.length; j++) {
        counts[labels[i]][indices[j]] += values[j];
      }
    });
    this.logPrior = docs.map((d) => Math.log(d / rows.length));
    this.logLikelihood = counts.map((c) => {
      const total = c.reduce((a, b) => a + b, 0) + this.alpha * numFeatures;
      return c.map((n) => Math.log((n + this.alpha) / total));
    });
    return this;
  }

  predictProba(rows: SparseRow[]): number[][] {
    return rows.map(({ indices, values }) =>
      softmax(this.logPrior.map((prior, k) => {
        let s = prior;
        for (let j = 0; j < indices.length; j++) {
          s += values[j] * this.logLikelihood[k][indices[j]];
        }
        return s;
      }))
    );
  }

  predict(rows: SparseRow[]): number[] {
    return this.predictProba(rows).map(argmax);
  }
}

/** A fitted text classifier: texts in, label ids out. */
export interface TextBaseline {
  name: string;
  predict(texts: string[]): number[];
}

/** TF-IDF (character 1-3-grams) + logistic regression, fitted on `texts`. */
export function tfidfLogisticRegression(
  texts: string[],
  labels: number[],
  options: NgramOptions & LogisticRegressionOptions & { numLabels?: number } =
    {},
): TextBaseline & { vectorizer: TfidfVectorizer; model: LogisticRegression } {
  const vectorizer = new TfidfVectorizer(options).fit(texts);
  const model = new LogisticRegression(options).fit(
    vectorizer.transform(texts),
    labels,
    vectorizer.counter.numFeatures,
    options.numLabels,
  );
  return {
    name: "TF-IDF(문자 1-3그램) + 로지스틱 회귀",
    vectorizer,
    model,
    predict: (batch) => model.predict(vectorizer.transform(batch)),
  };
}

/** Multinomial naive Bayes on character 1-3-gram counts, fitted on `texts`. */
export function naiveBayes(
  texts: string[],
  labels: number[],
  options: NgramOptions & { alpha?: number; numLabels?: number } = {},
): TextBaseline & { counter: CharNgramCounter; model: MultinomialNaiveBayes } {
  const counter = new CharNgramCounter(options).fit(texts);
  const model = new MultinomialNaiveBayes(options).fit(
    counter.transform(texts),
    labels,
    counter.numFeatures,
    options.numLabels,
  );
  return {
    name: "나이브 베이즈(문자 1-3그램 빈도)",
    counter,
    model,
    predict: (batch) => model.predict(counter.transform(batch)),
  };
}

/** Always the most frequent training label (ties: the smallest id). */
export function majorityClass(
  labels: number[],
): TextBaseline & { label: number } {
  const counts = new Map<number, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const label = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
  return {
    name: "최빈 클래스",
    label,
    predict: (batch) => batch.map(() => label),
  };
}

function checkLabels(rows: SparseRow[], labels: number[], who: string): void {
  if (rows.length === 0 || rows.length !== labels.length) {
    throw new CourseError(
      "baseline/data",
      `${who}: ${rows.length} rows and ${labels.length} labels`,
      "학습 텍스트와 라벨의 개수가 같고 0보다 커야 합니다.",
    );
  }
  const bad = labels.findIndex((l) => !Number.isInteger(l) || l < 0);
  if (bad >= 0) {
    throw new CourseError(
      "baseline/label",
      `${who}: label ${
        JSON.stringify(labels[bad])
      } at index ${bad} is not a class id`,
      "라벨은 0, 1, 2 … 같은 정수 클래스 번호여야 합니다 (문자열이면 숫자로 바꾸세요).",
    );
  }
}

/** Largest label + 1 (a loop: spreading 150k labels into Math.max overflows the stack). */
function labelCount(labels: number[]): number {
  let max = 0;
  for (const label of labels) if (label > max) max = label;
  return max + 1;
}

function softmax(scores: number[]): number[] {
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

/** Limited-memory BFGS (Nocedal & Wright, Alg. 7.4) with a backtracking Armijo line search. */
export function lbfgs(
  f: (x: Float64Array) => { value: number; gradient: Float64Array },
  start: Float64Array,
  options: { maxIter?: number; tolerance?: number; memory?: number } = {},
): { x: Float64Array; value: number; iterations: number } {
  const maxIter = options.maxIter ?? 100;
  const tolerance = options.tolerance ?? 1e-4;
  const memory = options.memory ?? 10;
  let x: Float64Array = Float64Array.from(start);
  let { value, gradient } = f(x);
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    if (gradient.reduce((m, g) => Math.max(m, Math.abs(g)), 0) < tolerance) {
      break;
    }
    // Two-loop recursion: direction = -H·g.
    const q = Float64Array.from(gradient);
    const alphas: number[] = [];
    for (let i = sList.length - 1; i >= 0; i--) {
      const a = dot(sList[i], q) / dot(yList[i], sList[i]);
      alphas[i] = a;
      for (let j = 0; j < q.length; j++) q[j] -= a * yList[i][j];
    }
    if (sList.length > 0) {
      const last = sList.length - 1;
      const gamma = dot(sList[last], yList[last]) /
        dot(yList[last], yList[last]);
      for (let j = 0; j < q.length; j++) q[j] *= gamma;
    } else {
      const norm = Math.sqrt(dot(gradient, gradient)) || 1;
      for (let j = 0; j < q.length; j++) q[j] /= norm;
    }
    for (let i = 0; i < sList.length; i++) {
      const b = dot(yList[i], q) / dot(yList[i], sList[i]);
      for (let j = 0; j < q.length; j++) q[j] += sList[i][j] * (alphas[i] - b);
    }
    const direction = q.map((v) => -v);
    const slope = dot(gradient, direction);
    if (slope >= 0) break; // not a descent direction: converged as far as float64 allows
    let step = 1;
    let next: { value: number; gradient: Float64Array };
    let candidate: Float64Array;
    for (;;) {
      candidate = x.map((v, j) => v + step * direction[j]);
      next = f(candidate);
      if (next.value <= value + 1e-4 * step * slope || step < 1e-10) break;
      step /= 2;
    }
    const s = candidate.map((v, j) => v - x[j]);
    const y = next.gradient.map((g, j) => g - gradient[j]);
    if (dot(s, y) > 1e-12) {
      sList.push(s);
      yList.push(y);
      if (sList.length > memory) (sList.shift(), yList.shift());
    }
    const improvement = value - next.value;
    x = candidate;
    value = next.value;
    gradient = next.gradient;
    if (improvement <= 1e-12 * Math.max(1, Math.abs(value))) {
      iterations++;
      break;
    }
  }
  return { x, value, iterations };
}
