/**
 * exercises/ must be exactly what tools/notebooks/generate_exercises.ts makes from
 * solutions/, and the generator must hide answers the documented way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generateExercises,
  makeExercise,
  MarkerError,
  serializeNotebook,
  stubCode,
  stubMarkdown,
} from "../tools/notebooks/generate_exercises.ts";
import { ROOT } from "../tools/notebooks/notebook_harness.ts";

Deno.test("exercises/ is in sync with solutions/ (deno task exercises)", async () => {
  const stale = await generateExercises({ root: ROOT, check: true });
  assert.deepEqual(stale, [], `stale: ${stale.join(", ")}`);
});

Deno.test("--check exits non-zero when an exercise was edited by hand", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, "solutions"));
  const solution = {
    cells: [{
      cell_type: "code",
      execution_count: 3,
      metadata: {},
      outputs: [{ output_type: "stream", name: "stdout", text: "answer" }],
      source: ["// BEGIN SOLUTION\n", "const x = 42;\n", "// END SOLUTION"],
    }],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  };
  await Deno.writeTextFile(
    join(root, "solutions", "q.ipynb"),
    JSON.stringify(solution),
  );
  assert.deepEqual(await generateExercises({ root }), ["exercises/q.ipynb"]);
  assert.deepEqual(await generateExercises({ root, check: true }), []);
  const path = join(root, "exercises", "q.ipynb");
  await Deno.writeTextFile(path, (await Deno.readTextFile(path)) + " ");
  assert.deepEqual(await generateExercises({ root, check: true }), [
    "exercises/q.ipynb",
  ]);
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "tools", "notebooks", "generate_exercises.ts"),
      "--check",
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
  assert.equal(child.code, 0, "the repo's own exercises must be in sync");
  await Deno.remove(root, { recursive: true });
});

Deno.test("code answers become stubs that keep indentation and declarations", () => {
  const source = [
    "function f() {",
    "  // BEGIN SOLUTION",
    "  // STUB: const tokens: string[] = []; // TODO: 토큰으로 나누세요",
    '  const tokens = "a b".split(" ");',
    "  // END SOLUTION",
    "  return check.q1(tokens);",
    "}",
    "// BEGIN SOLUTION",
    "const secret = 1;",
    "// END SOLUTION",
  ].join("\n");
  assert.equal(
    stubCode(source),
    [
      "function f() {",
      "  const tokens: string[] = []; // TODO: 토큰으로 나누세요",
      "  return check.q1(tokens);",
      "}",
      "// TODO: 여기에 코드를 작성하세요",
    ].join("\n"),
  );
  assert.throws(() => stubCode("// BEGIN SOLUTION\nx"), MarkerError);
  assert.throws(() => stubCode("// END SOLUTION"), MarkerError);
});

Deno.test("markdown answers become the prompt", () => {
  assert.equal(
    stubMarkdown(
      "질문?\n<!-- BEGIN SOLUTION -->\n정답은 42\n<!-- END SOLUTION -->\n끝",
    ),
    "질문?\n여기에 답을 쓰세요\n끝",
  );
  assert.throws(() => stubMarkdown("<!-- BEGIN SOLUTION -->"), MarkerError);
});

Deno.test("outputs are cleared and the JSON is deterministic", () => {
  const notebook = {
    nbformat_minor: 5,
    nbformat: 4,
    metadata: { language_info: { name: "typescript" }, kernelspec: {} },
    cells: [{
      source: "1 + 1",
      outputs: [{ output_type: "execute_result" }],
      metadata: {},
      execution_count: 7,
      cell_type: "code",
    }],
  };
  const exercise = makeExercise(notebook);
  assert.deepEqual(exercise.cells[0].outputs, []);
  assert.equal(exercise.cells[0].execution_count, null);
  const text = serializeNotebook(exercise);
  assert.equal(text, serializeNotebook(makeExercise(JSON.parse(text))));
  assert.ok(text.startsWith('{\n "cells": [\n  {\n   "cell_type": "code"'));
  assert.ok(text.endsWith("}\n"));
  assert.ok(
    text.indexOf('"kernelspec"') < text.indexOf('"language_info"'),
    "keys are sorted",
  );
});
