/**
 * Checks for lesson 04 (파인튜닝: freeze vs full). Parameter counts come from the course model,
 * and reported accuracies are re-measured on the learner's own models and examples.
 */
import * as tf from "@tensorflow/tfjs-core";
import { BertForSequenceClassification } from "../models/mod.ts";
import { collateExamples } from "../train/batching.ts";
import { resolveWarmupSteps } from "../train/schedules.ts";
import type { Example } from "../train/types.ts";
import { makeCheck, missingFields, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";
import { initBackend } from "../runtime/mod.ts";

const DATA = {
  /** q3: a training run to plan: how many optimizer steps, how many of them warm up. */
  q3: {
    numExamples: 2000,
    batchSize: 32,
    numTrainEpochs: 3,
    warmupRatio: 0.1,
  },
};

async function evaluateTrainableCounts(
  answer: { frozen: number; full: number },
) {
  await initBackend(); // idempotent: the check may run before the notebook picked a backend
  const question = "04-1 학습되는 파라미터 수";
  const missing = missingFields(answer, ["frozen", "full"]);
  if (missing.length > 0) return result(question, missing);
  const model = await BertForSequenceClassification.fromPretrained(
    courseModelDir(),
    {
      num_labels: 2,
      verbose: false,
    },
  );
  try {
    model.setTrainable("all", true);
    const full = model.countParameters().trainable;
    model.setTrainable("all", false);
    model.setTrainable(["head"], true);
    const frozen = model.countParameters().trainable;
    const problems: string[] = [];
    if (answer.full !== full) {
      problems.push("full(전체 파인튜닝)의 학습 파라미터 수가 다릅니다.");
    }
    if (answer.frozen !== frozen) {
      problems.push(
        answer.frozen === full
          ? "frozen이 full과 같습니다. 인코더를 정말 얼렸나요?"
          : "frozen(분류 헤드만 학습)의 파라미터 수가 다릅니다. num_labels=2인 헤드를 세세요.",
      );
    }
    return result(question, problems);
  } finally {
    model.dispose();
  }
}

type Classifier = BertForSequenceClassification;

interface FreezeComparison {
  frozenModel: Classifier;
  fullModel: Classifier;
  evalExamples: Example[];
  frozenAccuracy: number;
  fullAccuracy: number;
}

/** Largest absolute difference between the encoder weights of a model and the pretrained ones. */
/**
 * Largest change of an encoder weight that still reads as "fine-tuned from the course model":
 * a few hundred AdamW steps at 1e-4..1e-3 move weights by ≲ 0.1, a random init differs from the
 * pretrained weights by ≈ 0.5 (measured on ko-mini-bert).
 */
const MAX_FINE_TUNING_DRIFT = 0.2;

function encoderDrift(model: Classifier, reference: Classifier): number {
  const refParams = reference.namedParameters();
  let drift = 0;
  for (const [name, variable] of model.namedParameters()) {
    const original = refParams.get(name);
    if (!name.startsWith("bert.") || !original) continue;
    const diff = tf.tidy(() =>
      tf.max(tf.abs(tf.sub(variable, original))).dataSync()[0]
    );
    drift = Math.max(drift, diff);
  }
  return drift;
}

function measureAccuracy(
  model: Classifier,
  examples: Example[],
  padTokenId: number,
): number {
  let correct = 0;
  for (let start = 0; start < examples.length; start += 32) {
    const group = examples.slice(start, start + 32);
    const batch = collateExamples(group, { padTokenId });
    const predicted = tf.tidy(() => {
      const { labels: _labels, ...inputs } = batch;
      const logits = model.forward(inputs).logits as tf.Tensor;
      return tf.argMax(logits, -1).dataSync();
    });
    for (const t of Object.values(batch)) {
      (t as tf.Tensor | undefined)?.dispose();
    }
    group.forEach((ex, i) => {
      if (predicted[i] === ex.label) correct++;
    });
  }
  return correct / examples.length;
}

async function evaluateFreezeComparison(answer: FreezeComparison) {
  await initBackend(); // idempotent: the check may run before the notebook picked a backend
  const question = "04-2 freeze vs full";
  const missing = missingFields(answer, [
    "frozenModel",
    "fullModel",
    "evalExamples",
    "frozenAccuracy",
    "fullAccuracy",
  ]);
  if (missing.length > 0) return result(question, missing);
  if (!Array.isArray(answer.evalExamples)) {
    return result(question, ["evalExamples는 Example[] 배열이어야 합니다."]);
  }
  if (answer.evalExamples.length < 20) {
    return result(question, ["평가 예제가 너무 적습니다 (20개 이상)."]);
  }
  const reference = await BertForSequenceClassification.fromPretrained(
    courseModelDir(),
    {
      num_labels: 2,
      verbose: false,
    },
  );
  const problems: string[] = [];
  try {
    if (encoderDrift(answer.frozenModel, reference) > 1e-6) {
      problems.push(
        "frozenModel의 인코더 가중치가 사전학습 값에서 바뀌었습니다. 인코더를 얼리세요.",
      );
    }
    const fullDrift = encoderDrift(answer.fullModel, reference);
    if (fullDrift < 1e-6) {
      problems.push(
        "fullModel의 인코더 가중치가 그대로입니다. 전체 파인튜닝을 했나요?",
      );
    } else if (fullDrift > MAX_FINE_TUNING_DRIFT) {
      // Fine-tuning moves a weight by ≲ 0.02 here; a random init differs by ≈ 0.5 (measured).
      problems.push(
        "fullModel의 인코더가 사전학습 가중치와 너무 다릅니다. 무작위 초기화가 아니라 fromPretrained로 불러온 코스 모델에서 시작해 파인튜닝하세요.",
      );
    }
  } finally {
    reference.dispose();
  }
  const padTokenId = Number(answer.fullModel.config.pad_token_id ?? 0);
  for (
    const [name, model, reported] of [
      ["frozenAccuracy", answer.frozenModel, answer.frozenAccuracy],
      ["fullAccuracy", answer.fullModel, answer.fullAccuracy],
    ] as const
  ) {
    if (typeof reported !== "number" || reported < 0 || reported > 1) {
      problems.push(`${name}는 0과 1 사이의 정확도여야 합니다.`);
      continue;
    }
    const measured = measureAccuracy(model, answer.evalExamples, padTokenId);
    if (Math.abs(measured - reported) > 0.005) {
      problems.push(
        `${name}가 evalExamples에서 다시 잰 정확도와 다릅니다. 같은 예제로 평가했나요?`,
      );
    }
  }
  return result(question, problems);
}

function evaluateSchedule(answer: { totalSteps: number; warmupSteps: number }) {
  const question = "04-3 스텝 수와 워밍업";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ totalSteps, warmupSteps } 객체를 넘겨 주세요.",
    ]);
  }
  const { numExamples, batchSize, numTrainEpochs, warmupRatio } = DATA.q3;
  const totalSteps = Math.ceil(numExamples / batchSize) * numTrainEpochs;
  const warmupSteps = resolveWarmupSteps(totalSteps, undefined, warmupRatio);
  const problems: string[] = [];
  if (answer.totalSteps !== totalSteps) {
    problems.push(
      answer.totalSteps === Math.floor(numExamples / batchSize) * numTrainEpochs
        ? "마지막의 작은 배치도 한 스텝입니다 (버리지 않습니다)."
        : "totalSteps가 다릅니다. 한 에폭의 배치 수 × 에폭 수입니다.",
    );
  }
  if (answer.warmupSteps !== warmupSteps) {
    problems.push(
      "warmupSteps가 다릅니다. 전체 스텝의 warmupRatio만큼, 올림해서 세세요.",
    );
  }
  return result(question, problems);
}

export const check04 = {
  q1: makeCheck("04-1 학습되는 파라미터 수", evaluateTrainableCounts),
  q2: makeCheck("04-2 freeze vs full", evaluateFreezeComparison),
  q3: makeCheck("04-3 스텝 수와 워밍업", evaluateSchedule),
  data: DATA,
};
