/**
 * Checks for lesson 03 (모델 구조와 출력). Shapes and counts are computed by running the
 * course model and reading its config at run time.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { AutoTokenizer } from "../text/mod.ts";
import { BertConfig, BertModel } from "../models/mod.ts";
import {
  type Concept,
  firstDifference,
  makeCheck,
  missingConcepts,
  result,
} from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";
import { initBackend } from "../runtime/mod.ts";

const DATA = {
  /** q1: run the course model on this sentence (batch of one, no padding). */
  q1Sentence: "이 영화는 생각보다 훨씬 좋았다.",
};

const WHY_CLS: Concept[] = [
  {
    anyOf: [
      "문장 전체",
      "전체 문장",
      "시퀀스 전체",
      "입력 전체",
      "전체",
      "요약",
      "summary",
      "whole",
    ],
    missing:
      "[CLS] 벡터가 무엇을 대표하는지(한 토큰인지, 입력 전체인지) 적어 주세요.",
  },
  {
    anyOf: ["어텐션", "attention", "모든 토큰", "다른 토큰"],
    missing:
      "[CLS]가 어떻게 다른 토큰의 정보를 모으는지(어떤 메커니즘인지) 적어 주세요.",
  },
  {
    anyOf: [
      "nsp",
      "다음 문장",
      "사전학습",
      "분류",
      "classif",
      "pooler",
      "풀러",
    ],
    missing: "사전학습이나 분류 헤드에서 [CLS]를 어디에 쓰는지 적어 주세요.",
  },
];

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
  q2: makeCheck(
    "03-2 왜 [CLS]인가",
    (answer: string) =>
      result("03-2 왜 [CLS]인가", missingConcepts(answer, WHY_CLS, 15)),
  ),
  q3: makeCheck("03-3 임베딩 파라미터 수", evaluateEmbeddingCount),
  data: DATA,
};
