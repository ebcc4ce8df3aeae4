/**
 * Makes the exercise notebooks from their masters: `solutions/*.ipynb` ->
 * `exercises/*.ipynb` (same file name).
 *
 * In code cells the lines from `// BEGIN SOLUTION` to `// END SOLUTION` become a
 * stub with the BEGIN line's indentation. The stub is every `// STUB: <code>`
 * line inside the block (so a learner gets `const tokens: string[] = []; //
 * TODO` and the `check.qN(tokens)` after the block still type-checks), or a
 * plain `// TODO` comment when the block has none. In Markdown cells the text
 * between `<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->` becomes
 * "여기에 답을 쓰세요". Outputs and execution counts are cleared.
 *
 * Output is deterministic: keys sorted, 1-space indent, trailing newline (the
 * way Jupyter writes files), so `--check` can compare bytes.
 *
 * Usage: deno run -A tools/notebooks/generate_exercises.ts [--check] [--root DIR]
 *   --check  write nothing; exit 1 when exercises/ differs from what it would write
 *   --root   the folder holding solutions/ and exercises/ (default: this repo)
 */
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli } from "../cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const CODE_BEGIN = "// BEGIN SOLUTION";
export const CODE_END = "// END SOLUTION";
export const CODE_STUB = "// STUB:";
export const MARKDOWN_BEGIN = "<!-- BEGIN SOLUTION -->";
export const MARKDOWN_END = "<!-- END SOLUTION -->";
export const DEFAULT_CODE_STUB = "// TODO: 여기에 코드를 작성하세요";
export const MARKDOWN_STUB = "여기에 답을 쓰세요";

type Json = null | boolean | number | string | Json[] | {
  [key: string]: Json;
};

interface Cell {
  cell_type: string;
  source: string | string[];
  metadata?: Record<string, Json>;
  outputs?: Json[];
  execution_count?: number | null;
  [key: string]: Json | undefined;
}

interface Notebook {
  cells: Cell[];
  metadata: Record<string, Json>;
  nbformat: number;
  nbformat_minor: number;
}

/** A solution notebook whose markers do not pair up. */
export class MarkerError extends Error {}

function sourceText(source: string | string[]): string {
  return Array.isArray(source) ? source.join("") : source;
}

/** Jupyter keeps a cell's source as lines that end with "\n", except the last. */
export function toSourceLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  return lines
    .map((line, i) => (i < lines.length - 1 ? line + "\n" : line))
    .filter((line) => line !== "");
}

function indentOf(line: string): string {
  return line.match(/^\s*/)?.[0] ?? "";
}

/** Replaces every BEGIN/END SOLUTION block of a code cell with its stub. */
export function stubCode(text: string): string {
  const out: string[] = [];
  let block: { indent: string; stubs: string[] } | null = null;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith(CODE_BEGIN)) {
      if (block) throw new MarkerError(`nested "${CODE_BEGIN}"`);
      block = { indent: indentOf(line), stubs: [] };
    } else if (trimmed.startsWith(CODE_END)) {
      if (!block) throw new MarkerError(`"${CODE_END}" without a BEGIN`);
      const stubs = block.stubs.length ? block.stubs : [DEFAULT_CODE_STUB];
      out.push(...stubs.map((stub) => block!.indent + stub));
      block = null;
    } else if (block) {
      if (trimmed.startsWith(CODE_STUB)) {
        block.stubs.push(trimmed.slice(CODE_STUB.length).trim());
      }
    } else {
      out.push(line);
    }
  }
  if (block) throw new MarkerError(`"${CODE_BEGIN}" without an END`);
  return out.join("\n");
}

/** Replaces every BEGIN/END SOLUTION block of a Markdown cell with the prompt. */
export function stubMarkdown(text: string): string {
  const out: string[] = [];
  let inBlock = false;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === MARKDOWN_BEGIN) {
      if (inBlock) throw new MarkerError(`nested "${MARKDOWN_BEGIN}"`);
      inBlock = true;
      out.push(MARKDOWN_STUB);
    } else if (trimmed === MARKDOWN_END) {
      if (!inBlock) throw new MarkerError(`"${MARKDOWN_END}" without a BEGIN`);
      inBlock = false;
    } else if (!inBlock) {
      out.push(line);
    }
  }
  if (inBlock) throw new MarkerError(`"${MARKDOWN_BEGIN}" without an END`);
  return out.join("\n");
}

/** The exercise notebook for one solution notebook. */
export function makeExercise(solution: Notebook, name = "notebook"): Notebook {
  const cells = solution.cells.map((cell, index) => {
    const text = sourceText(cell.source);
    try {
      if (cell.cell_type === "code") {
        return {
          ...cell,
          execution_count: null,
          outputs: [],
          source: toSourceLines(stubCode(text)),
        };
      }
      if (cell.cell_type === "markdown") {
        return { ...cell, source: toSourceLines(stubMarkdown(text)) };
      }
      return { ...cell, source: toSourceLines(text) };
    } catch (error) {
      if (error instanceof MarkerError) {
        throw new MarkerError(`${name} cell ${index + 1}: ${error.message}`);
      }
      throw error;
    }
  });
  return { ...solution, cells };
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

/** Jupyter's on-disk style: sorted keys, 1-space indent, trailing newline. */
export function serializeNotebook(notebook: Notebook): string {
  return JSON.stringify(sortKeys(notebook as unknown as Json), null, 1) + "\n";
}

function listNotebooks(folder: string): string[] {
  try {
    return [...Deno.readDirSync(folder)]
      .filter((entry) => entry.isFile && entry.name.endsWith(".ipynb"))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/** Generates (or, with check, compares) every exercise; returns the stale paths. */
export async function generateExercises(
  { root = ROOT, check = false }: { root?: string; check?: boolean } = {},
): Promise<string[]> {
  const solutionsDir = join(root, "solutions");
  const exercisesDir = join(root, "exercises");
  const stale: string[] = [];
  const solutionNames = listNotebooks(solutionsDir);
  for (const name of solutionNames) {
    const solution = JSON.parse(
      await Deno.readTextFile(join(solutionsDir, name)),
    ) as Notebook;
    const text = serializeNotebook(makeExercise(solution, `solutions/${name}`));
    const target = join(exercisesDir, name);
    if ((await readOrEmpty(target)) === text) continue;
    stale.push(`exercises/${name}`);
    if (!check) {
      await Deno.mkdir(exercisesDir, { recursive: true });
      await Deno.writeTextFile(target, text);
    }
  }
  // An exercise whose master is gone would otherwise linger, untested.
  for (const name of listNotebooks(exercisesDir)) {
    if (solutionNames.includes(name)) continue;
    stale.push(`exercises/${name} (no solutions/${basename(name)})`);
    if (!check) await Deno.remove(join(exercisesDir, name));
  }
  return stale;
}

const USAGE =
  `Usage: deno run -A tools/notebooks/generate_exercises.ts [--check] [--root DIR]
  --check  write nothing; exit 1 when exercises/ differs from what it would write
  --root   the folder holding solutions/ and exercises/ (default: this repo)
  --help   print this and exit`;

if (import.meta.main) {
  const { values } = parseCli(USAGE, {
    options: {
      check: { type: "boolean", default: false },
      root: { type: "string" },
    },
  });
  const check = values.check;
  const root = values.root !== undefined ? resolve(values.root) : ROOT;
  try {
    const stale = await generateExercises({ root, check });
    if (check && stale.length) {
      console.error(
        "exercises/ is out of date; run `deno task exercises`:\n  " +
          stale.join("\n  "),
      );
      Deno.exit(1);
    }
    for (const path of stale) console.log(`updated ${path}`);
    if (!check || stale.length === 0) {
      console.log(check ? "exercises/ is up to date" : "exercises/ generated");
    }
  } catch (error) {
    if (!(error instanceof MarkerError)) throw error;
    console.error(`generate_exercises: ${error.message}`);
    Deno.exit(1);
  }
}
