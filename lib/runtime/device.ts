import * as tf from "@tensorflow/tfjs-core";
import { type BackendInfo, getBackendInfo } from "./backend.ts";
import { formatBytes } from "./format.ts";
import { isQuickMode } from "./mode.ts";
import {
  fusedKernels,
  fusedKernelsDetail,
  KERNELS_OFF,
} from "./native_kernels.ts";

export interface DeviceReport {
  /** Backend chosen by initBackend(), or undefined before it ran. */
  backend?: string;
  backendForced: boolean;
  /** Backends tried before the chosen one and why they were skipped. */
  skipped: { name: string; detail: string }[];
  /** WebGPU adapter name when the backend is webgpu. */
  gpu?: string;
  gpuIsSoftware?: boolean;
  threads?: number;
  simd?: boolean;
  /** TensorFlow under the "tensorflow" backend: version, package, oneDNN, how it was installed. */
  tensorflow?: {
    version: string;
    package: string;
    onednn: boolean;
    source?: string;
    /** Why the course's fused training kernels are not in use; absent when they are. */
    fusedKernelsMissing?: string;
  };
  tfjsVersion: string;
  denoVersion: string;
  v8Version: string;
  typescriptVersion: string;
  os: string;
  osRelease: string;
  arch: string;
  cpuModel?: string;
  cpuCount: number;
  totalMemoryBytes?: number;
  availableMemoryBytes?: number;
  quickMode: boolean;
}

/** What this kernel computes on. Call `await initBackend()` first so the backend fields are filled. */
export function deviceReport(
  info: BackendInfo | undefined = getBackendInfo(),
): DeviceReport {
  const memory = systemMemory();
  return {
    backend: info?.name,
    backendForced: info?.forced ?? false,
    skipped: (info?.attempts ?? []).filter((a) => !a.ok).map((
      { name, detail },
    ) => ({ name, detail })),
    gpu: info?.adapter?.description || info?.adapter?.vendor || undefined,
    gpuIsSoftware: info?.adapter?.software,
    threads: info?.threads,
    simd: info?.simd,
    tensorflow: info?.native && {
      version: info.native.tensorflowVersion,
      package: info.native.package,
      onednn: info.native.onednn,
      source: info.native.source,
      ...(fusedKernels() ? {} : { fusedKernelsMissing: fusedKernelsDetail() }),
    },
    tfjsVersion: tf.version_core,
    denoVersion: Deno.version.deno,
    v8Version: Deno.version.v8,
    typescriptVersion: Deno.version.typescript,
    os: Deno.build.os,
    osRelease: safe(() => Deno.osRelease()) ?? "?",
    arch: Deno.build.arch,
    cpuModel: cpuModel(),
    cpuCount: navigator.hardwareConcurrency ?? 1,
    totalMemoryBytes: memory?.total,
    availableMemoryBytes: memory?.available,
    quickMode: isQuickMode(),
  };
}

const BACKEND_LABELS: Record<string, string> = {
  tensorflow: "tensorflow (tfjs-node, 네이티브 TensorFlow)",
  webgpu: "webgpu (GPU)",
  wasm: "wasm (WebAssembly, CPU)",
  cpu: "cpu (순수 JavaScript, 가장 느림)",
};

/** The device report as Korean text lines, for lesson 00 and the top of every notebook. */
export function formatDeviceReport(
  report: DeviceReport = deviceReport(),
): string {
  const lines: string[] = [];
  const backend = report.backend
    ? BACKEND_LABELS[report.backend] ?? report.backend
    : "아직 선택 전 (await initBackend() 실행)";
  lines.push(`백엔드: ${backend}${report.backendForced ? " ← 직접 지정" : ""}`);
  if (report.gpu) {
    lines.push(
      `GPU 어댑터: ${report.gpu}${
        report.gpuIsSoftware ? " (소프트웨어 에뮬레이션)" : ""
      }`,
    );
  }
  if (report.threads !== undefined && report.backend !== "webgpu") {
    const simd = report.simd === undefined
      ? ""
      : `, SIMD ${report.simd ? "사용" : "미사용"}`;
    lines.push(`계산 스레드: ${report.threads}${simd}`);
  }
  if (report.tensorflow) {
    const source = report.tensorflow.source === "wheel"
      ? ", pip 휠로 빌드"
      : report.tensorflow.source === "prebuilt"
      ? ", 공식 사전 빌드"
      : "";
    lines.push(
      `TensorFlow ${report.tensorflow.version} (${report.tensorflow.package}${source}) · oneDNN ${
        report.tensorflow.onednn ? "켜짐" : "꺼짐"
      }`,
    );
    const missing = report.tensorflow.fusedKernelsMissing;
    if (missing) {
      lines.push(
        missing === KERNELS_OFF
          ? `  융합 커널 꺼짐 (${KERNELS_OFF}): 학습은 tfjs 연산으로, 더 느리게 계산합니다.`
          : `  융합 커널 없음 (${missing}): 학습이 느려집니다. deno task setup을 다시 실행하세요.`,
      );
    }
  }
  for (const skipped of report.skipped) {
    lines.push(`  건너뜀: ${skipped.name} — ${skipped.detail}`);
  }
  lines.push(
    `tfjs ${report.tfjsVersion} · Deno ${report.denoVersion} · V8 ${report.v8Version} · TypeScript ${report.typescriptVersion}`,
  );
  lines.push(`운영체제: ${report.os} ${report.osRelease} (${report.arch})`);
  lines.push(`CPU: ${report.cpuModel ?? "?"} · 논리 코어 ${report.cpuCount}개`);
  if (report.totalMemoryBytes !== undefined) {
    lines.push(
      `메모리: 전체 ${formatBytes(report.totalMemoryBytes)}, 사용 가능 ${
        formatBytes(report.availableMemoryBytes ?? 0)
      }`,
    );
  }
  lines.push(
    `실행 모드: ${
      report.quickMode
        ? "빠른 모드 (COURSE_QUICK=1, 데이터·스텝 축소)"
        : "전체 모드"
    }`,
  );
  return lines.join("\n");
}

function systemMemory(): { total: number; available: number } | undefined {
  return safe(() => {
    const info = Deno.systemMemoryInfo();
    return { total: info.total, available: info.available };
  });
}

function cpuModel(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return safe(() => {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    return text.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim();
  });
}

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
