import { fileURLToPath } from "node:url";
import { readEnv } from "../runtime/env.ts";

/**
 * The course's own Korean mini-BERT, shipped in the repository (Hugging Face folder layout).
 * Resolved from this file so checks work whatever folder the notebook kernel started in.
 * `COURSE_MODEL_DIR` points the checks at another folder (tests use it for a stand-in model).
 */
export function courseModelDir(): string {
  return readEnv("COURSE_MODEL_DIR") ??
    fileURLToPath(new URL("../../models/ko-mini-bert", import.meta.url));
}
