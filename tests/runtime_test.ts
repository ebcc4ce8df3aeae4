import assert from "node:assert/strict";
import { denoEval } from "./deno_eval.ts";
import * as tf from "@tensorflow/tfjs-core";
import {
  AUTOMATIC_ORDER,
  CourseError,
  deviceReport,
  formatDeviceReport,
  initBackend,
  isSoftwareAdapter,
  memoryReport,
  probeGpuAdapter,
  quick,
  resetMemoryPeak,
  SeededRandom,
  setSeed,
} from "../lib/runtime/mod.ts";
import { chooseBackend } from "../lib/runtime/backend.ts";
import { bindingPath, loadNative, runProbe } from "../lib/runtime/native.ts";

// Leave COURSE_BACKEND to the caller, but make sure the automatic path is what we test.
const withEnv = async (
  name: string,
  value: string | undefined,
  body: () => void | Promise<void>,
) => {
  const before = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    await body();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
};

Deno.test("SeededRandom: same seed, same stream; different seed, different stream", () => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const c = new SeededRandom(8);
  const seqA = Array.from({ length: 20 }, () => a.next());
  const seqB = Array.from({ length: 20 }, () => b.next());
  const seqC = Array.from({ length: 20 }, () => c.next());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
  for (const x of seqA) assert.ok(x >= 0 && x < 1);
});

Deno.test("SeededRandom: getState/setState resumes exactly where it stopped", () => {
  const rng = new SeededRandom(123);
  for (let i = 0; i < 50; i++) rng.next();
  const saved = JSON.parse(JSON.stringify(rng.getState())); // survives a JSON checkpoint
  const expected = [
    rng.next(),
    rng.int(1000),
    rng.normal(),
    rng.shuffle([1, 2, 3, 4, 5, 6]),
  ];
  const resumed = new SeededRandom(999);
  resumed.setState(saved);
  assert.deepEqual([
    resumed.next(),
    resumed.int(1000),
    resumed.normal(),
    resumed.shuffle([1, 2, 3, 4, 5, 6]),
  ], expected);
});

Deno.test("SeededRandom: int, normal and shuffle have the right distribution", () => {
  const rng = new SeededRandom(1);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[rng.int(10)]++;
  for (const count of counts) {
    assert.ok(Math.abs(count - 10_000) < 500, `bucket ${count}`);
  }
  let sum = 0;
  let sumSq = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = rng.normal(2, 3);
    sum += x;
    sumSq += x * x;
  }
  const mean = sum / n;
  const std = Math.sqrt(sumSq / n - mean * mean);
  assert.ok(Math.abs(mean - 2) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(std - 3) < 0.05, `std ${std}`);
  const shuffled = rng.shuffle(Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(
    [...shuffled].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.notDeepEqual(shuffled, Array.from({ length: 100 }, (_, i) => i));
  assert.throws(() => rng.int(0), CourseError);
});

Deno.test("setSeed makes the global stream reproducible", () => {
  const first = setSeed(5);
  const a = [first.next(), first.next()];
  const second = setSeed(5);
  assert.deepEqual([second.next(), second.next()], a);
});

Deno.test("quick() follows COURSE_QUICK", async () => {
  await withEnv("COURSE_QUICK", "1", () => assert.equal(quick(1000, 10), 10));
  await withEnv(
    "COURSE_QUICK",
    undefined,
    () => assert.equal(quick(1000, 10), 1000),
  );
  await withEnv("COURSE_QUICK", "0", () => assert.equal(quick(1000, 10), 1000));
});

Deno.test("software GPU adapters are recognized", () => {
  const base = {
    vendor: "",
    architecture: "",
    device: "",
    isFallbackAdapter: false,
  };
  assert.ok(
    isSoftwareAdapter({
      ...base,
      description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    }),
  );
  assert.ok(
    isSoftwareAdapter({ ...base, description: "SwiftShader Device (Subzero)" }),
  );
  assert.ok(
    isSoftwareAdapter({ ...base, description: "x", isFallbackAdapter: true }),
  );
  assert.ok(isSoftwareAdapter({ ...base, description: "", vendor: "65541" }));
  assert.ok(
    !isSoftwareAdapter({
      ...base,
      description: "NVIDIA GeForce RTX 4090",
      vendor: "4318",
    }),
  );
});

Deno.test("a backend that fails to initialize is skipped and tfjs is not left pointing at it", async () => {
  tf.registerBackend("broken-sync", () => {
    throw new Error("boom");
  });
  tf.registerBackend(
    "broken-async",
    () => Promise.reject(new Error("async boom")),
  );
  const info = await chooseBackend(["broken-sync", "broken-async", "cpu"]);
  assert.equal(info.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.deepEqual(info.attempts.map((a) => [a.name, a.ok]), [
    ["broken-sync", false],
    ["broken-async", false],
    ["cpu", true],
  ]);
  // The dead backends are gone, so tfjs cannot silently pick them later.
  assert.equal(tf.findBackendFactory("broken-sync"), null);
  assert.equal(tf.findBackendFactory("broken-async"), null);
  assert.equal(tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0], 3);
});

Deno.test("automatic choice: the native engine first, else real WebGPU, else wasm", async () => {
  await withEnv("COURSE_BACKEND", undefined, async () => {
    const native = await loadNative();
    if (Deno.env.get("COURSE_EXPECT_NATIVE") === "1") {
      assert.ok(native.ok, `native engine expected here: ${native.detail}`);
    }
    const info = await chooseBackend(AUTOMATIC_ORDER);
    assert.equal(info.attempts[0].name, "tensorflow");
    assert.equal(info.attempts[0].ok, native.ok);
    if (native.ok) {
      assert.equal(info.name, "tensorflow");
      assert.match(info.native!.tensorflowVersion, /^2\.\d+\.\d+/);
      assert.match(formatDeviceReport(), /TensorFlow 2\.\d+\.\d+ .*oneDNN/);
    } else {
      const adapter = await probeGpuAdapter();
      const realGpu = adapter !== undefined && !adapter.software;
      assert.equal(info.name, realGpu ? "webgpu" : "wasm");
      if (adapter?.software) {
        assert.equal(
          info.attempts[1].ok,
          false,
          "a software WebGPU adapter must not be chosen automatically",
        );
        assert.match(info.attempts[1].detail, /software adapter/);
      }
    }
    assert.equal(tf.getBackend(), info.name);
    assert.ok(info.threads >= 1);
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    assert.deepEqual(Array.from(tf.matMul(x, x).dataSync()), [7, 10, 15, 22]);
  });
});

Deno.test("native engine: a damaged addon is caught in a child process, not by this one", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const damaged = `${dir}/tfjs_binding.node`;
    Deno.writeFileSync(damaged, new Uint8Array(4096).fill(7));
    const verdict = await runProbe("@tensorflow/tfjs-node", "test", damaged);
    assert.equal(verdict.ok, false);
    assert.match(verdict.detail, /@tensorflow\/tfjs-node: .+/);
    assert.ok(verdict.detail.length < 400, "one line, not a stack trace");
    const real = bindingPath("@tensorflow/tfjs-node");
    if (real && (await loadNative()).ok) {
      const good = await runProbe("@tensorflow/tfjs-node", "test", real);
      assert.equal(good.ok, true, good.detail);
      assert.match(good.tensorflowVersion!, /^2\./);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("initBackend rejects unknown names with a Korean hint and can switch on request", async () => {
  await assert.rejects(() => initBackend("tpu"), (error: unknown) => {
    assert.ok(error instanceof CourseError);
    assert.match(error.hint, /백엔드/);
    return true;
  });
  const cpu = await initBackend("cpu");
  assert.equal(cpu.name, "cpu");
  assert.equal(cpu.forced, true);
  assert.equal(
    await initBackend("cpu"),
    cpu,
    "same request returns the same choice",
  );
  const wasm = await initBackend("wasm");
  assert.equal(wasm.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
});

Deno.test("device and memory reports", async () => {
  await initBackend("wasm");
  const report = deviceReport();
  assert.equal(report.backend, "wasm");
  assert.equal(report.tfjsVersion, tf.version_core);
  assert.ok(report.cpuCount >= 1);
  const text = formatDeviceReport(report);
  assert.match(text, /백엔드: wasm/);
  assert.match(text, /Deno /);

  resetMemoryPeak();
  const before = memoryReport();
  const big = tf.zeros([256, 1024]);
  const during = memoryReport();
  assert.equal(during.numTensors, before.numTensors + 1);
  assert.equal(during.tensorBytes - before.tensorBytes, 256 * 1024 * 4);
  big.dispose();
  const after = memoryReport();
  assert.equal(after.numTensors, before.numTensors);
  assert.ok(after.peakTensorBytes >= during.tensorBytes);
  assert.ok(after.rssBytes > 0 && after.peakRssBytes >= after.rssBytes);
});

Deno.test("kernel: SIGINT stops a loop at its next check, with a Korean error, and only once", async () => {
  // In a child process: `deno test` itself ends on SIGINT.
  const kernel = new URL("../lib/runtime/kernel.ts", import.meta.url).href;
  const script = `
    import { checkInterrupt, clearInterrupt, watchInterrupts } from "${kernel}";
    if (watchInterrupts()) throw new Error("listening outside Jupyter without force");
    watchInterrupts({ force: true });
    let steps = 0;
    let sentAt = 0;
    try {
      for (; steps < 1_000_000; steps++) {
        if (steps === 50) {
          sentAt = performance.now();
          Deno.kill(Deno.pid, "SIGINT");
        }
        await checkInterrupt("학습", "50단계까지 학습했습니다.");
      }
      console.log("not interrupted");
    } catch (error) {
      const ms = Math.round(performance.now() - sentAt);
      console.log("stopped", ms, error.code, error.message.split("\\n")[0]);
    }
    await checkInterrupt("다음 작업");
    Deno.kill(Deno.pid, "SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 50));
    clearInterrupt();
    await checkInterrupt("새 작업");
    console.log("alive");
  `;
  const out = await denoEval(script);
  const match = out.match(/^stopped (\d+) interrupted (.*)$/m);
  assert.ok(match, out);
  // Throttled to one event-loop turn per 100 ms: a real training step takes longer than that.
  const milliseconds = Number(match[1]);
  assert.ok(milliseconds < 1000, `stopped ${milliseconds} ms after SIGINT`);
  assert.match(match[2], /^학습: 중단했습니다 \(Kernel → Interrupt\)\. 50단계/);
  assert.match(out, /^alive$/m);
});
