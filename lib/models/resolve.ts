/** Turns "a local folder or a Hub id" into a local folder, through lib/hub when it is a Hub id. */
import { CourseError } from "../runtime/errors.ts";

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

export async function resolvePretrainedDir(
  dirOrHubId: string,
  files: string[],
): Promise<string> {
  if (await isDirectory(dirOrHubId)) return dirOrHubId;
  const looksLikePath = dirOrHubId.startsWith(".") ||
    dirOrHubId.startsWith("/") ||
    dirOrHubId.split("/").length > 2;
  if (looksLikePath) {
    throw new CourseError(
      "model_dir_missing",
      `model folder not found: ${dirOrHubId}`,
      "폴더 경로가 맞는지 확인하세요. savePretrained로 저장한 폴더나 Hub 모델 id(예: klue/bert-base)를 넣습니다.",
    );
  }
  // Resolved at run time so that this layer type-checks while lib/hub is being written.
  const hubModule = new URL("../hub/mod.ts", import.meta.url).href;
  const hub = await import(hubModule) as {
    resolveModelDir(id: string, files: string[]): Promise<string>;
  };
  return await hub.resolveModelDir(dirOrHubId, files);
}
