/**
 * Folders every layer needs: the course cache (downloads, the native engine build) and how a
 * configured relative path is read. They live at the bottom so that runtime code (the native
 * engine) and the hub share one definition.
 */
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnv } from "./env.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** `COURSE_CACHE`, else `~/.cache/bert-ko-course` (the repository's `.cache/` without a home). */
export function cacheRoot(): string {
  const configured = readEnv("COURSE_CACHE");
  if (configured) return resolveConfigured(configured);
  const home = readEnv("HOME") ?? readEnv("USERPROFILE");
  return home
    ? join(home, ".cache", "bert-ko-course")
    : join(REPO_ROOT, ".cache", "bert-ko-course");
}

/**
 * A relative setting such as `../shared/mirror` means "relative to where I started", but a
 * notebook kernel starts in `notebooks/`; so when the path does not exist from the working
 * directory we also try it from the repository root.
 */
export function resolveConfigured(path: string): string {
  if (isAbsolute(path)) return path;
  const fromCwd = resolve(path);
  if (exists(fromCwd)) return fromCwd;
  const fromRepo = resolve(REPO_ROOT, path);
  return exists(fromRepo) ? fromRepo : fromCwd;
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
