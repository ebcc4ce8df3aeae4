/**
 * The command line of every tool: `node:util` `parseArgs` plus the two things it leaves out.
 *
 * - `--help` (or `-h`) prints the tool's usage and exits 0;
 * - a flag the tool does not know, a flag without its value, a stray argument, or anything the
 *   tool itself rejects (a `CourseError`, or `usageError`) prints the message and the usage to
 *   stderr and exits 2, instead of a stack trace or of being ignored.
 *
 *   const USAGE = `Usage: deno run -A tools/x.ts [--out DIR]`;
 *   const { values } = parseCli(USAGE, { options: { out: { type: "string" } } });
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CourseError } from "../lib/runtime/errors.ts";

/** Exit status for a command line the tool cannot run (the usual one for usage errors). */
export const USAGE_EXIT_CODE = 2;

/** True when `--help` or `-h` comes before any `--` (after it, arguments are not flags). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

/** Prints the usage and ends the process with status 0. */
export function showHelp(usage: string): never {
  console.log(usage.trim());
  Deno.exit(0);
}

/** Prints `message` and the usage to stderr and ends the process with status 2. */
export function usageError(usage: string, message: string): never {
  console.error(`error: ${message}\n\n${usage.trim()}`);
  Deno.exit(USAGE_EXIT_CODE);
}

/** parseArgs' own errors (unknown option, missing value, unexpected positional...). */
function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" &&
    code.startsWith("ERR_PARSE_ARGS_");
}

/**
 * Runs a tool's own flag parser `parse(args)` under the rules above: `--help` first, then parseArgs
 * errors and `CourseError`s become `usageError`. Other errors are bugs and are thrown.
 */
export function parseOrExit<R>(
  usage: string,
  args: readonly string[],
  parse: (args: string[]) => R,
): R {
  if (wantsHelp(args)) showHelp(usage);
  try {
    return parse([...args]);
  } catch (error) {
    if (isParseArgsError(error) || error instanceof CourseError) {
      usageError(usage, error.message);
    }
    throw error;
  }
}

/**
 * `parseArgs(config)` on `Deno.args` (or `config.args`), strict as parseArgs is by default, with
 * `--help` and usage errors as above.
 */
export function parseCli<T extends ParseArgsConfig>(
  usage: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  // `args` replaced does not change the shape of the result.
  return parseOrExit(
    usage,
    config.args ?? Deno.args,
    (args) => parseArgs({ ...config, args }) as ReturnType<typeof parseArgs<T>>,
  );
}
