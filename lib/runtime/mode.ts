import { readEnvFlag } from "./env.ts";

/**
 * Quick mode (`COURSE_QUICK=1`) shrinks data and steps so tests and CI run every notebook in
 * minutes. It never changes which code runs, only how much of it.
 */
export function isQuickMode(): boolean {
  return readEnvFlag("COURSE_QUICK");
}

/** `quick(20_000, 500)`: the full value normally, the quick value in quick mode. */
export function quick<T>(fullValue: T, quickValue: T): T {
  return isQuickMode() ? quickValue : fullValue;
}
