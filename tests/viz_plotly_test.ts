/**
 * Plotly bundles: small by default (the Deno kernel can corrupt multi-MB
 * messages), and the HTML fallback's loader finds the course's own copy of
 * plotly.js through the Jupyter server before trying the CDN.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../tools/notebooks/notebook_harness.ts";
import {
  PLOTLY_MIME,
  plotlyBundle,
  plotlyCdnUrl,
  plotlyJsSource,
  preparePlotlyAsset,
} from "../lib/viz/plotly.ts";

const FIGURE = [{ type: "bar", x: ["a", "b"], y: [1, 2] }];

function scriptsOf(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
}

interface FakeScript {
  src: string;
  onload?: () => void;
  onerror?: () => void;
  remove(): void;
}

/** Runs the fallback's script against a minimal page that serves `served`. */
async function renderFallback(
  html: string,
  page: { pathname: string; baseUrl: string },
  served: (url: string) => boolean,
) {
  const requested: string[] = [];
  const drawn: unknown[][] = [];
  const plotDiv = { textContent: "" };
  const window: Record<string, unknown> = { define: "require.js define" };
  const plotly = { newPlot: (...args: unknown[]) => drawn.push(args) };
  const document = {
    body: { dataset: { baseUrl: page.baseUrl } },
    getElementById: (id: string) =>
      id === "jupyter-config-data" ? null : plotDiv,
    createElement: (): FakeScript => ({ src: "", remove() {} }),
    head: {
      appendChild(script: FakeScript) {
        requested.push(script.src);
        assert.equal(window.define, undefined, "define hidden while loading");
        setTimeout(() => {
          if (served(script.src)) {
            window.Plotly = plotly;
            script.onload?.();
          } else script.onerror?.();
        }, 0);
      },
    },
  };
  const [script] = scriptsOf(html);
  new Function("window", "document", "location", script)(window, document, {
    pathname: page.pathname,
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { requested, drawn, plotDiv, window };
}

Deno.test("a figure's bundle stays small and carries no plotly.js by default", () => {
  const bundle = plotlyBundle(FIGURE, { title: { text: "작은 그림" } });
  const html = bundle["text/html"] as string;
  assert.deepEqual(bundle[PLOTLY_MIME], {
    data: FIGURE,
    layout: { title: { text: "작은 그림" } },
    config: {},
  });
  assert.ok(html.length < 10_000, `fallback HTML is ${html.length} chars`);
  assert.ok(!html.includes(plotlyJsSource().slice(0, 200)));
  assert.ok(html.includes(plotlyCdnUrl()));
  assert.match(plotlyCdnUrl(), /plotly\.js-dist-min@3\.1\.0\/plotly\.min\.js$/);
  for (const script of scriptsOf(html)) new Function(script); // parses
});

Deno.test("the course keeps a served copy of plotly.js under out/assets", () => {
  const asset = preparePlotlyAsset();
  assert.ok(asset !== null);
  assert.match(asset, /out\/assets\/plotly-3\.1\.0\.min\.js$/);
  const copy = readFileSync(asset, "utf8").replaceAll("</script", "<\\/script");
  assert.ok(copy === plotlyJsSource(), "the copy equals the pinned bundle");
});

Deno.test("the fallback loads the local copy through Jupyter's files/ route", async () => {
  // The kernel's cwd is the notebook's folder; the server's root is the repo.
  const before = Deno.cwd();
  Deno.chdir(join(ROOT, "notebooks"));
  let html: string;
  try {
    html = plotlyBundle(FIGURE)["text/html"] as string;
  } finally {
    Deno.chdir(before);
  }
  const { requested, drawn, window } = await renderFallback(html, {
    pathname: "/user/a/lab/tree/notebooks/01_BERT%EC%99%80.ipynb",
    baseUrl: "/user/a/",
  }, (url) => url.includes("/files/"));
  assert.deepEqual(requested, [
    "/user/a/files/out/assets/plotly-3.1.0.min.js",
  ]);
  assert.equal(drawn.length, 1);
  assert.equal(window.define, "require.js define", "define restored");
});

Deno.test("the fallback falls back to the CDN, then says why nothing is drawn", async () => {
  const html = plotlyBundle(FIGURE)["text/html"] as string;
  const page = { pathname: "/notebooks/x.ipynb", baseUrl: "/" };
  const cdn = await renderFallback(
    html,
    page,
    (url) => url.startsWith("https"),
  );
  assert.deepEqual(cdn.requested, [
    "/files/out/assets/plotly-3.1.0.min.js", // from the course root
    plotlyCdnUrl(),
  ]);
  assert.equal(cdn.drawn.length, 1);

  const none = await renderFallback(html, page, () => false);
  assert.equal(none.drawn.length, 0);
  assert.match(none.plotDiv.textContent, /plotly\.js를 불러오지 못해/);
});

Deno.test("inline mode embeds plotly.js for self-contained HTML files", () => {
  const html = plotlyBundle(FIGURE, {}, { includePlotlyJs: "inline" })[
    "text/html"
  ] as string;
  assert.ok(html.length > 1_000_000);
  assert.ok(!html.includes(plotlyCdnUrl()));
});
