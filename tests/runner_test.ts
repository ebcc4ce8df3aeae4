/**
 * tools/notebooks/run_notebook.py against the real Deno kernel: late outputs are kept,
 * failures name the cell, executed copies are signed, env and cwd are passed on.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ROOT,
  runNotebooks,
  runPython,
} from "../tools/notebooks/notebook_harness.ts";

const FIXTURES = join(ROOT, "tests", "fixtures", "notebooks");
const LATE = join(FIXTURES, "late_output.ipynb");
const FAILING = join(FIXTURES, "failing.ipynb");

interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}
interface Notebook {
  cells: { cell_type: string; outputs?: Output[] }[];
}

function outputText(output: Output): string {
  const join = (v: string | string[] | undefined) =>
    Array.isArray(v) ? v.join("") : v ?? "";
  return join(output.text) + join(output.data?.["text/plain"]);
}

function cellTexts(notebook: Notebook): string[] {
  return notebook.cells.map((cell) =>
    (cell.outputs ?? []).map(outputText).join("\n")
  );
}

Deno.test("runner keeps outputs that arrive after the cell went idle", async () => {
  const dir = await Deno.makeTempDir();
  const executed = join(dir, "late.ipynb");
  const result = await runNotebooks([LATE, "--output", executed], [], {
    RUNNER_TEST_PROBE: "passed-through",
  });
  assert.equal(result.code, 0, result.stderr);
  const texts = cellTexts(JSON.parse(await Deno.readTextFile(executed)));
  // Each late output lands in the cell that caused it.
  assert.match(texts[1], /cell 2 returned/);
  assert.match(texts[1], /late console output/);
  assert.match(texts[2], /late broadcast display/);
  // The kernel runs in the notebook's folder with the runner's environment.
  const probe = JSON.parse(texts[3].trim());
  assert.equal(probe.cwd, FIXTURES);
  assert.equal(probe.probe, "passed-through");

  const signed = await runPython([
    "-c",
    "import sys, nbformat; from nbformat.sign import NotebookNotary;" +
    "print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))",
    executed,
  ]);
  assert.equal(signed.stdout.trim(), "True", signed.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("plain nbclient loses those late outputs (why the runner exists)", async () => {
  const script = [
    "import sys, json, nbformat, nbclient",
    "nb = nbformat.read(sys.argv[1], 4)",
    "nbclient.NotebookClient(nb, timeout=60, kernel_name='deno').execute()",
    "print(json.dumps([c.get('outputs', []) for c in nb.cells]))",
  ].join("\n");
  const result = await runPython(["-c", script, LATE]);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stdout, /late console output/);
  assert.doesNotMatch(result.stdout, /late broadcast display/);
});

Deno.test("runner fails on a failing cell and names it", async () => {
  const dir = await Deno.makeTempDir();
  const executed = join(dir, "failing.ipynb");
  const result = await runNotebooks([FAILING, "--output", executed]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /FAILED .*failing\.ipynb/);
  assert.match(result.stderr, /cell 3 of 4 failed/);
  assert.match(result.stderr, /console\.log\("about to fail"\)/);
  assert.match(result.stderr, /deliberate failure for the runner test/);
  // The executed copy is still written so the error can be read in Jupyter.
  const texts = cellTexts(JSON.parse(await Deno.readTextFile(executed)));
  assert.match(texts[2], /about to fail/);
  assert.equal(texts[3], "");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runner reports a missing notebook and bad arguments", async () => {
  const missing = await runNotebooks([join(FIXTURES, "nope.ipynb")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such notebook/);
  const bad = await runNotebooks([LATE, FAILING, "--output", "x.ipynb"]);
  assert.equal(bad.code, 2);
});

Deno.test("a display updated in place after stream output keeps one output (CI regression)", async () => {
  // nbclient finds an updated display by its output index; merging the two
  // stream chunks before the update arrived once broke the runner (IndexError).
  const dir = await Deno.makeTempDir();
  const executed = join(dir, "display_update.ipynb");
  const result = await runNotebooks([
    join(FIXTURES, "display_update.ipynb"),
    "--output",
    executed,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const notebook: Notebook = JSON.parse(await Deno.readTextFile(executed));
  const outputs = notebook.cells[1].outputs ?? [];
  assert.deepEqual(outputs.map((output) => output.output_type), [
    "stream",
    "display_data",
  ]);
  assert.match(outputText(outputs[0]), /first line\nsecond line/);
  assert.equal(outputText(outputs[1]), "progress 100%");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runner refuses an output above 1 MiB (the Deno kernel can corrupt such messages)", async () => {
  // A 4.8 MB plotly.js bundle once had the cell's idle status written into its
  // middle; Jupyter rejected both ("Invalid Signature") and lesson 01 failed
  // in CI about one run in six. The size check fails every run instead.
  const result = await runNotebooks([
    join(FIXTURES, "oversized_output.ipynb"),
  ]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /cell 2 sent an output of 1\.5 MB|keep every output under/,
  );
});

Deno.test("a corrupted kernel message gets the notebook one more run, and only one", async () => {
  // The Deno kernel's race cannot be triggered on purpose, so the signature
  // check itself fails here: on the first display message (once), or always.
  const script = (times: string) => `
import sys
sys.path.insert(0, "tools/notebooks")
from jupyter_client import session
import run_notebook
original = session.Session.deserialize
left = [${times}]
def deserialize(self, msg_list, content=True, copy=True):
    msg = original(self, msg_list, content=content, copy=copy)
    if msg["msg_type"] == "display_data" and left[0] > 0:
        left[0] -= 1
        raise ValueError("Invalid Signature: b'0000'")
    return msg
session.Session.deserialize = deserialize
sys.exit(run_notebook.main([sys.argv[1]]))
`;
  const notebook = join(FIXTURES, "display_update.ipynb");
  const once = await runPython(["-c", script("1"), notebook]);
  assert.equal(once.code, 0, once.stderr);
  assert.match(
    once.stderr,
    /corrupted message .*running the notebook once more/,
  );
  assert.match(once.stderr, /\[run_notebook\] ok /);

  const always = await runPython(["-c", script("99"), notebook]);
  assert.equal(always.code, 1, always.stderr);
  assert.equal(always.stderr.match(/once more/g)?.length, 1);
  assert.match(always.stderr, /keep every output under 1024 KiB/);
});

Deno.test("a kernel that dies in a cell: the report names the cell, says what to do, keeps earlier outputs", async () => {
  // `Deno.exit(1)`, SIGKILL (what the OOM killer sends), a full V8 heap: each once printed only
  // "Kernel died", with no cell, no cause and nothing to do about it.
  const notebook = join(FIXTURES, "kernel_dies.ipynb");
  const dir = await Deno.makeTempDir();
  const cases = [
    { death: "exit", how: /exit code 1/, advice: /Deno\.exit\(\) 대신 throw/ },
    { death: "kill", how: /signal SIGKILL/, advice: /메모리 부족/ },
    { death: "oom", how: /signal/, advice: /힙 메모리가 가득/ },
  ];
  try {
    for (const { death, how, advice } of cases) {
      const executed = join(dir, `${death}.ipynb`);
      const result = await runNotebooks([notebook, "--output", executed], [], {
        RUNNER_DEATH: death,
        // Room for the kernel to start, little enough to fill in a moment.
        DENO_V8_FLAGS: "--max-old-space-size=200",
      });
      const report = `${death}:\n${result.stderr}`;
      assert.equal(result.code, 1, report);
      assert.match(result.stderr, /FAILED .*kernel_dies\.ipynb/, report);
      assert.match(
        result.stderr,
        /cell 3 of 4 failed: the kernel died while it ran/,
        report,
      );
      assert.match(result.stderr, /console\.log\("last words/, report);
      assert.match(result.stderr, how, report);
      assert.match(result.stderr, advice, report);
      assert.match(
        result.stderr,
        /이 셀 뒤의 셀은 실행되지 않았습니다/,
        report,
      );
      if (death === "oom") {
        assert.match(result.stderr, /kernel stderr \(last lines\)/, report);
        assert.match(result.stderr, /out of memory/, report);
      }
      // The executed copy keeps what ran and what was printed, and says in the cell what happened.
      const saved: Notebook = JSON.parse(await Deno.readTextFile(executed));
      const texts = cellTexts(saved);
      assert.match(texts[1], /first cell ran/, report);
      assert.match(texts[2], /last words before the kernel dies/, report);
      const error = saved.cells[2].outputs!.find((o) =>
        o.output_type === "error"
      ) as Output & { ename: string; traceback: string[] };
      assert.equal(error?.ename, "DeadKernelError", report);
      assert.match(error.traceback.join("\n"), advice, report);
      assert.equal(texts[3], "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
