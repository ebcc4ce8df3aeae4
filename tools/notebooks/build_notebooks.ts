/**
 * Builds the lesson and solution notebooks from their Markdown sources.
 *
 * Why: `.ipynb` JSON is hard to write and to review, so lessons are written as Markdown in
 * `course/notebooks/*.md` and `course/solutions/*.md`. Every fenced ```ts block becomes a code
 * cell; the text between blocks becomes Markdown cells (a line holding only `+++` splits a
 * Markdown cell in two). `notebooks/*.ipynb` and `solutions/*.ipynb` are generated; `--check`
 * fails when they differ from what this script makes (the test suite runs it).
 *
 * Usage: deno run -A tools/notebooks/build_notebooks.ts [--check]
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli } from "../cli.ts";

export interface NotebookCell {
  cell_type: "markdown" | "code";
  metadata: Record<string, unknown>;
  source: string[];
  execution_count?: number | null;
  outputs?: unknown[];
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

const DENO_METADATA = {
  kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
  language_info: {
    codemirror_mode: "typescript",
    file_extension: ".ts",
    mimetype: "text/x.typescript",
    name: "typescript",
    nbconvert_exporter: "script",
    pygments_lexer: "typescript",
  },
};

/** Jupyter stores a cell's source as lines that keep their "\n", except the last. */
export function toSourceLines(text: string): string[] {
  const lines = text.split("\n");
  return lines.map((line, i) => (i < lines.length - 1 ? line + "\n" : line))
    .filter((l) => l !== "");
}

function markdownCell(text: string): NotebookCell {
  return { cell_type: "markdown", metadata: {}, source: toSourceLines(text) };
}

function codeCell(text: string): NotebookCell {
  return {
    cell_type: "code",
    execution_count: null,
    metadata: {},
    outputs: [],
    source: toSourceLines(text),
  };
}

/** Splits Markdown source into notebook cells (see the file comment for the format). */
export function markdownToNotebook(markdown: string): Notebook {
  const cells: NotebookCell[] = [];
  let markdownLines: string[] = [];
  const flushMarkdown = () => {
    const text = markdownLines.join("\n").trim();
    if (text) cells.push(markdownCell(text));
    markdownLines = [];
  };
  const lines = markdown.replace(/\r\n/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```(ts|typescript)\s*$/.test(line)) {
      flushMarkdown();
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) {
        code.push(lines[i++]);
      }
      if (i >= lines.length) {
        throw new Error(`unclosed code block starting at line ${i + 1}`);
      }
      cells.push(codeCell(code.join("\n").trimEnd()));
    } else if (line.trim() === "+++") {
      flushMarkdown();
    } else {
      markdownLines.push(line);
    }
  }
  flushMarkdown();
  return { cells, metadata: DENO_METADATA, nbformat: 4, nbformat_minor: 5 };
}

/** Jupyter's own on-disk style: 1-space indent, trailing newline. */
export function serializeNotebook(notebook: Notebook): string {
  return JSON.stringify(notebook, null, 1) + "\n";
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const PAIRS: [string, string][] = [
  ["course/notebooks", "notebooks"],
  ["course/solutions", "solutions"],
];

async function main(check: boolean): Promise<number> {
  const stale: string[] = [];
  for (const [sourceDir, targetDir] of PAIRS) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(join(ROOT, sourceDir))];
    } catch {
      continue;
    }
    for (
      const entry of entries.filter((e) => e.name.endsWith(".md"))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    ) {
      const source = await Deno.readTextFile(join(ROOT, sourceDir, entry.name));
      const target = join(
        ROOT,
        targetDir,
        basename(entry.name, ".md") + ".ipynb",
      );
      const text = serializeNotebook(markdownToNotebook(source));
      let current = "";
      try {
        current = await Deno.readTextFile(target);
      } catch { /* not built yet */ }
      if (current === text) continue;
      if (check) stale.push(target);
      else {
        await Deno.mkdir(dirname(target), { recursive: true });
        await Deno.writeTextFile(target, text);
        console.log(`wrote ${target}`);
      }
    }
  }
  if (stale.length) {
    console.error(
      `out of date (run deno task notebooks):\n${stale.join("\n")}`,
    );
    return 1;
  }
  return 0;
}

const USAGE = `Usage: deno run -A tools/notebooks/build_notebooks.ts [--check]
  (no flag)  write notebooks/*.ipynb and solutions/*.ipynb from course/notebooks/*.md and
             course/solutions/*.md (what "deno task notebooks" runs)
  --check    write nothing; exit 1 when a built notebook differs from its Markdown source
  --help     print this and exit`;

if (import.meta.main) {
  const { values } = parseCli(USAGE, {
    options: { check: { type: "boolean", default: false } },
  });
  Deno.exit(await main(values.check));
}
