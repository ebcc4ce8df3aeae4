/**
 * Checks for lesson 04 (파인튜닝: freeze vs full). Parameter counts come from the course model;
 * the two fine-tuned models of q2 are judged by their weights (which part moved from the
 * pretrained model and from the head's initial value) and by accuracy the check measures itself,
 * on a fixed NSMC validation sample and on the learner's own evaluation examples.
 */
import * as tf from "@tensorflow/tfjs-core";
import { loadNsmc, sampleStratified } from "../data/mod.ts";
import { BertForSequenceClassification } from "../models/mod.ts";
import { AutoTokenizer } from "../text/mod.ts";
import { collateExamples } from "../train/batching.ts";
import { resolveWarmupSteps } from "../train/schedules.ts";
import type { Example } from "../train/types.ts";
import { makeCheck, missingFields, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";
import { initBackend } from "../runtime/mod.ts";

const DATA = {
  /**
   * q2: the validation sample the check evaluates both models on (NSMC test reviews, stratified,
   * so the most frequent class scores about 0.5), and the margin each model must clear over
   * always predicting that class. Measured on this sample (400 reviews, ko-mini-bert): untrained
   * heads 0.44-0.58 over 12 seeds; the solution in quick mode (200 training reviews) frozen
   * 0.70, full 0.69; in full mode (2,000 reviews) frozen 0.72, full 0.75.
   */
  q2: {
    split: "test" as const,
    n: 400,
    seed: 404,
    maxLength: 64,
    minMarginOverMajority: 0.1,
  },
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

/**
 * Largest change of an encoder weight that still reads as "fine-tuned from the course model":
 * a few hundred AdamW steps at 1e-4..1e-3 move weights by ≲ 0.1, a random init differs from the
 * pretrained weights by ≈ 0.5 (measured on ko-mini-bert).
 */
const MAX_FINE_TUNING_DRIFT = 0.2;
/** Reported and re-measured accuracy agree to this (the same examples give the same count). */
const ACCURACY_TOLERANCE = 0.005;

/** Largest absolute difference between the encoder weights of a model and the pretrained ones. */
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

/**
 * Largest |bias| of the classification head. A new head's biases start at exactly 0 (weights are
 * random, so they cannot tell "trained" from "initialized"); any optimizer step moves them.
 */
function headBiasChange(model: Classifier): number {
  let change = 0;
  for (const [name, variable] of model.namedParameters()) {
    if (name.startsWith("bert.") || !name.endsWith(".bias")) continue;
    change = Math.max(
      change,
      tf.tidy(() => tf.max(tf.abs(variable)).dataSync()[0]),
    );
  }
  return change;
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

/** The fixed validation sample of q2, tokenized with the course tokenizer; loaded once. */
let validationSample: Promise<Example[]> | undefined;
function q2ValidationExamples(): Promise<Example[]> {
  validationSample ??= (async () => {
    const { split, n, seed, maxLength } = DATA.q2;
    const frame = sampleStratified(await loadNsmc(split, { quiet: true }), {
      n,
      seed,
    });
    const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
    const texts = frame.getColumn("document").toArray() as string[];
    const labels = frame.getColumn("label").toArray() as number[];
    return texts.map((text, i) => ({
      input_ids: tokenizer.encode(text, { truncation: true, maxLength }),
      label: Number(labels[i]),
    }));
  })();
  validationSample.catch(() => validationSample = undefined);
  return validationSample;
}

function majorityAccuracy(examples: Example[]): number {
  const counts = new Map<number, number>();
  for (const ex of examples) {
    const label = Number(ex.label);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return Math.max(...counts.values()) / examples.length;
}

function isClassifier(model: unknown): model is Classifier {
  return typeof (model as Classifier)?.namedParameters === "function" &&
    typeof (model as Classifier)?.forward === "function";
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
  const { frozenModel, fullModel, evalExamples } = answer;
  if (!isClassifier(frozenModel) || !isClassifier(fullModel)) {
    return result(question, [
      "frozenModel과 fullModel은 학습한 BertForSequenceClassification 모델이어야 합니다.",
    ]);
  }
  if (frozenModel === fullModel) {
    return result(question, [
      "frozenModel과 fullModel이 같은 모델 객체입니다. 두 모델을 따로 불러와 각각 학습하세요.",
    ]);
  }
  if (!Array.isArray(evalExamples)) {
    return result(question, ["evalExamples는 Example[] 배열이어야 합니다."]);
  }
  if (evalExamples.length < 20) {
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
    if (encoderDrift(frozenModel, reference) > 1e-6) {
      problems.push(
        "frozenModel의 인코더 가중치가 사전학습 값에서 바뀌었습니다. 인코더를 얼리세요.",
      );
    }
    const fullDrift = encoderDrift(fullModel, reference);
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
  for (
    const [name, model] of [
      ["frozenModel", frozenModel],
      ["fullModel", fullModel],
    ] as const
  ) {
    if (headBiasChange(model) < 1e-7) {
      problems.push(
        `${name}의 분류 헤드가 초깃값 그대로입니다(편향이 모두 0). 헤드를 학습했나요? trainer.train()을 호출했는지 확인하세요.`,
      );
    }
  }
  const padTokenId = Number(fullModel.config.pad_token_id ?? 0);
  const validation = await q2ValidationExamples();
  const majority = majorityAccuracy(validation);
  const { n, minMarginOverMajority } = DATA.q2;
  for (
    const [name, model, reportedName, reported] of [
      ["frozenModel", frozenModel, "frozenAccuracy", answer.frozenAccuracy],
      ["fullModel", fullModel, "fullAccuracy", answer.fullAccuracy],
    ] as const
  ) {
    const measured = measureAccuracy(model, validation, padTokenId);
    if (measured < majority + minMarginOverMajority) {
      problems.push(
        `${name}을 검사용 검증 표본(NSMC ${n}개, check04.data.q2)에서 측정한 정확도가 ${
          measured.toFixed(3)
        }입니다. 최빈 클래스만 예측하는 정확도(${majority.toFixed(3)})보다 ${
          Math.round(minMarginOverMajority * 100)
        }%p 이상 높아야 학습된 모델로 봅니다. 에폭 수와 학습률을 확인하세요.`,
      );
    }
    if (typeof reported !== "number" || reported < 0 || reported > 1) {
      problems.push(`${reportedName}는 0과 1 사이의 정확도여야 합니다.`);
      continue;
    }
    const remeasured = measureAccuracy(model, evalExamples, padTokenId);
    if (Math.abs(remeasured - reported) > ACCURACY_TOLERANCE) {
      problems.push(
        `${reportedName}가 evalExamples에서 다시 측정한 정확도와 다릅니다. 같은 모델을 같은 예제로 평가했나요?`,
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
