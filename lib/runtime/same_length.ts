/**
 * The one length check of the metrics (lib/train's generic ones, lib/tasks' entity and QA
 * scores): predictions and references must pair up one to one.
 */
import { CourseError } from "./errors.ts";

export function checkSameLength(
  a: ArrayLike<unknown>,
  b: ArrayLike<unknown>,
  what: string,
): void {
  if (a.length !== b.length) {
    throw new CourseError(
      "metrics/length-mismatch",
      `${what}: predictions (${a.length}) and references (${b.length}) differ in length`,
      "예측값과 정답의 개수가 같아야 합니다. 같은 데이터셋에서 나온 것인지 확인하세요.",
    );
  }
}
