/**
 * Checks for lesson 05 (pipeline API). The expected fill-mask result is computed at run time by
 * the library's own pipeline on the course model; the logits-to-labels function is tried on
 * seeded random logits, so no fixed answer exists to copy.
 */
import type { LabelScore } from "../tasks/mod.ts";
import { pipeline } from "../tasks/mod.ts";
import { SeededRandom } from "../runtime/random.ts";
import { makeCheck, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q1: fill the mask of this sentence with the course model's fill-mask pipeline. */
  q1Text: "오늘은 날씨가 정말 [MASK].",
};

interface FillMaskAnswer {
  topToken: string;
  topScore: number;
}

async function evaluateFillMask(answer: FillMaskAnswer) {
  const question = "05-1 fill-mask 결과 읽기";
  if (!answer || typeof answer !== "object") {
    return result(question, ["{ topToken, topScore } 객체를 넘겨 주세요."]);
  }
  const unmasker = await pipeline("fill-mask", courseModelDir(), {
    engine: "tfjs",
  });
  try {
    const candidates = await unmasker(DATA.q1Text, { topK: 5 });
    const best = (candidates as { token_str: string; score: number }[])[0];
    const problems: string[] = [];
    if (typeof answer.topToken !== "string" || answer.topToken === "") {
      problems.push("topToken은 후보 토큰의 문자열(token_str)이어야 합니다.");
    } else if (answer.topToken !== best.token_str) {
      problems.push(
        "topToken이 점수가 가장 높은 후보가 아닙니다. 결과 배열은 점수 내림차순입니다: 첫 번째 원소를 보세요.",
      );
    }
    if (typeof answer.topScore !== "number" || !(answer.topScore > 0)) {
      problems.push("topScore는 0보다 큰 확률(score)이어야 합니다.");
    } else if (answer.topScore > 1) {
      problems.push(
        "topScore가 1보다 큽니다. 로짓이 아니라 softmax를 거친 score를 쓰세요.",
      );
    } else if (Math.abs(answer.topScore - best.score) > 1e-3) {
      problems.push(
        "topScore가 같은 후보의 score와 다릅니다. 같은 문장, 같은 모델로 실행했나요?",
      );
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

export const check05 = {
  q1: makeCheck("05-1 fill-mask 결과 읽기", evaluateFillMask),
  q2: makeCheck("05-2 로짓에서 라벨과 점수로", evaluateToLabelScores),
  data: DATA,
};
