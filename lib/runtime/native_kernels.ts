/**
 * The course's fused CPU kernels for TensorFlow's native library (`native_kernels.cc`): exact
 * GELU and its gradient, LayerNorm forward and backward, dropout from given draws, attention's
 * scaled and masked softmax and its gradient. Each replaces 3-12 eager TensorFlow ops, i.e. as
 * many passes over the activations, in a BERT training step.
 *
 * `tools/setup/setup_native.ts` compiles them against the TensorFlow wheel it builds the addon
 * from, and records the library in the addon's build info (`kernels`). They are loaded with
 * TensorFlow's own `TF_LoadLibrary` (through Deno's FFI), only after a child process has loaded
 * and checked them (lib/runtime/native.ts), and only for the CPU package. Without them, or with
 * `COURSE_NATIVE_KERNELS=0`, the same functions in lib/models/ops.ts use tfjs' composite ops.
 */
import * as tf from "@tensorflow/tfjs-core";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readEnv } from "./env.ts";
import { nativeKernels, nodeBackend } from "./native_ops.ts";

/** The C++ source setup compiles. */
export const KERNELS_SOURCE = fileURLToPath(
  new URL("./native_kernels.cc", import.meta.url),
);

/**
 * File name of the library built from the current source (`native_kernels-<hash>.so`): a library
 * built from an older source is never loaded, since it may lack a kernel this code calls.
 */
export function kernelsLibraryName(): string {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits: change detection, not security
  for (const byte of Deno.readFileSync(KERNELS_SOURCE)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return `native_kernels-${hash.toString(16).padStart(8, "0")}.so`;
}

/** Why `library` must not be loaded: built from another native_kernels.cc; else undefined. */
export function staleKernels(library: string): string | undefined {
  return basename(library) === kernelsLibraryName() ? undefined : (
    `${library} was built from another version of native_kernels.cc ` +
    "(deno task setup builds the current one)"
  );
}

/** Whether the fused kernels are loaded in this process (a failed load says why). */
let loaded: { ok: boolean; detail: string } | undefined;

/** The setting that switches the loaded kernels off, as `fusedKernelsDetail()` names it. */
export const KERNELS_OFF = "COURSE_NATIVE_KERNELS=0";

function switchedOff(): boolean {
  return readEnv("COURSE_NATIVE_KERNELS") === "0";
}

/** True when the fused kernels can run: loaded, "tensorflow" backend, not switched off. */
export function fusedKernels(): boolean {
  return loaded?.ok === true && nativeKernels() && !switchedOff();
}

/** Why the fused kernels are not in use (`KERNELS_OFF` when switched off), or "" when loaded. */
export function fusedKernelsDetail(): string {
  if (!loaded) return "not loaded";
  return loaded.ok && switchedOff() ? KERNELS_OFF : loaded.detail;
}

/**
 * Loads the kernels library into the TensorFlow that `libDir` holds (already loaded by the addon,
 * so `dlopen` returns that same copy). Never throws; loading twice is a no-op.
 */
export function loadNativeKernels(
  library: string,
  libDir: string,
): { ok: boolean; detail: string } {
  if (loaded?.ok) return loaded;
  const stale = staleKernels(library);
  if (stale) return loaded = { ok: false, detail: stale };
  try {
    const tfLib = Deno.dlopen(join(libDir, "libtensorflow.so.2"), {
      TF_NewStatus: { parameters: [], result: "pointer" },
      TF_DeleteStatus: { parameters: ["pointer"], result: "void" },
      TF_GetCode: { parameters: ["pointer"], result: "i32" },
      TF_Message: { parameters: ["pointer"], result: "pointer" },
      TF_LoadLibrary: { parameters: ["buffer", "pointer"], result: "pointer" },
    });
    const status = tfLib.symbols.TF_NewStatus();
    tfLib.symbols.TF_LoadLibrary(
      new TextEncoder().encode(`${library}\0`),
      status,
    );
    const code = tfLib.symbols.TF_GetCode(status);
    const message = code === 0 ? "" : Deno.UnsafePointerView.getCString(
      tfLib.symbols.TF_Message(status)!,
    );
    tfLib.symbols.TF_DeleteStatus(status);
    loaded = code === 0
      ? { ok: true, detail: "" }
      : { ok: false, detail: `TF_LoadLibrary(${library}): ${message}` };
  } catch (error) {
    loaded = {
      ok: false,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
  return loaded;
}

function floatAttr(name: string, value: number) {
  return { name, type: nodeBackend().binding.TF_ATTR_FLOAT, value };
}

/** Exact GELU, `x·Φ(x)`. */
export function geluForward(x: tf.Tensor): tf.Tensor {
  return nodeBackend().executeSingleOutput("CourseGelu", [], [x]);
}

/** `dy·(Φ(x) + x·φ(x))`. */
export function geluBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return nodeBackend().executeSingleOutput("CourseGeluGrad", [], [dy, x]);
}

/** `x/(1−rate)` where `uniform ≥ rate`, else 0; with dy in place of x, its own gradient. */
export function dropoutWithDraws(
  x: tf.Tensor,
  uniform: tf.Tensor,
  rate: number,
): tf.Tensor {
  return nodeBackend().executeSingleOutput("CourseDropout", [
    floatAttr("rate", rate),
  ], [x, uniform]);
}

/** Attention probabilities `softmax(scale·scores + maskBias)`, scores [b, heads, q, k], mask [b, 1, 1, k]. */
export function maskedSoftmaxForward(
  scores: tf.Tensor,
  maskBias: tf.Tensor,
  scale: number,
): tf.Tensor {
  return nodeBackend().executeSingleOutput("CourseMaskedSoftmax", [
    floatAttr("scale", scale),
  ], [scores, maskBias]);
}

/** The gradient with respect to the scores: `scale·p·(dp − Σ dp·p)` per row. */
export function maskedSoftmaxBackward(
  dProbs: tf.Tensor,
  probs: tf.Tensor,
  scale: number,
): tf.Tensor {
  return nodeBackend().executeSingleOutput("CourseSoftmaxGrad", [
    floatAttr("scale", scale),
  ], [dProbs, probs]);
}

/** LayerNorm over the last axis: [y, mean per row, 1/√(var+ε) per row]. */
export function layerNormForward(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return nodeBackend().executeMultipleOutputs(
    "CourseLayerNorm",
    [floatAttr("epsilon", epsilon)],
    [x, gamma, beta],
    3,
  ) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** LayerNorm's backward: [dx, dγ, dβ]. */
export function layerNormBackward(
  dy: tf.Tensor,
  x: tf.Tensor,
  gamma: tf.Tensor,
  mean: tf.Tensor,
  rstd: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return nodeBackend().executeMultipleOutputs(
    "CourseLayerNormGrad",
    [],
    [dy, x, gamma, mean, rstd],
    3,
  ) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * Runs every kernel once on a small input against the same formula in tfjs ops; "" when all
 * agree, else what differed. The load probe's child process calls it.
 */
export function selfTest(): string {
  return tf.tidy(() => {
    const x = tf.randomNormal([6, 40], 0, 2, "float32", 1);
    const dy = tf.randomNormal([6, 40], 0, 1, "float32", 2);
    const gamma = tf.randomNormal([40], 1, 0.1, "float32", 3);
    const beta = tf.randomNormal([40], 0, 0.1, "float32", 4);
    const cdf = tf.add(0.5, tf.mul(tf.erf(tf.mul(x, Math.SQRT1_2)), 0.5));
    const checks: [string, tf.Tensor, tf.Tensor][] = [
      ["CourseGelu", geluForward(x), tf.mul(x, cdf)],
      [
        "CourseGeluGrad",
        geluBackward(dy, x),
        tf.mul(
          dy,
          tf.add(
            cdf,
            tf.mul(
              tf.mul(x, 1 / Math.sqrt(2 * Math.PI)),
              tf.exp(tf.mul(tf.square(x), -0.5)),
            ),
          ),
        ),
      ],
    ];
    const uniform = tf.randomUniform([6, 40], 0, 1, "float32", 5);
    checks.push([
      "CourseDropout",
      dropoutWithDraws(x, uniform, 0.25),
      tf.mul(
        x,
        tf.mul(tf.cast(tf.greaterEqual(uniform, 0.25), "float32"), 4 / 3),
      ),
    ]);
    const scores = tf.reshape(x, [1, 2, 3, 40]);
    const maskBias = tf.reshape(
      tf.concat([tf.zeros([30]), tf.fill([10], -1e4)]),
      [1, 1, 1, 40],
    );
    const softmax = (s: tf.Tensor) =>
      tf.softmax(tf.add(tf.mul(s, 0.125), maskBias));
    const probs = maskedSoftmaxForward(scores, maskBias, 0.125);
    checks.push(["CourseMaskedSoftmax", probs, softmax(scores)]);
    checks.push([
      "CourseSoftmaxGrad",
      maskedSoftmaxBackward(tf.reshape(dy, [1, 2, 3, 40]), probs, 0.125),
      tf.grad(softmax)(scores, tf.reshape(dy, [1, 2, 3, 40])),
    ]);
    const [y, mean, rstd] = layerNormForward(x, gamma, beta, 1e-12);
    const moments = tf.moments(x, -1, true);
    const normalized = tf.div(
      tf.sub(x, moments.mean),
      tf.sqrt(moments.variance),
    );
    checks.push([
      "CourseLayerNorm",
      y,
      tf.add(tf.mul(normalized, gamma), beta),
    ]);
    const [dx, dGamma, dBeta] = layerNormBackward(dy, x, gamma, mean, rstd);
    const reference = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const m = tf.moments(x, -1, true);
      return tf.add(
        tf.mul(tf.div(tf.sub(x, m.mean), tf.sqrt(m.variance)), g),
        b,
      );
    })([x, gamma, beta], dy);
    checks.push(["CourseLayerNormGrad dx", dx, reference[0]]);
    checks.push(["CourseLayerNormGrad dgamma", dGamma, reference[1]]);
    checks.push(["CourseLayerNormGrad dbeta", dBeta, reference[2]]);
    const failed = checks.map(([name, got, want]) => {
      const scale = Math.max(1, tf.max(tf.abs(want)).dataSync()[0]);
      const diff = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
      return diff <= 1e-4 * scale ? "" : `${name} differs by ${diff}`;
    }).filter((line) => line !== "");
    return failed.join("; ");
  });
}
