/**
 * Plotly figures for a training history: loss and learning rate, evaluation metrics, confusion
 * matrix, weight movement per layer. Plain `{data, layout}` objects: show them with
 * `showPlot(figure)`, or compare runs by passing several histories.
 */
import type { HistoryJSON } from "../train/history.ts";

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

type HistoryLike = Pick<HistoryJSON, "train" | "eval" | "lr">;

/** Named runs, e.g. `{ "전체 파인튜닝": h1, "특성 추출": h2 }`, or one history. */
type Runs = HistoryLike | Record<string, HistoryLike>;

function asRuns(runs: Runs): [string, HistoryLike][] {
  const single = "train" in runs && Array.isArray((runs as HistoryLike).train);
  return single
    ? [["", runs as HistoryLike]]
    : Object.entries(runs as Record<string, HistoryLike>);
}

const label = (run: string, what: string) => (run ? `${run} · ${what}` : what);

/** Training loss (and eval loss when present) by step, learning rate on a second axis. */
export function lossCurveFigure(
  runs: Runs,
  options: { showLearningRate?: boolean } = {},
): Figure {
  const data: Record<string, unknown>[] = [];
  const showLr = options.showLearningRate ?? true;
  for (const [run, h] of asRuns(runs)) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: label(run, "train loss"),
      x: h.train.map((r) => r.step),
      y: h.train.map((r) => r.loss),
    });
    const evals = h.eval.filter((r) => r.eval_loss !== undefined);
    if (evals.length) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: label(run, "eval loss"),
        x: evals.map((r) => r.step),
        y: evals.map((r) => r.eval_loss),
      });
    }
    if (showLr && h.lr.length) {
      data.push({
        type: "scatter",
        mode: "lines",
        name: label(run, "learning rate"),
        x: h.lr.map((r) => r.step),
        y: h.lr.map((r) => r.learning_rate),
        yaxis: "y2",
        line: { dash: "dot", width: 1 },
      });
    }
  }
  return {
    data,
    layout: {
      title: { text: "손실과 학습률" },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "loss" } },
      yaxis2: showLr
        ? {
          title: { text: "learning rate" },
          overlaying: "y",
          side: "right",
          showgrid: false,
        }
        : undefined,
      legend: { orientation: "h" },
    },
  };
}

/** The learning-rate schedule alone (warmup then decay). */
export function learningRateFigure(runs: Runs): Figure {
  return {
    data: asRuns(runs).map(([run, h]) => ({
      type: "scatter",
      mode: "lines",
      name: label(run, "learning rate"),
      x: h.lr.map((r) => r.step),
      y: h.lr.map((r) => r.learning_rate),
    })),
    layout: {
      title: { text: "학습률 스케줄" },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "learning rate" }, exponentformat: "e" },
    },
  };
}

/** Evaluation metrics by step, e.g. `["eval_accuracy", "eval_f1"]` (default: all but loss/runtime). */
export function metricCurveFigure(runs: Runs, metrics?: string[]): Figure {
  const data: Record<string, unknown>[] = [];
  for (const [run, h] of asRuns(runs)) {
    const names = metrics ??
      [...new Set(h.eval.flatMap((r) => Object.keys(r)))].filter((k) =>
        k.startsWith("eval_") && !/(_loss|_runtime|_per_second)$/.test(k)
      );
    for (const metric of names) {
      const rows = h.eval.filter((r) => r[metric] !== undefined);
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: label(run, metric),
        x: rows.map((r) => r.step),
        y: rows.map((r) => r[metric]),
      });
    }
  }
  return {
    data,
    layout: {
      title: { text: "평가 지표" },
      xaxis: { title: { text: "step" } },
      yaxis: { title: { text: "value" } },
    },
  };
}

/** Rows = true label, columns = predicted (as metrics.confusionMatrix returns it). */
export function confusionMatrixFigure(
  matrix: number[][],
  labels?: string[],
  normalize = false,
): Figure {
  const names = labels ?? matrix.map((_, i) => String(i));
  const z = normalize
    ? matrix.map((row) => {
      const total = row.reduce((a, b) => a + b, 0);
      return row.map((v) => (total ? v / total : 0));
    })
    : matrix;
  return {
    data: [{
      type: "heatmap",
      z,
      x: names,
      y: names,
      colorscale: "Blues",
      text: matrix.map((row) => row.map(String)),
      texttemplate: "%{text}",
      hovertemplate: "정답 %{y}<br>예측 %{x}<br>%{z}<extra></extra>",
    }],
    layout: {
      title: { text: "혼동 행렬" },
      xaxis: { title: { text: "예측" } },
      yaxis: { title: { text: "정답" }, autorange: "reversed" },
    },
  };
}

/** Relative weight change per parameter group (from weightMovement().byGroup), bottom to top. */
export function weightMovementFigure(
  byGroup: Record<string, number> | Record<string, Record<string, number>>,
): Figure {
  const first = Object.values(byGroup)[0];
  const runs: [string, Record<string, number>][] = typeof first === "number"
    ? [["", byGroup as Record<string, number>]]
    : Object.entries(byGroup as Record<string, Record<string, number>>);
  return {
    data: runs.map(([run, groups]) => ({
      type: "bar",
      name: run || "||ΔW|| / ||W||",
      x: Object.keys(groups),
      y: Object.values(groups),
    })),
    layout: {
      title: { text: "층별 가중치 변화량 (||W₁−W₀|| / ||W₀||)" },
      xaxis: { title: { text: "parameter group" } },
      yaxis: { title: { text: "relative change" } },
      barmode: "group",
    },
  };
}
