/**
 * `resolveUrl`: a public URL in, a local file path out. Looks in the cache, then the offline
 * mirror, then the network; checks SHA-256 whenever the checksum is known (given, or found in
 * datasets/registry.json by URL).
 */
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { forgetVerified, hasSha256, sha256File } from "./checksum.ts";
import { checksumMismatch, downloadFile } from "./download.ts";
import {
  cacheRoot,
  isOffline,
  mirrorRoot,
  urlToRelativePath,
} from "./paths.ts";
import type { ProgressOption } from "./progress.ts";
import { registryEntryForUrl } from "./registry_data.ts";

export interface ResolveOptions {
  /** Expected SHA-256 (hex). Defaults to the registry's checksum for this URL, if any. */
  sha256?: string;
  /** Cache folder; defaults to `COURSE_CACHE` or `~/.cache/bert-ko-course`. */
  cacheDir?: string;
  /** `false` = silent; default: a bar for files over 1 MiB. */
  progress?: ProgressOption;
}

export type FileSource = "cache" | "mirror" | "network";

/** Local path of `url`'s content, downloading it into the cache when needed. */
export async function resolveUrl(
  url: string,
  options: ResolveOptions = {},
): Promise<string> {
  return (await locateUrl(url, options)).path;
}

/** Like `resolveUrl`, and also says where the file came from (lesson 00 shows it). */
export async function locateUrl(
  url: string,
  options: ResolveOptions = {},
): Promise<{ path: string; source: FileSource }> {
  const relative = urlToRelativePath(url);
  const sha256 = options.sha256 ?? registryEntryForUrl(url)?.sha256;

  const cachePath = join(options.cacheDir ?? cacheRoot(), relative);
  if (await isFile(cachePath)) {
    if (!sha256 || await hasSha256(cachePath, sha256)) {
      return { path: cachePath, source: "cache" };
    }
    // A corrupt cache entry is ours to delete; fetch a good copy below.
    forgetVerified(cachePath);
    await Deno.remove(cachePath);
    console.warn(
      `[course] 캐시의 ${relative} 체크섬이 맞지 않아 지우고 다시 받습니다.`,
    );
  }

  const mirror = mirrorRoot();
  if (mirror) {
    const mirrorPath = join(mirror, relative);
    if (await isFile(mirrorPath)) {
      // Mirror files are read in place (no copy); they are shared, so never deleted here.
      if (!sha256 || await hasSha256(mirrorPath, sha256)) {
        return { path: mirrorPath, source: "mirror" };
      }
      throw checksumMismatch(
        url,
        sha256,
        await sha256File(mirrorPath),
        `mirror copy ${mirrorPath}`,
      );
    }
  }

  if (isOffline()) {
    throw mirror
      ? new CourseError(
        "HUB_NOT_FOUND",
        `${url} is not in the offline mirror (${join(mirror, relative)})`,
        "오프라인 모드(COURSE_OFFLINE=1)인데 미러에 이 파일이 없습니다. 파일 이름을 확인하거나, 인터넷이 되면 COURSE_OFFLINE을 끄고 다시 실행하세요.",
      )
      : new CourseError(
        "HUB_OFFLINE_NO_MIRROR",
        `Offline (COURSE_OFFLINE=1) with no mirror configured, cannot get ${url}`,
        "COURSE_MIRROR 환경 변수에 오프라인 미러 폴더(예: ../shared/mirror)를 지정하거나, 인터넷에 연결하고 COURSE_OFFLINE을 끄세요.",
      );
  }

  await downloadFile(url, cachePath, { sha256, progress: options.progress });
  return { path: cachePath, source: "network" };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
