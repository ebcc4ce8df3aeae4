/**
 * Download progress. Kept pluggable: pass `progress: false` to silence it, a callback to receive
 * numbers, or any object implementing `ProgressReporter` (e.g. a widget from lib/viz).
 */
import { escapeHtml, formatBytes } from "../runtime/format.ts";
import { DisplayHandle, inJupyter } from "../runtime/jupyter_display.ts";

export interface ProgressReporter {
  start(label: string, totalBytes: number | undefined): void;
  update(doneBytes: number): void;
  finish(): void;
}

export type ProgressOption =
  | boolean
  | ProgressReporter
  | ((doneBytes: number, totalBytes: number | undefined) => void);

/** Files smaller than this download without a bar: it would only flash. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;
const REDRAW_INTERVAL_MS = 200;

/** The reporter to use for one download, or undefined for none. */
export function pickProgress(
  option: ProgressOption | undefined,
  totalBytes: number | undefined,
): ProgressReporter | undefined {
  if (option === false) return undefined;
  if (typeof option === "function") return callbackProgress(option);
  if (typeof option === "object") return option;
  if (
    option === undefined && totalBytes !== undefined &&
    totalBytes < PROGRESS_MIN_BYTES
  ) {
    return undefined;
  }
  return inJupyter() ? new JupyterProgress() : new TerminalProgress();
}

function callbackProgress(
  callback: (done: number, total: number | undefined) => void,
): ProgressReporter {
  let total: number | undefined;
  let done = 0;
  return {
    start: (_label, totalBytes) => {
      total = totalBytes;
      callback(0, total);
    },
    update: (bytes) => {
      done = bytes;
      callback(done, total);
    },
    finish: () => callback(done, total),
  };
}

function describe(
  label: string,
  done: number,
  total: number | undefined,
): string {
  if (total === undefined || total <= 0) {
    return `${label}: ${formatBytes(done)}`;
  }
  const percent = Math.min(100, (100 * done) / total).toFixed(0).padStart(3);
  return `${label}: ${percent}% (${formatBytes(done)} / ${formatBytes(total)})`;
}

/** One line on stderr, redrawn in place on a terminal; only start and end lines in a log file. */
export class TerminalProgress implements ProgressReporter {
  #label = "";
  #total: number | undefined;
  #done = 0;
  #lastDraw = 0;
  #interactive = safeIsTerminal();

  start(label: string, totalBytes: number | undefined): void {
    this.#label = label;
    this.#total = totalBytes;
    if (!this.#interactive) this.#write(`${describe(label, 0, totalBytes)}\n`);
  }

  update(doneBytes: number): void {
    this.#done = doneBytes;
    const now = performance.now();
    if (!this.#interactive || now - this.#lastDraw < REDRAW_INTERVAL_MS) return;
    this.#lastDraw = now;
    this.#write(`\r${describe(this.#label, doneBytes, this.#total)}\x1b[K`);
  }

  finish(): void {
    const line = describe(this.#label, this.#done, this.#total ?? this.#done);
    this.#write(this.#interactive ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(text));
    } catch {
      // No stderr (detached kernel): progress is a nicety, never a failure.
    }
  }
}

/** An HTML progress bar in the notebook output, updated in place through a display id. */
export class JupyterProgress implements ProgressReporter {
  #display = new DisplayHandle("course-download");
  #label = "";
  #total: number | undefined;
  #done = 0;
  #lastDraw = 0;

  start(label: string, totalBytes: number | undefined): void {
    this.#label = label;
    this.#total = totalBytes;
    this.#draw(true);
  }

  update(doneBytes: number): void {
    this.#done = doneBytes;
    const now = performance.now();
    if (now - this.#lastDraw < REDRAW_INTERVAL_MS) return;
    this.#lastDraw = now;
    this.#draw();
  }

  finish(): void {
    this.#total ??= this.#done;
    this.#draw();
  }

  #draw(start = false): void {
    const text = describe(this.#label, this.#done, this.#total);
    const max = this.#total ?? 0;
    const html =
      `<div style="font-family:monospace"><progress value="${this.#done}" max="${max}" ` +
      `style="width:40%"></progress> ${escapeHtml(text)}</div>`;
    const bundle = { "text/plain": text, "text/html": html };
    if (start) this.#display.display(bundle);
    else this.#display.update(bundle);
  }
}

function safeIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}
