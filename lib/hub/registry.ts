import { dirname, join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { recordCachedFile } from "./cache_records.ts";
import { cacheRoot, urlToRelativePath } from "./paths.ts";
import { type ResolveOptions, resolveUrl } from "./resolve.ts";
import {
  registryEntries,
  type RegistryEntry,
  registryEntry,
} from "./registry_data.ts";

/** Local path of a registry file (`resolveDataset("nsmc/train")`), checksum verified. */
export async function resolveDataset(
  fileId: string,
  options: Omit<ResolveOptions, "sha256"> = {},
): Promise<string> {
  const entry = requireEntry(fileId);
  return await resolveUrl(entry.url, { ...options, sha256: entry.sha256 });
}

/**
 * All registry files under one id prefix in a single local folder, e.g.
 * `resolveDatasetDir("kpfbert")` -> folder with vocab.txt, tokenizer.json, ... so that a tokenizer
 * can be loaded from it. Files that came from different places are gathered in the cache.
 */
export async function resolveDatasetDir(
  prefix: string,
  options: Omit<ResolveOptions, "sha256"> = {},
): Promise<string> {
  const entries = registryEntries().filter((e) =>
    e.id.startsWith(`${prefix}/`)
  );
  if (entries.length === 0) throw unknownId(prefix);
  const paths = [];
  for (const entry of entries) {
    paths.push(
      await resolveUrl(entry.url, { ...options, sha256: entry.sha256 }),
    );
  }
  return await gatherInOneFolder(
    paths,
    entries.map((e) => e.url),
    options.cacheDir,
  );
}

/**
 * Returns the common folder of `paths`; when they are spread over cache and mirror, copies them
 * into the cache folder of the first URL so that one folder holds them all.
 */
export async function gatherInOneFolder(
  paths: string[],
  urls: string[],
  cacheDir?: string,
): Promise<string> {
  const folders = new Set(paths.map((p) => dirname(p)));
  if (folders.size === 1) return [...folders][0];
  const root = cacheDir ?? cacheRoot();
  const target = dirname(join(root, urlToRelativePath(urls[0])));
  await Deno.mkdir(target, { recursive: true });
  for (const [index, path] of paths.entries()) {
    const destination = join(
      target,
      urlToRelativePath(urls[index]).split(/[\\/]/).pop()!,
    );
    if (destination === path) continue;
    await Deno.copyFile(path, destination);
    // The copy is a cache entry like a download: record it so later damage is caught.
    if (destination === join(root, urlToRelativePath(urls[index]))) {
      await recordCachedFile(root, urlToRelativePath(urls[index]), urls[index]);
    }
  }
  return target;
}

function requireEntry(fileId: string): RegistryEntry {
  const entry = registryEntry(fileId);
  if (!entry) throw unknownId(fileId);
  return entry;
}

function unknownId(fileId: string): CourseError {
  const known = [...new Set(registryEntries().map((e) => e.id.split("/")[0]))]
    .join(", ");
  return new CourseError(
    "HUB_UNKNOWN_DATASET",
    `No registry entry "${fileId}"`,
    `datasets/registry.json에 있는 id를 쓰세요 (예: nsmc/train). 묶음: ${known}`,
  );
}
