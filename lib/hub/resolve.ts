/**
 * `resolveUrl`: a public URL in, a local file path out. Looks in the cache, then the offline
 * mirror, then the network; checks SHA-256 whenever the checksum is known (given, or found in
 * datasets/registry.json by URL). Every file written into the cache gets a record of its
 * SHA-256 and size (cache_records.ts), so a cached file is checked even when the registry
 * does not know it; a damaged one is deleted and fetched again.
 */
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { readEnv } from "../runtime/env.ts";
import {
  cachedFileProblem,
  recordCachedFile,
  removeCacheRecord,
} from "./cache_records.ts";
import { forgetVerified, hasSha256, sha256File } from "./checksum.ts";
import { downloadFile, mirrorCopyDamaged } from "./download.ts";
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

  const cacheDir = options.cacheDir ?? cacheRoot();
  const cachePath = join(cacheDir, relative);
  let deletedFromCache = false;
  if (await isFile(cachePath)) {
    const problem = await cachedFileProblem(cacheDir, relative, url, sha256);
    if (!problem) return { path: cachePath, source: "cache" };
    // A damaged cache entry is ours to delete; a good copy comes from the mirror or network.
    forgetVerified(cachePath);
    await Deno.remove(cachePath);
    await removeCacheRecord(cacheDir, relative);
    deletedFromCache = true;
    console.warn(
      `[course] 캐시의 ${relative} 파일이 손상되어(${problem}) 지우고 다시 받습니다.`,
    );
  }

  const mirror = mirrorRoot();
  const mirrorMissing = mirror !== undefined && !(await isDirectory(mirror));
  if (mirror && !mirrorMissing) {
    const mirrorPath = join(mirror, relative);
    if (await isFile(mirrorPath)) {
      // Mirror files are read in place (no copy); they are shared, so never deleted here.
      if (!sha256 || await hasSha256(mirrorPath, sha256)) {
        return { path: mirrorPath, source: "mirror" };
      }
      const damaged = mirrorCopyDamaged(
        url,
        mirrorPath,
        sha256,
        await sha256File(mirrorPath),
      );
      if (isOffline()) throw damaged;
      console.warn(
        `[course] 미러의 사본 ${mirrorPath}이(가) 손상되어 네트워크에서 받습니다. 미러의 이 파일을 바꿔 주세요.`,
      );
    }
  }

  if (isOffline()) {
    const cacheNote = deletedFromCache
      ? " 캐시에 있던 사본은 손상되어 지웠습니다."
      : "";
    if (!mirror) {
      throw new CourseError(
        "HUB_OFFLINE_NO_MIRROR",
        `Offline (COURSE_OFFLINE=1) with no mirror configured (COURSE_MIRROR is not set), cannot get ${url}`,
        `오프라인 모드인데 미러가 설정되어 있지 않습니다(COURSE_MIRROR 환경 변수가 비어 있음). COURSE_MIRROR에 오프라인 미러 폴더(예: ../shared/mirror)를 지정하거나, 인터넷에 연결하고 COURSE_OFFLINE을 끄세요.${cacheNote}`,
      );
    }
    if (mirrorMissing) throw mirrorFolderMissing(mirror, url, cacheNote);
    throw new CourseError(
      "HUB_NOT_FOUND",
      `${url} is not in the offline mirror (${join(mirror, relative)})`,
      `오프라인 모드(COURSE_OFFLINE=1)인데 미러에 이 파일이 없습니다. 파일 이름을 확인하거나, 인터넷이 되면 COURSE_OFFLINE을 끄고 다시 실행하세요.${cacheNote}`,
    );
  }

  let digest: { sha256: string; bytes: number };
  try {
    digest = await downloadFile(url, cachePath, {
      sha256,
      progress: options.progress,
    });
  } catch (error) {
    // "Set COURSE_MIRROR" is the wrong advice when it is set: say what the mirror lacked.
    if (
      mirror && error instanceof CourseError &&
      error.code === "HUB_NETWORK_ERROR"
    ) {
      const mirrorNote = mirrorMissing
        ? mirrorFolderMissing(mirror, url, "").hint
        : `미러(${mirror})에도 이 파일이 없습니다(찾은 위치: ${
          join(mirror, relative)
        }).`;
      throw new CourseError(
        error.code,
        error.message.split("\n→")[0],
        `인터넷에 연결되어 있는지 확인하세요. ${mirrorNote} 오프라인에서는 미러에 있는 파일만 쓸 수 있습니다.`,
        { cause: error },
      );
    }
    throw error;
  }
  await recordCachedFile(cacheDir, relative, url, digest);
  return { path: cachePath, source: "network" };
}

function mirrorFolderMissing(
  mirror: string,
  url: string,
  note: string,
): CourseError {
  return new CourseError(
    "HUB_MIRROR_MISSING",
    `The mirror folder ${mirror} (COURSE_MIRROR=${
      readEnv("COURSE_MIRROR")
    }) does not exist, cannot get ${url}`,
    `COURSE_MIRROR가 가리키는 미러 폴더 ${mirror}가 없습니다. 경로에 오타가 없는지 확인하세요(예: ../shared/mirror; 상대 경로는 현재 폴더, 없으면 저장소 루트 기준으로 찾습니다).${note}`,
  );
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
