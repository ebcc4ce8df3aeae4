/** Where tests find the repository and the offline mirror (COURSE_MIRROR, else ../shared/mirror). */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
export const MIRROR = resolve(
  Deno.env.get("COURSE_MIRROR") ?? `${REPO_ROOT}../shared/mirror`,
);
