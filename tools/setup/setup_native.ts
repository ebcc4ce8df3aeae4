/**
 * Puts TensorFlow's native library under tfjs (the "tensorflow" backend) and says what it did.
 * Run by `tools/setup.sh`; safe to run again (a working engine is only checked).
 *
 *   deno run -A tools/setup/setup_native.ts [--force] [--skip-prebuilt]
 *
 * For each package (`@tensorflow/tfjs-node-gpu` first when an NVIDIA driver is loaded, then
 * `@tensorflow/tfjs-node`), in this order:
 *   1. already installed and passing the load probe -> done;
 *   2. a build from an earlier run in the course cache (`<cache>/native/<versions>/`) -> linked in;
 *   3. the package's official prebuilt download (libtensorflow 2.9.1 + addon from Google's
 *      storage; 10 s to answer, skipped when the host is unreachable);
 *   4. built here from a TensorFlow pip wheel (`tensorflow-cpu`, or `tensorflow` with CUDA
 *      libraries for the GPU package): its `libtensorflow_cc.so.2` exports the C and eager C API
 *      tfjs-node needs, the addon's sources ship in the npm package, and one g++ call with the
 *      Node-API headers (npm `node-api-headers`) builds the addon. Kept in the course cache.
 * Then, for a wheel build on CPU, the course's fused kernels (lib/runtime/native_kernels.cc)
 * are compiled against the same wheel's C++ headers (once per source version; without them training
 * uses tfjs' composite ops, slower).
 * Otherwise the course computes on wasm; the last line says why and how to get the fast engine.
 * Details of every step go to `<cache>/native/setup.log`.
 */
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import {
  bindingPath,
  buildInfoPath,
  NAPI_VERSION,
  type NativeBuildInfo,
  type NativePackage,
  nativePackages,
  packageDir,
  probeNative,
  readBuildInfo,
  TFJS_NODE_VERSION,
} from "../../lib/runtime/native.ts";
import {
  KERNELS_SOURCE,
  kernelsLibraryName,
} from "../../lib/runtime/native_kernels.ts";
import { cacheRoot, exists, REPO_ROOT } from "../../lib/runtime/paths.ts";
import { parseCli } from "../cli.ts";

/** The TensorFlow wheel the addon is built against (the C API is stable across 2.x). */
export const WHEEL_TENSORFLOW_VERSION = "2.21.0";
const PREBUILT_TENSORFLOW_VERSION = "2.9.1";
const PREBUILT_HOST = "https://storage.googleapis.com";
const LOCAL_PIP_INDEX = "/opt/pypi/simple";

const USAGE =
  `Usage: deno run -A tools/setup/setup_native.ts [--force] [--skip-prebuilt]
  --force          set up again even when an installed or cached engine works
  --skip-prebuilt  do not try the official prebuilt download
  --help           print this and exit`;

const { values: args } = parseCli(USAGE, {
  options: {
    force: { type: "boolean", default: false },
    "skip-prebuilt": { type: "boolean", default: false },
  },
});

const nativeRoot = join(cacheRoot(), "native");
Deno.mkdirSync(nativeRoot, { recursive: true });
const logPath = join(nativeRoot, "setup.log");
const log = await Deno.open(logPath, { create: true, append: true });
const encoder = new TextEncoder();

function say(line: string): void {
  console.log(`[setup] ${line}`);
  note(line);
}

function note(line: string): void {
  log.writeSync(encoder.encode(`${new Date().toISOString()} ${line}\n`));
}

interface Variant {
  pkg: NativePackage;
  device: "cpu" | "gpu";
  /** Folder of the wheel-based build in the cache, keyed by every version involved. */
  cacheDir: string;
  wheel: string;
}

function variantOf(pkg: NativePackage): Variant {
  const device = pkg.endsWith("-gpu") ? "gpu" : "cpu";
  const wheel = device === "gpu" ? "tensorflow" : "tensorflow-cpu";
  const platform = `${Deno.build.os}-${Deno.build.arch}`;
  return {
    pkg,
    device,
    wheel,
    cacheDir: join(
      nativeRoot,
      `tfjs-node-${TFJS_NODE_VERSION}_napi-v${NAPI_VERSION}_${wheel}-${WHEEL_TENSORFLOW_VERSION}_${platform}`,
    ),
  };
}

async function run(
  cmd: string,
  cmdArgs: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ ok: boolean; output: string }> {
  note(`$ ${cmd} ${cmdArgs.join(" ")}`);
  try {
    const result = await new Deno.Command(cmd, {
      args: cmdArgs,
      cwd: options.cwd,
      stdout: "piped",
      stderr: "piped",
      signal: options.timeoutMs
        ? AbortSignal.timeout(options.timeoutMs)
        : undefined,
    }).output();
    const output = new TextDecoder().decode(result.stdout) +
      new TextDecoder().decode(result.stderr);
    note(output.trim());
    return { ok: result.success, output };
  } catch (error) {
    const output = error instanceof Error ? error.message : String(error);
    note(output);
    return { ok: false, output };
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim()).pop()?.trim() ?? "";
}

function writeBuildInfo(binding: string, info: NativeBuildInfo): void {
  Deno.writeTextFileSync(buildInfoPath(binding), JSON.stringify(info, null, 2));
}

/** The cached wheel build -> the package's addon folder (the addon finds its libraries by rpath). */
function linkCachedBuild(variant: Variant): boolean {
  const built = join(variant.cacheDir, "tfjs_binding.node");
  const binding = bindingPath(variant.pkg);
  if (!binding || !exists(built)) return false;
  Deno.mkdirSync(dirname(binding), { recursive: true });
  Deno.copyFileSync(built, binding);
  const kernels = join(variant.cacheDir, kernelsLibraryName());
  writeBuildInfo(binding, {
    source: "wheel",
    tensorflowVersion: WHEEL_TENSORFLOW_VERSION,
    libDir: join(variant.cacheDir, "tensorflow"),
    device: variant.device,
    ...(exists(kernels) ? { kernels } : {}),
  });
  return true;
}

// 3. Official prebuilt ------------------------------------------------------------------------

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch (error) {
    note(`${url}: ${error instanceof Error ? error.message : error}`);
    return false;
  }
}

async function download(url: string, path: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(600_000) });
  if (!response.ok || !response.body) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  const file = await Deno.open(path, {
    create: true,
    write: true,
    truncate: true,
  });
  await response.body.pipeTo(file.writable);
}

async function installPrebuilt(variant: Variant): Promise<string | undefined> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    return "no prebuilt for this platform in this script";
  }
  const type = variant.device === "gpu" ? "GPU" : "CPU";
  const addonUrl =
    `${PREBUILT_HOST}/tf-builds/pre-built-binary/napi-v${NAPI_VERSION}/${TFJS_NODE_VERSION}/${type}-linux-${TFJS_NODE_VERSION}.tar.gz`;
  const libUrl =
    `${PREBUILT_HOST}/tensorflow/libtensorflow/libtensorflow-${variant.device}-linux-x86_64-${PREBUILT_TENSORFLOW_VERSION}.tar.gz`;
  if (!await reachable(addonUrl)) return `${PREBUILT_HOST} unreachable`;
  const dir = packageDir(variant.pkg)!;
  const binding = bindingPath(variant.pkg)!;
  const tmp = Deno.makeTempDirSync({ dir: nativeRoot, prefix: ".prebuilt-" });
  try {
    say(
      `downloading the official prebuilt ${variant.pkg} (libtensorflow ${PREBUILT_TENSORFLOW_VERSION})`,
    );
    await download(addonUrl, join(tmp, "addon.tar.gz"));
    await download(libUrl, join(tmp, "lib.tar.gz"));
    Deno.mkdirSync(join(dir, "deps"), { recursive: true });
    Deno.mkdirSync(join(tmp, "addon"), { recursive: true });
    for (
      const [archive, into] of [
        ["lib.tar.gz", join(dir, "deps")],
        ["addon.tar.gz", join(tmp, "addon")],
      ]
    ) {
      const { ok, output } = await run("tar", [
        "xzf",
        join(tmp, archive),
        "-C",
        into,
      ]);
      if (!ok) return `tar: ${lastLine(output)}`;
    }
    const found = [...walk(join(tmp, "addon"))].find((p) =>
      p.endsWith("tfjs_binding.node")
    );
    if (!found) return "the addon archive has no tfjs_binding.node";
    Deno.mkdirSync(dirname(binding), { recursive: true });
    Deno.copyFileSync(found, binding);
    writeBuildInfo(binding, {
      source: "prebuilt",
      tensorflowVersion: PREBUILT_TENSORFLOW_VERSION,
      libDir: join(dir, "deps", "lib"),
      device: variant.device,
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

function* walk(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else yield path;
  }
}

// 4. Build from a TensorFlow wheel ------------------------------------------------------------

function findPython(): string | undefined {
  const candidates = [
    Deno.env.get("COURSE_PYTHON"),
    join(REPO_ROOT, ".venv", "bin", "python"),
    "python3",
    "python",
  ].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      const ok = new Deno.Command(candidate, {
        args: ["-m", "pip", "--version"],
        stdout: "null",
        stderr: "null",
      }).outputSync().success;
      if (ok) return candidate;
    } catch {
      // Not installed.
    }
  }
  return undefined;
}

async function pipDownload(
  python: string,
  requirement: string,
  into: string,
  withDependencies: boolean,
): Promise<string | undefined> {
  const base = [
    "-m",
    "pip",
    "download",
    "--disable-pip-version-check",
    "--timeout",
    "15",
    "--retries",
    "1",
    "--only-binary=:all:",
    "-d",
    into,
    ...(withDependencies ? [] : ["--no-deps"]),
    requirement,
  ];
  const indexes = Deno.env.get("COURSE_PIP_INDEX")
    ? [["--index-url", Deno.env.get("COURSE_PIP_INDEX")!]]
    : [
      [],
      ...(exists(LOCAL_PIP_INDEX)
        ? [["--index-url", `file://${LOCAL_PIP_INDEX}`]]
        : []),
    ];
  let failure = "";
  for (const index of indexes) {
    const { ok, output } = await run(python, [
      ...base.slice(0, 3),
      ...index,
      ...base.slice(3),
    ], {
      timeoutMs: 900_000,
    });
    if (ok) return undefined;
    failure = lastLine(output);
  }
  return `pip download ${requirement}: ${failure}`;
}

/** Only what the addon needs from the wheel: two libraries and the C API headers. */
const WHEEL_MEMBERS = String.raw`
import sys, zipfile
wheel, into, device = sys.argv[1:4]
keep = ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")
headers = ("tensorflow/include/tensorflow/c/", "tensorflow/include/tensorflow/core/platform/",
           "tensorflow/include/tsl/platform/", "tensorflow/include/xla/tsl/c/")
# What a C++ kernel library needs besides (TensorFlow's framework, Eigen, Abseil, protobuf).
kernel_headers = tuple("tensorflow/include/" + d for d in (
    "tensorflow/core/", "tsl/", "xla/tsl/", "Eigen/", "unsupported/", "absl/", "google/protobuf/",
    "ml_dtypes/", "third_party/"))
if device == "cpu":
    headers += kernel_headers
if device == "headers":
    keep, headers = (), kernel_headers
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name in keep or name.startswith(headers):
            z.extract(name, into)
`;

const NVIDIA_MEMBERS = String.raw`
import sys, zipfile, glob
into = sys.argv[1]
for wheel in glob.glob(sys.argv[2] + "/nvidia_*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("nvidia/") and ".so" in name:
                z.extract(name, into)
`;

/**
 * pip downloads `requirement` into `wheels`, then unpacks from the variant's TensorFlow wheel what
 * `WHEEL_MEMBERS` selects for `members` into `into`. Says what failed, or undefined.
 */
async function unpackWheel(
  python: string,
  variant: Variant,
  requirement: string,
  wheels: string,
  into: string,
  members: "cpu" | "gpu" | "headers",
): Promise<string | undefined> {
  const failed = await pipDownload(
    python,
    requirement,
    wheels,
    variant.device === "gpu",
  );
  if (failed) return failed;
  const wheel = [...Deno.readDirSync(wheels)].map((e) => e.name).find((n) =>
    n.startsWith(
      `${variant.wheel.replace("-", "_")}-${WHEEL_TENSORFLOW_VERSION}-`,
    )
  );
  if (!wheel) return `no ${variant.wheel} wheel was downloaded`;
  const step = await run(python, [
    "-c",
    WHEEL_MEMBERS,
    join(wheels, wheel),
    into,
    members,
  ]);
  return step.ok ? undefined : `unpacking the wheel: ${lastLine(step.output)}`;
}

async function buildFromWheel(variant: Variant): Promise<string | undefined> {
  if (Deno.build.os !== "linux") {
    return "building from a wheel is scripted for Linux only";
  }
  const python = findPython();
  if (!python) return "no Python with pip to fetch the TensorFlow wheel";
  const cxx = Deno.env.get("CXX") ?? "g++";
  if (!(await run(cxx, ["--version"])).ok) {
    return `no C++ compiler (${cxx}); Debian: apt-get install g++`;
  }
  const headers = nodeApiHeaders();
  if (!headers) return "npm package node-api-headers missing (deno install)";
  const source = packageDir(variant.pkg)!;
  const tmp = Deno.makeTempDirSync({ dir: nativeRoot, prefix: ".build-" });
  const started = performance.now();
  try {
    const requirement = variant.device === "gpu"
      ? `tensorflow[and-cuda]==${WHEEL_TENSORFLOW_VERSION}`
      : `${variant.wheel}==${WHEEL_TENSORFLOW_VERSION}`;
    say(
      `building ${variant.pkg} from the ${variant.wheel} ${WHEEL_TENSORFLOW_VERSION} wheel (once; ~1 min)`,
    );
    const wheels = join(tmp, "wheels");
    const out = join(tmp, "out");
    const failed = await unpackWheel(
      python,
      variant,
      requirement,
      wheels,
      out,
      variant.device,
    );
    if (failed) return failed;
    if (variant.device === "gpu") {
      const step = await run(python, ["-c", NVIDIA_MEMBERS, out, wheels]);
      if (!step.ok) {
        return `unpacking the CUDA wheels: ${lastLine(step.output)}`;
      }
    }
    Deno.removeSync(wheels, { recursive: true });
    const libDir = join(out, "tensorflow");
    // The addon links -ltensorflow; the wheel's C API library is libtensorflow_cc.
    Deno.symlinkSync(
      "libtensorflow_cc.so.2",
      join(libDir, "libtensorflow.so.2"),
    );
    Deno.symlinkSync("libtensorflow.so.2", join(libDir, "libtensorflow.so"));
    Deno.symlinkSync(
      "libtensorflow_framework.so.2",
      join(libDir, "libtensorflow_framework.so"),
    );
    const finalLibDir = join(variant.cacheDir, "tensorflow");
    const step = await run(cxx, [
      "-shared",
      "-fPIC",
      "-O2",
      "-std=c++17",
      `-DNAPI_VERSION=${NAPI_VERSION}`,
      `-I${source}`,
      `-I${join(libDir, "include")}`,
      `-I${headers}`,
      join(source, "binding", "tfjs_backend.cc"),
      join(source, "binding", "tfjs_binding.cc"),
      `-L${libDir}`,
      "-ltensorflow",
      "-ltensorflow_framework",
      `-Wl,-rpath,${finalLibDir}`,
      "-o",
      join(out, "tfjs_binding.node"),
    ], { timeoutMs: 600_000 });
    if (!step.ok) return `compiling the addon: ${lastLine(step.output)}`;
    if (variant.device === "cpu") {
      const problem = await compileKernels(
        join(libDir, "include"),
        libDir,
        finalLibDir,
        join(out, kernelsLibraryName()),
      );
      if (problem) say(`fused kernels not built: ${problem}`);
    }
    Deno.removeSync(join(libDir, "include"), { recursive: true });
    if (exists(variant.cacheDir)) {
      Deno.removeSync(variant.cacheDir, { recursive: true });
    }
    Deno.renameSync(out, variant.cacheDir);
    note(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return undefined;
  } finally {
    if (exists(tmp)) Deno.removeSync(tmp, { recursive: true });
  }
}

/**
 * g++ on lib/runtime/native_kernels.cc against a wheel's headers and its libtensorflow_framework.
 * The library is built on the machine that runs it, so for this CPU (`-march=native`; Eigen's
 * AVX512-FP16 code does not compile with g++ 12, hence `-mno-avx512fp16`, and older compilers
 * get the plain flag). A copied cache that does not fit the CPU fails the load probe, and
 * training falls back to tfjs' ops.
 */
const KERNEL_ARCH_FLAGS = [
  ["-march=native", "-mno-avx512fp16"],
  ["-march=native"],
];

async function compileKernels(
  include: string,
  libDir: string,
  finalLibDir: string,
  output: string,
): Promise<string | undefined> {
  const cxx = Deno.env.get("CXX") ?? "g++";
  const started = performance.now();
  let failure = "";
  for (const arch of KERNEL_ARCH_FLAGS) {
    const step = await run(cxx, [
      "-shared",
      "-fPIC",
      "-O3",
      ...arch,
      "-std=c++17",
      "-w",
      "-D_GLIBCXX_USE_CXX11_ABI=1",
      "-DEIGEN_MAX_ALIGN_BYTES=64",
      `-I${include}`,
      KERNELS_SOURCE,
      `-L${libDir}`,
      "-l:libtensorflow_framework.so.2",
      `-Wl,-rpath,${finalLibDir}`,
      "-o",
      output,
    ], { timeoutMs: 600_000 });
    if (step.ok) {
      note(
        `fused kernels built (${arch.join(" ")}) in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
      return undefined;
    }
    failure = lastLine(step.output);
  }
  return `g++: ${failure}`;
}

/**
 * The fused kernels for a working wheel build that lacks them (a cache from before they existed,
 * or an older native_kernels.cc): the wheel again for its headers, then g++. Never fatal.
 */
async function ensureKernels(variant: Variant): Promise<void> {
  const binding = bindingPath(variant.pkg);
  const info = binding ? readBuildInfo(binding) : undefined;
  if (!binding || info?.source !== "wheel" || variant.device !== "cpu") return;
  // Beside the libtensorflow this addon loads (its build folder), which need not be the folder a
  // new build would get (the addon was set up with another COURSE_CACHE, say).
  const library = join(dirname(info.libDir), kernelsLibraryName());
  if (!exists(library)) {
    const problem = await buildKernelsFromWheel(variant, info.libDir, library);
    if (problem) {
      say(
        `fused kernels not built (${problem}); training uses tfjs' ops, slower`,
      );
      return;
    }
  }
  if (info.kernels !== library) {
    writeBuildInfo(binding, { ...info, kernels: library });
  }
  const verdict = await probeNative(variant.pkg);
  say(
    verdict.kernels
      ? "fused kernels ready (GELU, LayerNorm, dropout, attention softmax; attention for inference)"
      : `fused kernels do not load (${verdict.kernelsDetail}); training uses tfjs' ops`,
  );
}

async function buildKernelsFromWheel(
  variant: Variant,
  libDir: string,
  library: string,
): Promise<string | undefined> {
  const python = findPython();
  if (!python) return "no Python with pip to fetch the TensorFlow wheel";
  const tmp = Deno.makeTempDirSync({ dir: nativeRoot, prefix: ".kernels-" });
  try {
    say(`building the fused kernels (once; ~30 s)`);
    const failed = await unpackWheel(
      python,
      variant,
      `${variant.wheel}==${WHEEL_TENSORFLOW_VERSION}`,
      join(tmp, "wheels"),
      tmp,
      "headers",
    );
    if (failed) return failed;
    return await compileKernels(
      join(tmp, "tensorflow", "include"),
      libDir,
      libDir,
      library,
    );
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

function nodeApiHeaders(): string | undefined {
  try {
    const entry = createRequire(join(REPO_ROOT, "deno.json")).resolve(
      "node-api-headers/package.json",
    );
    const include = join(dirname(entry), "include");
    return exists(join(include, "node_api.h")) ? include : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

async function check(variant: Variant): Promise<string | undefined> {
  const verdict = await probeNative(variant.pkg);
  if (verdict.ok) {
    say(
      `native engine ready: ${variant.pkg} on TensorFlow ${verdict.tensorflowVersion}`,
    );
    return undefined;
  }
  return verdict.detail;
}

function removeInstalled(pkg: NativePackage): void {
  const binding = bindingPath(pkg);
  if (!binding) return;
  for (const path of [binding, buildInfoPath(binding)]) {
    if (exists(path)) Deno.removeSync(path);
  }
}

async function setUp(variant: Variant): Promise<string | undefined> {
  if (!packageDir(variant.pkg)) {
    return `${variant.pkg} is not installed (deno install)`;
  }
  const binding = bindingPath(variant.pkg)!;
  const reasons: string[] = [];
  if (!args.force && exists(binding)) {
    const problem = await check(variant);
    if (!problem) return undefined;
    reasons.push(problem);
    note(`installed addon does not load: ${problem}`);
    removeInstalled(variant.pkg);
  }
  if (!args.force && linkCachedBuild(variant)) {
    const problem = await check(variant);
    if (!problem) return undefined;
    reasons.push(`cached build: ${problem}`);
    removeInstalled(variant.pkg);
  }
  if (!args["skip-prebuilt"]) {
    const problem = await installPrebuilt(variant) ?? await check(variant);
    if (!problem) return undefined;
    note(`prebuilt: ${problem}`);
    reasons.push(`prebuilt: ${problem}`);
    removeInstalled(variant.pkg);
  }
  const problem = await buildFromWheel(variant) ??
    (linkCachedBuild(variant)
      ? await check(variant)
      : "build produced no addon");
  if (!problem) return undefined;
  removeInstalled(variant.pkg);
  reasons.push(`wheel build: ${problem}`);
  return reasons.join("; ");
}

const started = performance.now();
let failure: string | undefined = "no native package for this machine";
for (const pkg of nativePackages()) {
  failure = await setUp(variantOf(pkg));
  if (!failure) {
    await ensureKernels(variantOf(pkg));
    break;
  }
  note(`${pkg}: ${failure}`);
}
note(
  `setup_native finished in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);
if (failure) {
  say(
    `네이티브 엔진을 준비하지 못해 wasm(느림)으로 계산합니다: ${failure}. ` +
      `빠른 엔진을 쓰려면 pip가 되는 Python과 g++를 설치하고 deno task setup을 다시 실행하세요 (자세한 기록: ${logPath}).`,
  );
}
log.close();
