/**
 * The Deno Jupyter kernel as the library sees it: are we inside it, and its Interrupt button.
 *
 * JupyterLab's Kernel → Interrupt sends SIGINT, and Deno ends on SIGINT unless someone listens:
 * the kernel dies with every variable of the notebook. Inside Jupyter the library listens, so
 * Interrupt only raises a flag; the long loops (Trainer, feature caching, pipelines over many
 * inputs) look at it between steps, keep what they have and throw `CourseError("interrupted")`,
 * which fails the cell and stops a Run All, as Python's KeyboardInterrupt does.
 */
import { CourseError } from "./errors.ts";
import { inJupyter } from "./jupyter_display.ts";

export { inJupyter };

let listening = false;
let requested = false;
let lastYield = 0;

/**
 * Starts owning SIGINT: inside Jupyter (or with `force`, for scripts and tests that want the same
 * behaviour). Idempotent; returns whether the library is listening.
 */
export function watchInterrupts(options: { force?: boolean } = {}): boolean {
  if (listening) return true;
  if (!options.force && !inJupyter()) return false;
  try {
    Deno.addSignalListener("SIGINT", () => {
      requested = true;
    });
    listening = true;
  } catch {
    // Windows allows SIGINT listeners only on newer Deno; without one Interrupt behaves as before.
  }
  return listening;
}

/** True when Interrupt was pressed since the last check or `clearInterrupt()`. */
export function interruptRequested(): boolean {
  return requested;
}

/**
 * Forgets an Interrupt pressed while nothing of the library was running, so the next long run
 * does not stop at its first step. Long runs call it when they start.
 */
export function clearInterrupt(): void {
  requested = false;
}

/**
 * Between two steps of a long loop: lets a pending SIGINT in (signals arrive as event-loop tasks,
 * which a loop of resolved promises never yields to; at most one macrotask per 100 ms) and says
 * whether Interrupt was pressed. Loops that must tidy up first use this, then `interruptedError`.
 */
export async function interruptPending(): Promise<boolean> {
  if (!listening) return false;
  const now = performance.now();
  if (now - lastYield >= 100) {
    lastYield = now;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return requested;
}

/**
 * The error a stopped loop throws (and the press is consumed). `kept` says what survived, e.g.
 * "120/500단계까지 학습한 모델은 그대로 남아 있습니다."
 */
export function interruptedError(what: string, kept?: string): CourseError {
  requested = false;
  return new CourseError(
    "interrupted",
    `${what}: 중단했습니다 (Kernel → Interrupt).${kept ? ` ${kept}` : ""}`,
    "커널과 변수는 그대로입니다. 다음 셀을 실행하거나 이 셀을 다시 실행해 이어 가세요.",
  );
}

/** `interruptPending` and `interruptedError` in one, for loops with nothing to tidy. */
export async function checkInterrupt(
  what: string,
  kept?: string,
): Promise<void> {
  if (await interruptPending()) throw interruptedError(what, kept);
}
