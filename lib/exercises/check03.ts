/**
 * Checks for lesson 03 (모델 구조와 출력). Shapes, distances and counts are computed by running
 * the course model and reading its config at run time.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { AutoTokenizer } from "../text/mod.ts";
import { BertConfig, BertModel } from "../models/mod.ts";
import {
  firstDifference,
  makeCheck,
  missingFields,
  ordinal,
  result,
} from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";
import { initBackend } from "../runtime/mod.ts";

const DATA = {
  /** q1: run the course model on this sentence (batch of one, no padding). */
  q1Sentence: "이 영화는 생각보다 훨씬 좋았다.",
  /**
   * q2: two sentences with the same tokens except one word near the end, far from [CLS].
   * The check measures how far [CLS], that word and the pooler output move between them.
   */
  q2Sentences: [
    "이 영화는 처음부터 끝까지 정말 재미있었다.",
    "이 영화는 처음부터 끝까지 정말 지루했다.",
  ] as const,
};

const SHAPE_HINT = "텐서의 .shape처럼 차원마다 크기 하나씩 적으세요.";

interface ShapeAnswer {
  last_hidden_state: number[];
  pooler_output: number[];
}

async function evaluateShapes(answer: ShapeAnswer) {
  await initBackend(); // idempotent: the check may run before the notebook picked a backend
  const question = "03-1 출력 모양";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ last_hidden_state, pooler_output } 모양 배열을 넘겨 주세요.",
    ]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const model = await BertModel.fromPretrained(courseModelDir(), {
    verbose: false,
  });
  try {
    const inputs = tokenizer([DATA.q1Sentence], { returnTensors: "tf" });
    const outputs = model.forward(
      inputs as unknown as { input_ids: tf.Tensor },
    );
    const want = {
      last_hidden_state: (outputs.last_hidden_state as tf.Tensor).shape,
      pooler_output: (outputs.pooler_output as tf.Tensor).shape,
    };
    tf_dispose([
      ...Object.values(inputs),
      outputs.last_hidden_state,
      outputs.pooler_output,
    ]);
    const problems = [
      firstDifference(
        "last_hidden_state 모양",
        answer.last_hidden_state,
        want.last_hidden_state,
        SHAPE_HINT,
      ),
      firstDifference(
        "pooler_output 모양",
        answer.pooler_output,
        want.pooler_output,
        SHAPE_HINT,
      ),
    ].filter((p): p is string => p !== null);
    return result(question, problems);
  } finally {
    model.dispose();
  }
}

function tf_dispose(values: unknown[]) {
  for (const v of values) {
    if (v && typeof (v as tf.Tensor).dispose === "function") {
      (v as tf.Tensor).dispose();
    }
  }
}

interface ClsDistanceAnswer {
  /** Index in input_ids ([CLS] = 0) where the two sentences differ. */
  changedPosition: number;
  /** Euclidean distance between the two sentences' [CLS] vectors, per hidden state (embeddings first). */
  cls: number[];
  /** The same distance at `changedPosition`. */
  changed: number[];
  /** Euclidean distance between the two pooler_output vectors. */
  pooler: number;
}

interface Measured {
  changedPosition: number;
  cls: number[];
  changed: number[];
  clsCosine: number[];
  pooler: number;
  poolerCosine: number;
}

function distance(a: number[], b: number[]): number {
  return Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
}

function cosine(a: number[], b: number[]): number {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  return dot / (Math.hypot(...a) * Math.hypot(...b));
}

/** Float32 sums done in another order differ in the 4th-5th digit; a wrong quantity differs far more. */
function close(got: unknown, want: number): boolean {
  return typeof got === "number" && Number.isFinite(got) &&
    Math.abs(got - want) <= 1e-3 + 2e-3 * Math.abs(want);
}

function allClose(got: unknown, want: number[]): boolean {
  return Array.isArray(got) && got.length === want.length &&
    want.every((w, i) => close(got[i], w));
}

async function measureClsDistances(): Promise<Measured> {
  await initBackend();
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const model = await BertModel.fromPretrained(courseModelDir(), {
    verbose: false,
  });
  try {
    const inputs = tokenizer([...DATA.q2Sentences], {
      padding: true,
      returnTensors: "tf",
    });
    const ids = (inputs.input_ids as tf.Tensor).arraySync() as number[][];
    const outputs = model.forward(
      inputs as unknown as { input_ids: tf.Tensor },
      { output_hidden_states: true },
    );
    const states = outputs.hidden_states!.map((h) =>
      h.arraySync() as number[][][]
    );
    const pooled = outputs.pooler_output.arraySync() as number[][];
    tf_dispose([
      ...Object.values(inputs),
      outputs.last_hidden_state,
      outputs.pooler_output,
      ...outputs.hidden_states!,
    ]);
    const changedPosition = ids[0].findIndex((id, i) => id !== ids[1][i]);
    return {
      changedPosition,
      cls: states.map(([a, b]) => distance(a[0], b[0])),
      changed: states.map(([a, b]) =>
        distance(a[changedPosition], b[changedPosition])
      ),
      clsCosine: states.map(([a, b]) => cosine(a[0], b[0])),
      pooler: distance(pooled[0], pooled[1]),
      poolerCosine: cosine(pooled[0], pooled[1]),
    };
  } finally {
    model.dispose();
  }
}

/** What is wrong with one list of per-layer distances, or null. */
function layerProblem(
  name: string,
  got: unknown,
  want: number[],
  measured: Measured,
): string | null {
  if (!Array.isArray(got) || got.length === 0) {
    return `${name}: hidden state마다 거리 하나씩, 숫자 배열을 넣으세요.`;
  }
  if (got.length === want.length - 1) {
    return `${name}: 값이 하나 모자랍니다. output_hidden_states의 hidden_states는 임베딩 출력부터 시작합니다 (층 수 + 1개).`;
  }
  if (got.length !== want.length) {
    return `${name}: 길이가 다릅니다 (지금 ${got.length}개). hidden_states 하나마다 값 하나입니다.`;
  }
  if (allClose(got, want)) return null;
  if (name === "cls" && allClose(got, measured.clsCosine)) {
    return "cls: 코사인 유사도가 아니라 두 벡터의 차이의 길이(유클리드 거리, tf.norm(a.sub(b)))를 측정하세요.";
  }
  const other = name === "cls" ? measured.changed : measured.cls;
  if (allClose(got, other)) {
    return `${name}: 다른 위치의 거리입니다. cls는 0번 위치([CLS]), changed는 changedPosition 위치입니다.`;
  }
  const at = want.findIndex((w, i) => !close(got[i], w));
  return `${name}: ${ordinal(at)} 값(hidden_states[${at}])이 다릅니다 (지금 ${
    JSON.stringify(got[at])
  }). 두 문장을 같은 모델로 실행해 ${
    name === "cls" ? "0번 위치" : "changedPosition 위치"
  }의 벡터끼리 유클리드 거리를 측정했는지 보세요.`;
}

async function evaluateClsDistances(answer: ClsDistanceAnswer) {
  const question = "03-2 [CLS] 벡터는 어디서 오나";
  const missing = missingFields(answer, [
    "changedPosition",
    "cls",
    "changed",
    "pooler",
  ]);
  if (missing.length > 0) return result(question, missing);
  const measured = await measureClsDistances();
  const problems: string[] = [];
  if (answer.changedPosition !== measured.changedPosition) {
    problems.push(
      answer.changedPosition === measured.changedPosition - 1
        ? "changedPosition이 하나 작습니다. tokenize()가 아니라 [CLS]가 0번인 input_ids에서의 위치를 쓰세요."
        : "changedPosition이 다릅니다. 두 문장의 input_ids를 나란히 놓고 처음 달라지는 인덱스를 찾으세요 ([CLS]가 0번).",
    );
  }
  for (
    const [name, want] of [["cls", measured.cls], [
      "changed",
      measured.changed,
    ]] as const
  ) {
    const problem = layerProblem(
      name,
      (answer as unknown as Record<string, unknown>)[name],
      want,
      measured,
    );
    if (problem) problems.push(problem);
  }
  if (!close(answer.pooler, measured.pooler)) {
    problems.push(
      close(answer.pooler, measured.poolerCosine)
        ? "pooler: 코사인 유사도가 아니라 유클리드 거리를 측정하세요."
        : close(answer.pooler, measured.cls.at(-1)!)
        ? "pooler: 이것은 마지막 층 [CLS] 벡터의 거리입니다. pooler_output(= tanh(W·h_[CLS] + b))끼리 거리를 측정하세요."
        : "pooler: 두 문장의 pooler_output 사이의 유클리드 거리가 아닙니다.",
    );
  }
  return result(question, problems);
}

async function evaluateEmbeddingCount(count: number) {
  const question = "03-3 임베딩 파라미터 수";
  if (typeof count !== "number" || !Number.isInteger(count)) {
    return result(question, ["정수 하나를 넘겨 주세요."]);
  }
  const config = await BertConfig.fromPretrained(courseModelDir());
  const h = config.hidden_size;
  const tables = (config.vocab_size + config.max_position_embeddings +
    config.type_vocab_size) * h;
  const layerNorm = 2 * h;
  const want = tables + layerNorm;
  if (count === want) return result(question, []);
  if (count === tables) {
    return result(question, [
      "세 임베딩 표는 맞습니다. 임베딩 뒤의 LayerNorm 파라미터도 세세요.",
    ]);
  }
  if (
    count === config.vocab_size * h ||
    count === config.vocab_size * h + layerNorm
  ) {
    return result(question, [
      "단어 임베딩만 센 것 같습니다. 위치·세그먼트 임베딩도 있습니다.",
    ]);
  }
  return result(question, [
    "개수가 다릅니다. config의 vocab_size, max_position_embeddings, type_vocab_size, hidden_size를 보세요.",
  ]);
}

export const check03 = {
  q1: makeCheck("03-1 출력 모양", evaluateShapes),
  q2: makeCheck("03-2 [CLS] 벡터는 어디서 오나", evaluateClsDistances),
  q3: makeCheck("03-3 임베딩 파라미터 수", evaluateEmbeddingCount),
  data: DATA,
};
