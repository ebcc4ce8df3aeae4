/**
 * Checks for lesson 07 (한국어 BERT 모델과 하이퍼파라미터). Vocabulary sizes are measured from
 * the vocabularies themselves at run time; the NSMC length limit is judged against the token
 * lengths of real reviews under the course tokenizer.
 */
import { KLUE_NER_TAGS, loadNsmc, sampleStratified } from "../data/mod.ts";
import { AutoTokenizer } from "../text/mod.ts";
import { makeCheck, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q1: KLUE tasks to match with a head class and its number of outputs. */
  q1Tasks: ["YNAT", "KLUE-NLI", "KLUE-STS", "KLUE-NER", "KLUE-MRC"] as const,
  /** q1: YNAT's topics (news headline classification). */
  ynatTopics: ["IT과학", "경제", "사회", "생활문화", "세계", "스포츠", "정치"],
  /** q2: vocabularies to measure (Hub ids; offline they come from the mirror). */
  q2Models: {
    kcbert: "beomi/kcbert-base",
    mbert: "bert-base-multilingual-cased",
  },
  /** q3: share of NSMC reviews that maxLength must cover without truncation. */
  q3Coverage: 0.95,
  q3SampleSize: 2000,
};

type Q18Task = typeof DATA.q1Tasks[number];
type HeadChoice = { head: string; numLabels: number };

function expectedHeads(): Record<Q18Task, HeadChoice> {
  return {
    "YNAT": {
      head: "BertForSequenceClassification",
      numLabels: DATA.ynatTopics.length,
    },
    "KLUE-NLI": { head: "BertForSequenceClassification", numLabels: 3 },
    "KLUE-STS": { head: "BertForSequenceClassification", numLabels: 1 },
    "KLUE-NER": {
      head: "BertForTokenClassification",
      numLabels: KLUE_NER_TAGS.length,
    },
    "KLUE-MRC": { head: "BertForQuestionAnswering", numLabels: 2 },
  };
}

function evaluateHeads(answer: Record<string, HeadChoice>) {
  const question = "07-1 KLUE 태스크와 헤드";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      '{ "YNAT": { head, numLabels }, ... } 객체를 넘겨 주세요.',
    ]);
  }
  const problems: string[] = [];
  for (const [task, want] of Object.entries(expectedHeads())) {
    const got = answer[task];
    if (!got || typeof got !== "object") {
      problems.push(`${task}의 답이 없습니다.`);
      continue;
    }
    if (got.head !== want.head) {
      problems.push(
        `${task}: 헤드 클래스가 맞지 않습니다. 문장(쌍)마다 하나의 답인지, 토큰마다인지, 문맥 속 위치(스팬)인지 생각해 보세요.`,
      );
    } else if (got.numLabels !== want.numLabels) {
      problems.push(
        task === "KLUE-STS"
          ? `${task}: 점수(0~5)를 바로 맞히는 회귀라면 출력은 몇 개일까요?`
          : `${task}: numLabels가 맞지 않습니다. 데이터의 클래스(태그) 수를 세어 보세요.`,
      );
    }
  }
  return result(question, problems);
}

interface VocabSizes {
  kcbert: number;
  mbert: number;
  course: number;
}

async function evaluateVocabSizes(answer: VocabSizes) {
  const question = "07-2 어휘 크기 재기";
  if (!answer || typeof answer !== "object") {
    return result(question, ["{ kcbert, mbert, course } 객체를 넘겨 주세요."]);
  }
  const want: VocabSizes = {
    kcbert: (await AutoTokenizer.fromPretrained(DATA.q2Models.kcbert, {
      doLowerCase: false,
    }))
      .vocabSize,
    mbert: (await AutoTokenizer.fromPretrained(DATA.q2Models.mbert)).vocabSize,
    course: (await AutoTokenizer.fromPretrained(courseModelDir())).vocabSize,
  };
  const problems: string[] = [];
  for (const key of Object.keys(want) as (keyof VocabSizes)[]) {
    const got = answer[key];
    if (typeof got !== "number") {
      problems.push(`${key}: 숫자를 넣으세요.`);
    } else if (got !== want[key]) {
      problems.push(
        Math.abs(got - want[key]) <= 5
          ? `${key}: 거의 맞지만 조금 다릅니다. 빈 줄이나 특수 토큰을 빼고 세지 않았나요? tokenizer.vocabSize를 쓰세요.`
          : `${key}: 어휘 크기가 다릅니다. 그 모델의 토크나이저를 불러 vocabSize를 읽으세요.`,
      );
    }
  }
  return result(question, problems);
}

interface FineTuningPlan {
  learningRate: number;
  numTrainEpochs: number;
  batchSize: number;
  maxLength: number;
  warmupRatio: number;
}

/** Smallest length (with [CLS]/[SEP]) that covers `coverage` of the sampled reviews. */
async function nsmcLengthAt(coverage: number): Promise<number> {
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const frame = sampleStratified(await loadNsmc("train", { quiet: true }), {
    n: DATA.q3SampleSize,
    seed: 7,
  });
  const lengths = (frame.getColumn("document").toArray() as string[])
    .map((text) => tokenizer.encode(text).length)
    .sort((a, b) => a - b);
  return lengths[Math.ceil(coverage * lengths.length) - 1];
}

async function evaluatePlan(answer: FineTuningPlan) {
  const question = "07-3 하이퍼파라미터 고르기";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ learningRate, numTrainEpochs, batchSize, maxLength, warmupRatio } 객체를 넘겨 주세요.",
    ]);
  }
  const problems: string[] = [];
  const { learningRate, numTrainEpochs, batchSize, maxLength, warmupRatio } =
    answer;
  if (!(learningRate >= 1e-5 && learningRate <= 5e-5)) {
    problems.push(
      learningRate > 5e-5
        ? "learningRate가 BERT-base에는 너무 큽니다. 사전학습 가중치가 망가질 수 있습니다."
        : "learningRate가 BERT-base 권장 범위에 있지 않습니다 (너무 작거나 숫자가 아님).",
    );
  }
  if (
    !(Number.isInteger(numTrainEpochs) && numTrainEpochs >= 2 &&
      numTrainEpochs <= 5)
  ) {
    problems.push(
      "numTrainEpochs: 15만 리뷰라면 파인튜닝은 몇 에폭이면 충분할까요? 너무 적거나 많습니다.",
    );
  }
  if (!(Number.isInteger(batchSize) && batchSize >= 16 && batchSize <= 64)) {
    problems.push(
      "batchSize: 16GB GPU의 BERT-base에서 흔히 쓰는 범위가 아닙니다.",
    );
  }
  if (!(warmupRatio > 0 && warmupRatio <= 0.2)) {
    problems.push(
      warmupRatio === 0
        ? "warmupRatio가 0입니다. 처음 몇 %의 스텝 동안 학습률을 천천히 올리세요."
        : "warmupRatio는 전체 스텝 중 워밍업의 비율(0~1)입니다. 권장값을 다시 보세요.",
    );
  }
  if (!Number.isInteger(maxLength) || maxLength < 8) {
    problems.push("maxLength는 토큰 수(정수)입니다.");
  } else if (maxLength > 512) {
    problems.push("maxLength가 BERT의 위치 임베딩 수(512)보다 깁니다.");
  } else {
    const needed = await nsmcLengthAt(DATA.q3Coverage);
    if (maxLength < needed) {
      problems.push(
        `maxLength가 짧아 NSMC 리뷰의 ${
          100 * DATA.q3Coverage
        }% 이상을 자르지 않고 담지 못합니다. 코스 토크나이저로 리뷰 길이 분포를 재 보세요.`,
      );
    } else if (maxLength > 4 * needed) {
      problems.push(
        "maxLength가 리뷰 길이에 비해 너무 깁니다. 어텐션 비용은 길이의 제곱입니다. 분포에 맞춰 줄이세요.",
      );
    }
  }
  return result(question, problems);
}

export const check07 = {
  q1: makeCheck("07-1 KLUE 태스크와 헤드", evaluateHeads),
  q2: makeCheck("07-2 어휘 크기 재기", evaluateVocabSizes),
  q3: makeCheck("07-3 하이퍼파라미터 고르기", evaluatePlan),
  data: DATA,
};
