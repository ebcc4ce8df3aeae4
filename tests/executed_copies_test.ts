/**
 * notebooks/executed/ holds every lesson run in full mode with its outputs, for instructors to
 * read without running (tools/notebooks/browser_check.py --executed-dir writes them: the run learners see in JupyterLab). A copy is only worth reading while
 * its code is the lesson's code: any code change to a lesson fails here until the copy is re-run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listNotebooks, ROOT } from "../tools/notebooks/notebook_harness.ts";

interface Cell {
  cell_type: string;
  source: string | string[];
  execution_count?: number | null;
  outputs?: { output_type: string; ename?: string }[];
}
interface Notebook {
  cells: Cell[];
  metadata: { course_run?: { mode: string; ok: boolean; seconds: number } };
}

const EXECUTED = join(ROOT, "notebooks", "executed");

function codeOf(notebook: Notebook): string[] {
  return notebook.cells.filter((c) => c.cell_type === "code").map((c) =>
    Array.isArray(c.source) ? c.source.join("") : c.source
  );
}

function read(path: string): Notebook {
  return JSON.parse(Deno.readTextFileSync(path));
}

for (const lesson of listNotebooks(join(ROOT, "notebooks"))) {
  const name = lesson.slice(lesson.lastIndexOf("/") + 1);
  Deno.test(`notebooks/executed/${name} is a full-mode run of today's lesson code`, () => {
    const copyPath = join(EXECUTED, name);
    let copy: Notebook;
    try {
      copy = read(copyPath);
    } catch {
      assert.fail(
        `${copyPath} is missing: run .venv/bin/python tools/notebooks/browser_check.py notebooks/${name} --executed-dir notebooks/executed`,
      );
    }
    const lessonCode = codeOf(read(lesson));
    const copyCode = codeOf(copy);
    const changed = lessonCode.findIndex((source, i) => source !== copyCode[i]);
    assert.ok(
      changed === -1 && lessonCode.length === copyCode.length,
      `${name}: code cell ${
        changed + 1
      } differs from the executed copy; re-run .venv/bin/python tools/notebooks/browser_check.py notebooks/${name} --executed-dir notebooks/executed`,
    );
    const prose = (nb: Notebook) =>
      nb.cells.filter((c) => c.cell_type !== "code").map((c) =>
        Array.isArray(c.source) ? c.source.join("") : c.source
      );
    assert.deepEqual(
      prose(copy),
      prose(read(lesson)),
      `${name}: the lesson's text changed; .venv/bin/python tools/notebooks/refresh_executed.py carries it over`,
    );
    assert.equal(
      copy.metadata.course_run?.mode,
      "full",
      `${name}: not a full-mode run`,
    );
    assert.equal(copy.metadata.course_run?.ok, true, `${name}: the run failed`);
    copy.cells.filter((c) => c.cell_type === "code").forEach((cell, i) => {
      const source = codeOf({ cells: [cell], metadata: {} })[0];
      if (!source.trim()) return;
      assert.ok(cell.execution_count, `${name}: code cell ${i + 1} never ran`);
      const error = cell.outputs?.find((o) => o.output_type === "error");
      assert.equal(
        error,
        undefined,
        `${name}: code cell ${i + 1} raised ${error?.ename}`,
      );
    });
  });
}
