/**
 * TensorFlow's native library as the tfjs engine: `@tensorflow/tfjs-node` (CPU, oneDNN kernels on
 * every core) or `@tensorflow/tfjs-node-gpu` (CUDA) on machines with an NVIDIA GPU.
 *
 * The packages are npm dependencies, but their native half (libtensorflow and the
 * `tfjs_binding.node` addon) is put in place by `tools/setup/setup_native.ts` (run by `deno task setup`),
 * because npm's install script downloads it from a host that is not always reachable.
 *
 * Loading a broken native library can kill the process instead of throwing (a missing symbol is
 * resolved lazily, at the first call), which inside Jupyter would take the learner's kernel with it.
 * So the first load of a given build happens in a child process; its verdict is kept next to the
 * addon, keyed by the files' sizes and times, and the kernel loads only a build that passed.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import nodeUtil from "node:util";
import { readEnv } from "./env.ts";
import { exists, REPO_ROOT } from "./paths.ts";
import { loadNativeKernels, selfTest } from "./native_kernels.ts";

export const TFJS_NODE_VERSION = "4.22.0";
/** Node-API version of the addon folder tfjs-node looks in (`lib/napi-v8`). */
export const NAPI_VERSION = 8;

export type NativePackage =
  | "@tensorflow/tfjs-node"
  | "@tensorflow/tfjs-node-gpu";

export interface NativeStatus {
  ok: boolean;
  package?: NativePackage;
  /** Why it is not usable (empty when ok). */
  detail: string;
  /** True when the build exists but fails to load (as opposed to: not installed). */
  broken?: boolean;
}

/** What the build step records beside the addon: where its libtensorflow is, how it was made. */
export interface NativeBuildInfo {
  source: "prebuilt" | "wheel";
  tensorflowVersion: string;
  libDir: string;
  device: "cpu" | "gpu";
  /** The fused training kernels compiled against this TensorFlow (lib/runtime/native_kernels.cc). */
  kernels?: string;
}

interface ProbeVerdict {
  key: string;
  ok: boolean;
  detail: string;
  tensorflowVersion?: string;
  /** The fused kernels loaded and agreed with tfjs' ops in a second child process. */
  kernels?: boolean;
  kernelsDetail?: string;
}

const require = createRequire(import.meta.url);
const PROBE_ENV = "COURSE_NATIVE_PROBE";
const PROBE_KERNELS_ENV = "COURSE_NATIVE_PROBE_KERNELS";
const PROBE_TIMEOUT_MS = 120_000;

/** True when an NVIDIA driver is loaded (Linux), the one case where the GPU package is tried. */
export function hasNvidiaGpu(): boolean {
  return Deno.build.os === "linux" && exists("/proc/driver/nvidia/version");
}

/** The packages to try, best first. */
export function nativePackages(): NativePackage[] {
  return hasNvidiaGpu()
    ? ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]
    : ["@tensorflow/tfjs-node"];
}

export function packageDir(pkg: NativePackage): string | undefined {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

export function bindingPath(pkg: NativePackage): string | undefined {
  const dir = packageDir(pkg);
  return dir
    ? join(dir, "lib", `napi-v${NAPI_VERSION}`, "tfjs_binding.node")
    : undefined;
}

export function buildInfoPath(binding: string): string {
  return `${binding}.build.json`;
}

function probePath(binding: string): string {
  return `${binding}.probe.json`;
}

export function readBuildInfo(binding: string): NativeBuildInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(buildInfoPath(binding)));
  } catch {
    return undefined;
  }
}

/**
 * Deno's `node:util` lacks the deprecated helpers tfjs-node still calls
 * (`util.isNullOrUndefined` in its backend and TopK kernel, `util.isArray`).
 */
export function patchNodeUtil(): void {
  const util = nodeUtil as unknown as Record<string, unknown>;
  util.isNullOrUndefined ??= (value: unknown) =>
    value === null || value === undefined;
  util.isArray ??= Array.isArray;
}

/** TensorFlow's C++ start-up lines (cpu_feature_guard, oneDNN notes) stay out of notebooks. */
function quietTensorFlowLogs(): void {
  try {
    if (Deno.env.get("TF_CPP_MIN_LOG_LEVEL") === undefined) {
      Deno.env.set("TF_CPP_MIN_LOG_LEVEL", "2");
    }
  } catch {
    // No --allow-env: the log lines are only noise.
  }
}

/** Sizes and times of the addon and its libtensorflow: a changed file means a new probe. */
function buildKey(binding: string): string {
  const parts: string[] = [];
  const stamp = (path: string) => {
    const info = Deno.statSync(path);
    parts.push(`${path}:${info.size}:${info.mtime?.getTime() ?? 0}`);
  };
  stamp(binding);
  const info = readBuildInfo(binding);
  if (info?.kernels && exists(info.kernels)) stamp(info.kernels);
  const libDir = info?.libDir;
  if (libDir && exists(libDir)) {
    const names = [...Deno.readDirSync(libDir)].map((entry) => entry.name);
    for (const name of names.sort()) {
      if (name.startsWith("libtensorflow")) stamp(join(libDir, name));
    }
  }
  parts.push(`LD_LIBRARY_PATH=${readEnv("LD_LIBRARY_PATH") ?? ""}`);
  return parts.join("|");
}

/**
 * Loads the package in a child process and runs one small matmul there. Exported for the setup
 * tool, which reports the same verdict the kernel will act on.
 */
export async function probeNative(pkg: NativePackage): Promise<ProbeVerdict> {
  const binding = bindingPath(pkg);
  if (!binding || !exists(binding)) {
    return { key: "", ok: false, detail: `${pkg}: addon not built` };
  }
  const key = buildKey(binding);
  try {
    const cached = JSON.parse(
      Deno.readTextFileSync(probePath(binding)),
    ) as ProbeVerdict;
    if (cached.key === key) return cached;
  } catch {
    // No verdict yet.
  }
  const verdict = await runProbe(pkg, key);
  const kernels = readBuildInfo(binding)?.kernels;
  if (verdict.ok && kernels && exists(kernels)) {
    // Its own child: a kernels library that crashes must not cost the engine itself.
    const withKernels = await runProbe(pkg, key, undefined, true);
    verdict.kernels = withKernels.ok;
    verdict.kernelsDetail = withKernels.detail;
  }
  try {
    Deno.writeTextFileSync(probePath(binding), JSON.stringify(verdict));
  } catch {
    // Read-only install: probe again next time.
  }
  return verdict;
}

/**
 * The child process itself. With `addonFile` it only loads that addon file (tests use it on
 * damaged copies); otherwise it loads the package and multiplies a matrix.
 */
export async function runProbe(
  pkg: NativePackage,
  key: string,
  addonFile?: string,
  kernels = false,
): Promise<ProbeVerdict> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      pkg,
      ...(addonFile ? [addonFile] : []),
    ],
    cwd: REPO_ROOT,
    env: {
      [PROBE_ENV]: "1",
      ...(kernels ? { [PROBE_KERNELS_ENV]: "1" } : {}),
      TF_CPP_MIN_LOG_LEVEL: "2",
    },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  try {
    const { code, signal, stdout, stderr } = await command.output();
    const out = new TextDecoder().decode(stdout).trim().split("\n").pop() ?? "";
    if (code === 0 && out.startsWith("{")) {
      const result = JSON.parse(out) as { tensorflowVersion: string };
      return { key, ok: true, detail: "", ...result };
    }
    const err = new TextDecoder().decode(stderr).trim().split("\n")
      .filter((line) => line.trim() !== "");
    const reason = err.find((line) =>
      /error|undefined symbol|cannot open|not found/i.test(line)
    ) ??
      err.at(-1) ?? `exit ${signal ?? code}`;
    return { key, ok: false, detail: `${pkg}: ${reason.trim().slice(0, 300)}` };
  } catch (error) {
    return {
      key,
      ok: false,
      detail: `${pkg}: probe failed (${errorText(error)})`,
    };
  }
}

/**
 * Makes the "tensorflow" tfjs backend available in this process, or says why not.
 * Never throws and never loads a build whose probe failed.
 */
export async function loadNative(): Promise<NativeStatus> {
  if (tf.findBackendFactory("tensorflow") !== null) {
    return { ok: true, detail: "", package: loadedPackage };
  }
  const probing = readEnv(PROBE_ENV) === "1";
  let firstFailure: NativeStatus | undefined;
  for (const pkg of nativePackages()) {
    const binding = bindingPath(pkg);
    if (!binding || !exists(binding)) continue;
    const verdict = probing ? undefined : await probeNative(pkg);
    if (verdict && !verdict.ok) {
      firstFailure ??= { ok: false, detail: verdict.detail, broken: true };
      continue;
    }
    const status = requireNative(pkg);
    if (status.ok) {
      if (verdict) loadKernelsIfChecked(pkg, verdict);
      return status;
    }
    firstFailure ??= status;
  }
  return firstFailure ?? {
    ok: false,
    detail: "tfjs-node not installed (deno task setup)",
  };
}

let loadedPackage: NativePackage | undefined;

/** The fused kernels, when the probe loaded and checked them for this very build. */
function loadKernelsIfChecked(pkg: NativePackage, verdict: ProbeVerdict): void {
  const info = readBuildInfo(bindingPath(pkg)!);
  if (!verdict.kernels || !info?.kernels || info.device !== "cpu") return;
  loadNativeKernels(info.kernels, info.libDir);
}

function requireNative(pkg: NativePackage): NativeStatus {
  patchNodeUtil();
  quietTensorFlowLogs();
  try {
    require(pkg);
  } catch (error) {
    return { ok: false, detail: `${pkg}: ${errorText(error)}`, broken: true };
  }
  if (tf.findBackendFactory("tensorflow") === null) {
    return {
      ok: false,
      detail: `${pkg} loaded but did not register a backend`,
      broken: true,
    };
  }
  loadedPackage = pkg;
  return { ok: true, detail: "", package: pkg };
}

/** Facts about the loaded engine for the device report. */
export interface NativeEngineInfo {
  package: NativePackage;
  tensorflowVersion: string;
  source?: NativeBuildInfo["source"];
  /** oneDNN kernels (TensorFlow's default on x86 Linux unless TF_ENABLE_ONEDNN_OPTS=0). */
  onednn: boolean;
  /** Intra-op threads TensorFlow uses (its default: every core). */
  threads: number;
}

export function nativeEngineInfo(): NativeEngineInfo | undefined {
  if (!loadedPackage) return undefined;
  let version = "?";
  try {
    const backend = tf.findBackend("tensorflow") as unknown as {
      binding?: { TF_Version?: string };
    };
    version = backend?.binding?.TF_Version ?? "?";
  } catch {
    // Not initialized yet.
  }
  const binding = bindingPath(loadedPackage);
  const configured = Number(readEnv("TF_NUM_INTRAOP_THREADS") ?? "0");
  return {
    package: loadedPackage,
    tensorflowVersion: version,
    source: binding ? readBuildInfo(binding)?.source : undefined,
    onednn: Deno.build.arch === "x86_64" &&
      readEnv("TF_ENABLE_ONEDNN_OPTS") !== "0",
    threads: configured > 0 ? configured : navigator.hardwareConcurrency ?? 1,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

// The child process of `probeNative`: load, compute, report the TensorFlow version.
if (import.meta.main) {
  const [pkg, addonFile] = Deno.args as [NativePackage, string | undefined];
  if (addonFile) {
    patchNodeUtil();
    const addon = require(addonFile) as { TF_Version?: unknown };
    if (typeof addon.TF_Version !== "string") {
      console.error(`${addonFile} is not tfjs-node's addon (no TF_Version)`);
      Deno.exit(1);
    }
    console.log(JSON.stringify({ tensorflowVersion: addon.TF_Version }));
    Deno.exit(0);
  }
  const status = requireNative(pkg);
  if (!status.ok) {
    console.error(status.detail);
    Deno.exit(1);
  }
  await tf.setBackend("tensorflow");
  const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.eye(2));
  const values = Array.from(await product.data());
  if (values.join(",") !== "1,2,3,4") {
    console.error(`wrong matmul result ${values.join(",")}`);
    Deno.exit(1);
  }
  if (readEnv(PROBE_KERNELS_ENV) === "1") {
    const info = readBuildInfo(bindingPath(pkg)!)!;
    const load = loadNativeKernels(info.kernels!, info.libDir);
    const problem = load.ok ? selfTest() : load.detail;
    if (problem) {
      console.error(`fused kernels: ${problem}`);
      Deno.exit(1);
    }
  }
  console.log(JSON.stringify({
    tensorflowVersion: nativeEngineInfo()?.tensorflowVersion ?? "?",
  }));
}
