/**
 * What the cache wrote: for each file it stores, the SHA-256 and size it had when it was written.
 * Most Hub files (model weights above all) have no checksum in datasets/registry.json, so
 * without this record a cached `model.safetensors` with flipped bytes would load silently.
 *
 * Records live in their own tree, `<cache>/.checksums/<host>/<url path>.json`, not beside the
 * files: a model folder in the cache is handed to the loaders as is, and must hold only the
 * model's own files.
 */
import { dirname, join } from "node:path";
import { hasSha256, rememberVerified, sha256File } from "./checksum.ts";

export const CHECKSUM_DIR = ".checksums";

export interface CacheRecord {
  url: string;
  sha256: string;
  bytes: number;
}

function recordPath(cacheDir: string, relative: string): string {
  return join(cacheDir, CHECKSUM_DIR, `${relative}.json`);
}

export async function readCacheRecord(
  cacheDir: string,
  relative: string,
): Promise<CacheRecord | undefined> {
  try {
    const record = JSON.parse(
      await Deno.readTextFile(recordPath(cacheDir, relative)),
    );
    return typeof record?.sha256 === "string" &&
        typeof record?.bytes === "number"
      ? record
      : undefined;
  } catch {
    return undefined; // no record (a file cached before records existed) or a broken one
  }
}

/** Written through a temporary file and a rename, like the cached files themselves. */
export async function writeCacheRecord(
  cacheDir: string,
  relative: string,
  record: CacheRecord,
): Promise<void> {
  const path = recordPath(cacheDir, relative);
  await Deno.mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${crypto.randomUUID().slice(0, 8)}.part`;
  await Deno.writeTextFile(partial, JSON.stringify(record));
  await Deno.rename(partial, path);
}

export async function removeCacheRecord(
  cacheDir: string,
  relative: string,
): Promise<void> {
  try {
    await Deno.remove(recordPath(cacheDir, relative));
  } catch {
    // No record to remove.
  }
}

/** Records a file that was just written into the cache, with the digest taken while writing. */
export async function recordCachedFile(
  cacheDir: string,
  relative: string,
  url: string,
  digest?: { sha256: string; bytes: number },
): Promise<void> {
  const path = join(cacheDir, relative);
  const known = digest ??
    { sha256: await sha256File(path), bytes: (await Deno.stat(path)).size };
  await writeCacheRecord(cacheDir, relative, { url, ...known });
  await rememberVerified(path, known.sha256);
}

/**
 * Why the cached file at `<cacheDir>/<relative>` cannot be trusted (a few Korean words for the
 * learner), or undefined when it can.
 * `expected` (a registry or caller checksum) wins over the record. A file with neither is
 * hashed and recorded now (trust on first use), so that later damage is caught.
 *
 * The hash is checked once per process (keyed by size and mtime, see checksum.ts), not skipped
 * across runs when size and mtime still match: damage on disk keeps the mtime, and catching it
 * is the point. Hashing runs at several hundred MB/s, a second or so for a 440 MB BERT.
 */
export async function cachedFileProblem(
  cacheDir: string,
  relative: string,
  url: string,
  expected: string | undefined,
): Promise<string | undefined> {
  const path = join(cacheDir, relative);
  const { size } = await Deno.stat(path);
  const record = await readCacheRecord(cacheDir, relative);
  if (!expected && record && record.bytes !== size) {
    return `크기 ${size} B, 받을 때 ${record.bytes} B`;
  }
  const want = expected ?? record?.sha256;
  if (!want) {
    await recordCachedFile(cacheDir, relative, url);
    return undefined;
  }
  if (!(await hasSha256(path, want))) return "SHA-256 불일치";
  if (
    !record || record.sha256 !== want.toLowerCase() || record.bytes !== size
  ) {
    await writeCacheRecord(cacheDir, relative, {
      url,
      sha256: want.toLowerCase(),
      bytes: size,
    });
  }
  return undefined;
}
