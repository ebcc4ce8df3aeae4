/**
 * question-answering (extractive), Hugging Face's pipeline: long contexts are
 * read in overlapping windows ("doc stride") built by prepare.ts's
 * `prepareQaFeatures`, and the answer is chosen by spans.ts's
 * `rankAnswerSpans`, the one span rule of the course (start + end logit,
 * context tokens only, at most `maxAnswerLength` pieces, best across windows).
 * The reported `score` stays the pipeline's probability.
 */
import { CourseError } from "../../runtime/errors.ts";
import {
  assertNonEmptyText,
  describeValue,
  inferRows,
  requireOutput,
  type TaskContext,
} from "../context.ts";
import { asList, inputName, validTopK } from "../inputs.ts";
import { softmax } from "../math.ts";
import { checkStride } from "../windows.ts";
import { prepareQaFeatures, type QaFeature } from "./prepare.ts";
import { type QaWindowLogits, rankAnswerSpans } from "./spans.ts";

export interface QuestionAnsweringInput {
  question: string;
  context: string;
}

export interface QuestionAnsweringOptions {
  /** How many answers per question (default 1). */
  topK?: number;
  /** Tokens shared by neighbouring windows (default: min(128, window / 2)). */
  docStride?: number;
  /** Longest answer in word pieces (default 15). */
  maxAnswerLength?: number;
  /** Longest question in word pieces (default 64). */
  maxQuestionLength?: number;
  /** Window length in tokens (default: min(384, the model's limit)). */
  maxSeqLength?: number;
  /**
   * Allow "no answer": when [CLS]·[CLS] beats every span, the result is
   * `{answer: "", score, start: 0, end: 0}` (Hugging Face's convention).
   */
  handleImpossibleAnswer?: boolean;
}

export interface Answer {
  /**
   * Hugging Face's pipeline score: p_start · p_end, each a softmax over
   * [CLS] and the context tokens of the window the answer was read from (for
   * the null answer: p_start[CLS] · p_end[CLS] of the window whose
   * start[CLS] + end[CLS] logit is smallest). Answers are ranked by the
   * start + end logit, which orders spans of one window exactly as this
   * probability does; across windows the logit sum decides, as in
   * `postprocess_qa_predictions`.
   */
  score: number;
  /** Character offsets into the (NFC-normalized) context, end exclusive. */
  start: number;
  end: number;
  answer: string;
}

const MASKED_LOGIT = -10000; // what HF puts on tokens outside the context

export async function questionAnswering(
  ctx: TaskContext,
  inputs: QuestionAnsweringInput | QuestionAnsweringInput[],
  options: QuestionAnsweringOptions = {},
): Promise<Answer | Answer[] | Answer[][]> {
  const isQuestion = (v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const { items, single } = asList(
    inputs,
    isQuestion,
    '질문은 {question: "질문", context: "본문"} 객체로, 여러 개는 그 배열로 넘기세요.',
  );
  const topK = validTopK(options.topK ?? 1);
  const maxAnswerLength = options.maxAnswerLength ?? 15;
  const maxSeqLength = Math.min(options.maxSeqLength ?? 384, ctx.maxLength);
  const features: QaFeature[][] = [];
  for (const [inputIndex, item] of items.entries()) {
    const name = inputName(single, inputIndex);
    if (!isQuestion(item)) {
      throw new CourseError(
        "TASK_BAD_INPUT",
        `${name} must be a {question, context} object, got ${
          describeValue(item)
        }`,
        `${name}에는 {question: "질문", context: "본문"} 객체를 넣으세요(받은 값: ${
          describeValue(item)
        }).`,
      );
    }
    const question = assertNonEmptyText(item.question, `${name}.question`);
    const context = assertNonEmptyText(item.context, `${name}.context`);
    features.push(
      questionWindows(ctx, question, context, maxSeqLength, options),
    );
  }
  const rows = await inferRows(
    ctx,
    features.flat().map(({ input_ids, token_type_ids }) => ({
      input_ids,
      token_type_ids,
    })),
  );
  let nextRow = 0;
  const results = features.map((windows) =>
    answersFromLogits(
      windows.map((feature) => {
        const row = rows[nextRow++];
        return {
          feature,
          startLogits: requireOutput(row, "start_logits").data,
          endLogits: requireOutput(row, "end_logits").data,
        };
      }),
      { ...options, topK, maxAnswerLength },
    )
  );
  const shaped = topK === 1 ? results.map((r) => r[0]) : results;
  return single ? shaped[0] : shaped;
}

/**
 * The pipeline's post-processing of one question's windows: `rankAnswerSpans`
 * (spans.ts) picks and orders the answers, then each gets the pipeline's
 * probability score (see `Answer.score`). No span at all (a context cut away)
 * gives the documented empty answer `{score: 0, start: 0, end: 0, answer: ""}`.
 */
export function answersFromLogits(
  windows: QaWindowLogits[],
  options: Pick<
    QuestionAnsweringOptions,
    "topK" | "maxAnswerLength" | "handleImpossibleAnswer"
  > = {},
): Answer[] {
  const ranked = rankAnswerSpans(windows, {
    topK: options.topK ?? 1,
    maxAnswerLength: options.maxAnswerLength ?? 15,
    handleImpossibleAnswer: options.handleImpossibleAnswer,
  });
  if (ranked.length === 0) return [{ score: 0, start: 0, end: 0, answer: "" }];
  const probabilities = new Map<number, { start: number[]; end: number[] }>();
  const probabilitiesOf = (w: number) => {
    if (!probabilities.has(w)) {
      const { feature, startLogits, endLogits } = windows[w];
      // Softmax over [CLS] and the context only, with HF's mask value elsewhere.
      const masked = (logits: ArrayLike<number>) =>
        Array.from(
          logits,
          (x, i) => i === 0 || feature.offset_mapping[i] ? x : MASKED_LOGIT,
        );
      probabilities.set(w, {
        start: softmax(masked(startLogits)),
        end: softmax(masked(endLogits)),
      });
    }
    return probabilities.get(w)!;
  };
  return ranked.map((span) => {
    const p = probabilitiesOf(span.window);
    return {
      score: p.start[span.startToken] * p.end[span.endToken],
      start: span.start,
      end: span.end,
      answer: span.text,
    };
  });
}

/** The question's windows: prepare.ts's QA features, after the pipeline's own checks. */
function questionWindows(
  ctx: TaskContext,
  question: string,
  context: string,
  maxSeqLength: number,
  options: QuestionAnsweringOptions,
): QaFeature[] {
  const tokenizer = ctx.tokenizer;
  const questionIds = tokenizer.wordPieces(question).ids;
  const maxQuestionLength = options.maxQuestionLength ?? 64;
  const window = maxSeqLength - questionIds.length - 3; // [CLS] q [SEP] c [SEP]
  if (questionIds.length > maxQuestionLength || window < 2) {
    throw new CourseError(
      "TASK_QUESTION_TOO_LONG",
      `the question has ${questionIds.length} word pieces; the limit is ${
        Math.min(maxQuestionLength, maxSeqLength - 5)
      }`,
      "질문을 더 짧게 쓰세요. 긴 내용은 질문이 아니라 context에 넣습니다.",
    );
  }
  const docStride = checkStride(
    options.docStride ?? Math.min(128, Math.floor(window / 2)),
    window,
    "docStride",
    "maxSeqLength",
  );
  return prepareQaFeatures(question, context, null, tokenizer, {
    maxLength: maxSeqLength,
    docStride,
  });
}

/** This folder's tasks for `pipeline()` (lib/tasks/pipeline.ts gathers every folder's `TASKS`). */
export const TASKS = { "question-answering": questionAnswering } as const;
