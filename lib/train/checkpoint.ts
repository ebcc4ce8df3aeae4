/**
 * Checkpoint folders as the Hugging Face Trainer writes them: `checkpoint-<step>/` holds the model
 * in Hugging Face format (config.json + model.safetensors), `optimizer.safetensors`,
 * `scheduler.json`, `rng_state.json` and `trainer_state.json`. A checkpoint is written into a temp
 * folder and renamed into place, so an interrupted save never leaves a half-written checkpoint; a
 * temp folder left by a killed process is removed by `removeStaleTempFolders` on the next start.
 * Weights with NaN or Infinity are never saved. Files are read and written by lib/models'
 * safetensors module (the course's one), so a checkpoint's bytes are what the Python library
 * writes for the same tensors.
 */
import * as tf from "@tensorflow/tfjs-core";
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import type { AdamW } from "./adamw.ts";
import {
  float32Tensors,
  parseSafetensors,
  serializeSafetensors,
  type TensorToWrite,
} from "../models/safetensors.ts";
import type { TrainableModel } from "./types.ts";

export const CHECKPOINT_PREFIX = "checkpoint-";
const TEMP_PREFIX = `.tmp-${CHECKPOINT_PREFIX}`;

/** What a checkpoint folder must hold to resume from it (model weights are checked apart). */
const RESUME_FILES = [
  "trainer_state.json",
  "optimizer.safetensors",
  "scheduler.json",
  "rng_state.json",
];

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
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, v] of model.namedParameters()) {
    tensors.set(name, {
      shape: v.shape,
      data: Float32Array.from(await v.data()),
    });
  }
  await Deno.writeFile(
    join(dir, "model.safetensors"),
    serializeSafetensors(tensors, { metadata: { format: "pt" } }),
  );
  if (model.config) await writeJson(join(dir, "config.json"), model.config);
}

/**
 * Hugging Face names of the parameters holding NaN or Infinity (empty when all are finite): one
 * small reduction per parameter on the device and a single readback when all is well.
 */
export async function nonFiniteParameters(
  model: Pick<TrainableModel, "namedParameters">,
): Promise<string[]> {
  const entries = [...model.namedParameters()];
  // x - x is 0 for a finite x and NaN for NaN or ±Infinity. Scalars are added one by one (no
  // many-input kernel) and each parameter gets its own tidy, so no temporary outlives its step.
  const check = (v: tf.Tensor) => tf.sum(tf.sub(v, v));
  let total = tf.scalar(0);
  for (const [, v] of entries) {
    const next = tf.tidy(() => tf.add(total, check(v)));
    total.dispose();
    total = next as tf.Scalar;
  }
  const allFinite = (await total.data())[0] === 0;
  total.dispose();
  if (allFinite) return [];
  const names: string[] = [];
  for (const [name, v] of entries) {
    const value = tf.tidy(() => check(v));
    if ((await value.data())[0] !== 0) names.push(name);
    value.dispose();
  }
  return names;
}

/** "Weights became NaN or Infinity at step N (names)": shared by the save guard and the Trainer. */
export function nonFiniteWeightsMessage(step: number, names: string[]): string {
  const shown = names.length > 5
    ? `${names.slice(0, 5).join(", ")} ... (${names.length} in all)`
    : names.join(", ");
  return `Weights became NaN or Infinity at step ${step} (${shown}); checkpoint not saved`;
}

function nonFiniteWeightsError(step: number, names: string[]): CourseError {
  return new CourseError(
    "train/non-finite-weights",
    nonFiniteWeightsMessage(step, names),
    "학습이 발산했습니다. NaN이 든 가중치는 저장하지 않았습니다. 학습률(learningRate)을 낮추고(예: 2e-5) " +
      "maxGradNorm: 1.0으로 그래디언트를 자른 뒤 다시 학습하세요.",
  );
}

export async function saveCheckpoint(
  outputDir: string,
  step: number,
  parts: CheckpointParts,
): Promise<string> {
  const bad = await nonFiniteParameters(parts.model);
  if (bad.length) throw nonFiniteWeightsError(step, bad);
  await Deno.mkdir(outputDir, { recursive: true });
  const finalDir = join(outputDir, `${CHECKPOINT_PREFIX}${step}`);
  // The pid lets a later start tell a save in progress elsewhere from one a killed process left.
  const tempDir = join(
    outputDir,
    `${TEMP_PREFIX}${step}-${Deno.pid}-${Date.now()}`,
  );
  await Deno.mkdir(tempDir);
  try {
    await saveModel(parts.model, tempDir);
    const optimizerState = await parts.optimizer.stateDict();
    await Deno.writeFile(
      join(tempDir, "optimizer.safetensors"),
      serializeSafetensors(optimizerState.tensors, {
        metadata: {
          steps: JSON.stringify(optimizerState.steps),
          hyper: JSON.stringify(optimizerState.hyper),
        },
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

/** Whether a process with this id runs now; `undefined` where the system cannot say (no /proc). */
function processAlive(pid: number): boolean | undefined {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return undefined;
    try {
      Deno.statSync("/proc/self");
      return false;
    } catch {
      return undefined;
    }
  }
}

/**
 * Removes the temp folders (`.tmp-checkpoint-*`) that a save killed midway (kill -9, a crashed
 * kernel) left in `outputDir`. A temp folder of another process that is still running is kept; on
 * systems that cannot tell (no /proc), every one of another process is removed, so two runs must
 * not share an `outputDir`. Returns the removed paths.
 */
export async function removeStaleTempFolders(
  outputDir: string,
): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(outputDir)) {
      if (!entry.isDirectory || !entry.name.startsWith(TEMP_PREFIX)) continue;
      const pid = entry.name.match(/^\.tmp-checkpoint-\d+-(\d+)-\d+$/)?.[1];
      if (pid !== undefined) {
        if (Number(pid) === Deno.pid) continue; // this process saves it right now
        if (processAlive(Number(pid))) continue;
      }
      const path = join(outputDir, entry.name);
      await Deno.remove(path, { recursive: true }).catch(() => {});
      removed.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
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

/**
 * Keeps the newest `limit` checkpoints, and the best one whatever its age (as HF does). Paths in
 * `protect` (the one just saved: an older run's checkpoint with a higher step must not push it
 * out) are never removed.
 */
export async function rotateCheckpoints(
  outputDir: string,
  limit: number | undefined,
  keep?: string,
  protect: string[] = [],
): Promise<string[]> {
  if (!limit || limit <= 0) return [];
  const all = await listCheckpoints(outputDir);
  const removable = all.filter((p) => p !== keep);
  // HF: with a limit of 1 and a best checkpoint that is not the newest, both are kept.
  const toKeep = Math.max(1, limit - (keep && all.includes(keep) ? 1 : 0));
  const removed = removable
    .slice(0, Math.max(0, removable.length - toKeep))
    .filter((p) => !protect.includes(p));
  for (const path of removed) await Deno.remove(path, { recursive: true });
  return removed;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const RESUME_HINT =
  "같은 outputDir의 다른 checkpoint-<step> 폴더를 resumeFromCheckpoint에 주거나 " +
  "(resumeFromCheckpoint: true는 가장 최신 것), resumeFromCheckpoint 없이 처음부터 학습하세요.";

/** A resumable checkpoint has every file; says which one is missing, and where, before any is read. */
async function checkCheckpointFiles(path: string): Promise<void> {
  if (!(await exists(path))) {
    throw new CourseError(
      "train/bad-checkpoint",
      `Checkpoint folder ${path} does not exist`,
      "체크포인트 폴더 경로를 확인하세요. outputDir 안의 checkpoint-<step> 폴더를 주거나, " +
        "resumeFromCheckpoint: true로 outputDir의 최신 체크포인트를 쓰세요.",
    );
  }
  for (const file of RESUME_FILES) {
    if (!(await exists(join(path, file)))) throw missingFileError(path, file);
  }
  await checkModelFile(path);
}

async function checkModelFile(path: string): Promise<void> {
  if (
    !(await exists(join(path, "model.safetensors"))) &&
    !(await exists(join(path, "model.safetensors.index.json")))
  ) {
    throw missingFileError(path, "model.safetensors");
  }
}

function missingFileError(path: string, file: string): CourseError {
  return new CourseError(
    "train/bad-checkpoint",
    `Checkpoint ${path} has no ${file}`,
    `체크포인트 폴더에 ${file} 파일이 없어 이 체크포인트로는 이어서 학습할 수 없습니다 ` +
      "(저장 도중 지워졌거나 일부만 복사된 폴더입니다). " + RESUME_HINT,
  );
}

export interface LoadedCheckpoint {
  path: string;
  trainerState: Record<string, unknown>;
  schedulerState: Record<string, unknown>;
  rngState: Record<string, unknown>;
  optimizer: {
    tensors: Map<string, TensorToWrite>;
    steps: Record<string, number>;
  };
}

export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  await checkCheckpointFiles(path);
  const readJson = async (file: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(join(path, file)));
    } catch (cause) {
      throw new CourseError(
        "train/bad-checkpoint",
        `Cannot read ${file} in checkpoint ${path}`,
        `${file} 파일이 손상되었습니다 (JSON으로 읽을 수 없습니다). ` +
          RESUME_HINT,
        { cause },
      );
    }
  };
  const trainerState = await readJson("trainer_state.json");
  const optimizerPath = join(path, "optimizer.safetensors");
  let optimizerFile: ReturnType<typeof parseSafetensors>;
  let optimizerTensors: Map<string, TensorToWrite>;
  try {
    optimizerFile = parseSafetensors(
      await Deno.readFile(optimizerPath),
      optimizerPath,
    );
    optimizerTensors = float32Tensors(optimizerFile, optimizerPath);
  } catch (cause) {
    throw new CourseError(
      "train/bad-checkpoint",
      `Cannot read optimizer.safetensors in checkpoint ${path}: ${
        (cause as Error).message.split("\n")[0]
      }`,
      "optimizer.safetensors 파일이 손상되었습니다. " + RESUME_HINT,
      { cause },
    );
  }
  return {
    path,
    trainerState,
    schedulerState: await readJson("scheduler.json"),
    rngState: await readJson("rng_state.json"),
    optimizer: {
      tensors: optimizerTensors,
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
  await checkModelFile(path);
  const modelPath = join(path, "model.safetensors");
  const tensors = float32Tensors(
    parseSafetensors(await Deno.readFile(modelPath), modelPath),
    modelPath,
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
