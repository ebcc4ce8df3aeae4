/**
 * Plotly figures as Jupyter outputs.
 *
 * A bundle carries `application/vnd.plotly.v1+json` (drawn by JupyterLab's
 * plotly extension, which the `plotly` Python package installs) and a
 * `text/html` fallback that draws the same figure with plotly.js for front ends
 * without that extension (classic Notebook, nbviewer-like HTML). The fallback
 * ships the plotly.js bundle inline, because the course must work offline.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { displayBundle, type MediaBundle } from "./jupyter.ts";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** One plotly.js trace (`{type: "scatter", x, y, ...}`), as in plotly.js. */
export type PlotlyTrace = Record<string, unknown>;
export type PlotlyLayout = Record<string, unknown>;
export type PlotlyConfig = Record<string, unknown>;

export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout?: PlotlyLayout;
  config?: PlotlyConfig;
}

export interface PlotlyBundleOptions {
  config?: PlotlyConfig;
  /**
   * How the HTML fallback gets plotly.js: `"once"` (default) inlines it in the
   * first figure of the kernel session and later figures reuse it, `"inline"`
   * inlines it every time (self-contained output), `false` expects
   * `window.Plotly` to exist already.
   */
  includePlotlyJs?: "once" | "inline" | false;
}

let plotlySource: string | undefined;
let plotlyInlinedThisSession = false;

/** The minified plotly.js bundle from the pinned `plotly.js-dist-min` package. */
export function plotlyJsSource(): string {
  if (plotlySource === undefined) {
    const require = createRequire(import.meta.url);
    const path = require.resolve("plotly.js-dist-min");
    // Inside a <script> element the text "</script" would end the element.
    plotlySource = readFileSync(path, "utf8").replaceAll(
      "</script",
      "<\\/script",
    );
  }
  return plotlySource;
}

/** JSON that is also safe inside an HTML <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

function fallbackHtml(
  figure: Required<PlotlyFigure>,
  includeLibrary: boolean,
): string {
  const id = `course-plot-${crypto.randomUUID()}`;
  const height = typeof figure.layout.height === "number"
    ? `${figure.layout.height}px`
    : "450px";
  const library = includeLibrary ? `<script>${plotlyJsSource()}</script>` : "";
  // Later figures may render before the cell that inlined plotly.js; poll briefly.
  return `<div id="${id}" class="course-plotly" style="width:100%;height:${height}"></div>
${library}<script>
(function () {
  var figure = ${scriptJson(figure)};
  var tries = 0;
  function draw() {
    if (window.Plotly) {
      window.Plotly.newPlot("${id}", figure.data, figure.layout, figure.config);
    } else if (tries++ < 100) {
      setTimeout(draw, 100);
    }
  }
  draw();
})();
</script>`;
}

function describeFigure(figure: PlotlyFigure): string {
  const title = figure.layout?.title;
  const titleText = typeof title === "string"
    ? title
    : (title as { text?: string } | undefined)?.text;
  const types = figure.data.map((trace) => String(trace.type ?? "scatter"));
  return `Plotly figure${
    titleText ? ` "${titleText}"` : ""
  }: ${figure.data.length} trace(s) [${types.join(", ")}]`;
}

/** Builds the Jupyter MIME bundle for a figure (does not display it). */
export function plotlyBundle(
  data: PlotlyTrace[],
  layout: PlotlyLayout = {},
  options: PlotlyBundleOptions = {},
): MediaBundle {
  const figure = { data, layout, config: options.config ?? {} };
  const mode = options.includePlotlyJs ?? "once";
  const includeLibrary = mode === "inline" ||
    (mode === "once" && !plotlyInlinedThisSession);
  if (includeLibrary) plotlyInlinedThisSession = true;
  return {
    [PLOTLY_MIME]: figure,
    "text/html": fallbackHtml(figure, includeLibrary),
    "text/plain": describeFigure(figure),
  };
}

/** Draws a figure as the output of the current cell. */
export async function showPlot(
  figure: PlotlyFigure,
  options: PlotlyBundleOptions = {},
): Promise<void> {
  await displayBundle(
    plotlyBundle(figure.data, figure.layout ?? {}, {
      config: figure.config,
      ...options,
    }),
  );
}
