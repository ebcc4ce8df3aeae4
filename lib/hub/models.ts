/** Hugging Face Hub model ids -> local folders with the requested files. */
import { CourseError } from "../runtime/errors.ts";
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
 */
export async function resolveModelDir(
  dirOrHubId: string,
  files: string[],
  options: ModelDirOptions = {},
): Promise<string> {
  if (await isDirectory(dirOrHubId)) return dirOrHubId;
  if (!HUB_ID.test(dirOrHubId) || dirOrHubId.startsWith(".")) {
    throw new CourseError(
      "HUB_MODEL_NOT_FOUND",
      `No such folder and not a Hub model id: ${dirOrHubId}`,
      "savePretrained()로 저장한 폴더 경로가 맞는지, 또는 Hub 모델 id(예: beomi/kcbert-base)가 맞는지 확인하세요.",
    );
  }
  const revision = options.revision ?? "main";
  const optional = new Set(options.optional ?? []);
  const wanted = [...new Set([...files, ...optional])];
  const paths: string[] = [];
  const urls: string[] = [];
  for (const file of wanted) {
    const url = hubUrl(dirOrHubId, file, revision);
    try {
      paths.push((await locateUrl(url, options)).path);
      urls.push(url);
    } catch (error) {
      // An optional file that cannot be had is fine; a corrupt one is never fine.
      const skippable = optional.has(file) && !files.includes(file) &&
        error instanceof CourseError && error.code !== "HUB_CHECKSUM_MISMATCH";
      if (!skippable) throw withModelContext(error, dirOrHubId, file);
    }
  }
  if (paths.length === 0) {
    throw new CourseError(
      "HUB_MODEL_NOT_FOUND",
      `None of the files of ${dirOrHubId} could be found`,
      "모델 id를 확인하세요. 오프라인이라면 미러에 있는 모델(예: beomi/kcbert-base의 vocab.txt)만 쓸 수 있습니다.",
    );
  }
  return await gatherInOneFolder(paths, urls, options.cacheDir);
}

function withModelContext(
  error: unknown,
  repoId: string,
  file: string,
): unknown {
  if (!(error instanceof CourseError)) return error;
  const hint =
    error.code === "HUB_NOT_FOUND" || error.code === "HUB_OFFLINE_NO_MIRROR"
      ? `${error.hint} (모델 ${repoId}의 ${file}. 사전학습 가중치는 미러에 없으니 오프라인에서는 코스 모델 models/ 폴더를 쓰세요.)`
      : error.hint;
  return new CourseError(error.code, error.message.split("\n→")[0], hint, {
    cause: error,
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
