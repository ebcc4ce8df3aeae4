/**
 * Where files live: the download cache and the offline mirror share one layout,
 * `<root>/<host>/<url path>`, so a URL maps to the same relative path in both.
 */
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CourseError } from "../runtime/errors.ts";
import { readEnv, readEnvFlag } from "../runtime/env.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function cacheRoot(): string {
  const configured = readEnv("COURSE_CACHE");
  if (configured) return resolveConfigured(configured);
  const home = readEnv("HOME") ?? readEnv("USERPROFILE");
  return home
    ? join(home, ".cache", "bert-ko-course")
    : join(REPO_ROOT, ".cache", "bert-ko-course");
}

/** The mirror folder from `COURSE_MIRROR`, or undefined when none is configured. */
export function mirrorRoot(): string | undefined {
  const configured = readEnv("COURSE_MIRROR");
  return configured ? resolveConfigured(configured) : undefined;
}

export function isOffline(): boolean {
  return readEnvFlag("COURSE_OFFLINE");
}

/**
 * A relative setting such as `../shared/mirror` means "relative to where I started", but a
 * notebook kernel starts in `notebooks/`; so when the path does not exist from the working
 * directory we also try it from the repository root.
 */
function resolveConfigured(path: string): string {
  if (isAbsolute(path)) return path;
  const fromCwd = resolve(path);
  if (exists(fromCwd)) return fromCwd;
  const fromRepo = resolve(REPO_ROOT, path);
  return exists(fromRepo) ? fromRepo : fromCwd;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `https://host/a/b.txt` -> `host/a/b.txt` (a port becomes `host_port`). */
export function urlToRelativePath(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badUrl(url);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw badUrl(url);
  }
  const segments = parsed.pathname.split("/").filter((s) => s !== "").map(
    decodeURIComponent,
  );
  if (
    segments.length === 0 ||
    segments.some((s) =>
      s === ".." || s === "." || s.includes("/") || s.includes("\\")
    )
  ) {
    throw badUrl(url);
  }
  const host = parsed.port
    ? `${parsed.hostname}_${parsed.port}`
    : parsed.hostname;
  return join(host, ...segments);
}

function badUrl(url: string): CourseError {
  return new CourseError(
    "HUB_BAD_URL",
    `Not a downloadable file URL: ${url}`,
    "http(s)://호스트/경로/파일 형태의 주소를 넣어 주세요. 예: https://huggingface.co/beomi/kcbert-base/resolve/main/vocab.txt",
  );
}
