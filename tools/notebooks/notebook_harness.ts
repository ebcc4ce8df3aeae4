/**
 * Shared by the notebook tests and scripts: where the repo, the Python venv and
 * the offline mirror are, and how to run tools/notebooks/run_notebook.py.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const RUNNER = join(ROOT, "tools", "notebooks", "run_notebook.py");
/** Executed copies go here (ignored by git, visible to JupyterLab). */
export const EXECUTED_DIR = join(ROOT, "out", "executed");

export function venvPython(): string {
  const python = join(ROOT, ".venv", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(
      `${python} is missing: run \`deno task setup\` (or tools/setup.sh) first`,
    );
  }
  return python;
}

/** COURSE_MIRROR from the environment, else ../shared/mirror beside the repo. */
export function mirrorDir(): string {
  return Deno.env.get("COURSE_MIRROR") ??
    resolve(ROOT, "..", "shared", "mirror");
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runPython(
  args: string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  const result = await new Deno.Command(venvPython(), {
    args,
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: result.code,
    stdout: decode(result.stdout),
    stderr: decode(result.stderr),
  };
}

/** Runs notebooks through tools/notebooks/run_notebook.py (extra args go after the paths). */
export function runNotebooks(
  notebooks: string[],
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  return runPython([RUNNER, ...notebooks, ...extraArgs], env);
}

export function listNotebooks(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return [...Deno.readDirSync(folder)]
    .filter((e) =>
      e.isFile && e.name.endsWith(".ipynb") &&
      !e.name.endsWith(".executed.ipynb")
    )
    .map((e) => join(folder, e.name))
    .sort();
}
