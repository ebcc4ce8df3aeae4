/** Shared helpers for tests/models_*_test.ts (not a test file itself). */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

import { loadNative } from "../lib/runtime/native.ts";
import { MIRROR, REPO_ROOT } from "./test_paths.ts";
export { MIRROR, REPO_ROOT };
export const FIXTURE_DIR = Deno.env.get("COURSE_FIXTURES")
  ? `${Deno.env.get("COURSE_FIXTURES")}/hf-bert-tiny`
  : `${REPO_ROOT}../shared/fixtures/hf-bert-tiny`;

export async function fixtureAvailable(): Promise<boolean> {
  try {
    await Deno.stat(`${FIXTURE_DIR}/reference.json`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backend the model, interop and trainer tests run on: `COURSE_TEST_BACKEND` when set (CI
 * runs them once more with `wasm`), else the native engine when it loads here, else cpu.
 */
export const TEST_BACKEND = Deno.env.get("COURSE_TEST_BACKEND") ??
  ((await loadNative()).ok ? "tensorflow" : "cpu");

let wasmPathsSet = false;

/**
 * Switches tfjs to `name` ("cpu" | "wasm" | "webgpu" | "tensorflow"); false when that backend
 * cannot start here.
 */
export async function useBackend(name: string): Promise<boolean> {
  if (name === "tensorflow" && !(await loadNative()).ok) return false;
  if (name === "wasm" && !wasmPathsSet) {
    const wasmDir = new URL(
      "../node_modules/.deno/@tensorflow+tfjs-backend-wasm@4.22.0/node_modules/@tensorflow/tfjs-backend-wasm/dist/",
      import.meta.url,
    );
    setWasmPaths(wasmDir.href);
    wasmPathsSet = true;
  }
  try {
    if (name === "webgpu") {
      if (
        !(await (navigator as { gpu?: { requestAdapter(): Promise<unknown> } })
          .gpu?.requestAdapter())
      ) return false;
      await import("@tensorflow/tfjs-backend-webgpu");
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

type Nested = number | Nested[];

export function flatten(x: Nested): number[] {
  return Array.isArray(x) ? x.flatMap(flatten) : [x];
}

/** |got - want| <= atol + rtol·|want| elementwise; the message names the worst element. */
export function assertClose(
  got: ArrayLike<number>,
  want: Nested | ArrayLike<number>,
  label: string,
  atol = 1e-4,
  rtol = 1e-4,
): void {
  const expected = Array.isArray(want)
    ? flatten(want as Nested)
    : Array.from(want as ArrayLike<number>);
  if (got.length !== expected.length) {
    throw new Error(
      `${label}: ${got.length} values, expected ${expected.length}`,
    );
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(got[i] - expected[i]) -
      (atol + rtol * Math.abs(expected[i]));
    if (
      !(excess <= 0) &&
      (worst < 0 || excess > worstExcess || Number.isNaN(got[i]))
    ) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: element ${worst} is ${got[worst]}, expected ${
        expected[worst]
      }`,
    );
  }
}
