/**
 * Checks for lesson 02 (토크나이저). Expected values come from the library's tokenizers at run
 * time, so the checks follow the course vocabulary whenever it is retrained.
 */
import { AutoTokenizer } from "../text/mod.ts";
import {
  firstDifference,
  makeCheck,
  missingFields,
  result,
} from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q1: tokenize this with the course tokenizer, padded to `maxLength`. */
  q1Sentence: "나는 BERT로 한국어 영화 리뷰를 분류했다.",
  q1MaxLength: 24,
  /** q3: the same meaning in Korean and English. */
  q3Korean: "이 영화는 배우들의 연기가 정말 훌륭했다.",
  q3English: "The actors' performances in this movie were truly excellent.",
  mbertId: "bert-base-multilingual-cased",
};

const SPECIAL_TOKENS = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"];

interface TokenizeAnswer {
  tokens: string[];
  input_ids: number[];
  attention_mask: number[];
}

async function evaluateTokenize(answer: TokenizeAnswer) {
  const question = "02-1 토큰화";
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const tokens = tokenizer.tokenize(DATA.q1Sentence);
  const encoded = tokenizer([DATA.q1Sentence], {
    padding: "max_length",
    truncation: true,
    maxLength: DATA.q1MaxLength,
  });
  const input_ids = (encoded.input_ids as number[][])[0];
  const attention_mask = (encoded.attention_mask as number[][])[0];
  const missing = missingFields(answer, [
    "tokens",
    "input_ids",
    "attention_mask",
  ]);
  if (missing.length > 0) return result(question, missing);
  const problems = [
    firstDifference("tokens (특수 토큰 없이)", answer.tokens, tokens),
    firstDifference(
      `input_ids (maxLength ${DATA.q1MaxLength}로 패딩)`,
      answer.input_ids,
      input_ids,
    ),
    firstDifference("attention_mask", answer.attention_mask, attention_mask),
  ].filter((p): p is string => p !== null);
  return result(question, problems);
}

async function evaluateSpecialTokens(answer: Record<string, number>) {
  const question = "02-2 특수 토큰";
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  if (!answer || typeof answer !== "object") {
    return result(question, [
      "{ '[CLS]': id, ... } 모양의 객체를 넘겨 주세요.",
    ]);
  }
  const ids = tokenizer.convertTokensToIds(SPECIAL_TOKENS);
  const problems: string[] = [];
  SPECIAL_TOKENS.forEach((token, i) => {
    if (!(token in answer)) problems.push(`${token}이(가) 빠졌습니다.`);
    else if (answer[token] !== ids[i]) {
      problems.push(`${token}의 id가 다릅니다.`);
    }
  });
  return result(question, problems);
}

interface TokenCountAnswer {
  mbertKorean: number;
  mbertEnglish: number;
  courseKorean: number;
  courseEnglish: number;
}

async function evaluateTokenCounts(answer: TokenCountAnswer) {
  const question = "02-3 한국어와 영어 토큰 수";
  const missing = missingFields(answer, [
    "mbertKorean",
    "mbertEnglish",
    "courseKorean",
    "courseEnglish",
  ]);
  if (missing.length > 0) return result(question, missing);
  const mbert = await AutoTokenizer.fromPretrained(DATA.mbertId);
  const course = await AutoTokenizer.fromPretrained(courseModelDir());
  const want: TokenCountAnswer = {
    mbertKorean: mbert.tokenize(DATA.q3Korean).length,
    mbertEnglish: mbert.tokenize(DATA.q3English).length,
    courseKorean: course.tokenize(DATA.q3Korean).length,
    courseEnglish: course.tokenize(DATA.q3English).length,
  };
  const problems: string[] = [];
  for (const key of Object.keys(want) as (keyof TokenCountAnswer)[]) {
    const got = answer[key];
    if (typeof got !== "number") problems.push(`${key}가 숫자가 아닙니다.`);
    else if (got === want[key] + 2) {
      problems.push(
        `${key}: [CLS]/[SEP]까지 센 것 같습니다. tokenize()의 결과만 세세요.`,
      );
    } else if (got !== want[key]) problems.push(`${key}의 토큰 수가 다릅니다.`);
  }
  return result(question, problems);
}

export const check02 = {
  q1: makeCheck("02-1 토큰화", evaluateTokenize),
  q2: makeCheck("02-2 특수 토큰", evaluateSpecialTokens),
  q3: makeCheck("02-3 한국어와 영어 토큰 수", evaluateTokenCounts),
  data: DATA,
};
