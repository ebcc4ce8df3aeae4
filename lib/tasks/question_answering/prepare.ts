/**
 * Training-side preparation for extractive question answering: a question and its context
 * -> overlapping windows with the answer's token positions (Hugging Face's
 * prepare_train_features). The question-answering pipeline reads with the same windows.
 */
import { CourseError } from "../../runtime/errors.ts";
import type { BertTokenizer, Offset } from "../../text/bert_tokenizer.ts";
import { defaultMaxLength } from "../../text/truncation.ts";
import { splitIntoWindows } from "../windows.ts";

export interface QaAnswer {
  text: string;
  /** Character index of the answer in `context` (SQuAD/KorQuAD `answer_start`). */
  answer_start: number;
}

export interface QaFeature {
  input_ids: number[];
  token_type_ids: number[];
  /** Token index of the answer start/end; 0 ([CLS]) when this window does not hold it. */
  start_positions: number;
  end_positions: number;
  /** Offsets into the NFC context for context tokens, null for question/special tokens. */
  offset_mapping: (Offset | null)[];
  /** The (NFC) context the offsets refer to. */
  context: string;
}

export interface QaOptions {
  /** Window length; default 384 (HF's examples) capped at the tokenizer's model_max_length. */
  maxLength?: number;
  /** Tokens shared by two neighbouring windows (HF's `stride`); default a third of the window, at most 128. */
  docStride?: number;
}

/**
 * Question answering features, like Hugging Face's prepare_train_features: the context is cut
 * into overlapping windows ("only_second" truncation with stride); in each window the answer's
 * character span becomes token start/end positions, or [CLS] (0) when it is not inside.
 * `answer` may be null for inference features.
 */
export function prepareQaFeatures(
  question: string,
  context: string,
  answer: QaAnswer | null,
  tokenizer: BertTokenizer,
  options: QaOptions = {},
): QaFeature[] {
  const maxLength = options.maxLength ?? defaultMaxLength(tokenizer, 384);
  // HF's 128 at length 384, scaled down with shorter windows (a third of the window).
  const docStride = options.docStride ??
    Math.min(128, Math.floor(maxLength / 3));
  const nfcContext = context.normalize("NFC");
  const q = tokenizer.wordPieces(question).ids;
  const ctx = tokenizer.wordPieces(nfcContext, { offsets: true });
  const budget = maxLength - q.length - 3;
  if (budget <= docStride) {
    throw new CourseError(
      "QA_QUESTION_TOO_LONG",
      `question has ${q.length} tokens: only ${budget} left for the context (docStride ${docStride})`,
      "maxLength를 늘리거나 docStride를 줄이세요 (예: maxLength 384, docStride 128).",
    );
  }
  let startChar = -1;
  let endChar = -1;
  if (answer) {
    // Offsets refer to the NFC context, so move the answer there too.
    startChar = context.slice(0, answer.answer_start).normalize("NFC").length;
    endChar = startChar + answer.text.normalize("NFC").length;
    if (nfcContext.slice(startChar, endChar) !== answer.text.normalize("NFC")) {
      throw new CourseError(
        "QA_ANSWER_MISMATCH",
        `context at answer_start ${answer.answer_start} is not the answer text "${answer.text}"`,
        "answer_start는 context 안에서 정답이 시작하는 문자 위치입니다. 데이터의 값을 확인하세요.",
      );
    }
  }
  const contextStart = q.length + 2;
  const offsets = ctx.offsets!;
  const features = splitIntoWindows(ctx.ids.length, budget, docStride).map(
    ({ begin: from, end: to }) => {
      const feature: QaFeature = {
        input_ids: [
          tokenizer.clsTokenId,
          ...q,
          tokenizer.sepTokenId,
          ...ctx.ids.slice(from, to),
          tokenizer.sepTokenId,
        ],
        token_type_ids: [
          ...new Array(contextStart).fill(0),
          ...new Array(to - from + 1).fill(1),
        ],
        start_positions: 0,
        end_positions: 0,
        offset_mapping: [
          ...new Array<null>(contextStart).fill(null),
          ...offsets.slice(from, to),
          null,
        ],
        context: nfcContext,
      };
      if (
        answer && to > from && offsets[from][0] <= startChar &&
        offsets[to - 1][1] >= endChar
      ) {
        let s = from;
        while (s < to && offsets[s][0] <= startChar) s++;
        let e = to - 1;
        while (e >= from && offsets[e][1] >= endChar) e--;
        feature.start_positions = contextStart + (s - 1 - from);
        feature.end_positions = contextStart + (e + 1 - from);
      }
      return feature;
    },
  );
  return features;
}
