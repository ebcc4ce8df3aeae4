/**
 * lib/runtime/jupyter_display.ts, the one place that talks to `Deno.jupyter`: outside the kernel
 * it sends nothing and prints plain text; on the real Deno kernel (tools/notebooks/run_notebook.py) a
 * DisplayHandle shows one output and updates it in place, and lib/hub's download bar and
 * lib/train's progress display go through it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  displayBundle,
  DisplayHandle,
  inJupyter,
} from "../lib/runtime/jupyter_display.ts";
import { ROOT, runNotebooks } from "../tools/notebooks/notebook_harness.ts";

interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}

const joined = (v: string | string[] | undefined) =>
  Array.isArray(v) ? v.join("") : v ?? "";

Deno.test("outside Jupyter: nothing is sent, bundles print their text/plain", async () => {
  assert.equal(inJupyter(), false);
  const handle = new DisplayHandle("test");
  handle.update({ "text/plain": "x" });
  await handle.flush();
  assert.equal(handle.shown, false);
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(...args);
  try {
    await displayBundle({ "text/plain": "a table", "text/html": "<table>" });
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, ["a table"]);
});

Deno.test("on the Deno kernel: one output per handle, updated in place; hub and train progress use it", async () => {
  const dir = await Deno.makeTempDir();
  const executed = join(dir, "display_handle.ipynb");
  try {
    const result = await runNotebooks([
      join(ROOT, "tests", "fixtures", "notebooks", "display_handle.ipynb"),
      "--output",
      executed,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const cells: { outputs?: Output[] }[] =
      JSON.parse(await Deno.readTextFile(executed)).cells;
    const outputs = (i: number) => cells[i].outputs ?? [];
    const text = (o: Output) => joined(o.text) + joined(o.data?.["text/plain"]);
    assert.match(text(outputs(1)[0]), /inJupyter true download true/);
    // DisplayHandle: display then two updates -> one output showing the last.
    assert.deepEqual(outputs(2).map((o) => o.output_type), ["display_data"]);
    assert.equal(text(outputs(2)[0]), "step 3");
    // lib/hub's download bar: one output, finished.
    assert.deepEqual(outputs(3).map((o) => o.output_type), ["display_data"]);
    assert.match(text(outputs(3)[0]), /model\.safetensors: 100%/);
    assert.match(joined(outputs(3)[0].data?.["text/html"]), /<progress/);
    // lib/train's progress: auto mode is "jupyter", one output with the final state.
    const train = outputs(4);
    assert.deepEqual(
      train.map((o) => o.output_type).sort(),
      ["display_data", "stream"],
    );
    const shown = train.find((o) => o.output_type === "display_data")!;
    assert.match(text(shown), /완료 .* 4\/4/);
    assert.match(joined(shown.data?.["text/html"]), /학습 진행/);
    assert.match(
      text(train.find((o) => o.output_type === "stream")!),
      /mode jupyter draws 3/,
    );
    // displayBundle: a plain display with both MIME types.
    assert.equal(text(outputs(5)[0]), "plain bundle");
    assert.equal(
      joined(outputs(5)[0].data?.["text/html"]),
      "<b>html bundle</b>",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
