/**
 * Checks for lesson 05 (pipeline API). The fill-mask candidates are recomputed at run time by the
 * library's own pipeline on the course model; the logits-to-labels function is tried on seeded
 * random logits; the batch-size choice is judged against the learner's own measurements, and those
 * are re-measured here on the same reviews, so no fixed answer exists to copy.
 */
import type { LabelScore } from "../tasks/mod.ts";
import { pipeline } from "../tasks/mod.ts";
import { BertForSequenceClassification } from "../models/mod.ts";
import { AutoTokenizer } from "../text/mod.ts";
import { loadNsmc, sampleStratified } from "../data/mod.ts";
import { initBackend } from "../runtime/mod.ts";
import { SeededRandom } from "../runtime/random.ts";
import { makeCheck, missingFields, ordinal, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q1: compute the fill-mask candidates of this sentence from the MLM logits. */
  q1Text: "정말 [MASK] 영화였다.",
  q1TopK: 5,
  /** q3: the reviews to time (`sampleStratified(loadNsmc(split), { n, seed })`). */
  q3Sample: { split: "test", n: 64, seed: 5 } as const,
  /** q3: batch sizes to measure, on the tfjs engine. */
  q3BatchSizes: [1, 4, 16, 64],
  /** q3: a measured throughput this many times off the check's own measurement is not a measurement. */
  q3Tolerance: 3,
};

interface Candidate {
  token: number;
  token_str: string;
  score: number;
}

async function evaluateFillMask(answer: Candidate[]) {
  const question = "05-1 로짓에서 fill-mask 후보로";
  const k = DATA.q1TopK;
  if (!Array.isArray(answer) || answer.length === 0) {
    return result(question, [
      `[{ token, token_str, score }, ...] 후보 ${k}개의 배열을 넘겨 주세요.`,
    ]);
  }
  if (answer.length !== k) {
    return result(question, [
      `후보가 ${answer.length}개입니다. 점수가 높은 ${k}개를 고르세요.`,
    ]);
  }
  if (
    answer.some((c) =>
      !c || !Number.isInteger(c.token) || typeof c.token_str !== "string" ||
      typeof c.score !== "number" || !Number.isFinite(c.score)
    )
  ) {
    return result(question, [
      "후보마다 token(정수 id), token_str(문자열), score(숫자)가 있어야 합니다.",
    ]);
  }
  const unmasker = await pipeline("fill-mask", courseModelDir(), {
    engine: "tfjs",
  });
  try {
    const want = await unmasker(DATA.q1Text, { topK: k }) as Candidate[];
    const problems: string[] = [];
    if (answer.some((c) => c.score < 0 || c.score > 1)) {
      problems.push(
        "score가 0~1 밖에 있습니다. 로짓 그대로가 아니라 어휘 전체에 대한 softmax 확률을 쓰세요.",
      );
    } else if (answer.some((c, i) => i > 0 && c.score > answer[i - 1].score)) {
      problems.push("후보를 score가 높은 순서(내림차순)로 정렬하세요.");
    }
    const wantIds = want.map((c) => c.token);
    const gotIds = answer.map((c) => c.token);
    const at = wantIds.findIndex((id, i) => gotIds[i] !== id);
    if (at >= 0) {
      const sameSet = gotIds.every((id) => wantIds.includes(id));
      if (!sameSet) {
        problems.push(
          `${
            ordinal(at)
          } 후보의 token이 다릅니다. [CLS]가 0번인 input_ids에서 maskTokenId가 있는 위치의 로짓을 썼는지, 가장 큰 값부터 골랐는지 보세요.`,
        );
      } else if (problems.length === 0) {
        problems.push(
          "후보 토큰은 맞지만 순서가 다릅니다. score 내림차순으로 정렬하세요.",
        );
      }
    } else {
      const strAt = want.findIndex((c, i) =>
        answer[i].token_str !== c.token_str
      );
      if (strAt >= 0) {
        problems.push(
          `${
            ordinal(strAt)
          } 후보의 token_str이 그 id의 토큰이 아닙니다. tokenizer.convertIdsToTokens(id)를 쓰세요.`,
        );
      }
      const scoreAt = want.findIndex((c, i) =>
        Math.abs(answer[i].score - c.score) > 1e-4
      );
      if (scoreAt >= 0 && problems.length === 0) {
        problems.push(
          `${
            ordinal(scoreAt)
          } 후보의 score가 다릅니다. softmax는 그 위치의 어휘 축(마지막 축) 전체에 대해 계산합니다: 문장의 위치 축이나 상위 ${k}개만으로 정규화하지 마세요.`,
        );
      }
    }
    return result(question, problems);
  } finally {
    await unmasker.dispose();
  }
}

type ToLabelScores = (
  logits: number[],
  id2label: Record<number, string>,
) => LabelScore[];

function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

function evaluateToLabelScores(toLabelScores: ToLabelScores) {
  const question = "05-2 로짓에서 라벨과 점수로";
  if (typeof toLabelScores !== "function") {
    return result(question, [
      "(logits, id2label) => [{label, score}, ...] 함수를 넘겨 주세요.",
    ]);
  }
  const rng = new SeededRandom(513);
  const labelSets = [["부정", "긍정"], ["none", "offensive", "hate"], [
    "entailment",
    "neutral",
    "contradiction",
    "기타",
  ]];
  const problems = new Set<string>();
  for (let trial = 0; trial < 12; trial++) {
    const names = labelSets[trial % labelSets.length];
    const id2label = Object.fromEntries(names.map((n, i) => [i, n]));
    // Large logits too: a softmax without the max shift overflows to NaN there.
    const offset = trial % 4 === 3 ? 800 : 0;
    const logits = names.map(() => offset + rng.normal(0, 3));
    const want = softmax(logits).map((score, i) => ({ label: names[i], score }))
      .sort((a, b) => b.score - a.score);
    const got = toLabelScores([...logits], id2label);
    if (!Array.isArray(got) || got.length !== names.length) {
      problems.add(
        "라벨마다 {label, score}가 하나씩 있는 배열을 돌려주세요 (라벨 수만큼).",
      );
      continue;
    }
    if (got.some((g) => !g || !Number.isFinite(g.score))) {
      problems.add(
        "score에 NaN/Infinity가 있습니다. 큰 로짓에서 exp가 넘치지 않게 최댓값을 빼고 계산하세요.",
      );
      continue;
    }
    const sum = got.reduce((s, g) => s + g.score, 0);
    if (Math.abs(sum - 1) > 1e-4) {
      problems.add("score의 합이 1이 아닙니다. 로짓에 softmax를 적용하세요.");
      continue;
    }
    if (got.some((g, i) => i > 0 && g.score > got[i - 1].score + 1e-12)) {
      problems.add("점수가 높은 라벨부터(내림차순) 정렬하세요.");
    }
    const byLabel = new Map(got.map((g) => [g.label, g.score]));
    if (names.some((n) => !byLabel.has(n))) {
      problems.add(
        "label에는 id2label의 이름(숫자 id가 아니라)을 넣으세요.",
      );
      continue;
    }
    if (want.some((w) => Math.abs(byLabel.get(w.label)! - w.score) > 1e-4)) {
      problems.add(
        "어떤 라벨의 score가 그 라벨 로짓의 softmax 값과 다릅니다. 라벨과 점수의 짝이 맞는지(정렬 전에 짝지었는지) 보세요.",
      );
    }
  }
  return result(question, [...problems]);
}

interface Measurement {
  batchSize: number;
  perSecond: number;
}

interface BatchChoice {
  measurements: Measurement[];
  chosenBatchSize: number;
}

let speedTexts: Promise<string[]> | null = null;

/** The q3 reviews, loaded once per kernel (a failed load is not kept). */
function loadSpeedTexts(): Promise<string[]> {
  if (!speedTexts) {
    const { split, n, seed } = DATA.q3Sample;
    speedTexts = loadNsmc(split, { quiet: true }).then((frame) =>
      sampleStratified(frame, { n, seed }).getColumn("document")
        .toArray() as string[]
    );
    speedTexts.catch(() => (speedTexts = null));
  }
  return speedTexts;
}

/**
 * Reviews per second of the tfjs sentiment pipeline on the q3 reviews, after one warm-up call.
 * To stay within a few seconds on a busy 2-core machine, a batch size is timed on its first
 * max(batchSize, 16) reviews, not all of them: per-review cost changes with the lengths by far
 * less than the `q3Tolerance` factor the learner's number is allowed.
 */
async function measureThroughput(
  batchSizes: number[],
): Promise<Map<number, number>> {
  await initBackend();
  const texts = await loadSpeedTexts();
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const model = await BertForSequenceClassification.fromPretrained(
    courseModelDir(),
    { num_labels: 2, seed: 0, verbose: false },
  );
  const measured = new Map<number, number>();
  try {
    for (const batchSize of batchSizes) {
      const timed = texts.slice(0, Math.max(batchSize, 16));
      const classify = await pipeline("sentiment-analysis", {
        model,
        tokenizer,
      }, { engine: "tfjs", batchSize });
      try {
        await classify(timed.slice(0, batchSize));
        const started = performance.now();
        await classify(timed);
        measured.set(
          batchSize,
          timed.length / ((performance.now() - started) / 1000),
        );
      } finally {
        await classify.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  return measured;
}

async function evaluateBatchChoice(answer: BatchChoice) {
  const question = "05-3 배치 크기를 측정해서 고르기";
  const missing = missingFields(answer, ["measurements", "chosenBatchSize"]);
  if (missing.length > 0) return result(question, missing);
  const { measurements, chosenBatchSize } = answer;
  if (
    !Array.isArray(measurements) ||
    measurements.some((m) =>
      !m || !Number.isInteger(m.batchSize) || m.batchSize < 1 ||
      typeof m.perSecond !== "number" || !(m.perSecond > 0) ||
      !Number.isFinite(m.perSecond)
    )
  ) {
    return result(question, [
      "measurements는 [{ batchSize, perSecond }, ...] 배열입니다. perSecond는 측정한 처리량(문장/초, 0보다 큰 수)입니다.",
    ]);
  }
  const byBatch = new Map(measurements.map((m) => [m.batchSize, m.perSecond]));
  const notMeasured = DATA.q3BatchSizes.filter((b) => !byBatch.has(b));
  if (notMeasured.length > 0) {
    return result(question, [
      `배치 ${
        notMeasured.join(", ")
      }을(를) 측정하지 않았습니다. check05.data.q3BatchSizes의 배치 크기를 모두 측정하세요.`,
    ]);
  }
  if (!byBatch.has(chosenBatchSize)) {
    return result(question, [
      "chosenBatchSize는 측정한 배치 크기 중 하나여야 합니다.",
    ]);
  }
  const problems: string[] = [];
  const best = Math.max(...byBatch.values());
  if (byBatch.get(chosenBatchSize)! < 0.95 * best) {
    problems.push(
      `배치 ${chosenBatchSize}은(는) 여러분의 측정에서 가장 빠른 배치가 아닙니다. 배치가 크다고 늘 빠르지 않습니다: 측정표에서 문장/초가 가장 큰 배치를 고르세요.`,
    );
  }
  const recheck = [...new Set([1, chosenBatchSize])];
  const ours = await measureThroughput(recheck);
  const k = DATA.q3Tolerance;
  for (const batchSize of recheck) {
    const ratio = byBatch.get(batchSize)! / ours.get(batchSize)!;
    if (!(ratio <= k && ratio >= 1 / k)) {
      problems.push(
        `배치 ${batchSize}의 처리량이 검사가 같은 리뷰로 다시 측정한 값과 ${k}배 넘게 다릅니다. check05.data.q3Sample의 리뷰 ${DATA.q3Sample.n}개 전체를 engine "tfjs", batchSize ${batchSize}로 처리한 시간을 측정했는지, 준비(warm-up) 호출은 빼고 측정했는지, 문장 수 ÷ 초로 나눴는지 보세요.`,
      );
    }
  }
  return result(question, problems);
}

export const check05 = {
  q1: makeCheck("05-1 로짓에서 fill-mask 후보로", evaluateFillMask),
  q2: makeCheck("05-2 로짓에서 라벨과 점수로", evaluateToLabelScores),
  q3: makeCheck("05-3 배치 크기를 측정해서 고르기", evaluateBatchChoice),
  data: DATA,
};
