/** Turns "a local folder or a Hub id" into a local folder, through lib/hub when it is a Hub id. */
import { resolveModelDir } from "../hub/mod.ts";
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
  optional: string[] = [],
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
  return await resolveModelDir(dirOrHubId, files, { optional });
}

/**
 * Model folder with its weights: `model.safetensors`, or for a sharded checkpoint the index and
 * every shard it lists (fetched from the Hub when given an id).
 */
export async function resolveWeightsDir(dirOrHubId: string): Promise<string> {
  const weightFiles = ["model.safetensors", "model.safetensors.index.json"];
  const dir = await resolvePretrainedDir(
    dirOrHubId,
    ["config.json"],
    weightFiles,
  );
  if (dir === dirOrHubId) return dir; // a local folder: used as is
  try {
    await Deno.stat(`${dir}/model.safetensors`);
    return dir;
  } catch {
    // no single file: look for shards
  }
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(
      await Deno.readTextFile(`${dir}/model.safetensors.index.json`),
    );
  } catch {
    return dir; // the checkpoint reader reports what is missing
  }
  const shards = [...new Set(Object.values(index.weight_map ?? {}))];
  return await resolvePretrainedDir(dirOrHubId, ["config.json", ...shards]);
}
