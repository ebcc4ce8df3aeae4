/**
 * How far fine-tuning moved each part of the model: relative L2 change ||W1 - W0|| / ||W0||, per
 * parameter and per parameter group. Lesson 04 uses it to show that the head and the top layers
 * move most.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { ParameterGroup } from "./types.ts";

export type WeightSnapshot = Map<string, Float32Array>;

/** Copies every parameter to the host (call before and after training). */
export async function snapshotWeights(
  params: Map<string, tf.Variable>,
): Promise<WeightSnapshot> {
  const snapshot: WeightSnapshot = new Map();
  for (const [name, v] of params) {
    snapshot.set(name, Float32Array.from(await v.data()));
  }
  return snapshot;
}

export interface WeightMovement {
  /** Relative change per parameter name. */
  byParameter: Record<string, number>;
  /** Relative change per group: sqrt(sum ||dW||²) / sqrt(sum ||W0||²) over the group. */
  byGroup: Record<string, number>;
}

/**
 * `groups` maps group names to parameter names; with `parameterGroups` from a model, pass
 * `groupsByName(model.parameterGroups(), model.namedParameters())`.
 */
export function weightMovement(
  before: WeightSnapshot,
  after: WeightSnapshot,
  groups: Record<string, string[]> = {},
): WeightMovement {
  const sums = new Map<string, { diff: number; base: number }>();
  const byParameter: Record<string, number> = {};
  for (const [name, w0] of before) {
    const w1 = after.get(name);
    if (!w1) continue;
    let diff = 0, base = 0;
    for (let i = 0; i < w0.length; i++) {
      const d = w1[i] - w0[i];
      diff += d * d;
      base += w0[i] * w0[i];
    }
    sums.set(name, { diff, base });
    byParameter[name] = base === 0 ? Math.sqrt(diff) : Math.sqrt(diff / base);
  }
  const byGroup: Record<string, number> = {};
  for (const [group, names] of Object.entries(groups)) {
    let diff = 0, base = 0;
    for (const n of names) {
      const s = sums.get(n);
      if (s) diff += s.diff, base += s.base;
    }
    byGroup[group] = base === 0 ? Math.sqrt(diff) : Math.sqrt(diff / base);
  }
  return { byParameter, byGroup };
}

/** Group name -> parameter names, from a model's groups and its named parameters. */
export function groupsByName(
  groups: ParameterGroup[],
  params: Map<string, tf.Variable>,
): Record<string, string[]> {
  const nameOf = new Map<tf.Variable, string>();
  for (const [name, v] of params) if (!nameOf.has(v)) nameOf.set(v, name);
  return Object.fromEntries(
    groups.map((
      g,
    ) => [
      g.name,
      g.variables.map((v) => nameOf.get(v)).filter((n) => n !== undefined),
    ]),
  ) as Record<string, string[]>;
}
