/** Pass/fail assertions shared by the exercise-check tests. */
import assert from "node:assert/strict";
import type { CheckResult } from "../lib/exercises/feedback.ts";

export function assertPass(checked: CheckResult) {
  assert.equal(checked.passed, true, checked.problems.join("\n"));
}

/** Failed, with at least one problem, one of which matches `pattern` when given. */
export function assertFail(checked: CheckResult, pattern?: RegExp) {
  assert.equal(checked.passed, false, "a wrong answer passed");
  assert.ok(checked.problems.length > 0);
  if (pattern) {
    assert.ok(
      checked.problems.some((p) => pattern.test(p)),
      `no problem matches ${pattern}: ${checked.problems.join(" | ")}`,
    );
  }
}
