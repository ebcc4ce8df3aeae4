/**
 * The Deno Jupyter kernel as the library sees it: are we inside it, and its Interrupt button.
 *
 * JupyterLab's Kernel → Interrupt sends SIGINT, and Deno ends on SIGINT unless someone listens:
 * the kernel dies with every variable of the notebook. Inside Jupyter the library listens, so
 * Interrupt only raises a flag; the long loops (Trainer, feature caching, pipelines over many
 * inputs) look at it between steps, keep what they have and throw `CourseError("interrupted")`,
 * which fails the cell, as Python's KeyboardInterrupt does.
 *
 * Stopping a Run All takes one more step: the Deno kernel ignores `stop_on_error` (measured: after
 * a failing cell it still runs every cell JupyterLab had queued), so the rest of a notebook would
 * go on training with half-built state. Queued cells follow each other within milliseconds while a
 * learner's next click comes seconds later, so library entry points (`Trainer.train`,
 * `fromPretrained`, `pipeline()`, ...) call `refuseQueuedAfterInterrupt`, which fails a cell that
 * starts within `QUEUED_CELL_GAP_MS` of the interrupt (or of the previous refused cell).
 */
import { CourseError } from "./errors.ts";
import { inJupyter } from "./jupyter_display.ts";

export { inJupyter };

let listening = false;
let requested = false;
let lastYield = 0;
/** When the last interrupt error (or refused queued cell) happened; -Infinity: none. */
let haltedAt = -Infinity;

/** Longest pause between two cells that still counts as one Run All queue. */
export const QUEUED_CELL_GAP_MS = 1000;

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
  haltedAt = performance.now();
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

/**
 * At the start of a library call that does real work: fails when this cell is one that Run All
 * queued behind an interrupted cell (see the module comment), so Interrupt stops the notebook
 * and not only the cell. A cell the learner runs by hand afterwards works normally.
 */
export function refuseQueuedAfterInterrupt(what: string): void {
  const now = performance.now();
  if (now - haltedAt > QUEUED_CELL_GAP_MS) return;
  haltedAt = now;
  throw new CourseError(
    "skipped_after_interrupt",
    `${what}: 건너뛰었습니다. 위 셀에서 중단(Kernel → Interrupt)한 뒤 Run All이 이어서 보낸 셀입니다.`,
    "Deno 커널은 오류가 난 뒤에도 Run All의 나머지 셀을 실행하므로, 코스 라이브러리가 그 셀들을 멈춥니다. " +
      "이어 가려면 원하는 셀을 직접 실행하세요(Shift+Enter).",
  );
}
