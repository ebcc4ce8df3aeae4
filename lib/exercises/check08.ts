/**
 * Checks for lesson 08 (프로젝트: 악성 댓글 분류). Label mappings are judged against the labels
 * found in the data at run time, per-class scores against the library's classificationReport,
 * and the capstone model is re-evaluated through pipeline() on the learner's own held-out set,
 * whose sentences and labels must be the curse-detection data's own.
 */
import { loadCurseDetection, loadHateSpeech } from "../data/mod.ts";
import type { BertPreTrainedModel } from "../models/mod.ts";
import { SeededRandom } from "../runtime/random.ts";
import { pipeline } from "../tasks/mod.ts";
import type { BertTokenizer } from "../text/mod.ts";
import { classificationReport } from "../train/metrics.ts";
import { makeCheck, missingFields, result } from "./feedback.ts";

const DATA = {
  /** q3: the capstone must beat always predicting the most frequent class by this much. */
  q3MarginOverMajority: 0.05,
  /** q3: macro F1 a short fine-tuning of the course model reaches on held-out curse data. */
  q3MinMacroF1: 0.6,
  q3MinEvalSize: 50,
};

interface LabelMapping {
  label2id: Record<string, number>;
  id2label: Record<number, string>;
  /** One id per row of the Korean HateSpeech dev set, in file order. */
  labelIds: number[];
}

async function evaluateLabelMapping(answer: LabelMapping) {
  const question = "08-1 문자열 라벨을 숫자로";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ label2id, id2label, labelIds } 객체를 넘겨 주세요.",
    ]);
  }
  const hate = (await loadHateSpeech("dev", { quiet: true })).getColumn("hate")
    .toArray() as string[];
  const names = [...new Set(hate)];
  const { label2id, id2label, labelIds } = answer;
  const problems: string[] = [];
  if (!label2id || typeof label2id !== "object") {
    return result(question, ["label2id가 없습니다."]);
  }
  const keys = Object.keys(label2id);
  if (names.some((n) => !keys.includes(n)) || keys.length !== names.length) {
    problems.push(
      "label2id의 키가 데이터의 hate 열에 나오는 문자열과 정확히 같아야 합니다 (빠진 것도, 남는 것도 없이).",
    );
  }
  const ids = Object.values(label2id).sort((a, b) => a - b);
  if (!ids.every((id, i) => id === i)) {
    problems.push("id는 0부터 빈틈없이 (0, 1, 2, ...) 하나씩 주세요.");
  }
  if (
    !id2label || keys.some((k) => id2label[label2id[k]] !== k) ||
    Object.keys(id2label).length !== keys.length
  ) {
    problems.push("id2label이 label2id의 역함수가 아닙니다.");
  }
  if (!Array.isArray(labelIds) || labelIds.length !== hate.length) {
    problems.push(
      `labelIds는 dev 세트의 행마다 하나씩이어야 합니다 (지금 ${
        Array.isArray(labelIds) ? labelIds.length : "배열 아님"
      }).`,
    );
  } else if (problems.length === 0) {
    const wrong = hate.findIndex((h, i) => labelIds[i] !== label2id[h]);
    if (wrong >= 0) {
      problems.push(
        `labelIds의 ${
          wrong + 1
        }번째 값이 그 행의 hate 문자열을 label2id로 바꾼 값과 다릅니다.`,
      );
    }
  }
  return result(question, problems);
}

interface PerClassScores {
  precision: number[];
  recall: number[];
  f1: number[];
}

type PerClass = (
  predictions: number[],
  labels: number[],
  numLabels: number,
) => PerClassScores;

function evaluatePerClass(perClass: PerClass) {
  const question = "08-2 클래스별 정밀도·재현율·F1";
  if (typeof perClass !== "function") {
    return result(question, [
      "(predictions, labels, numLabels) => { precision, recall, f1 } 함수를 넘겨 주세요.",
    ]);
  }
  const rng = new SeededRandom(808);
  const problems = new Set<string>();
  for (let trial = 0; trial < 10; trial++) {
    const numLabels = 2 + (trial % 3);
    const n = 30 + rng.int(40);
    // The last two trials have no example of the last class: recall's denominator is 0 there.
    const present = trial >= 8 ? numLabels - 1 : numLabels;
    const labels = Array.from({ length: n }, () => rng.int(present));
    // Every other trial never predicts the last class: precision's denominator is 0 there.
    const predicted = trial % 2 && trial < 8 ? numLabels - 1 : numLabels;
    const predictions = labels.map((l) =>
      rng.next() < 0.6 ? Math.min(l, predicted - 1) : rng.int(predicted)
    );
    const want = classificationReport(predictions, labels, numLabels);
    const got = perClass([...predictions], [...labels], numLabels);
    for (const key of ["precision", "recall", "f1"] as const) {
      const values = got?.[key];
      if (!Array.isArray(values) || values.length !== numLabels) {
        problems.add(`${key}는 클래스마다 하나씩 있는 배열이어야 합니다.`);
        continue;
      }
      if (values.some((v) => !Number.isFinite(v))) {
        problems.add(
          `${key}에 NaN이 있습니다. 한 번도 예측하지 않은 클래스나 정답에 한 번도 없는 클래스처럼 분모가 0이면 0으로 두세요.`,
        );
        continue;
      }
      if (values.some((v, c) => Math.abs(v - want[key][c]) > 1e-9)) {
        problems.add(
          key === "precision"
            ? "precision이 다릅니다. 그 클래스로 **예측한** 것 중 맞은 비율입니다."
            : key === "recall"
            ? "recall이 다릅니다. **실제로** 그 클래스인 것 중 맞힌 비율입니다."
            : "f1이 다릅니다. 정밀도와 재현율의 조화평균입니다.",
        );
      }
    }
  }
  return result(question, [...problems]);
}

interface Capstone {
  model: BertPreTrainedModel;
  tokenizer: BertTokenizer;
  evalTexts: string[];
  evalLabels: number[];
  macroF1: number;
}

/**
 * Whether the held-out set is real curse-detection data: every sentence from the dataset, with
 * the dataset's label for it (no sentence there has two labels), and both classes present. A set
 * whose labels were made up (the model's own predictions, say) would score any model perfectly.
 */
async function evalSetProblem(
  evalTexts: string[],
  evalLabels: number[],
): Promise<string | null> {
  const curse = await loadCurseDetection({ quiet: true });
  const sentences = curse.getColumn("sentence").toArray() as string[];
  const labels = curse.getColumn("label").toArray() as number[];
  const labelOf = new Map(sentences.map((s, i) => [s, Number(labels[i])]));
  const unknown = evalTexts.findIndex((t) => !labelOf.has(t));
  if (unknown >= 0) {
    return `evalTexts의 ${
      unknown + 1
    }번째 문장이 욕설 탐지 데이터(loadCurseDetection)에 없습니다. 데이터에서 나눈 평가 문장을 그대로 넘기세요.`;
  }
  const wrong = evalTexts.findIndex((t, i) => labelOf.get(t) !== evalLabels[i]);
  if (wrong >= 0) {
    return `evalLabels의 ${
      wrong + 1
    }번째 값이 데이터에 있는 그 문장의 label과 다릅니다. 평가 문장의 label 열을 그대로 쓰세요 (모델의 예측이 아니라).`;
  }
  if (new Set(evalLabels).size < 2) {
    return '평가 문장에 두 클래스가 모두 있어야 합니다. trainTestSplit에 stratify: "label"을 주세요.';
  }
  return null;
}

async function evaluateCapstone(answer: Capstone) {
  const question = "08-3 캡스톤: 욕설 탐지";
  const missing = missingFields(answer, [
    "model",
    "tokenizer",
    "evalTexts",
    "evalLabels",
    "macroF1",
  ]);
  if (missing.length > 0) return result(question, missing);
  if (!Array.isArray(answer.evalTexts)) {
    return result(question, ["evalTexts는 문자열 배열이어야 합니다."]);
  }
  const { model, tokenizer, evalTexts, evalLabels, macroF1 } = answer;
  if (evalTexts.length < DATA.q3MinEvalSize) {
    return result(question, [
      `평가 문장이 너무 적습니다 (${DATA.q3MinEvalSize}개 이상).`,
    ]);
  }
  if (!Array.isArray(evalLabels) || evalLabels.length !== evalTexts.length) {
    return result(question, ["evalLabels는 evalTexts와 같은 길이여야 합니다."]);
  }
  const dataProblem = await evalSetProblem(evalTexts, evalLabels);
  if (dataProblem) return result(question, [dataProblem]);
  const config = model.config as unknown as {
    id2label?: Record<number, string>;
    label2id?: Record<string, number>;
    num_labels?: number;
  };
  const problems: string[] = [];
  const names = Object.values(config.id2label ?? {});
  if (
    config.num_labels !== 2 || names.length !== 2 ||
    names.some((n) => /^LABEL_\d+$/.test(n))
  ) {
    problems.push(
      "모델 config에 두 클래스의 이름(id2label)을 넣으세요. LABEL_0 같은 기본 이름이 아니라 데이터의 의미를 담은 이름이어야 합니다.",
    );
    return result(question, problems);
  }
  const classifier = await pipeline("text-classification", {
    model,
    tokenizer,
  }, { engine: "tfjs" });
  let predictions: number[];
  try {
    const output = await classifier(evalTexts) as { label: string }[];
    const label2id = Object.fromEntries(
      Object.entries(config.id2label!).map(([id, name]) => [name, Number(id)]),
    );
    predictions = output.map((o) => label2id[o.label]);
  } finally {
    await classifier.dispose();
  }
  const measured = classificationReport(predictions, evalLabels, 2).macroF1;
  const counts = [0, 1].map((c) => evalLabels.filter((l) => l === c).length);
  const majority = counts[0] >= counts[1] ? 0 : 1;
  const baseline = classificationReport(
    evalLabels.map(() => majority),
    evalLabels,
    2,
  ).macroF1;
  if (typeof macroF1 !== "number" || Math.abs(macroF1 - measured) > 0.01) {
    problems.push(
      "보고한 macroF1이 evalTexts에서 pipeline으로 다시 측정한 값과 다릅니다. 같은 문장과 라벨로 측정했나요? (macro = 클래스별 F1의 평균)",
    );
  }
  if (measured < baseline + DATA.q3MarginOverMajority) {
    problems.push(
      "모델이 '항상 많은 쪽 클래스'로 예측하는 것보다 크게 낫지 않습니다. 학습 데이터, 학습률, 에폭을 확인하세요.",
    );
  } else if (measured < DATA.q3MinMacroF1) {
    problems.push(
      `다시 측정한 macro F1이 ${DATA.q3MinMacroF1}보다 낮습니다. 학습이 충분했는지(에폭, 학습률, 데이터 양) 확인하세요.`,
    );
  }
  return result(question, problems);
}

export const check08 = {
  q1: makeCheck("08-1 문자열 라벨을 숫자로", evaluateLabelMapping),
  q2: makeCheck("08-2 클래스별 정밀도·재현율·F1", evaluatePerClass),
  q3: makeCheck("08-3 캡스톤: 욕설 탐지", evaluateCapstone),
  data: DATA,
};
