/**
 * Freeze strategies: which parameter groups train in which epoch.
 * - "full": everything trains.
 * - "feature_extraction": only the head trains; the encoder is frozen (and the Trainer computes its
 *   features once instead of every epoch).
 * - "gradual_unfreezing" (ULMFiT): epoch 0 trains the head (and pooler), every later epoch unfreezes
 *   one more encoder block from the top; the embeddings come last.
 */
import { CourseError } from "../runtime/errors.ts";
import type { TrainableModel } from "./types.ts";

export type FreezeStrategy =
  | "full"
  | "feature_extraction"
  | "gradual_unfreezing";

export function checkFreezeStrategy(strategy: string): FreezeStrategy {
  if (
    strategy === "full" || strategy === "feature_extraction" ||
    strategy === "gradual_unfreezing"
  ) {
    return strategy;
  }
  throw new CourseError(
    "train/unknown-freeze",
    `Unknown freeze strategy: ${strategy}`,
    'freeze는 "full", "feature_extraction", "gradual_unfreezing" 중 하나로 지정하세요.',
  );
}

/** Group names from the top of the network down: head, pooler, encoder.layer.N-1 .. 0, embeddings. */
export function groupsTopDown(model: TrainableModel): string[] {
  const names = model.parameterGroups().map((g) => g.name);
  const layers = names
    .filter((n) => /^encoder\.layer\.\d+$/.test(n))
    .sort((a, b) => Number(b.split(".")[2]) - Number(a.split(".")[2]));
  const others = names.filter((n) => !/^encoder\.layer\.\d+$/.test(n));
  const top = ["head", "pooler"].filter((n) => others.includes(n));
  const rest = others.filter((n) =>
    n !== "head" && n !== "pooler" && n !== "embeddings"
  );
  const bottom = others.includes("embeddings") ? ["embeddings"] : [];
  return [...top, ...rest, ...layers, ...bottom];
}

/** The groups that train in `epoch` (0-based) under `strategy`. */
export function trainableGroupsFor(
  model: TrainableModel,
  strategy: FreezeStrategy,
  epoch: number,
): string[] {
  const all = groupsTopDown(model);
  if (strategy === "full") return all;
  const headGroups = all.filter((n) => n === "head");
  if (strategy === "feature_extraction") return headGroups;
  const firstUnfrozen = all.filter((n) => n === "head" || n === "pooler");
  const below = all.filter((n) => n !== "head" && n !== "pooler");
  return [...firstUnfrozen, ...below.slice(0, Math.max(0, epoch))];
}

export function applyFreeze(
  model: TrainableModel,
  strategy: FreezeStrategy,
  epoch: number,
): string[] {
  const groups = trainableGroupsFor(model, strategy, epoch);
  model.setTrainable("all", false);
  model.setTrainable(groups, true);
  return groups;
}

export function countTrainable(model: TrainableModel): number {
  return model.trainableVariables().reduce((sum, v) => sum + v.size, 0);
}
