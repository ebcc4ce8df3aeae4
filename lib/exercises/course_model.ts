import { fileURLToPath } from "node:url";

/**
 * The course's own Korean mini-BERT, shipped in the repository (Hugging Face folder layout).
 * Resolved from this file so checks work whatever folder the notebook kernel started in.
 */
export function courseModelDir(): string {
  return fileURLToPath(new URL("../../models/ko-mini-bert", import.meta.url));
}
