/**
 * How many CPU cores this process may use, counting a core once however many hardware threads
 * (SMT) it has: the thread count for runtimes that want one thread per core. onnxruntime-node's
 * own default was measured at one thread's speed on a 2-core AMD EPYC (1,097 sentences/s
 * against 1,618 with two threads set explicitly), so the course sets the count itself.
 */
import { readdirSync, readFileSync } from "node:fs";

const CPU_DIR = "/sys/devices/system/cpu";

/** Cores (not hardware threads) among the CPUs this process sees; at least 1. */
export function physicalCoreCount(cpuRoot = CPU_DIR): number {
  const logical = Math.max(1, navigator.hardwareConcurrency ?? 1);
  const cores = linuxCores(cpuRoot);
  // Fewer logical CPUs than cores means an affinity mask or a container quota: it wins.
  return cores ? Math.max(1, Math.min(logical, cores)) : logical;
}

/** Distinct (package, core) pairs in sysfs, or undefined off Linux or when unreadable. */
function linuxCores(cpuRoot: string): number | undefined {
  try {
    const seen = new Set<string>();
    for (const entry of readdirSync(cpuRoot)) {
      if (!/^cpu\d+$/.test(entry)) continue;
      const topology = `${cpuRoot}/${entry}/topology`;
      const read = (name: string) =>
        readFileSync(`${topology}/${name}`, "utf8").trim();
      try {
        seen.add(`${read("physical_package_id")}:${read("core_id")}`);
      } catch {
        // an offline CPU has no topology folder
      }
    }
    return seen.size || undefined;
  } catch {
    return undefined;
  }
}
