/**
 * Checks for lesson 01 (BERT와 사전학습). Written answers are checked loosely (key concepts);
 * the masking function is checked statistically on real Korean sentences.
 */
import { AutoTokenizer, type BertTokenizer } from "../text/mod.ts";
import { SeededRandom } from "../runtime/mod.ts";
import {
  type Concept,
  makeCheck,
  missingConcepts,
  result,
} from "./feedback.ts";
import { courseModelDir } from "./course_model.ts";

const BIDIRECTIONAL: Concept[] = [
  {
    anyOf: ["왼쪽", "앞쪽", "앞의", "앞 ", "이전", "left", "preced"],
    missing: "빈칸보다 앞(왼쪽)에 있는 문맥 이야기가 없습니다.",
  },
  {
    anyOf: [
      "오른쪽",
      "뒤쪽",
      "뒤의",
      "뒤 ",
      "이후",
      "다음에 오는",
      "right",
      "follow",
    ],
    missing: "빈칸보다 뒤(오른쪽)에 있는 문맥 이야기가 없습니다.",
  },
  {
    anyOf: [
      "동시",
      "함께",
      "모두",
      "양쪽",
      "양방향",
      "both",
      "at once",
      "한꺼번에",
    ],
    missing: "두 방향의 문맥을 '한꺼번에' 본다는 점을 적어 주세요.",
  },
];

const MLM: Concept[] = [
  {
    anyOf: ["[mask]", "마스크", "가리", "가린", "가려", "mask", "빈칸"],
    missing: "MLM 설명에 토큰을 가린다는 이야기가 없습니다.",
  },
  {
    anyOf: ["예측", "맞히", "맞추", "복원", "알아맞", "predict", "추측"],
    missing:
      "MLM 설명에 모델이 무엇을 하는지(원래 토큰을 어떻게 하는지)가 없습니다.",
  },
];

const NSP: Concept[] = [
  {
    anyOf: [
      "다음 문장",
      "이어지",
      "이어서",
      "연속",
      "다음에 오는",
      "next",
      "isnext",
      "뒤따르",
    ],
    missing: "NSP 설명에 두 문장의 관계(이어지는지)에 대한 이야기가 없습니다.",
  },
  {
    anyOf: [
      "두 문장",
      "문장 쌍",
      "문장 a",
      "문장 b",
      "pair",
      "두 개의 문장",
      "문장 두",
    ],
    missing: "NSP 설명에 입력이 무엇인지(문장 몇 개인지)가 없습니다.",
  },
];

/** Real Korean sentences for the masking check: varied lengths, Hangul, digits, Latin letters. */
const MASKING_SENTENCES = [
  "나는 은행에 가서 돈을 찾았다.",
  "이 영화 정말 재미있어요 배우들 연기가 최고!",
  "오늘 서울은 맑고 낮 기온이 25도까지 오르겠습니다.",
  "BERT는 양방향 트랜스포머 인코더로 사전학습된 언어 모델이다.",
  "주말에 친구들과 한강에서 자전거를 탔다.",
  "스토리가 너무 뻔해서 중간에 졸았네요.",
  "정부는 내년 예산안을 국회에 제출했다.",
  "고양이가 창가에 앉아 햇볕을 쬐고 있다.",
  "이 식당은 김치찌개가 맛있기로 유명하다.",
  "시험이 끝나면 제주도로 여행을 떠날 예정이다.",
  "배송이 빠르고 포장도 꼼꼼해서 만족합니다.",
  "그는 매일 아침 6시에 일어나 운동을 한다.",
];

type MaskFunction = (
  inputIds: number[],
  tokenizer: BertTokenizer,
  rng: SeededRandom,
) => { input_ids: number[]; labels: number[] };

interface MaskingTally {
  tokens: number;
  selected: number;
  masked: number;
  randomized: number;
  kept: number;
  problems: Set<string>;
}

function tallyMasking(
  maskFn: MaskFunction,
  sequences: number[][],
  tokenizer: BertTokenizer,
  seed: number,
  repeats: number,
): MaskingTally {
  const special = new Set([
    tokenizer.clsTokenId,
    tokenizer.sepTokenId,
    tokenizer.padTokenId,
  ]);
  const tally: MaskingTally = {
    tokens: 0,
    selected: 0,
    masked: 0,
    randomized: 0,
    kept: 0,
    problems: new Set(),
  };
  const rng = new SeededRandom(seed);
  for (let r = 0; r < repeats; r++) {
    for (const ids of sequences) {
      const original = [...ids];
      const out = maskFn(ids, tokenizer, rng);
      if (ids.some((id, i) => id !== original[i])) {
        tally.problems.add(
          "입력 배열을 직접 바꾸면 안 됩니다. 복사본을 만들어 바꾸세요.",
        );
      }
      if (!out || !Array.isArray(out.input_ids) || !Array.isArray(out.labels)) {
        tally.problems.add(
          "{ input_ids, labels } 두 배열을 돌려주어야 합니다.",
        );
        return tally;
      }
      if (
        out.input_ids.length !== original.length ||
        out.labels.length !== original.length
      ) {
        tally.problems.add("input_ids와 labels의 길이는 입력과 같아야 합니다.");
        return tally;
      }
      original.forEach((id, i) => {
        const label = out.labels[i];
        const now = out.input_ids[i];
        if (special.has(id)) {
          if (label !== -100 || now !== id) {
            tally.problems.add(
              "[CLS], [SEP], [PAD] 같은 특수 토큰은 가리지 말아야 합니다.",
            );
          }
          return;
        }
        tally.tokens++;
        if (label === -100) {
          if (now !== id) {
            tally.problems.add(
              "선택되지 않은 토큰(label -100)은 그대로 두어야 합니다.",
            );
          }
          return;
        }
        if (label !== id) {
          tally.problems.add(
            "선택된 위치의 label은 원래 토큰 id여야 합니다 (모델이 맞혀야 할 정답).",
          );
        }
        tally.selected++;
        if (now === tokenizer.maskTokenId) tally.masked++;
        else if (now === id) tally.kept++;
        else tally.randomized++;
      });
    }
  }
  return tally;
}

function rateProblem(
  name: string,
  got: number,
  want: number,
  tolerance: number,
): string | null {
  if (Math.abs(got - want) <= tolerance) return null;
  return `${name} 비율이 ${
    (got * 100).toFixed(1)
  }%로 기대와 다릅니다. 확률 설정을 다시 보세요.`;
}

async function evaluateMasking(maskFn: MaskFunction) {
  const question = "01-3 80/10/10 마스킹";
  if (typeof maskFn !== "function") {
    return result(question, ["마스킹 함수를 넘겨 주세요."]);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const sequences = MASKING_SENTENCES.map((s) => tokenizer.encode(s));
  const tally = tallyMasking(maskFn, sequences, tokenizer, 2024, 300);
  const problems = [...tally.problems];
  if (problems.length === 0 && tally.selected === 0) {
    problems.push("아무 토큰도 선택되지 않았습니다.");
  } else if (problems.length === 0) {
    const again = tallyMasking(maskFn, sequences, tokenizer, 2024, 3);
    const other = tallyMasking(maskFn, sequences, tokenizer, 7, 3);
    const first = tallyMasking(maskFn, sequences, tokenizer, 2024, 3);
    if (again.selected !== first.selected || again.masked !== first.masked) {
      problems.push(
        "같은 시드의 rng로 다시 돌리면 같은 결과가 나와야 합니다. Math.random 대신 rng를 쓰세요.",
      );
    } else if (
      other.selected === first.selected && other.masked === first.masked &&
      other.randomized === first.randomized
    ) {
      problems.push(
        "rng가 달라도 결과가 똑같습니다. 무작위 선택에 rng를 쓰세요.",
      );
    }
    const checks = [
      rateProblem("선택된 토큰", tally.selected / tally.tokens, 0.15, 0.012),
      rateProblem(
        "[MASK]로 바뀐 토큰",
        tally.masked / tally.selected,
        0.8,
        0.03,
      ),
      rateProblem(
        "무작위 토큰으로 바뀐 토큰",
        tally.randomized / tally.selected,
        0.1,
        0.025,
      ),
      rateProblem("그대로 둔 토큰", tally.kept / tally.selected, 0.1, 0.025),
    ];
    problems.push(...checks.filter((p): p is string => p !== null));
  }
  return result(question, problems);
}

export const check01 = {
  q1: makeCheck(
    "01-1 왜 양방향인가",
    (answer: string) =>
      result("01-1 왜 양방향인가", missingConcepts(answer, BIDIRECTIONAL, 15)),
  ),
  q2: makeCheck(
    "01-2 MLM과 NSP",
    (answer: { mlm: string; nsp: string }) =>
      result("01-2 MLM과 NSP", [
        ...missingConcepts(answer?.mlm, MLM, 8),
        ...missingConcepts(answer?.nsp, NSP, 8),
      ]),
  ),
  q3: makeCheck("01-3 80/10/10 마스킹", evaluateMasking),
  /** Sentences the masking check uses, so learners can try their function on the same text. */
  data: { maskingSentences: MASKING_SENTENCES },
};
