/** Metrics against scikit-learn / scipy values (tests/fixtures/train_reference.json), seqeval's
 * documented examples, and hand-computed SQuAD / KorQuAD scores. */
import assert from "node:assert/strict";
import {
  accuracy,
  classificationReport,
  confusionMatrix,
  pearson,
  rankData,
  spearman,
} from "../lib/train/metrics.ts";
import {
  entityScores,
  getEntities,
} from "../lib/tasks/token_classification/mod.ts";
import {
  korquadF1,
  normalizeKorquadAnswer,
  normalizeSquadAnswer,
  qaScores,
  squadF1,
} from "../lib/tasks/question_answering/mod.ts";

const reference = JSON.parse(
  await Deno.readTextFile(
    new URL("./fixtures/train_reference.json", import.meta.url),
  ),
);
const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("accuracy, precision/recall/F1 and confusion matrix match scikit-learn", () => {
  const c = reference.classification;
  const report = classificationReport(c.y_pred, c.y_true, 3);
  close(accuracy(c.y_pred, c.y_true), c.accuracy);
  c.precision.forEach((v: number, i: number) => close(report.precision[i], v));
  c.recall.forEach((v: number, i: number) => close(report.recall[i], v));
  c.f1.forEach((v: number, i: number) => close(report.f1[i], v));
  assert.deepEqual(report.support, c.support);
  close(report.macroF1, c.macro_f1);
  close(report.macroPrecision, c.macro_precision);
  close(report.weightedF1, c.weighted_f1);
  assert.deepEqual(confusionMatrix(c.y_pred, c.y_true, 3), c.confusion_matrix);
  const m = reference.classification_missing_class;
  close(classificationReport(m.y_pred, m.y_true).macroF1, m.macro_f1);
});

Deno.test("Pearson and Spearman (with ties) match scipy", () => {
  const c = reference.correlation;
  close(pearson(c.x, c.y), c.pearson, 1e-12);
  close(spearman(c.x, c.y), c.spearman, 1e-12);
  assert.deepEqual(rankData([10, 20, 10, 30]), [1.5, 3, 1.5, 4]);
});

Deno.test("entity F1 follows seqeval (README example and non-strict chunking)", () => {
  // seqeval README: f1_score(y_true, y_pred) == 0.50
  const yTrue = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], [
    "B-PER",
    "I-PER",
    "O",
  ]];
  const yPred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], [
    "B-PER",
    "I-PER",
    "O",
  ]];
  const s = entityScores(yPred, yTrue);
  close(s.f1, 0.5);
  close(s.precision, 0.5);
  close(s.recall, 0.5);
  assert.deepEqual(s.perType.MISC, {
    precision: 0,
    recall: 0,
    f1: 0,
    support: 1,
  });
  assert.deepEqual(s.perType.PER, {
    precision: 1,
    recall: 1,
    f1: 1,
    support: 1,
  });
  // Default mode: an I- without B- starts an entity; a type change splits one.
  assert.deepEqual(getEntities(["I-PER", "I-PER", "O"]), [{
    type: "PER",
    start: 0,
    end: 1,
  }]);
  assert.deepEqual(getEntities(["B-PER", "I-LOC", "B-LOC", "I-LOC"]), [
    { type: "PER", start: 0, end: 0 },
    { type: "LOC", start: 1, end: 1 },
    { type: "LOC", start: 2, end: 3 },
  ]);
  close(
    entityScores([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]).f1,
    1,
  );
});

Deno.test("SQuAD EM/F1 and KorQuAD character F1", () => {
  assert.equal(normalizeSquadAnswer("The  Cat!"), "cat");
  close(squadF1("the black cat", "cat"), 2 / 3);
  assert.equal(normalizeKorquadAnswer("《토지》"), "토지");
  // Korean words inflect: word F1 is 0 here, character F1 gives partial credit.
  close(squadF1("서울특별시", "서울"), 0);
  close(korquadF1("서울특별시", "서울"), (2 * 0.4 * 1) / 1.4);
  const squad = qaScores(["A cat.", "dog"], [["the cat"], [
    "a black dog",
    "dog",
  ]]);
  close(squad.exact_match, 100);
  close(squad.f1, 100);
  const korquad = qaScores(
    ["1998년", "세종"],
    [["1998년"], ["세종대왕"]],
    "korquad",
  );
  close(korquad.exact_match, 50);
  close(korquad.f1, (100 + (100 * 2 * 1 * 0.5) / 1.5) / 2);
});
