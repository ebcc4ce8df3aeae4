/**
 * Kernel → Interrupt in the real Deno Jupyter kernel (SIGINT, as JupyterLab sends it) during a
 * Trainer run: the cell fails with the Korean "중단했습니다" error, the kernel stays alive, and the
 * model, its history and a new run still work in the next cells (tests/kernel_interrupt_probe.py);
 * library work in the cells Run All had queued behind it is refused instead of run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runPython } from "../tools/notebooks/notebook_harness.ts";

Deno.test("kernel: Interrupt stops a Trainer run in the real Deno kernel and keeps the kernel and its variables", async () => {
  const { code, stdout, stderr } = await runPython([
    join(ROOT, "tests", "kernel_interrupt_probe.py"),
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.setup.error, null, JSON.stringify(report.setup));
  const { error, idle, seconds_to_stop } = report.interrupted;
  assert.equal(error?.ename, "CourseError", JSON.stringify(report));
  assert.match(error.evalue, /Trainer\.train: 중단했습니다/);
  assert.ok(idle && seconds_to_stop < 10, `stopped after ${seconds_to_stop} s`);
  // Run All's queued cells: library work is refused (the Deno kernel would run it), a plain cell
  // cannot be stopped by a library and runs.
  const [work, plain] = report.queued;
  assert.match(
    work.error?.evalue ?? "",
    /Trainer\.evaluate: 건너뛰었습니다/,
    JSON.stringify(work),
  );
  assert.equal(work.out, "");
  assert.equal(plain.out, "queued plain cell ran");
  assert.equal(report.alive_after_interrupt, true);
  assert.equal(report.after.error, null, JSON.stringify(report.after));
  const after = JSON.parse(report.after.out);
  assert.ok(after.logged > 0 && after.finite, report.after.out);
  assert.equal(JSON.parse(report.again.out).again, "completed");
});
