/**
 * The one place that talks to the Deno Jupyter kernel's display API, so that
 * library code also runs under `deno run` / `deno test`, where touching
 * `Deno.jupyter` throws.
 */

import { inJupyter } from "../runtime/kernel.ts";
import { escapeHtml } from "../runtime/format.ts";

export { escapeHtml, inJupyter };

/** A Jupyter MIME bundle: MIME type -> data. */
export type MediaBundle = Record<string, unknown>;

/**
 * Shows a MIME bundle as a cell output; outside Jupyter prints its
 * `text/plain` form so scripts and tests still show something useful.
 */
export async function displayBundle(bundle: MediaBundle): Promise<void> {
  if (inJupyter()) {
    await Deno.jupyter.display(bundle, { raw: true });
    return;
  }
  const text = bundle["text/plain"];
  console.log(typeof text === "string" ? text : JSON.stringify(bundle));
}

/**
 * Wraps a bundle in an object that Jupyter displays when it is the last
 * expression of a cell (the `Deno.jupyter.$display` protocol).
 */
export function displayable(bundle: MediaBundle): {
  [key: symbol]: () => MediaBundle;
} {
  return { [Symbol.for("Jupyter.display")]: () => bundle };
}
