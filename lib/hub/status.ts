/** What lesson 00 shows about downloads: where the cache and mirror are and what they hold. */
import { join } from "node:path";
import { CHECKSUM_DIR } from "./cache_records.ts";
import {
  cacheRoot,
  isOffline,
  mirrorRoot,
  urlToRelativePath,
} from "./paths.ts";
import { registryEntries } from "./registry_data.ts";

export interface FolderStatus {
  path: string | undefined;
  configured: boolean;
  exists: boolean;
  files: number;
  bytes: number;
}

export interface MirrorStatus extends FolderStatus {
  /** Registry files present in the mirror, out of `registryFiles`. */
  registryFilesPresent: number;
  registryFiles: number;
  offline: boolean;
}

export async function cacheStatus(
  cacheDir: string = cacheRoot(),
): Promise<FolderStatus> {
  return { path: cacheDir, configured: true, ...(await folderSize(cacheDir)) };
}

export async function mirrorStatus(): Promise<MirrorStatus> {
  const path = mirrorRoot();
  const size = path
    ? await folderSize(path)
    : { exists: false, files: 0, bytes: 0 };
  let present = 0;
  if (path && size.exists) {
    for (const entry of registryEntries()) {
      try {
        if (
          (await Deno.stat(join(path, urlToRelativePath(entry.url)))).isFile
        ) present++;
      } catch {
        // Missing from the mirror: counted as absent.
      }
    }
  }
  return {
    path,
    configured: path !== undefined,
    ...size,
    registryFilesPresent: present,
    registryFiles: registryEntries().length,
    offline: isOffline(),
  };
}

async function folderSize(
  root: string,
): Promise<{ exists: boolean; files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  try {
    if (!(await Deno.stat(root)).isDirectory) {
      return { exists: false, files, bytes };
    }
  } catch {
    return { exists: false, files, bytes };
  }
  const pending = [root];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    for await (const entry of Deno.readDir(folder)) {
      const path = join(folder, entry.name);
      // Checksum records are bookkeeping, not downloads.
      if (entry.isDirectory && entry.name === CHECKSUM_DIR) continue;
      if (entry.isDirectory) pending.push(path);
      else if (entry.isFile && !entry.name.endsWith(".part")) {
        files++;
        bytes += (await Deno.stat(path)).size;
      }
    }
  }
  return { exists: true, files, bytes };
}
