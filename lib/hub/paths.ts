/**
 * Where files live: the download cache and the offline mirror share one layout,
 * `<root>/<host>/<url path>`, so a URL maps to the same relative path in both.
 */
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { readEnv, readEnvFlag } from "../runtime/env.ts";
import { cacheRoot, resolveConfigured } from "../runtime/paths.ts";

export { cacheRoot };

/** The mirror folder from `COURSE_MIRROR`, or undefined when none is configured. */
export function mirrorRoot(): string | undefined {
  const configured = readEnv("COURSE_MIRROR");
  return configured ? resolveConfigured(configured) : undefined;
}

export function isOffline(): boolean {
  return readEnvFlag("COURSE_OFFLINE");
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
