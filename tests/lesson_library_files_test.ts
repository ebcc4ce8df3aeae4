/**
 * Each lesson ends with "라이브러리에서 찾아보기": the lib/ files that implement what it shows, so a
 * learner can follow a concept from the lesson into the code. A file that moves or is renamed
 * must fail here, not leave the lesson pointing at nothing.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../tools/notebooks/notebook_harness.ts";

const LESSONS = join(ROOT, "course", "notebooks");
const SECTION = "## 라이브러리에서 찾아보기";

function lessons(): { name: string; text: string }[] {
  return [...Deno.readDirSync(LESSONS)]
    .filter((e) => /^\d\d_.*\.md$/.test(e.name))
    .map((e) => ({
      name: e.name,
      text: Deno.readTextFileSync(join(LESSONS, e.name)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The library paths a text names, e.g. `lib/models/bert.ts`. */
export function namedLibraryFiles(text: string): string[] {
  return [...new Set(text.match(/\blib\/[\w/]+\.ts\b/g) ?? [])];
}

Deno.test("namedLibraryFiles finds paths and ignores other text", () => {
  assert.deepEqual(
    namedLibraryFiles(
      "`lib/models/bert.ts`의 attend, lib/train/trainer.ts와 lib/ 폴더",
    ),
    ["lib/models/bert.ts", "lib/train/trainer.ts"],
  );
});

Deno.test("every lesson has a library section naming at least three files", () => {
  const all = lessons();
  assert.ok(all.length >= 9, `lessons found: ${all.length}`);
  for (const { name, text } of all) {
    const start = text.indexOf(SECTION);
    assert.ok(start >= 0, `${name}: no "${SECTION}" section`);
    const end = text.indexOf("\n## ", start + SECTION.length);
    const section = text.slice(start, end < 0 ? undefined : end);
    assert.ok(
      namedLibraryFiles(section).length >= 3,
      `${name}: the library section names fewer than 3 lib/ files`,
    );
  }
});

Deno.test("every lib/ file a lesson names exists", () => {
  for (const { name, text } of lessons()) {
    for (const file of namedLibraryFiles(text)) {
      assert.ok(
        existsSync(join(ROOT, file)),
        `${name} names ${file}, which does not exist`,
      );
    }
  }
});
