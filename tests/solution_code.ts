/**
 * Loads a function from a solution master (course/solutions/*.md) so a test runs the very code
 * the solution notebook runs, not a hand copy that can drift from it. The function is taken from
 * the ```ts cell that declares it: the lines between `// BEGIN SOLUTION` and `// END SOLUTION`
 * (the exercise's stub lines, `// STUB: ...`, left out), written to a temporary module and imported.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The ```ts cells of a Markdown master, in order. */
export function codeCells(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** The solution block (BEGIN/END SOLUTION, without STUB lines) of the cell declaring `name`. */
export function solutionBlock(markdown: string, name: string): string {
  const declares = new RegExp(
    `^\\s*(async\\s+)?function\\s+${name}\\s*\\(`,
    "m",
  );
  const cells = codeCells(markdown).filter((cell) => declares.test(cell));
  if (cells.length !== 1) {
    throw new Error(
      `expected one cell declaring ${name}, found ${cells.length}`,
    );
  }
  const lines = cells[0].split("\n");
  const begin = lines.findIndex((l) =>
    l.trim().startsWith("// BEGIN SOLUTION")
  );
  const end = lines.findIndex((l) => l.trim().startsWith("// END SOLUTION"));
  if (begin < 0 || end < begin) {
    throw new Error(
      `the cell declaring ${name} has no BEGIN/END SOLUTION block`,
    );
  }
  return lines.slice(begin + 1, end)
    .filter((l) => !l.trim().startsWith("// STUB:"))
    .join("\n");
}

/**
 * Imports `name` from the solution master `file` (a name under course/solutions/). `header` is
 * prepended: the imports the block needs, as absolute specifiers (type-only imports vanish).
 */
export async function solutionFunction<T>(
  file: string,
  name: string,
  header = "",
): Promise<T> {
  const markdown = await Deno.readTextFile(
    resolve(ROOT, "course", "solutions", file),
  );
  const source = `${header}\n${
    solutionBlock(markdown, name)
  }\nexport { ${name} };\n`;
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(path, source);
    const module = await import(pathToFileURL(path).href);
    return module[name] as T;
  } finally {
    await Deno.remove(path);
  }
}

/** An absolute import specifier for a file of this repository, for `header`. */
export function repoModule(path: string): string {
  return pathToFileURL(resolve(ROOT, path)).href;
}
