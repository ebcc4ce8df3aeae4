/**
 * lib/tasks/question_answering (extractive QA): training features in overlapping windows
 * (prepare.ts), the one answer-span rule (spans.ts), SQuAD / KorQuAD EM and F1 (metrics.ts)
 * and the question-answering pipeline (pipeline.ts).
 */
export {
  prepareQaFeatures,
  type QaAnswer,
  type QaFeature,
  type QaOptions,
} from "./prepare.ts";
export {
  bestAnswerSpan,
  type QaPrediction,
  type QaSpan,
  type QaSpanOptions,
  type QaWindowLogits,
  rankAnswerSpans,
} from "./spans.ts";
export {
  korquadExactMatch,
  korquadF1,
  normalizeKorquadAnswer,
  normalizeSquadAnswer,
  type QaScores,
  qaScores,
  squadExactMatch,
  squadF1,
} from "./metrics.ts";
export type {
  Answer,
  QuestionAnsweringInput,
  QuestionAnsweringOptions,
} from "./pipeline.ts";
