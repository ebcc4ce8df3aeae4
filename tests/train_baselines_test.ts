/**
 * The classic baselines (lib/train/baselines.ts): TF-IDF values and naive Bayes probabilities
 * by hand, the logistic-regression gradient by finite differences, and agreement with
 * scikit-learn's predictions on the same NSMC sample (tools/reference/baselines_reference.py).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  CharNgramCounter,
  LogisticRegression,
  majorityClass,
  MultinomialNaiveBayes,
  naiveBayes,
  tfidfLogisticRegression,
  TfidfVectorizer,
} from "../lib/train/baselines.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { MIRROR, REPO_ROOT } from "./test_paths.ts";

Deno.test("char n-grams: lowercase, whitespace collapsed, 1..3 characters", () => {
  const counter = new CharNgramCounter({ minN: 1, maxN: 2 });
  assert.deepEqual(counter.ngrams("가A  나"), [
    "가",
    "a",
    " ",
    "나",
    "가a",
    "a ",
    " 나",
  ]);
  counter.fit(["좋다 좋다", "싫다"]);
  const [row] = counter.transform(["좋다 좋아"]);
  const byGram = new Map(
    [...counter.vocabulary].map((
      [g, i],
    ) => [g, row.values[row.indices.indexOf(i)] ?? 0]),
  );
  assert.equal(byGram.get("좋"), 2);
  assert.equal(byGram.get("좋다"), 1);
  assert.equal(byGram.get("싫"), 0);
  assert.ok(!counter.vocabulary.has("좋아"), "unseen n-grams are ignored");
});

Deno.test("TF-IDF: smooth idf and L2-normalized rows, as scikit-learn", () => {
  const vectorizer = new TfidfVectorizer({ minN: 1, maxN: 1 }).fit([
    "가 나",
    "가",
    "다",
  ]);
  // df(가)=2, df(나)=1, df(' ')=1, n=3: idf = ln((1+3)/(1+df)) + 1
  const idf = (df: number) => Math.log(4 / (1 + df)) + 1;
  const [row] = vectorizer.transform(["가 가 나"]);
  const value = (gram: string) =>
    row.values[row.indices.indexOf(vectorizer.counter.vocabulary.get(gram)!)];
  const raw = { 가: 2 * idf(2), 나: 1 * idf(1), " ": 2 * idf(1) };
  const norm = Math.hypot(...Object.values(raw));
  for (const [gram, want] of Object.entries(raw)) {
    assert.ok(Math.abs(value(gram) - want / norm) < 1e-12, gram);
  }
});

Deno.test("logistic regression: the objective's gradient matches finite differences", () => {
  const vectorizer = new TfidfVectorizer({ minN: 1, maxN: 2 }).fit([
    "좋은 영화",
    "나쁜 영화",
    "보통",
  ]);
  const rows = vectorizer.transform(["좋은 영화", "나쁜 영화", "보통"]);
  const model = new LogisticRegression({ C: 0.7 });
  model.numFeatures = vectorizer.counter.numFeatures;
  model.numLabels = 3;
  const w = Float64Array.from(
    { length: (model.numFeatures + 1) * 3 },
    (_, i) => Math.sin(i * 1.7) * 0.3,
  );
  const { value, gradient } = model.objective(w, rows, [0, 1, 2]);
  for (const p of [0, 5, model.numFeatures + 2, w.length - 1]) {
    const h = 1e-6;
    const shifted = Float64Array.from(w);
    shifted[p] += h;
    const numeric = (model.objective(shifted, rows, [0, 1, 2]).value - value) /
      h;
    assert.ok(
      Math.abs(numeric - gradient[p]) < 1e-4,
      `parameter ${p}: ${numeric} vs ${gradient[p]}`,
    );
  }
});

Deno.test("logistic regression separates a keyword task and predicts probabilities", () => {
  const texts = [
    "최고 좋다",
    "정말 좋다",
    "좋다 추천",
    "별로 싫다",
    "정말 싫다",
    "싫다 최악",
  ];
  const labels = [1, 1, 1, 0, 0, 0];
  const baseline = tfidfLogisticRegression(texts, labels, { C: 10 });
  assert.deepEqual(baseline.predict(texts), labels);
  assert.deepEqual(baseline.predict(["좋다 좋다", "싫다 싫다"]), [1, 0]);
  const [p] = baseline.model.predictProba(
    baseline.vectorizer.transform(["좋다"]),
  );
  assert.ok(Math.abs(p[0] + p[1] - 1) < 1e-12 && p[1] > 0.5);
});

Deno.test("naive Bayes: Laplace-smoothed log probabilities by hand", () => {
  const counter = new CharNgramCounter({ minN: 1, maxN: 1 }).fit([
    "가가",
    "나",
    "가나",
  ]);
  const rows = counter.transform(["가가", "나", "가나"]);
  const model = new MultinomialNaiveBayes({ alpha: 1 }).fit(rows, [0, 1, 1], 2);
  // class 0: counts 가=2, 나=0; class 1: 가=1, 나=2; two features.
  const ga = counter.vocabulary.get("가")!;
  assert.ok(Math.abs(model.logLikelihood[0][ga] - Math.log(3 / 4)) < 1e-12);
  assert.ok(Math.abs(model.logLikelihood[1][ga] - Math.log(2 / 5)) < 1e-12);
  assert.ok(Math.abs(model.logPrior[1] - Math.log(2 / 3)) < 1e-12);
  // "가" alone: ln(1/3)+ln(3/4) < ln(2/3)+ln(2/5), so the prior tips it to class 1.
  assert.deepEqual(model.predict(counter.transform(["가", "가가가", "나나"])), [
    1,
    0,
    1,
  ]);
});

Deno.test("majority class, and bad labels answered in Korean", () => {
  assert.deepEqual(majorityClass([2, 1, 2, 0]).predict(["a", "b"]), [2, 2]);
  assert.throws(
    () => naiveBayes(["a", "b"], [0, "1" as unknown as number]),
    (e: unknown) => e instanceof CourseError && /정수 클래스/.test(e.hint),
  );
  assert.throws(() => naiveBayes(["a"], [0, 1]), CourseError);
});

const REFERENCE = `${REPO_ROOT}tests/fixtures/baselines_sklearn.json`;
const NSMC = `${MIRROR}/raw.githubusercontent.com/e9t/nsmc/master`;

Deno.test({
  name: "baselines agree with scikit-learn on the same NSMC sample",
  ignore: !existsSync(`${NSMC}/ratings_test.txt`),
  fn() {
    const reference = JSON.parse(Deno.readTextFileSync(REFERENCE));
    const read = (split: string, n: number) =>
      Deno.readTextFileSync(`${NSMC}/ratings_${split}.txt`).split("\n").slice(1)
        .map((line) => line.split("\t"))
        .filter((parts) => parts.length === 3 && parts[1].trim() !== "")
        .slice(0, n)
        .map(([, text, label]) => ({ text, label: Number(label) }));
    const train = read("train", reference.train);
    const test = read("test", reference.test);
    const texts = test.map((e) => e.text);
    const lr = tfidfLogisticRegression(
      train.map((e) => e.text),
      train.map((e) => e.label),
    );
    assert.equal(lr.vectorizer.counter.numFeatures, reference.features);
    const nb = naiveBayes(train.map((e) => e.text), train.map((e) => e.label));
    const agreement = (a: number[], b: number[]) =>
      a.filter((x, i) => x === b[i]).length / a.length;
    assert.equal(agreement(nb.predict(texts), reference.nb_predictions), 1);
    // scikit-learn fits two classes with one weight vector (binomial loss), we with two (softmax):
    // the same model family, slightly different regularization, so a few borderline reviews differ.
    const lrAgreement = agreement(lr.predict(texts), reference.lr_predictions);
    assert.ok(
      lrAgreement >= 0.95,
      `logistic regression agrees on ${lrAgreement}`,
    );
  },
});
