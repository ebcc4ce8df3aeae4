/**
 * Checks for lesson 02 (토크나이저). Expected values come from the library's tokenizers at run
 * time, so the checks follow the course vocabulary whenever it is retrained. 02-2 calls the
 * learner's sentence-pair encoder at lengths it picks and compares it with the tokenizer's own
 * `tokenizer(a, { textPair: b, padding: "max_length" })`.
 */
import { AutoTokenizer } from "../text/mod.ts";
import {
  firstDifference,
  makeCheck,
  missingFields,
  ordinal,
  result,
} from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const DATA = {
  /** q1: tokenize this with the course tokenizer, padded to `maxLength`. */
  q1Sentence: "나는 BERT로 한국어 영화 리뷰를 분류했다.",
  q1MaxLength: 24,
  /** q2: sentence pairs (A, B) to encode by hand as [CLS] A [SEP] B [SEP] + padding. */
  q2Pairs: [
    ["오늘 날씨 어때?", "비가 온대요."],
    ["이 영화 재밌어?", "배우들 연기가 정말 좋았어요!"],
    ["BERT는 무엇을 배우나요?", "가린 단어와 다음 문장을 맞히며 배웁니다."],
  ] as [string, string][],
  /** q2: maxLength = the pair's own length + this many [PAD] (0: no padding at all). */
  q2ExtraPadding: [6, 0, 3],
  /** q3: the same meaning in Korean and English. */
  q3Korean: "이 영화는 배우들의 연기가 정말 훌륭했다.",
  q3English: "The actors' performances in this movie were truly excellent.",
  mbertId: "bert-base-multilingual-cased",
};

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

export interface PairEncoding {
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
}

export type EncodePair = (
  textA: string,
  textB: string,
  maxLength: number,
) => PairEncoding;

async function evaluatePair(encodePair: EncodePair) {
  const question = "02-2 문장 쌍 입력 만들기";
  if (typeof encodePair !== "function") {
    return result(question, ["encodePair 함수를 넘겨 주세요."]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const problems: string[] = [];
  for (const [i, [a, b]] of DATA.q2Pairs.entries()) {
    // The length is the check's choice, so an answer cannot be written for one fixed length.
    const needed = tokenizer(a, { textPair: b }).input_ids.length;
    const maxLength = needed + DATA.q2ExtraPadding[i];
    const want = tokenizer(a, {
      textPair: b,
      padding: "max_length",
      maxLength,
    });
    const got = encodePair(a, b, maxLength);
    const at = `${ordinal(i)} 쌍 (maxLength ${maxLength})`;
    const missing = missingFields(got, [
      "input_ids",
      "token_type_ids",
      "attention_mask",
    ]);
    if (missing.length > 0) {
      problems.push(...missing.map((m) => `${at}: ${m}`));
      break;
    }
    const lengthHint =
      "[CLS] A [SEP] B [SEP] 뒤를 maxLength까지 [PAD]로 채웠는지 확인하세요.";
    const ids = firstDifference(
      `${at}의 input_ids`,
      got.input_ids,
      want.input_ids,
      lengthHint,
    );
    // A wrong length of input_ids makes the other two wrong as well: say it once.
    const lengthWrong = !Array.isArray(got.input_ids) ||
      got.input_ids.length !== want.input_ids.length;
    const differences = [
      ids,
      lengthWrong ? null : firstDifference(
        `${at}의 token_type_ids`,
        got.token_type_ids,
        want.token_type_ids,
        lengthHint,
      ),
      lengthWrong ? null : firstDifference(
        `${at}의 attention_mask`,
        got.attention_mask,
        want.attention_mask,
        lengthHint,
      ),
    ].filter((p): p is string => p !== null);
    if (differences.some((d) => d.includes("token_type_ids"))) {
      differences.push(
        "token_type_ids는 [CLS]부터 첫 [SEP]까지 0, B와 마지막 [SEP]는 1, 패딩은 0입니다.",
      );
    }
    if (differences.some((d) => d.includes("attention_mask"))) {
      differences.push("attention_mask는 실제 토큰 1, 패딩 0입니다.");
    }
    problems.push(...differences);
    // The first pair that goes wrong is enough to start fixing.
    if (differences.length > 0) break;
  }
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
  q2: makeCheck("02-2 문장 쌍 입력 만들기", evaluatePair),
  q3: makeCheck("02-3 한국어와 영어 토큰 수", evaluateTokenCounts),
  data: DATA,
};
