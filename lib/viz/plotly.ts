/**
 * Plotly figures as Jupyter outputs.
 *
 * A bundle carries `application/vnd.plotly.v1+json` (drawn by JupyterLab's
 * plotly extension, which the `plotly` Python package installs) and a
 * `text/html` fallback that draws the same figure with plotly.js for front ends
 * without that extension (classic Notebook, JupyterLab without `plotly`).
 *
 * The fallback loads plotly.js by URL instead of carrying it: the bundle is
 * 4.8 MB, and the Deno kernel (2.9) can write another message (the cell's
 * `idle` status) into the middle of a message that large. Jupyter then drops
 * both ("Invalid Signature"): the figure is lost and the cell looks busy
 * forever. The URLs tried are a copy of the pinned bundle that the course
 * keeps under `out/assets/`, served by the Jupyter server itself (offline),
 * then the same version on a CDN.
 */
import { createRequire } from "node:module";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
} from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
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
   * How the HTML fallback gets plotly.js: `"load"` (default) loads it by URL,
   * from the course's own copy served by Jupyter, else from a CDN; `"inline"`
   * puts the whole 4.8 MB bundle into the output (self-contained, for HTML
   * written to a file; through the Deno kernel such large messages can be
   * corrupted, see above); `false` expects `window.Plotly` to exist already.
   */
  includePlotlyJs?: "load" | "inline" | false;
}

const COURSE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Where the course keeps the copy of plotly.js that Jupyter serves. */
export const PLOTLY_ASSET_DIR = join(COURSE_ROOT, "out", "assets");

let plotlySource: string | undefined;
let plotlyPackage: { path: string; version: string } | undefined;
let assetPrepared: string | null | undefined;

function resolvePlotlyPackage(): { path: string; version: string } {
  if (plotlyPackage === undefined) {
    const require = createRequire(import.meta.url);
    const path = require.resolve("plotly.js-dist-min");
    const manifest = JSON.parse(
      readFileSync(join(dirname(path), "package.json"), "utf8"),
    ) as { version: string };
    plotlyPackage = { path, version: manifest.version };
  }
  return plotlyPackage;
}

/** The minified plotly.js bundle from the pinned `plotly.js-dist-min` package. */
export function plotlyJsSource(): string {
  if (plotlySource === undefined) {
    // Inside a <script> element the text "</script" would end the element.
    plotlySource = readFileSync(resolvePlotlyPackage().path, "utf8")
      .replaceAll("</script", "<\\/script");
  }
  return plotlySource;
}

/** The pinned plotly.js on a CDN, for front ends that cannot reach our copy. */
export function plotlyCdnUrl(): string {
  return `https://cdn.jsdelivr.net/npm/plotly.js-dist-min@${resolvePlotlyPackage().version}/plotly.min.js`;
}

/** The served copy's path: the version is in its name, so browsers never cache a stale one. */
function plotlyAssetPath(): string {
  return join(
    PLOTLY_ASSET_DIR,
    `plotly-${resolvePlotlyPackage().version}.min.js`,
  );
}

/** `to` relative to `from`, with `/` (a URL path, also on Windows). */
function urlPath(from: string, to: string): string {
  return relative(from, to).split(sep).join("/");
}

/**
 * Copies the pinned plotly.js into `out/assets/` (once; skipped when an equal
 * copy is there) and returns its path, or null when that is not possible
 * (read-only checkout): figures then load plotly.js from the CDN.
 */
export function preparePlotlyAsset(): string | null {
  if (assetPrepared !== undefined) return assetPrepared;
  try {
    const { path } = resolvePlotlyPackage();
    const target = plotlyAssetPath();
    if (!existsSync(target) || statSync(target).size !== statSync(path).size) {
      mkdirSync(PLOTLY_ASSET_DIR, { recursive: true });
      copyFileSync(path, target);
    }
    assetPrepared = target;
  } catch {
    assetPrepared = null;
  }
  return assetPrepared;
}

/** JSON that is also safe inside an HTML <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

/**
 * Browser code that resolves `window.Plotly`, loading it at most once per page.
 * The local URL is the asset's path relative to the notebook's folder (the
 * kernel's working directory), put under the Jupyter server's `files/` route
 * for the notebook's own path (`/lab/tree/...`, `/notebooks/...`,
 * `/doc/tree/...`); the next is the asset's path from the course root, for
 * executed copies opened elsewhere under `deno task lab` (root = course
 * root). Classic Notebook has require.js, which would capture the UMD bundle
 * as an AMD module, so `define` is hidden while it loads.
 */
function loaderScript(
  assetFromNotebook: string | null,
  assetFromRoot: string,
  cdnUrl: string,
): string {
  return `function coursePlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (window.__coursePlotlyLoading) return window.__coursePlotlyLoading;
  var urls = [];
  var asset = ${scriptJson(assetFromNotebook)};
  var base = document.body && document.body.dataset && document.body.dataset.baseUrl;
  var config = document.getElementById("jupyter-config-data");
  if (!base && config) { try { base = JSON.parse(config.textContent).baseUrl; } catch (e) {} }
  var page = location.pathname.match(/\\/(?:lab\\/tree|notebooks|doc\\/tree)\\/(.*)$/);
  if (base && page) {
    var files = base.replace(/\\/?$/, "/") + "files/";
    if (asset) {
      var parts = decodeURIComponent(page[1]).split("/").slice(0, -1);
      asset.split("/").forEach(function (part) {
        if (part === "..") parts.pop(); else if (part !== ".") parts.push(part);
      });
      urls.push(files + parts.map(encodeURIComponent).join("/"));
    }
    var fromRoot = files + ${scriptJson(assetFromRoot)};
    if (urls.indexOf(fromRoot) < 0) urls.push(fromRoot);
  }
  urls.push(${scriptJson(cdnUrl)});
  window.__coursePlotlyLoading = new Promise(function (resolve, reject) {
    function next() {
      var url = urls.shift();
      if (!url) { window.__coursePlotlyLoading = undefined; reject(new Error("plotly.js could not be loaded")); return; }
      var script = document.createElement("script");
      var define = window.define;
      window.define = undefined;
      script.src = url;
      script.onload = function () { window.define = define; window.Plotly ? resolve(window.Plotly) : next(); };
      script.onerror = function () { window.define = define; script.remove(); next(); };
      document.head.appendChild(script);
    }
    next();
  });
  return window.__coursePlotlyLoading;
}`;
}

function fallbackHtml(
  figure: Required<PlotlyFigure>,
  mode: "load" | "inline" | false,
): string {
  const id = `course-plot-${crypto.randomUUID()}`;
  const height = typeof figure.layout.height === "number"
    ? `${figure.layout.height}px`
    : "450px";
  const library = mode === "inline"
    ? `<script>${plotlyJsSource()}</script>\n`
    : "";
  const loader = mode === "load"
    ? loaderScript(
      assetFromNotebook(),
      urlPath(COURSE_ROOT, plotlyAssetPath()),
      plotlyCdnUrl(),
    )
    : "function coursePlotly() { return Promise.resolve(window.Plotly); }";
  return `<div id="${id}" class="course-plotly" style="width:100%;height:${height}"></div>
${library}<script>
(function () {
  var figure = ${scriptJson(figure)};
  ${loader}
  coursePlotly().then(function (Plotly) {
    Plotly.newPlot("${id}", figure.data, figure.layout, figure.config);
  }, function () {
    document.getElementById("${id}").textContent =
      "plotly.js를 불러오지 못해 그림을 그릴 수 없습니다. deno task lab 으로 연 JupyterLab에서 다시 실행해 보세요.";
  });
})();
</script>`;
}

/** The asset's path from the kernel's working directory (the notebook's folder), with `/`. */
function assetFromNotebook(): string | null {
  const asset = preparePlotlyAsset();
  if (asset === null) return null;
  try {
    return urlPath(Deno.cwd(), asset);
  } catch {
    return null;
  }
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
  return {
    [PLOTLY_MIME]: figure,
    "text/html": fallbackHtml(figure, options.includePlotlyJs ?? "load"),
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
