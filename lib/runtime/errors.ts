/**
 * One error type for everything a learner can get wrong (missing file, bad config, NaN loss...).
 * `message` says what happened; `hint` says what to do, in Korean, because notebooks are in Korean.
 */
export class CourseError extends Error {
  readonly code: string;
  readonly hint: string;

  constructor(
    code: string,
    message: string,
    hint: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}\n→ ${hint}`, options);
    this.name = "CourseError";
    this.code = code;
    this.hint = hint;
  }
}
