/**
 * Tasks on sentence pairs: next-sentence (the NSP head: does B follow A?)
 * and sentence-similarity (an STS regression head: one score per pair).
 */
import { CourseError } from "../../runtime/errors.ts";
import { inferRows, requireOutput, type TaskContext } from "../context.ts";
import {
  asList,
  encodeText,
  inputName,
  isTextInput,
  type TextInput,
  type TextPair,
  toTextPair,
} from "../inputs.ts";
import { softmax } from "../math.ts";

export interface NextSentenceResult {
  label: "IsNext" | "NotNext";
  /** Probability of `label`. */
  score: number;
  /** Probability that textPair really follows text. */
  isNextProbability: number;
}

export interface SimilarityResult {
  /** The regression output (on the scale the head was trained on, KorSTS: 0-5). */
  score: number;
}

function pairsOf(inputs: TextInput | TextInput[]): {
  pairs: TextPair[];
  single: boolean;
} {
  const { items, single } = asList(inputs, isTextInput);
  const pairs = items.map((item, index) => {
    const name = inputName(single, index);
    const pair = toTextPair(item, name);
    if (pair.textPair == null) {
      throw new CourseError(
        "TASK_PAIR_REQUIRED",
        `this task needs a sentence pair, ${name} is a single text`,
        `두 문장은 {text: "문장 A", textPair: "문장 B"} 객체로, 여러 쌍은 그런 객체의 배열로 넘기세요. 문자열 배열은 (두 개여도) 쌍이 아니라 문장 여러 개로 읽습니다.`,
      );
    }
    return pair;
  });
  return { pairs, single };
}

/** BERT's NSP convention: class 0 = B follows A (IsNext), 1 = random B. */
export async function nextSentence(
  ctx: TaskContext,
  inputs: TextInput | TextInput[],
  _options: Record<never, never> = {},
): Promise<NextSentenceResult | NextSentenceResult[]> {
  const { pairs, single } = pairsOf(inputs);
  const rows = await inferRows(ctx, pairs.map((p) => encodeText(ctx, p)));
  const results = rows.map((row): NextSentenceResult => {
    const [isNext, notNext] = softmax(requireOutput(row, "logits").data);
    return isNext >= notNext
      ? { label: "IsNext", score: isNext, isNextProbability: isNext }
      : { label: "NotNext", score: notNext, isNextProbability: isNext };
  });
  return single ? results[0] : results;
}

export async function sentenceSimilarity(
  ctx: TaskContext,
  inputs: TextInput | TextInput[],
  _options: Record<never, never> = {},
): Promise<SimilarityResult | SimilarityResult[]> {
  const { pairs, single } = pairsOf(inputs);
  const rows = await inferRows(ctx, pairs.map((p) => encodeText(ctx, p)));
  const results = rows.map((row) => {
    const logits = requireOutput(row, "logits").data;
    if (logits.length !== 1) {
      throw new CourseError(
        "TASK_NOT_REGRESSION",
        `sentence-similarity needs a regression head (num_labels 1), this model has ${logits.length} outputs`,
        "KorSTS처럼 점수를 맞히도록 num_labels: 1로 파인튜닝한 모델을 쓰세요. 분류 모델이면 text-classification에 textPair를 넘기세요.",
      );
    }
    return { score: logits[0] };
  });
  return single ? results[0] : results;
}

/** This folder's tasks for `pipeline()` (lib/tasks/pipeline.ts gathers every folder's `TASKS`). */
export const TASKS = {
  "next-sentence": nextSentence,
  "sentence-similarity": sentenceSimilarity,
} as const;
