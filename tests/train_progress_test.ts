/** Progress display (throttle, rendering, Jupyter detection) and the plotly figure builders. */
import assert from "node:assert/strict";
import {
  estimateRemaining,
  formatDuration,
  isJupyter,
  lossCurveSvg,
  ProgressDisplay,
  type ProgressState,
  renderHtml,
  renderTextLine,
} from "../lib/train/progress.ts";
import {
  confusionMatrixFigure,
  lossCurveFigure,
  metricCurveFigure,
  weightMovementFigure,
} from "../lib/viz/curves.ts";
import { TrainingHistory } from "../lib/train/history.ts";

const state: ProgressState = {
  step: 25,
  totalSteps: 100,
  epoch: 0.5,
  numEpochs: 2,
  loss: 0.6931,
  learningRate: 2e-5,
  samplesPerSecond: 40,
  elapsedS: 30,
  trainableParams: 1_538,
  lossCurve: [{ step: 5, loss: 0.9 }, { step: 10, loss: 0.7 }],
};

Deno.test("text line shows step, epoch, loss, speed, time left and trainable params", () => {
  const line = renderTextLine(state);
  for (
    const part of [
      "25/100",
      "0.50/2",
      "0.6931",
      "40.0 samples/s",
      "00:30 < 01:30",
      "1.5K",
    ]
  ) {
    assert.ok(line.includes(part), `${part} missing in ${line}`);
  }
  assert.equal(estimateRemaining(state), 90);
  assert.equal(formatDuration(3725), "1:02:05");
});

Deno.test("HTML view has a progress bar, the values and a live loss curve", () => {
  const html = renderHtml(state, "NSMC", true);
  assert.match(html, /<progress value="25.0"/);
  assert.match(html, /<svg/);
  assert.ok(html.includes("2.00e-5"));
  assert.equal(
    lossCurveSvg([{ step: 1, loss: 1 }]),
    "",
    "one point draws no curve",
  );
  assert.ok(!renderHtml(state, "<b>", false).includes("<svg"));
  assert.ok(renderHtml(state, "<b>", false).includes("&lt;b&gt;"));
});

Deno.test("updates are throttled; forced updates always draw; not Jupyter under deno test", () => {
  assert.equal(isJupyter(), false);
  const display = new ProgressDisplay({
    mode: "lines",
    lineIntervalMs: 60_000,
  });
  const written: string[] = [];
  const original = Deno.stdout.writeSync;
  Deno.stdout.writeSync = (
    p: Uint8Array,
  ) => (written.push(new TextDecoder().decode(p)), p.length);
  try {
    for (let i = 0; i < 100; i++) display.update({ ...state, step: i });
    display.update(state, true);
  } finally {
    Deno.stdout.writeSync = original;
  }
  assert.equal(display.draws, 2);
  assert.equal(written.length, 2);
  const silent = new ProgressDisplay({ mode: "silent" });
  silent.update(state, true);
  assert.equal(silent.draws, 0);
});

Deno.test("curve figures are plain plotly objects", () => {
  const h = new TrainingHistory();
  h.train.push({
    step: 10,
    epoch: 0.5,
    loss: 0.7,
    learning_rate: 1e-5,
    grad_norm: 1,
    samples_per_second: 50,
    tokens_per_second: 900,
    elapsed_s: 2,
    trainable_params: 100,
  });
  h.lr.push({ step: 1, learning_rate: 0 }, { step: 2, learning_rate: 1e-5 });
  h.eval.push({
    step: 10,
    epoch: 0.5,
    elapsed_s: 2,
    eval_loss: 0.6,
    eval_accuracy: 0.7,
  });
  const loss = lossCurveFigure({ full: h.toJSON(), head: h.toJSON() });
  assert.equal(loss.data.length, 6);
  assert.equal(loss.data[0].name, "full · train loss");
  assert.equal(loss.data[2].yaxis, "y2");
  const metrics = metricCurveFigure(h.toJSON());
  assert.deepEqual(metrics.data.map((d) => d.name), ["eval_accuracy"]);
  const cm = confusionMatrixFigure([[3, 1], [0, 4]], ["부정", "긍정"], true);
  assert.deepEqual((cm.data[0].z as number[][])[0], [0.75, 0.25]);
  const moved = weightMovementFigure({ embeddings: 0.01, head: 0.5 });
  assert.deepEqual(moved.data[0].x, ["embeddings", "head"]);
  JSON.stringify([loss, metrics, cm, moved]); // serializable as a Jupyter bundle
});

Deno.test("progress: the finished table shows each fact once, evaluation metrics by name", async () => {
  const { renderHtml } = await import("../lib/train/progress.ts");
  const html = renderHtml(
    {
      step: 64,
      totalSteps: 64,
      epoch: 2,
      elapsedS: 30,
      evalMetrics: {
        eval_loss: 0.5,
        eval_accuracy: 0.8,
        step: 64,
        epoch: 2,
        elapsed_s: 30,
      },
    },
    "학습 진행",
    false,
  );
  assert.match(html, /평가 accuracy/);
  assert.match(html, /평가 loss/);
  assert.equal(html.match(/>64</g), null); // no bare "step 64" row beside "64 / 64"
  assert.doesNotMatch(html, /elapsed_s|eval_/);
  assert.equal(html.match(/64 \/ 64/g)?.length, 1);
});
