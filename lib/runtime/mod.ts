export { CourseError } from "./errors.ts";
export { readEnv, readEnvFlag } from "./env.ts";
export { isQuickMode, quick } from "./mode.ts";
export { getRandom, getSeed, SeededRandom, setSeed } from "./random.ts";
export {
  AUTOMATIC_ORDER,
  type BackendAttempt,
  type BackendInfo,
  type BackendName,
  getBackendInfo,
  type GpuAdapterSummary,
  initBackend,
  isSoftwareAdapter,
  probeGpuAdapter,
} from "./backend.ts";
export {
  type DeviceReport,
  deviceReport,
  formatDeviceReport,
} from "./device.ts";
export {
  formatMemoryReport,
  type MemoryReport,
  memoryReport,
  resetMemoryPeak,
} from "./memory.ts";
export { escapeHtml, formatBytes } from "./format.ts";
export {
  displayable,
  displayBundle,
  DisplayHandle,
  type MediaBundle,
} from "./jupyter_display.ts";
export {
  checkInterrupt,
  clearInterrupt,
  inJupyter,
  interruptedError,
  interruptPending,
  interruptRequested,
  QUEUED_CELL_GAP_MS,
  refuseQueuedAfterInterrupt,
  watchInterrupts,
} from "./kernel.ts";
