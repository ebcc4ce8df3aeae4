import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { physicalCoreCount } from "../lib/runtime/cpu_cores.ts";
import { onnxThreads } from "../lib/tasks/engine_onnx.ts";

/** A sysfs cpu folder with one topology per logical CPU: [package, core] pairs. */
function fakeCpuRoot(topology: [number, number][], offline = 0): string {
  const root = mkdtempSync(join(tmpdir(), "cpu-cores-"));
  topology.forEach(([pkg, core], cpu) => {
    const dir = join(root, `cpu${cpu}`, "topology");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "physical_package_id"), `${pkg}\n`);
    writeFileSync(join(dir, "core_id"), `${core}\n`);
  });
  for (let i = 0; i < offline; i++) {
    mkdirSync(join(root, `cpu${topology.length + i}`));
  }
  mkdirSync(join(root, "cpufreq")); // not a CPU
  return root;
}

Deno.test("physicalCoreCount counts each SMT core once, never above the CPUs this process has", () => {
  const logical = navigator.hardwareConcurrency;
  // two hardware threads per core, two cores in each of two packages, one CPU offline
  const root = fakeCpuRoot([[0, 0], [0, 0], [0, 1], [0, 1], [1, 0], [1, 0], [
    1,
    1,
  ], [1, 1]], 1);
  try {
    assert.equal(physicalCoreCount(root), Math.min(logical, 4));
  } finally {
    rmSync(root, { recursive: true });
  }
  const single = fakeCpuRoot([[0, 0], [0, 0]]);
  try {
    assert.equal(physicalCoreCount(single), 1);
  } finally {
    rmSync(single, { recursive: true });
  }
  assert.equal(physicalCoreCount("/nonexistent/cpu"), logical);
  const here = physicalCoreCount();
  assert.ok(Number.isInteger(here) && here >= 1 && here <= logical);
});

Deno.test("the onnx engine sets one thread per core unless told a count", () => {
  assert.equal(onnxThreads(), physicalCoreCount());
  assert.equal(onnxThreads(3), 3);
  assert.equal(onnxThreads(0), physicalCoreCount());
});
