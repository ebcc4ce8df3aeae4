/**
 * Type-checks notebooks: the Deno kernel runs cells without checking types, so a
 * lesson can run and still teach code that `deno check` rejects.
 *
 * Each notebook's code cells are joined, in order, into one module under
 * `.cache/typecheck/` (inside the repo, so `deno.json` imports like
 * `@course/lib` resolve) and all modules go through one `deno check`. Errors are
 * mapped back to "<notebook> cell N line L:C" (cells counted from 1 over all
 * cells, as in tools/notebooks/run_notebook.py).
 *
 * Skipped: cells starting with a shell/magic line (`!`, `%`), cells tagged
 * `skip-typecheck`, and cells whose first line is `// @skip-typecheck`.
 *
 * Usage: deno run -A tools/notebooks/typecheck_notebooks.ts [notebook.ipynb | folder ...]
 * (default folders: notebooks, solutions, exercises)
 */
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCli } from "../cli.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_FOLDERS = ["notebooks", "solutions", "exercises"];
const SKIP_TAG = "skip-typecheck";
const SKIP_COMMENT = "// @skip-typecheck";

interface NotebookJson {
  cells: {
    cell_type: string;
    source: string | string[];
    metadata?: { tags?: string[] };
  }[];
}

/** Where a line of the generated module came from. */
export interface SourceLocation {
  cell: number;
  line: number;
}

export interface NotebookModule {
  code: string;
  /** `lineMap[i]` is the origin of module line i + 1; null for glue lines. */
  lineMap: (SourceLocation | null)[];
  checkedCells: number;
}

function cellText(source: string | string[]): string {
  return Array.isArray(source) ? source.join("") : source;
}

export function shouldSkipCell(
  text: string,
  tags: string[] = [],
): boolean {
  const firstLine = text.trimStart().split("\n")[0] ?? "";
  return tags.includes(SKIP_TAG) || firstLine.startsWith(SKIP_COMMENT) ||
    firstLine.startsWith("!") || firstLine.startsWith("%");
}

/** Joins a notebook's code cells into one module and remembers each line's cell. */
export function notebookToModule(notebook: NotebookJson): NotebookModule {
  const lines: string[] = [];
  const lineMap: (SourceLocation | null)[] = [];
  let checkedCells = 0;
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    const text = cellText(cell.source);
    if (!text.trim() || shouldSkipCell(text, cell.metadata?.tags)) return;
    checkedCells++;
    lines.push(`// --- cell ${index + 1} ---`);
    lineMap.push(null);
    text.split("\n").forEach((line, lineIndex) => {
      lines.push(line);
      lineMap.push({ cell: index + 1, line: lineIndex + 1 });
    });
    // A cell may end without a semicolon; keep the next cell a new statement.
    lines.push(";");
    lineMap.push(null);
  });
  lines.push("export {};");
  lineMap.push(null);
  return { code: lines.join("\n") + "\n", lineMap, checkedCells };
}

function findNotebooks(targets: string[]): string[] {
  const found: string[] = [];
  for (const target of targets) {
    const path = resolve(target);
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      continue;
    }
    if (info.isFile && path.endsWith(".ipynb")) found.push(path);
    if (info.isDirectory) {
      for (const entry of Deno.readDirSync(path)) {
        if (entry.isFile && entry.name.endsWith(".ipynb")) {
          found.push(join(path, entry.name));
        }
      }
    }
  }
  return found.sort();
}

/** Rewrites `file:///…/nb_3.ts:12:5` in deno check output to notebook cell lines. */
export function mapDiagnostics(
  output: string,
  modules: Map<
    string,
    { notebook: string; lineMap: (SourceLocation | null)[] }
  >,
): string {
  return output.replace(
    /file:\/\/\/\S*?\/(nb_\d+\.ts):(\d+):(\d+)/g,
    (match, file: string, line: string, column: string) => {
      const module = modules.get(file);
      if (!module) return match;
      const origin = module.lineMap[Number(line) - 1];
      if (!origin) return `${module.notebook} (glue line ${line})`;
      return `${module.notebook} cell ${origin.cell} line ${origin.line}:${column}`;
    },
  );
}

export async function typecheckNotebooks(
  targets: string[],
): Promise<{ ok: boolean; report: string; checked: number }> {
  const notebooks = findNotebooks(targets);
  if (notebooks.length === 0) return { ok: true, report: "", checked: 0 };
  const workDir = join(ROOT, ".cache", "typecheck");
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(workDir, { recursive: true });
  const modules = new Map<
    string,
    { notebook: string; lineMap: (SourceLocation | null)[] }
  >();
  const files: string[] = [];
  for (const [i, path] of notebooks.entries()) {
    const notebook = JSON.parse(await Deno.readTextFile(path)) as NotebookJson;
    const module = notebookToModule(notebook);
    // ASCII file names: deno prints paths as percent-encoded URLs.
    const file = `nb_${i}.ts`;
    await Deno.writeTextFile(
      join(workDir, file),
      `// generated from ${relative(ROOT, path)}\n${module.code}`,
    );
    // The header line shifts every module line by one.
    modules.set(file, {
      notebook: relative(ROOT, path) || basename(path),
      lineMap: [null, ...module.lineMap],
    });
    files.push(join(workDir, file));
  }
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...files],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const raw = new TextDecoder().decode(result.stdout) +
    new TextDecoder().decode(result.stderr);
  return {
    ok: result.success,
    report: mapDiagnostics(
      raw.replace(/\nStack backtrace:[\s\S]*$/, ""),
      modules,
    ),
    checked: notebooks.length,
  };
}

const USAGE =
  `Usage: deno run -A tools/notebooks/typecheck_notebooks.ts [notebook.ipynb | folder ...]
  Type-checks the code cells of the notebooks given, or of every notebook in the folders given
  (default: ${DEFAULT_FOLDERS.join(", ")}). Exits 1 on a type error.
  --help  print this and exit`;

if (import.meta.main) {
  const { positionals } = parseCli(USAGE, {
    options: {},
    allowPositionals: true,
  });
  const targets = positionals.length
    ? positionals
    : DEFAULT_FOLDERS.map((f) => join(ROOT, f));
  const { ok, report, checked } = await typecheckNotebooks(targets);
  if (report.trim()) console.error(report.trim());
  console.error(
    ok
      ? `typecheck_notebooks: ${checked} notebook(s) OK`
      : `typecheck_notebooks: type errors in notebooks (see above)`,
  );
  Deno.exit(ok ? 0 : 1);
}
