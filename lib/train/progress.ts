/**
 * Training progress: in Jupyter one output that updates in place (display_id), in a terminal one
 * line redrawn with `\r`, in a pipe (CI logs) an occasional plain line. Updates are throttled, so
 * a fast loop does not flood the notebook.
 *
 * It lives in lib/train (not lib/viz) because the Trainer draws it: a lower layer never imports a
 * higher one. It imports only lib/runtime, whose jupyter_display.ts sends the Jupyter output.
 */
import { escapeHtml } from "../runtime/format.ts";
import { DisplayHandle, inJupyter } from "../runtime/jupyter_display.ts";

export interface ProgressState {
  step: number;
  totalSteps: number;
  epoch: number;
  numEpochs?: number;
  loss?: number;
  learningRate?: number;
  samplesPerSecond?: number;
  elapsedS: number;
  trainableParams?: number;
  /** What is running now, e.g. "학습", "특성 계산", "평가". */
  phase?: string;
  evalMetrics?: Record<string, number>;
  /** Logged (step, loss) points for the live curve. */
  lossCurve?: { step: number; loss: number }[];
}

export type ProgressMode = "auto" | "jupyter" | "terminal" | "lines" | "silent";

export interface ProgressOptions {
  title?: string;
  mode?: ProgressMode;
  /** At most one redraw per this many ms (terminal and Jupyter). Default 500 (2 per second). */
  minIntervalMs?: number;
  /** Interval for "lines" mode. Default 10 s. */
  lineIntervalMs?: number;
  liveLossCurve?: boolean;
}

/** Kept for callers of the old name; the one test lives in lib/runtime/jupyter_display.ts. */
export const isJupyter: () => boolean = inJupyter;

function resolveMode(mode: ProgressMode): Exclude<ProgressMode, "auto"> {
  if (mode !== "auto") return mode;
  if (isJupyter()) return "jupyter";
  try {
    if (Deno.stdout.isTerminal()) return "terminal";
  } catch { /* no stdout permission or closed */ }
  return "lines";
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

/** Seconds left, from the pace so far. */
export function estimateRemaining(state: ProgressState): number {
  if (state.step <= 0) return NaN;
  return (state.elapsedS / state.step) * (state.totalSteps - state.step);
}

function fmt(value: number | undefined, digits = 4): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(digits);
}

function fmtCount(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function renderTextLine(state: ProgressState, width = 24): string {
  const fraction = state.totalSteps > 0
    ? Math.min(1, state.step / state.totalSteps)
    : 0;
  const filled = Math.round(fraction * width);
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const epoch = state.numEpochs
    ? `${state.epoch.toFixed(2)}/${state.numEpochs}`
    : state.epoch.toFixed(2);
  const parts = [
    `${state.phase ?? "학습"} ${bar} ${state.step}/${state.totalSteps}`,
    `epoch ${epoch}`,
    `loss ${fmt(state.loss)}`,
    `${fmt(state.samplesPerSecond, 1)} samples/s`,
    `${formatDuration(state.elapsedS)} < ${
      formatDuration(estimateRemaining(state))
    }`,
  ];
  if (state.trainableParams !== undefined) {
    parts.push(`학습 파라미터 ${fmtCount(state.trainableParams)}`);
  }
  return parts.join(" | ");
}

/** A small inline SVG loss curve: no plotly JS needed, so it redraws cheaply in place. */
export function lossCurveSvg(
  points: { step: number; loss: number }[],
  width = 320,
  height = 90,
): string {
  const finite = points.filter((p) => Number.isFinite(p.loss));
  if (finite.length < 2) return "";
  const xs = finite.map((p) => p.step), ys = finite.map((p) => p.loss);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = 6;
  const sx = (x: number) =>
    pad + ((x - x0) / Math.max(1e-12, x1 - x0)) * (width - 2 * pad);
  const sy = (y: number) =>
    height - pad - ((y - y0) / Math.max(1e-12, y1 - y0)) * (height - 2 * pad);
  const path = finite.map((p, i) =>
    `${i ? "L" : "M"}${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`
  )
    .join("");
  return `<svg width="${width}" height="${height}" style="border:1px solid #ddd">` +
    `<path d="${path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` +
    `<text x="${width - pad}" y="12" font-size="10" text-anchor="end">loss ${
      fmt(y1, 3)
    }…${fmt(y0, 3)}</text>` +
    `</svg>`;
}

/** Bookkeeping keys of an evaluation record that the rows above already show. */
const EVAL_BOOKKEEPING = new Set([
  "step",
  "epoch",
  "elapsed_s",
  "eval_runtime",
]);

/** The metrics of the last evaluation as "평가 accuracy" rows, without the bookkeeping keys. */
export function evalRows(
  metrics: Record<string, number> | undefined,
): [string, string][] {
  return Object.entries(metrics ?? {})
    .filter(([key]) => !EVAL_BOOKKEEPING.has(key))
    .map(([key, value]) => [`평가 ${key.replace(/^eval_/, "")}`, fmt(value)]);
}

export function renderHtml(
  state: ProgressState,
  title: string,
  liveLossCurve: boolean,
): string {
  const percent = state.totalSteps > 0
    ? Math.min(100, (100 * state.step) / state.totalSteps)
    : 0;
  const rows: [string, string][] = [
    ["단계(step)", `${state.step} / ${state.totalSteps}`],
    [
      "에폭(epoch)",
      state.numEpochs
        ? `${state.epoch.toFixed(2)} / ${state.numEpochs}`
        : state.epoch.toFixed(2),
    ],
    ["손실(loss)", fmt(state.loss)],
    ["학습률(lr)", fmt(state.learningRate, 6)],
    ["samples/s", fmt(state.samplesPerSecond, 1)],
    [
      "경과 / 남은 시간",
      `${formatDuration(state.elapsedS)} / ${
        formatDuration(estimateRemaining(state))
      }`,
    ],
  ];
  if (state.trainableParams !== undefined) {
    rows.push(["학습 파라미터 수", fmtCount(state.trainableParams)]);
  }
  rows.push(...evalRows(state.evalMetrics));
  const table = rows.map(([k, v]) =>
    `<tr><td style="text-align:left">${escapeHtml(k)}</td>` +
    `<td style="text-align:right">${escapeHtml(v)}</td></tr>`
  ).join("");
  const curve = liveLossCurve ? lossCurveSvg(state.lossCurve ?? []) : "";
  return `<div><b>${escapeHtml(title)}</b> — ${
    escapeHtml(state.phase ?? "학습")
  }<br>` +
    `<progress value="${
      percent.toFixed(1)
    }" max="100" style="width:320px"></progress> ${percent.toFixed(0)}%` +
    `<div style="display:flex;gap:16px;align-items:flex-start"><table>${table}</table>${curve}</div></div>`;
}

export class ProgressDisplay {
  readonly mode: Exclude<ProgressMode, "auto">;
  private readonly title: string;
  private readonly minIntervalMs: number;
  private readonly lineIntervalMs: number;
  private readonly liveLossCurve: boolean;
  private readonly display = new DisplayHandle("course-progress");
  private lastDraw = -Infinity;
  /** How many redraws actually happened (tests check the throttle with it). */
  draws = 0;

  constructor(options: ProgressOptions = {}) {
    this.mode = resolveMode(options.mode ?? "auto");
    this.title = options.title ?? "학습 진행";
    this.minIntervalMs = options.minIntervalMs ?? 500;
    this.lineIntervalMs = options.lineIntervalMs ?? 10_000;
    this.liveLossCurve = options.liveLossCurve ?? true;
  }

  /** Redraws unless the last redraw was too recent; `force` always redraws (start, end, eval). */
  update(state: ProgressState, force = false): void {
    if (this.mode === "silent") return;
    const now = performance.now();
    const interval = this.mode === "lines"
      ? this.lineIntervalMs
      : this.minIntervalMs;
    if (!force && now - this.lastDraw < interval) return;
    this.lastDraw = now;
    this.draws++;
    this.draw(state);
  }

  private draw(state: ProgressState): void {
    if (this.mode === "jupyter") {
      this.display.update({
        "text/html": renderHtml(state, this.title, this.liveLossCurve),
        "text/plain": renderTextLine(state),
      });
      return;
    }
    const line = renderTextLine(state);
    const encoder = new TextEncoder();
    if (this.mode === "terminal") {
      Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}`));
    } else {
      Deno.stdout.writeSync(encoder.encode(`${line}\n`));
    }
  }

  /**
   * Waits until the redraws sent so far reached the kernel. A training loop awaits this after
   * its updates; without it the display messages queue behind the computation and the bar
   * lags far behind the run.
   */
  async flush(): Promise<void> {
    await this.display.flush();
  }

  /** Final redraw; in a terminal, ends the line. */
  async close(state?: ProgressState): Promise<void> {
    if (state) this.update(state, true);
    if (this.mode === "terminal" && this.draws > 0) {
      Deno.stdout.writeSync(new TextEncoder().encode("\n"));
    }
    await this.display.flush();
  }
}
