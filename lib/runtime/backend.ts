/**
 * Choosing where tensors are computed. tfjs offers several backends; we pick the fastest one that
 * really works on this machine, once, and say why:
 *
 *   tensorflow (tfjs-node[-gpu], native)  >  webgpu (only with a real GPU)  >  wasm  >  cpu
 *
 * A software WebGPU adapter (llvmpipe, lavapipe, SwiftShader) is slower than plain JavaScript, so
 * automatic choice skips it; `COURSE_BACKEND=webgpu` can still force it for experiments.
 */
import { watchInterrupts } from "./kernel.ts";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { CourseError } from "./errors.ts";
import { readEnv } from "./env.ts";
import {
  loadNative,
  type NativeEngineInfo,
  nativeEngineInfo,
} from "./native.ts";

export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";
export const AUTOMATIC_ORDER: readonly BackendName[] = [
  "tensorflow",
  "webgpu",
  "wasm",
  "cpu",
];

export interface GpuAdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  isFallbackAdapter: boolean;
  /** true for CPU emulations of a GPU (llvmpipe, lavapipe, SwiftShader, WARP...). */
  software: boolean;
}

export interface BackendAttempt {
  name: string;
  ok: boolean;
  /** Why it was skipped or failed (empty when ok). */
  detail: string;
}

export interface BackendInfo {
  name: string;
  /** Chosen by `initBackend(prefer)` or `COURSE_BACKEND` rather than automatically. */
  forced: boolean;
  /** Every backend tried, in order, with the reason it was skipped or failed. */
  attempts: BackendAttempt[];
  adapter?: GpuAdapterSummary;
  /** The native engine (backend "tensorflow"): TensorFlow version, package, oneDNN. */
  native?: NativeEngineInfo;
  /** CPU threads doing the math (wasm under Deno runs single-threaded). */
  threads: number;
  simd?: boolean;
  tfjsVersion: string;
  initMs: number;
}

const SOFTWARE_GPU_PATTERN =
  /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|\bwarp\b/i;
// Mesa's PCI-less vendor id (VK_VENDOR_ID_MESA = 0x10005): only software rasterizers report it.
const MESA_SOFTWARE_VENDOR_ID = "65541";
const ADAPTER_TIMEOUT_MS = 10_000;

let current: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;
let pendingPrefer: string | undefined;

/**
 * Picks and initializes the tfjs backend. Call it before creating tensors. Calling it again returns
 * the same choice, unless `prefer` names a different backend (then it switches).
 * `prefer` wins over `COURSE_BACKEND`, which wins over the automatic order.
 */
export function initBackend(
  prefer?: BackendName | string,
): Promise<BackendInfo> {
  // Every notebook calls this first: from here on Kernel → Interrupt stops loops, not the kernel.
  watchInterrupts();
  const explicit = prefer ?? readEnv("COURSE_BACKEND");
  try {
    if (explicit !== undefined) validateBackendName(explicit);
  } catch (error) {
    return Promise.reject(error);
  }
  if (
    pending &&
    (prefer === undefined || prefer === pendingPrefer ||
      prefer === current?.name)
  ) {
    return pending;
  }
  pendingPrefer = explicit;
  const order = explicit
    ? [explicit, ...AUTOMATIC_ORDER.filter((n) => n !== explicit)]
    : [...AUTOMATIC_ORDER];
  pending = chooseBackend(order, { forced: explicit !== undefined }).catch(
    (error) => {
      pending = undefined;
      throw error;
    },
  );
  return pending;
}

/** The backend chosen by the last `initBackend`, or undefined before it. */
export function getBackendInfo(): BackendInfo | undefined {
  return current;
}

function validateBackendName(name: string): void {
  const known = AUTOMATIC_ORDER as readonly string[];
  if (!known.includes(name) && tf.findBackendFactory(name) === null) {
    throw new CourseError(
      "BACKEND_UNKNOWN",
      `Unknown backend "${name}"`,
      `백엔드 이름은 ${
        known.join(", ")
      } 중 하나여야 합니다. COURSE_BACKEND 환경 변수나 initBackend() 인자를 확인하세요.`,
    );
  }
}

/**
 * Tries `candidates` in order and keeps the first that initializes. Exported for tests, which
 * register a deliberately broken backend to check the fallback.
 */
export async function chooseBackend(
  candidates: readonly string[],
  options: { forced?: boolean } = {},
): Promise<BackendInfo> {
  const started = performance.now();
  const attempts: BackendAttempt[] = [];
  let adapter: GpuAdapterSummary | undefined;
  for (const [index, name] of candidates.entries()) {
    const forcedHere = options.forced === true && index === 0;
    const prepared = await prepareBackend(name, forcedHere);
    if (prepared.adapter) adapter = prepared.adapter;
    if (!prepared.ok) {
      attempts.push({ name, ok: false, detail: prepared.detail });
      continue;
    }
    const error = await activate(name);
    if (error) {
      attempts.push({ name, ok: false, detail: error });
      continue;
    }
    attempts.push({ name, ok: true, detail: "" });
    current = {
      name,
      forced: forcedHere,
      attempts,
      adapter: name === "webgpu" ? adapter : undefined,
      native: name === "tensorflow" ? nativeEngineInfo() : undefined,
      threads: threadsOf(name),
      simd: name === "wasm"
        ? await readFlag("WASM_HAS_SIMD_SUPPORT")
        : undefined,
      tfjsVersion: tf.version_core,
      initMs: performance.now() - started,
    };
    if (options.forced && !forcedHere) {
      console.warn(
        `[course] 요청한 백엔드 ${
          candidates[0]
        }를 쓸 수 없어 ${name}로 대신합니다: ${attempts[0].detail}`,
      );
    }
    return current;
  }
  throw new CourseError(
    "BACKEND_NONE",
    `No tfjs backend could be initialized: ${
      attempts.map((a) => `${a.name} (${a.detail})`).join("; ")
    }`,
    "cpu 백엔드마저 실패했습니다. `deno install`로 의존성을 다시 설치하고 커널을 재시작해 보세요.",
  );
}

/** Switches tfjs to `name`; returns an error text, or undefined on success. */
async function activate(name: string): Promise<string | undefined> {
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    if (ok && tf.getBackend() === name) return undefined;
  } catch (error) {
    forgetBackend(name);
    return errorText(error);
  }
  // tfjs keeps pointing at a backend whose init failed; remove it so that the next
  // setBackend and every later op start from a clean engine instead of a dead backend.
  forgetBackend(name);
  return "initialization failed";
}

function forgetBackend(name: string): void {
  try {
    if (tf.findBackendFactory(name) !== null) tf.removeBackend(name);
  } catch {
    // Already gone: nothing to clean up.
  }
}

interface Prepared {
  ok: boolean;
  detail: string;
  adapter?: GpuAdapterSummary;
}

async function prepareBackend(
  name: string,
  forced: boolean,
): Promise<Prepared> {
  switch (name) {
    case "tensorflow":
      return await prepareNative();
    case "webgpu":
      return await prepareWebGpu(forced);
    case "wasm":
      return prepareWasm();
    default:
      return tf.findBackendFactory(name) === null
        ? { ok: false, detail: "not registered" }
        : { ok: true, detail: "" };
  }
}

/**
 * Set once a WebGPU adapter was requested: loading TensorFlow's library into a process whose
 * Vulkan driver is already up crashes it (segfault in libtensorflow_framework, measured with
 * Mesa's lavapipe), so after that the native engine needs a fresh kernel.
 */
let webGpuStarted = false;

/** See native.ts: a broken build is reported and skipped, never loaded into this process. */
async function prepareNative(): Promise<Prepared> {
  if (webGpuStarted && tf.findBackendFactory("tensorflow") === null) {
    return {
      ok: false,
      detail:
        "WebGPU already started in this process; restart the kernel to use tensorflow",
    };
  }
  const status = await loadNative();
  if (status.broken) {
    console.warn(
      `[course] 네이티브 엔진(tfjs-node)을 불러오지 못해 다음 백엔드로 계산합니다: ${status.detail}. ` +
        "deno task setup을 다시 실행하면 다시 설치합니다.",
    );
  }
  return { ok: status.ok, detail: status.detail };
}

async function prepareWebGpu(forced: boolean): Promise<Prepared> {
  const adapter = await probeGpuAdapter();
  if (!adapter) return { ok: false, detail: "no WebGPU adapter" };
  if (adapter.software && !forced) {
    return {
      ok: false,
      detail: `software adapter (${
        adapter.description || adapter.vendor
      }) is slower than wasm`,
      adapter,
    };
  }
  try {
    await import("@tensorflow/tfjs-backend-webgpu");
  } catch (error) {
    return { ok: false, detail: errorText(error), adapter };
  }
  return { ok: true, detail: "", adapter };
}

/**
 * The Vulkan loader prints "XDG_RUNTIME_DIR is invalid" to stderr when the variable is unset
 * (containers, CI, Jupyter started from a service); that line would land in every notebook.
 */
function ensureRuntimeDir(): void {
  try {
    const current = Deno.env.get("XDG_RUNTIME_DIR");
    if (current && Deno.statSync(current).isDirectory) return;
    const dir = Deno.makeTempDirSync({ prefix: "xdg-runtime-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // No permission to read or set the environment: the warning is harmless, keep going.
  }
}

/** Asks for a WebGPU adapter without creating a device; undefined when there is none. */
export async function probeGpuAdapter(): Promise<
  GpuAdapterSummary | undefined
> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (!gpu) return undefined;
  webGpuStarted = true;
  ensureRuntimeDir();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ADAPTER_TIMEOUT_MS);
    });
    const adapter = await Promise.race([gpu.requestAdapter(), timeout]);
    return adapter ? summarizeAdapter(adapter) : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

function summarizeAdapter(adapter: GPUAdapter): GpuAdapterSummary {
  const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo> & {
    isFallbackAdapter?: boolean;
  };
  const summary = {
    description: info.description ?? "",
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    isFallbackAdapter: Boolean(
      info.isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
  };
  return { ...summary, software: isSoftwareAdapter(summary) };
}

export function isSoftwareAdapter(
  info: Omit<GpuAdapterSummary, "software">,
): boolean {
  if (info.isFallbackAdapter || info.vendor === MESA_SOFTWARE_VENDOR_ID) {
    return true;
  }
  return SOFTWARE_GPU_PATTERN.test(
    [info.description, info.vendor, info.architecture, info.device].join(" "),
  );
}

/**
 * Points tfjs at the .wasm files inside node_modules, so the backend loads offline from disk
 * instead of from a CDN.
 */
function prepareWasm(): Prepared {
  if (tf.findBackendFactory("wasm") === null) {
    return { ok: false, detail: "not registered" };
  }
  try {
    const entry = createRequire(import.meta.url).resolve(
      "@tensorflow/tfjs-backend-wasm",
    );
    setWasmPaths(pathToFileURL(dirname(entry)).href + "/");
  } catch (error) {
    return { ok: false, detail: `wasm files not found: ${errorText(error)}` };
  }
  return { ok: true, detail: "" };
}

function threadsOf(name: string): number {
  if (name === "wasm") {
    try {
      return getThreadsCount();
    } catch {
      return 1;
    }
  }
  if (name === "tensorflow") {
    return nativeEngineInfo()?.threads ?? navigator.hardwareConcurrency ?? 1;
  }
  return 1;
}

async function readFlag(flag: string): Promise<boolean | undefined> {
  try {
    return Boolean(await tf.env().getAsync(flag));
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}
