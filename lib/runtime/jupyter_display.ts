/**
 * The one place that talks to the Deno Jupyter kernel's display API (`Deno.jupyter`), so that
 * library code also runs under `deno run` / `deno test`, where touching `Deno.jupyter` throws.
 * Every layer displays through it: lib/hub's download bar, lib/train's progress, lib/viz's
 * tables and figures.
 *
 * As IPython's `display(obj, display_id=True)`: `displayBundle` shows a MIME bundle once;
 * a `DisplayHandle` shows one output and then updates it in place (`update_display_data`).
 */

/** A Jupyter MIME bundle: MIME type -> data, e.g. `{"text/plain": ..., "text/html": ...}`. */
export type MediaBundle = Record<string, unknown>;

interface JupyterDisplayApi {
  display(
    bundle: MediaBundle,
    options: { raw: boolean; display_id?: string; update?: boolean },
  ): Promise<void>;
}

/** `Deno.jupyter` when this process is the Deno Jupyter kernel, else undefined. */
function jupyterApi(): JupyterDisplayApi | undefined {
  try {
    // Reading Deno.jupyter outside `deno jupyter` throws, hence the try.
    const api = (Deno as unknown as { jupyter?: JupyterDisplayApi }).jupyter;
    return typeof api?.display === "function" ? api : undefined;
  } catch {
    return undefined;
  }
}

/** True inside the Deno Jupyter kernel (`deno jupyter --kernel`). */
export function inJupyter(): boolean {
  return jupyterApi() !== undefined;
}

function plainText(bundle: MediaBundle): string {
  const text = bundle["text/plain"];
  return typeof text === "string" ? text : JSON.stringify(bundle);
}

/**
 * Shows a MIME bundle as a cell output; outside Jupyter prints its `text/plain` form so scripts
 * and tests still show something useful.
 */
export async function displayBundle(bundle: MediaBundle): Promise<void> {
  const api = jupyterApi();
  if (api) {
    await api.display(bundle, { raw: true });
    return;
  }
  console.log(plainText(bundle));
}

/**
 * Wraps a bundle in an object that Jupyter displays when it is the last expression of a cell
 * (the `Deno.jupyter.$display` protocol).
 */
export function displayable(bundle: MediaBundle): {
  [key: symbol]: () => MediaBundle;
} {
  return { [Symbol.for("Jupyter.display")]: () => bundle };
}

let handleCounter = 0;

/**
 * A notebook output addressed by its display id, as IPython's `DisplayHandle`: `display` shows
 * it (a new output), `update` replaces what it shows in place (progress bars). Messages are
 * chained, so a display always reaches the frontend before its updates; a failed send is
 * dropped (a display is a nicety, never a failure). Outside Jupyter nothing is sent: callers
 * draw their own terminal form.
 */
export class DisplayHandle {
  readonly displayId: string;
  #shown = false;
  #pending: Promise<void> = Promise.resolve();

  constructor(prefix = "course-display") {
    this.displayId = `${prefix}-${Date.now()}-${handleCounter++}`;
  }

  /** Whether this handle has shown an output yet. */
  get shown(): boolean {
    return this.#shown;
  }

  /** Shows `bundle` as a new output with this handle's display id. */
  display(bundle: MediaBundle): void {
    this.#send(bundle, false);
  }

  /** Replaces what this handle shows; shows it first when nothing is shown yet. */
  update(bundle: MediaBundle): void {
    this.#send(bundle, this.#shown);
  }

  /** Resolves when every display message sent so far reached the kernel. */
  flush(): Promise<void> {
    return this.#pending;
  }

  #send(bundle: MediaBundle, update: boolean): void {
    const api = jupyterApi();
    if (!api) return;
    this.#shown = true;
    this.#pending = this.#pending
      .then(() =>
        api.display(bundle, { raw: true, display_id: this.displayId, update })
      )
      .catch(() => {});
  }
}
