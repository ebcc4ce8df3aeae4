/** Hugging Face Hub model ids -> local folders with the requested files. */
import { join, resolve } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { isOffline, mirrorRoot } from "./paths.ts";
import { locateUrl, type ResolveOptions } from "./resolve.ts";
import { gatherInOneFolder } from "./registry.ts";

/** `https://huggingface.co/<repo>/resolve/<revision>/<file>`, the URL `from_pretrained` downloads. */
export function hubUrl(
  repoId: string,
  filename: string,
  revision = "main",
): string {
  const file = filename.split("/").map(encodeURIComponent).join("/");
  return `https://huggingface.co/${repoId}/resolve/${
    encodeURIComponent(revision)
  }/${file}`;
}

export interface ModelDirOptions extends Omit<ResolveOptions, "sha256"> {
  /** Files that may be missing (e.g. tokenizer.json for older repos); skipped when unavailable. */
  optional?: string[];
  revision?: string;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/**
 * A local folder is returned as is. A Hub id (`beomi/kcbert-base`) has `files` fetched through
 * the cache/mirror/network chain and returns the folder that holds them.
 *
 * When no local folder of that name exists, the name is read by this rule:
 * - it can only be a path (starts with `.`, `/` or `~`, holds a backslash or a drive letter,
 *   ends with `/`, has more than one `/`, or is no valid `owner/name`): the error says that
 *   the local folder does not exist, and the Hub is not asked;
 * - an `owner/name` whose `owner` is a local folder (`runs/nsmc-final` next to `runs/`): still
 *   tried on the Hub (it is a valid id), but an error leads with the missing local folder;
 * - any other `owner/name` or `name`: a Hub id; an error also says no such local folder exists.
 */
export async function resolveModelDir(
  dirOrHubId: string,
  files: string[],
  options: ModelDirOptions = {},
): Promise<string> {
  if (await isDirectory(dirOrHubId)) return dirOrHubId;
  const local = await lookLocally(dirOrHubId);
  if (local.onlyAPath) throw localFolderNotFound(local);
  const revision = options.revision ?? "main";
  const optional = new Set(options.optional ?? []);
  const wanted = [...new Set([...files, ...optional])];
  const paths: string[] = [];
  const urls: string[] = [];
  const skipped: { file: string; error: CourseError }[] = [];
  for (const file of wanted) {
    const url = hubUrl(dirOrHubId, file, revision);
    try {
      paths.push((await locateUrl(url, options)).path);
      urls.push(url);
    } catch (error) {
      // An optional file that cannot be had is skipped (older repos have no tokenizer.json;
      // with no network the mirror may still hold vocab.txt); a damaged one never is.
      const skippable = optional.has(file) && !files.includes(file) &&
        error instanceof CourseError && error.code !== "HUB_CHECKSUM_MISMATCH";
      if (!skippable) throw withModelContext(error, dirOrHubId, file, local);
      skipped.push({ file, error });
    }
  }
  if (paths.length === 0) {
    // When what stopped the files is not "not there" (no mirror set, no network), say that:
    // naming the model as missing would send the learner after the wrong problem.
    const blocking = skipped.find(({ error }) =>
      error.code !== "HUB_NOT_FOUND"
    );
    if (blocking) {
      throw withModelContext(blocking.error, dirOrHubId, blocking.file, local);
    }
    throw noFilesFound(dirOrHubId, wanted, local);
  }
  return await gatherInOneFolder(paths, urls, options.cacheDir);
}

/** What the file system says about a name that is not a local folder. */
interface LocalLookup {
  name: string;
  /** Where the folder would be: relative names are read from the working directory. */
  absolute: string;
  onlyAPath: boolean;
  /** The `owner` of `owner/name` is a local folder. */
  ownerIsLocalFolder: boolean;
  isFile: boolean;
  /** The deepest folder on the way that exists, and the folders in it (a few). */
  nearest?: { path: string; folders: string[] };
}

async function lookLocally(name: string): Promise<LocalLookup> {
  const absolute = resolve(name);
  const segments = name.split("/");
  const onlyAPath = !HUB_ID.test(name) || /^[.~/]/.test(name) ||
    name.includes("\\") || /^[A-Za-z]:/.test(name) || name.endsWith("/");
  const ownerIsLocalFolder = segments.length === 2 &&
    await isDirectory(segments[0]);
  let nearest: LocalLookup["nearest"];
  if (onlyAPath || ownerIsLocalFolder) {
    let folder = resolve(absolute, "..");
    while (!(await isDirectory(folder)) && folder !== resolve(folder, "..")) {
      folder = resolve(folder, "..");
    }
    nearest = { path: folder, folders: await subfolders(folder) };
  }
  return {
    name,
    absolute,
    onlyAPath,
    ownerIsLocalFolder,
    isFile: await isFile(name),
    nearest,
  };
}

/** What to say about the missing local folder, in Korean: where it was looked for, what is near. */
function localSentence(local: LocalLookup): string {
  if (local.isFile) {
    return `"${local.name}"는 폴더가 아니라 파일입니다. 파일이 든 모델 폴더(savePretrained()로 저장한 폴더)를 넘기세요.`;
  }
  const near = local.nearest
    ? local.nearest.folders.length > 0
      ? ` 가장 가까이 있는 폴더 ${local.nearest.path}에는 ${
        local.nearest.folders.join(", ")
      } 폴더가 있습니다.`
      : ` 가장 가까이 있는 폴더 ${local.nearest.path}에는 하위 폴더가 없습니다.`
    : "";
  const tilde = local.name.startsWith("~")
    ? " ~는 홈 폴더로 바뀌지 않으니 전체 경로를 쓰세요."
    : "";
  return `로컬 폴더 "${local.name}"가 없습니다(찾은 위치: ${local.absolute}; 상대 경로는 현재 폴더 ${Deno.cwd()} 기준이고, 노트북은 notebooks/ 폴더에서 실행됩니다).${near}${tilde} savePretrained()로 저장한 폴더 경로를 확인하세요.`;
}

function localFolderNotFound(local: LocalLookup): CourseError {
  return new CourseError(
    "HUB_MODEL_NOT_FOUND",
    local.isFile
      ? `${local.name} is a file, not a model folder`
      : `No local folder ${local.absolute} (${local.name} is a path, not a Hub model id, so the Hub was not asked)`,
    localSentence(local),
  );
}

function withModelContext(
  error: unknown,
  repoId: string,
  file: string,
  local: LocalLookup,
): unknown {
  if (!(error instanceof CourseError)) return error;
  const message = error.message.split("\n→")[0];
  let hint = error.hint;
  if (
    (error.code === "HUB_NOT_FOUND" ||
      error.code === "HUB_OFFLINE_NO_MIRROR") &&
    file.startsWith("model.safetensors")
  ) {
    hint +=
      ` (모델 ${repoId}의 ${file}. 사전학습 가중치는 미러에 없으니 오프라인에서는 코스 모델 models/ 폴더를 쓰세요.)`;
  }
  if (local.ownerIsLocalFolder || local.isFile) {
    // Most likely a mistyped local folder: say that first, then what the Hub said.
    return new CourseError(
      "HUB_MODEL_NOT_FOUND",
      `No local folder ${local.absolute}; as a Hub model id: ${message}`,
      `${
        localSentence(local)
      } Hub 모델 id로도 찾아봤지만 실패했습니다: ${hint}`,
      { cause: error },
    );
  }
  return new CourseError(
    error.code,
    `${message} (and there is no local folder ${local.absolute})`,
    `${hint} (로컬 폴더 "${repoId}"도 없습니다(찾은 위치: ${local.absolute}). 로컬 모델이라면 savePretrained()로 저장한 폴더 경로를 확인하세요.)`,
    { cause: error },
  );
}

/** Every requested file was optional and none exists: name the files and where they were looked for. */
function noFilesFound(
  repoId: string,
  wanted: string[],
  local: LocalLookup,
): CourseError {
  const mirror = mirrorRoot();
  const where = isOffline() && mirror
    ? `the offline mirror ${mirror}`
    : "the Hub";
  const others = isOffline() && mirror
    ? mirroredModels(mirror).filter((id) => id !== repoId)
    : [];
  const suggestion = isOffline() && mirror
    ? `오프라인 미러에 ${repoId}의 파일(${wanted.join(", ")})이 없습니다.${
      others.length > 0 ? ` 미러에 있는 모델: ${others.join(", ")}.` : ""
    } 인터넷이 되면 COURSE_OFFLINE을 끄고 다시 실행하세요.`
    : `Hub의 ${repoId}에 ${
      wanted.join(", ")
    } 중 어느 파일도 없습니다. 모델 id와 revision을 확인하세요.`;
  const localNote = local.ownerIsLocalFolder ? `${localSentence(local)} ` : "";
  return new CourseError(
    "HUB_MODEL_NOT_FOUND",
    `None of ${wanted.join(", ")} of ${repoId} is in ${where}` +
      ` (and there is no local folder ${local.absolute})`,
    local.ownerIsLocalFolder
      ? `${localNote}Hub 모델 id로도 찾아봤지만: ${suggestion}`
      : `${suggestion} (로컬 폴더 "${repoId}"도 없습니다(찾은 위치: ${local.absolute}).)`,
  );
}

/** Hub models in the mirror: folders `huggingface.co/<id>/resolve`. */
function mirroredModels(mirror: string): string[] {
  const root = join(mirror, "huggingface.co");
  const found: string[] = [];
  const visit = (relative: string[], depth: number) => {
    const folder = join(root, ...relative);
    if (relative.length > 0 && isDirectorySync(join(folder, "resolve"))) {
      found.push(relative.join("/"));
      return;
    }
    if (depth === 2) return;
    for (const entry of readDirSync(folder)) {
      if (entry.isDirectory) visit([...relative, entry.name], depth + 1);
    }
  };
  visit([], 0);
  return found.sort();
}

function readDirSync(folder: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(folder)];
  } catch {
    return [];
  }
}

function isDirectorySync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const MAX_LISTED_FOLDERS = 8;

async function subfolders(folder: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) {
        names.push(entry.name);
      }
    }
  } catch {
    return [];
  }
  names.sort();
  return names.length > MAX_LISTED_FOLDERS
    ? [...names.slice(0, MAX_LISTED_FOLDERS), "…"]
    : names;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
