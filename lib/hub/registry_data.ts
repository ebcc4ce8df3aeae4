/**
 * The dataset and tokenizer registry (`datasets/registry.json`): every public file the course
 * uses, with its URL, SHA-256, size, license and data card.
 */
import registryJson from "../../datasets/registry.json" with { type: "json" };

export interface RegistryEntry {
  /** Stable id used in code, e.g. `nsmc/train`. */
  id: string;
  url: string;
  sha256: string;
  bytes: number;
  /** SPDX-style license id. */
  license: string;
  /** Data card path relative to the repository root. */
  card: string;
  description: string;
}

const ENTRIES: readonly RegistryEntry[] =
  (registryJson as { files: RegistryEntry[] }).files;
const BY_ID = new Map(ENTRIES.map((entry) => [entry.id, entry]));
const BY_URL = new Map(ENTRIES.map((entry) => [entry.url, entry]));

export function registryEntries(): readonly RegistryEntry[] {
  return ENTRIES;
}

export function registryEntry(id: string): RegistryEntry | undefined {
  return BY_ID.get(id);
}

export function registryEntryForUrl(url: string): RegistryEntry | undefined {
  return BY_URL.get(url);
}
