/**
 * Overlapping windows over a text's word pieces, for inputs longer than the
 * model reads at once: the one windowing rule of QA features
 * (question_answering/prepare.ts `prepareQaFeatures`, which the
 * question-answering pipeline also uses) and of long texts in the
 * token-classification pipeline.
 */
import { CourseError } from "../runtime/errors.ts";

/** [begin, end) piece ranges of the windows covering `length` pieces. */
export function splitIntoWindows(
  length: number,
  windowLength: number,
  stride: number,
): { begin: number; end: number }[] {
  const windows = [];
  for (let begin = 0;; begin += windowLength - stride) {
    const end = Math.min(begin + windowLength, length);
    windows.push({ begin, end });
    if (end >= length) return windows;
  }
}

/**
 * Checks the overlap option against the window; `name` and `lengthOption` are
 * what the caller calls the overlap and the length options.
 */
export function checkStride(
  stride: number,
  windowLength: number,
  name: string,
  lengthOption: string,
): number {
  if (!Number.isInteger(stride) || stride < 0 || stride >= windowLength) {
    throw new CourseError(
      "TASK_BAD_OPTION",
      `${name} ${stride} must be an integer in [0, ${
        windowLength - 1
      }] for windows of ${windowLength} word pieces`,
      `${name}(겹치는 토큰 수)를 창 길이보다 작게 하거나 ${lengthOption}를 늘리세요.`,
    );
  }
  return stride;
}
