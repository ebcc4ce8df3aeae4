/**
 * question-answering (extractive): the answer is the span of the context
 * with the best start×end probability. Long contexts are read in
 * overlapping windows ("doc stride"), as in Hugging Face's pipeline.
 */
import { CourseError } from "../runtime/errors.ts";
import type { Offset } from "../text/mod.ts";
import {
  assertNonEmptyText,
  describeValue,
  inferRows,
  requireOutput,
  type TaskContext,
} from "./context.ts";
import { asList, inputName } from "./inputs.ts";
import { softmax } from "./math.ts";
import { validTopK } from "./text_classification.ts";
import { checkStride, splitIntoWindows } from "./windows.ts";

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
  score: number;
  /** Character offsets into the (NFC-normalized) context, end exclusive. */
  start: number;
  end: number;
  answer: string;
}

interface Window {
  inputIndex: number;
  /** Position of the first context token in the encoded window. */
  contextStart: number;
  /** Context offsets of the window's context tokens. */
  offsets: Offset[];
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
  const windows: Window[] = [];
  const encodings = [];
  const contexts: string[] = [];
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
    const context = assertNonEmptyText(item.context, `${name}.context`)
      .normalize("NFC");
    contexts.push(context);
    for (
      const w of questionWindows(ctx, question, context, maxSeqLength, options)
    ) {
      windows.push({
        inputIndex,
        contextStart: w.contextStart,
        offsets: w.offsets,
      });
      encodings.push(w.encoding);
    }
  }
  const rows = await inferRows(ctx, encodings);

  const answers: Answer[][] = items.map(() => []);
  const nullScores = items.map(() => Infinity);
  rows.forEach((row, w) => {
    const window = windows[w];
    const spans = bestSpans(
      requireOutput(row, "start_logits").data,
      requireOutput(row, "end_logits").data,
      window,
      topK,
      maxAnswerLength,
    );
    nullScores[window.inputIndex] = Math.min(
      nullScores[window.inputIndex],
      spans.nullScore,
    );
    const context = contexts[window.inputIndex];
    for (const span of spans.best) {
      const start = window.offsets[span.start][0];
      const end = window.offsets[span.end][1];
      answers[window.inputIndex].push({
        score: span.score,
        start,
        end,
        answer: context.slice(start, end),
      });
    }
  });

  const results = answers.map((list, i) => {
    if (options.handleImpossibleAnswer) {
      list.push({ score: nullScores[i], start: 0, end: 0, answer: "" });
    }
    const ranked = dedupe(list).sort((a, b) => b.score - a.score).slice(
      0,
      topK,
    );
    // No span at all (e.g. a one-token context cut away): a documented empty answer.
    if (ranked.length === 0) {
      ranked.push({ score: 0, start: 0, end: 0, answer: "" });
    }
    return ranked;
  });
  const shaped = topK === 1 ? results.map((r) => r[0]) : results;
  return single ? shaped[0] : shaped;
}

function questionWindows(
  ctx: TaskContext,
  question: string,
  context: string,
  maxSeqLength: number,
  options: QuestionAnsweringOptions,
) {
  const tokenizer = ctx.tokenizer;
  const questionIds = tokenizer.wordPieces(question.normalize("NFC")).ids;
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
  const stride = checkStride(
    options.docStride ?? Math.min(128, Math.floor(window / 2)),
    window,
    "docStride",
    "maxSeqLength",
  );
  const pieces = tokenizer.wordPieces(context, { offsets: true });
  const offsets = pieces.offsets!;
  const firstSegment = questionIds.length + 2;
  return splitIntoWindows(pieces.ids.length, window, stride).map(
    ({ begin, end }) => {
      const input_ids = [
        tokenizer.clsTokenId,
        ...questionIds,
        tokenizer.sepTokenId,
        ...pieces.ids.slice(begin, end),
        tokenizer.sepTokenId,
      ];
      return {
        encoding: {
          input_ids,
          token_type_ids: input_ids.map((_, i) => (i < firstSegment ? 0 : 1)),
        },
        contextStart: firstSegment,
        offsets: offsets.slice(begin, end),
      };
    },
  );
}

/**
 * Hugging Face's QA post-processing for one window: softmax over [CLS] and
 * context tokens only, null score = p_start[CLS]·p_end[CLS], then the top
 * spans with start <= end < start + maxAnswerLength inside the context.
 */
function bestSpans(
  startLogits: Float32Array,
  endLogits: Float32Array,
  window: Window,
  topK: number,
  maxAnswerLength: number,
) {
  const count = window.offsets.length;
  const isAllowed = (i: number) =>
    i === 0 || (i >= window.contextStart && i < window.contextStart + count);
  const masked = (logits: Float32Array) =>
    Array.from(logits, (x, i) => (isAllowed(i) ? x : MASKED_LOGIT));
  const startP = softmax(masked(startLogits));
  const endP = softmax(masked(endLogits));
  const nullScore = startP[0] * endP[0];
  const candidates: { start: number; end: number; score: number }[] = [];
  for (let s = 0; s < count; s++) {
    const lastEnd = Math.min(count, s + maxAnswerLength);
    for (let e = s; e < lastEnd; e++) {
      candidates.push({
        start: s,
        end: e,
        score: startP[window.contextStart + s] * endP[window.contextStart + e],
      });
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  return { best: candidates.slice(0, topK), nullScore };
}

/** Overlapping windows can find the same span twice: keep its best score. */
function dedupe(answers: Answer[]): Answer[] {
  const best = new Map<string, Answer>();
  for (const answer of answers) {
    const key = `${answer.start}:${answer.end}`;
    const seen = best.get(key);
    if (!seen || answer.score > seen.score) best.set(key, answer);
  }
  return [...best.values()];
}
