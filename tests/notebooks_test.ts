/**
 * Every lesson and solution notebook runs top to bottom on the real Deno
 * kernel in quick mode, and every notebook (exercises too) type-checks.
 * Executed, signed copies land in out/executed/ for a look in JupyterLab.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import {
  EXECUTED_DIR,
  listNotebooks,
  mirrorDir,
  ROOT,
  runNotebooks,
} from "../tools/notebooks/notebook_harness.ts";
import {
  notebookToModule,
  typecheckNotebooks,
} from "../tools/notebooks/typecheck_notebooks.ts";

const RUNNABLE = [
  ...listNotebooks(join(ROOT, "notebooks")),
  ...listNotebooks(join(ROOT, "solutions")),
];

for (const notebook of RUNNABLE) {
  const name = relative(ROOT, notebook);
  Deno.test(`${name} runs in quick mode`, async () => {
    const result = await runNotebooks(
      [notebook, "--output", join(EXECUTED_DIR, name)],
      [],
      { COURSE_QUICK: "1", COURSE_MIRROR: mirrorDir() },
    );
    assert.equal(result.code, 0, `${name} failed:\n${result.stderr}`);
  });
}

Deno.test("lesson 00 exists and runs (the course's smoke test)", () => {
  assert.ok(
    RUNNABLE.some((path) => /notebooks\/00_[^/]+\.ipynb$/.test(path)),
    "notebooks/00_*.ipynb is missing",
  );
});

Deno.test("notebooks, solutions and exercises type-check", async () => {
  const { ok, report, checked } = await typecheckNotebooks(
    ["notebooks", "solutions", "exercises"].map((dir) => join(ROOT, dir)),
  );
  assert.ok(ok, report);
  assert.ok(checked >= RUNNABLE.length);
});

Deno.test("type errors are reported with notebook, cell and line", async () => {
  const fixture = join(
    ROOT,
    "tests",
    "fixtures",
    "notebooks",
    "type_error.ipynb",
  );
  const { ok, report } = await typecheckNotebooks([fixture]);
  assert.equal(ok, false);
  assert.match(report, /TS2322/);
  assert.match(report, /type_error\.ipynb cell 4 line 2:7/);
  // The cell marked `// @skip-typecheck` is left out.
  assert.doesNotMatch(report, /not checked/);
});

Deno.test("code cells join into one module; magics and marked cells are skipped", () => {
  const module = notebookToModule({
    cells: [
      { cell_type: "markdown", source: "# title" },
      { cell_type: "code", source: ["const a = 1;\n", "a"] },
      { cell_type: "code", source: "!ls" },
      {
        cell_type: "code",
        source: "a + 1",
        metadata: { tags: ["skip-typecheck"] },
      },
      { cell_type: "code", source: "const b = a;" },
    ],
  });
  assert.equal(module.checkedCells, 2);
  const lines = module.code.split("\n");
  const b = lines.indexOf("const b = a;");
  assert.deepEqual(module.lineMap[b], { cell: 5, line: 1 });
  assert.deepEqual(module.lineMap[lines.indexOf("a")], { cell: 2, line: 2 });
  assert.ok(!module.code.includes("!ls"));
});
