/**
 * Checks for lesson 06 (다운스트림 태스크). The learner's NER alignment and QA span functions
 * are compared with the library's own (alignWordLabels, bestAnswerSpan) on cases built at run
 * time (q2's cases each hide one trap: a question or [SEP] token, an end before the start, a span
 * over the length limit); the NLI pair encoding is compared with the course tokenizer's. bestAnswerSpan is
 * lib/tasks/question_answering's one span rule (`rankAnswerSpans`), the rule the
 * question-answering pipeline answers with, so a function that passes q2 picks the pipeline's answer.
 */
import {
  bestAnswerSpan,
  prepareQaFeatures,
} from "../tasks/question_answering/mod.ts";
import { alignWordLabels } from "../tasks/token_classification/mod.ts";
import type { Offset } from "../text/mod.ts";
import { AutoTokenizer } from "../text/mod.ts";
import { SeededRandom } from "../runtime/random.ts";
import { firstDifference, makeCheck, result } from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q3: encode this premise/hypothesis pair as one BERT input. */
  q3Premise: "한 남자가 공원에서 개와 함께 달리고 있다.",
  q3Hypothesis: "남자가 밖에 있다.",
  /** q2: the question and context the QA cases are built from. */
  q2Question: "이순신은 어느 해에 태어났나?",
  q2Context:
    "이순신은 1545년 한성 건천동에서 태어났다. 1592년 임진왜란이 일어나자 " +
    "전라좌도 수군절도사로서 옥포, 한산도 등에서 왜군을 크게 물리쳤다.",
};

type AlignLabels = (
  wordIds: (number | null)[],
  wordLabels: number[],
) => number[];

/** Word ids as a fast tokenizer gives them: null for [CLS]/[SEP], repeated for sub-words. */
function randomWordIds(rng: SeededRandom, words: number): (number | null)[] {
  const ids: (number | null)[] = [null];
  for (let w = 0; w < words; w++) {
    const pieces = 1 + rng.int(3);
    for (let p = 0; p < pieces; p++) ids.push(w);
  }
  ids.push(null);
  return ids;
}

function evaluateAlignLabels(alignLabels: AlignLabels) {
  const question = "06-1 NER 서브토큰 정렬";
  if (typeof alignLabels !== "function") {
    return result(question, [
      "(wordIds, wordLabels) => number[] 함수를 넘겨 주세요.",
    ]);
  }
  const rng = new SeededRandom(606);
  const problems = new Set<string>();
  for (let trial = 0; trial < 10; trial++) {
    const words = 2 + rng.int(6);
    const wordIds = randomWordIds(rng, words);
    const wordLabels = Array.from({ length: words }, () => rng.int(13));
    const want = alignWordLabels(wordIds, wordLabels);
    const got = alignLabels([...wordIds], [...wordLabels]);
    if (!Array.isArray(got) || got.length !== wordIds.length) {
      problems.add(
        "토큰마다 라벨이 하나씩 있어야 합니다 (wordIds와 같은 길이).",
      );
      continue;
    }
    wordIds.forEach((word, i) => {
      if (got[i] === want[i]) return;
      if (word === null) {
        problems.add(
          "특수 토큰([CLS], [SEP]: wordId가 null)은 손실에서 빠지도록 -100이어야 합니다.",
        );
      } else if (want[i] === -100) {
        problems.add(
          "한 단어가 여러 서브토큰으로 나뉘면 첫 서브토큰만 단어의 라벨을 받고, 나머지는 -100입니다.",
        );
      } else {
        problems.add(
          "단어의 첫 서브토큰에는 그 단어의 라벨(wordLabels[wordId])을 주세요.",
        );
      }
    });
  }
  return result(question, [...problems]);
}

interface SpanFeature {
  offset_mapping: (Offset | null)[];
  context: string;
}

type ExtractAnswer = (
  feature: SpanFeature,
  startLogits: number[],
  endLogits: number[],
) => string;

/** Traps of q2, one per trial in turn: none, a question/[SEP] token, an end before the start, too long. */
const TRAPS = 4;
/** Longest answer in tokens, as in Hugging Face's `max_answer_length` (q2 uses 30). */
const MAX_ANSWER_LENGTH = 30;

/**
 * Start/end logits with traps: a high score on a question token and on the final [SEP], an end
 * before the start, or a best pair longer than the answer limit.
 */
function trapLogits(
  rng: SeededRandom,
  feature: SpanFeature,
  trap: number,
): { start: number[]; end: number[] } {
  const n = feature.offset_mapping.length;
  const start = Array.from({ length: n }, () => rng.normal(0, 1));
  const end = Array.from({ length: n }, () => rng.normal(0, 1));
  const contextTokens = feature.offset_mapping.flatMap((
    o,
    i,
  ) => (o ? [i] : []));
  const firstContext = contextTokens[0];
  const s = contextTokens[2 + rng.int(contextTokens.length - 8)];
  start[s] += 6;
  end[s + 1 + rng.int(3)] += 6;
  if (trap === 1) {
    // The best raw start logit sits on a question token, the best raw end on the final [SEP]:
    // neither can be part of an answer.
    start[1] += 20;
    end[n - 1] += 20;
  } else if (trap === 2) {
    // The best raw end logit lies before the best start.
    end[firstContext] += 9;
  } else if (trap === 3) {
    // The best pair of all spans MAX_ANSWER_LENGTH + 3 tokens: too long to be an answer.
    // (The q2 context has 51 tokens, so such a span fits inside it.)
    start[firstContext] += 12;
    end[contextTokens[MAX_ANSWER_LENGTH + 2]] += 12;
  }
  return { start, end };
}

async function evaluateExtractAnswer(extractAnswer: ExtractAnswer) {
  const question = "06-2 QA 정답 스팬 꺼내기";
  if (typeof extractAnswer !== "function") {
    return result(question, [
      "(feature, startLogits, endLogits) => string 함수를 넘겨 주세요.",
    ]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const [feature] = prepareQaFeatures(
    DATA.q2Question,
    DATA.q2Context,
    null,
    tokenizer,
    { maxLength: 128, docStride: 32 },
  );
  const rng = new SeededRandom(616);
  const problems = new Set<string>();
  for (let trial = 0; trial < 3 * TRAPS; trial++) {
    const trap = trial % TRAPS;
    const { start, end } = trapLogits(rng, feature, trap);
    const want = bestAnswerSpan(feature, start, end, {
      maxAnswerLength: MAX_ANSWER_LENGTH,
    })!;
    const got = extractAnswer(
      { offset_mapping: [...feature.offset_mapping], context: feature.context },
      [...start],
      [...end],
    );
    if (typeof got !== "string" || (got === "" && trap === 0)) {
      // Empty even without a trap (a stub): that is the one thing to fix first.
      return result(question, [
        "정답 문자열(context의 일부, 빈 문자열이 아닌)을 돌려주세요.",
      ]);
    }
    if (got === want.text) continue;
    // Below, an empty string on a trap is that trap's mistake (e.g. slicing to a null offset).
    if (trap === 1) {
      problems.add(
        "질문이나 특수 토큰 위치(offset_mapping이 null)는 정답의 시작/끝이 될 수 없습니다.",
      );
    } else if (trap === 2) {
      problems.add("끝 위치가 시작 위치보다 앞인 스팬은 버려야 합니다.");
    } else if (trap === 3) {
      problems.add(
        `${MAX_ANSWER_LENGTH}토큰보다 긴 스팬(e - s + 1 > ${MAX_ANSWER_LENGTH})은 정답 후보에서 빼야 합니다.`,
      );
    } else if (!feature.context.includes(got)) {
      problems.add(
        "돌려준 문자열이 context에 없습니다. 토큰 위치를 offset_mapping으로 문자 위치로 바꿔 context를 잘라 내세요.",
      );
    } else {
      problems.add(
        "가장 좋은 스팬이 아닙니다. 점수는 시작 로짓 + 끝 로짓이고, 끝 토큰의 끝 문자까지 포함합니다.",
      );
    }
  }
  return result(question, [...problems]);
}

interface PairEncoding {
  input_ids: number[];
  token_type_ids: number[];
}

async function evaluateNliPair(answer: PairEncoding) {
  const question = "06-3 NLI 문장 쌍 입력";
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ input_ids, token_type_ids } 객체를 넘겨 주세요.",
    ]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const want = tokenizer(DATA.q3Premise, { textPair: DATA.q3Hypothesis });
  const problems: string[] = [];
  const ids = answer.input_ids;
  if (!Array.isArray(ids) || ids.length === 0) {
    return result(question, [
      "input_ids가 비어 있습니다. 두 문장을 함께 토크나이저에 넣으세요.",
    ]);
  }
  const seps = ids.filter((id) => id === tokenizer.sepTokenId).length;
  if (seps !== 2) {
    problems.push(
      `[SEP]가 ${seps}번 나옵니다. 전제 뒤와 가설 뒤에 한 번씩, 모두 두 번이어야 합니다.`,
    );
  }
  if (ids[0] !== tokenizer.clsTokenId) {
    problems.push("입력은 [CLS]로 시작해야 합니다.");
  }
  const idProblem = firstDifference("input_ids", ids, want.input_ids);
  if (idProblem && problems.length === 0) problems.push(idProblem);
  const types = answer.token_type_ids;
  if (
    Array.isArray(types) && Array.isArray(ids) && types.length === ids.length &&
    !types.includes(1)
  ) {
    problems.push(
      "token_type_ids가 모두 0입니다. 두 번째 문장(가설)과 그 뒤 [SEP]는 세그먼트 1입니다.",
    );
  } else {
    const typeProblem = firstDifference(
      "token_type_ids",
      types,
      want.token_type_ids,
    );
    if (typeProblem) problems.push(typeProblem);
  }
  return result(question, problems);
}

export const check06 = {
  q1: makeCheck("06-1 NER 서브토큰 정렬", evaluateAlignLabels),
  q2: makeCheck("06-2 QA 정답 스팬 꺼내기", evaluateExtractAnswer),
  q3: makeCheck("06-3 NLI 문장 쌍 입력", evaluateNliPair),
  data: DATA,
};
