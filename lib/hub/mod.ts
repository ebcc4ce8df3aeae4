export {
  cacheRoot,
  isOffline,
  mirrorRoot,
  urlToRelativePath,
} from "./paths.ts";
export {
  type FileSource,
  locateUrl,
  type ResolveOptions,
  resolveUrl,
} from "./resolve.ts";
export { hubUrl, type ModelDirOptions, resolveModelDir } from "./models.ts";
export { resolveDataset, resolveDatasetDir } from "./registry.ts";
export {
  registryEntries,
  type RegistryEntry,
  registryEntry,
} from "./registry_data.ts";
export {
  cacheStatus,
  type FolderStatus,
  type MirrorStatus,
  mirrorStatus,
} from "./status.ts";
export { sha256File } from "./checksum.ts";
export {
  JupyterProgress,
  PROGRESS_MIN_BYTES,
  type ProgressOption,
  type ProgressReporter,
  TerminalProgress,
} from "./progress.ts";
