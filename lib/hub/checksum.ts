import { createHash } from "node:crypto";

/** SHA-256 of a file, streamed so that a large weight file never sits in memory whole. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

// Files already checked in this process, keyed by path + size + mtime: hashing NSMC on every
// load would cost time for nothing, yet a file replaced on disk is checked again.
const verified = new Map<string, string>();

/** True when the file's SHA-256 equals `expected`; each unchanged file is hashed once per process. */
export async function hasSha256(
  path: string,
  expected: string,
): Promise<boolean> {
  const stat = await Deno.stat(path);
  const key = `${path}\0${stat.size}\0${stat.mtime?.getTime() ?? 0}`;
  const known = verified.get(key);
  if (known !== undefined) return known === expected.toLowerCase();
  const actual = await sha256File(path);
  verified.set(key, actual);
  return actual === expected.toLowerCase();
}

/** Marks a file just written with a digest computed while writing it, so it is not hashed twice. */
export async function rememberVerified(
  path: string,
  sha256: string,
): Promise<void> {
  const stat = await Deno.stat(path);
  verified.set(
    `${path}\0${stat.size}\0${stat.mtime?.getTime() ?? 0}`,
    sha256.toLowerCase(),
  );
}

export function forgetVerified(path: string): void {
  for (const key of verified.keys()) {
    if (key.startsWith(`${path}\0`)) verified.delete(key);
  }
}
