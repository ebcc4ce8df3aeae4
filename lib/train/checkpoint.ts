/**
 * Checkpoint folders as the Hugging Face Trainer writes them: `checkpoint-<step>/` holds the model
 * in Hugging Face format (config.json + model.safetensors), `optimizer.safetensors`,
 * `scheduler.json`, `rng_state.json` and `trainer_state.json`. A checkpoint is written into a temp
 * folder and renamed into place, so an interrupted save never leaves a half-written checkpoint.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import type { AdamW } from "./adamw.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedArray,
} from "./safetensors.ts";
import type { TrainableModel } from "./types.ts";

export const CHECKPOINT_PREFIX = "checkpoint-";

export interface CheckpointParts {
  model: TrainableModel;
  optimizer: AdamW;
  trainerState: Record<string, unknown>;
  schedulerState: Record<string, unknown>;
  rngState: Record<string, unknown>;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
}

/** Writes the weights ourselves when the model has no savePretrained (small test models). */
async function saveModel(model: TrainableModel, dir: string): Promise<void> {
  if (model.savePretrained) return await model.savePretrained(dir);
  const tensors = new Map<string, NamedArray>();
  for (const [name, v] of model.namedParameters()) {
    tensors.set(name, {
      shape: v.shape,
      data: Float32Array.from(await v.data()),
    });
  }
  await Deno.writeFile(
    join(dir, "model.safetensors"),
    encodeSafetensors(tensors, { format: "pt" }),
  );
  if (model.config) await writeJson(join(dir, "config.json"), model.config);
}

export async function saveCheckpoint(
  outputDir: string,
  step: number,
  parts: CheckpointParts,
): Promise<string> {
  await Deno.mkdir(outputDir, { recursive: true });
  const finalDir = join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  const tempDir = join(
    outputDir,
    `.tmp-${CHECKPOINT_PREFIX}${step}-${Date.now()}`,
  );
  await Deno.mkdir(tempDir);
  try {
    await saveModel(parts.model, tempDir);
    const optimizerState = await parts.optimizer.stateDict();
    await Deno.writeFile(
      join(tempDir, "optimizer.safetensors"),
      encodeSafetensors(optimizerState.tensors, {
        steps: JSON.stringify(optimizerState.steps),
        hyper: JSON.stringify(optimizerState.hyper),
      }),
    );
    await writeJson(join(tempDir, "scheduler.json"), parts.schedulerState);
    await writeJson(join(tempDir, "rng_state.json"), parts.rngState);
    // trainer_state.json last: its presence marks a complete checkpoint.
    await writeJson(join(tempDir, "trainer_state.json"), parts.trainerState);
    await Deno.remove(finalDir, { recursive: true }).catch(() => {});
    await Deno.rename(tempDir, finalDir);
  } catch (error) {
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    throw error;
  }
  return finalDir;
}

/** Complete checkpoints in `outputDir`, oldest step first. */
export async function listCheckpoints(outputDir: string): Promise<string[]> {
  const found: { step: number; path: string }[] = [];
  try {
    for await (const entry of Deno.readDir(outputDir)) {
      const match = entry.isDirectory && entry.name.match(/^checkpoint-(\d+)$/);
      if (!match) continue;
      const path = join(outputDir, entry.name);
      try {
        await Deno.stat(join(path, "trainer_state.json"));
        found.push({ step: Number(match[1]), path });
      } catch { /* incomplete: ignore */ }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort((a, b) => a.step - b.step).map((c) => c.path);
}

export async function latestCheckpoint(
  outputDir: string,
): Promise<string | undefined> {
  return (await listCheckpoints(outputDir)).at(-1);
}

/** Keeps the newest `limit` checkpoints, and the best one whatever its age (as HF does). */
export async function rotateCheckpoints(
  outputDir: string,
  limit: number | undefined,
  keep?: string,
): Promise<string[]> {
  if (!limit || limit <= 0) return [];
  const all = await listCheckpoints(outputDir);
  const removable = all.filter((p) => p !== keep);
  // HF: with a limit of 1 and a best checkpoint that is not the newest, both are kept.
  const toKeep = Math.max(1, limit - (keep && all.includes(keep) ? 1 : 0));
  const removed = removable.slice(0, Math.max(0, removable.length - toKeep));
  for (const path of removed) await Deno.remove(path, { recursive: true });
  return removed;
}

export interface LoadedCheckpoint {
  path: string;
  trainerState: Record<string, unknown>;
  schedulerState: Record<string, unknown>;
  rngState: Record<string, unknown>;
  optimizer: {
    tensors: Map<string, NamedArray>;
    steps: Record<string, number>;
  };
}

export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const readJson = async (file: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(path, file)));
    } catch (cause) {
      throw new CourseError(
        "train/bad-checkpoint",
        `Cannot read ${file} in checkpoint ${path}`,
        "체크포인트 폴더 경로를 확인하세요. resumeFromCheckpoint: true로 두면 outputDir의 최신 체크포인트를 씁니다.",
        { cause },
      );
    }
  };
  const trainerState = await readJson("trainer_state.json");
  const optimizerFile = decodeSafetensors(
    await Deno.readFile(join(path, "optimizer.safetensors")),
  );
  return {
    path,
    trainerState,
    schedulerState: await readJson("scheduler.json"),
    rngState: await readJson("rng_state.json"),
    optimizer: {
      tensors: optimizerFile.tensors,
      steps: JSON.parse(optimizerFile.metadata.steps ?? "{}"),
    },
  };
}

/**
 * Puts the checkpoint's weights back into an existing model, by Hugging Face name. Parameters
 * missing from the file are tied ones (the MLM decoder) and are skipped.
 */
export async function restoreModelWeights(
  model: TrainableModel,
  path: string,
): Promise<void> {
  // lib/models knows its own layouts (Linear weights are [in, out] inside, [out, in] on disk).
  if (model.loadPretrainedWeights) {
    await model.loadPretrainedWeights(path, { verbose: false });
    return;
  }
  const { tensors } = decodeSafetensors(
    await Deno.readFile(join(path, "model.safetensors")),
  );
  for (const [name, variable] of model.namedParameters()) {
    const saved = tensors.get(name);
    if (!saved) continue;
    const sameShape = saved.shape.length === variable.shape.length &&
      saved.shape.every((d, i) => d === variable.shape[i]);
    if (!sameShape) {
      throw new CourseError(
        "train/checkpoint-shape",
        `Checkpoint ${name} has shape [${saved.shape}], the model has [${variable.shape}]`,
        "체크포인트를 만든 모델과 같은 설정(config)의 모델로 이어서 학습하세요.",
      );
    }
    tf.tidy(() =>
      variable.assign(tf.tensor(saved.data, saved.shape, "float32"))
    );
  }
}
