/**
 * Checks for lesson 00 (환경 설정): a first tensor, a reduction, and timing a matrix product on
 * the backend the kernel picked. They say what is wrong, never the answer.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../runtime/mod.ts";
import { makeCheck, result } from "./feedback.ts";

function isTensor(value: unknown): value is tf.Tensor {
  return value instanceof tf.Tensor;
}

const DATA = {
  /** q3: the check calls the learner's timing function with these sizes and repeat counts. */
  q3Sizes: [128, 256],
  q3Repeats: 20,
};

/** What the learner's timing function must return for one n×n product. */
export interface MatMulTiming {
  /** Milliseconds per product: the mean over `repeats`, after one discarded warm-up run. */
  ms: number;
  /** 2·n³ floating-point operations divided by the time, in 10⁹ per second. */
  gflops: number;
}

export type TimeMatMul = (
  n: number,
  repeats: number,
) => Promise<MatMulTiming> | MatMulTiming;

/** The lesson's measurement, done by the check itself: ms per product (warm-up discarded). */
async function referenceMs(n: number, repeats: number): Promise<number> {
  const x = tf.randomNormal([n, n], 0, 1, "float32", 0);
  const y = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const warmup = tf.matMul(x, y);
  await warmup.data();
  warmup.dispose();
  const start = performance.now();
  for (let i = 0; i < repeats; i++) {
    const z = tf.matMul(x, y);
    await z.data();
    z.dispose();
  }
  const ms = (performance.now() - start) / repeats;
  tf.dispose([x, y]);
  return ms;
}

/** Relative distance of `got` from `want` (0 = equal). */
function relative(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

/** What the reported GFLOP/s says about how it was computed from n and ms. */
function gflopsProblem(n: number, timing: MatMulTiming): string | null {
  const flops = 2 * n ** 3;
  const want = flops / (timing.ms * 1e6);
  if (relative(timing.gflops, want) <= 0.01) return null;
  if (relative(timing.gflops, want / 2) <= 0.01) {
    return `n=${n}: n×n 행렬 곱은 곱셈과 덧셈을 합쳐 약 2n³번 합니다. 연산 수를 다시 세어 보세요.`;
  }
  if (
    relative(timing.gflops, want * 1e3) <= 0.01 ||
    relative(timing.gflops, want / 1e3) <= 0.01
  ) {
    return `n=${n}: GFLOP/s의 단위가 어긋났습니다. ms는 1000분의 1초, GFLOP는 10⁹번의 연산입니다.`;
  }
  return `n=${n}: gflops가 돌려준 ms와 맞지 않습니다. 2n³을 (초 단위 시간 × 10⁹)로 나누었는지 확인하세요.`;
}

async function evaluateTiming(timeMatMul: TimeMatMul) {
  const question = "00-3 행렬 곱 속도 측정하기";
  if (typeof timeMatMul !== "function") {
    return result(question, ["timeMatMul 함수를 넘겨 주세요."]);
  }
  await initBackend(); // idempotent: the check may run before the notebook picked a backend
  const problems: string[] = [];
  const repeats = DATA.q3Repeats;
  for (const n of DATA.q3Sizes) {
    const before = await referenceMs(n, repeats);
    const tensorsBefore = tf.memory().numTensors;
    const timing = await timeMatMul(n, repeats);
    const leaked = tf.memory().numTensors - tensorsBefore;
    const after = await referenceMs(n, repeats);
    if (leaked > 0) {
      problems.push(
        `timeMatMul(${n}, ${repeats})가 끝난 뒤 텐서가 ${leaked}개 남았습니다. 입력 행렬과 매번의 곱 결과를 tf.dispose(또는 tf.tidy)로 해제하세요.`,
      );
    }
    if (
      !timing || typeof timing !== "object" ||
      typeof timing.ms !== "number" || typeof timing.gflops !== "number" ||
      !Number.isFinite(timing.ms) || !Number.isFinite(timing.gflops) ||
      timing.ms <= 0 || timing.gflops <= 0
    ) {
      problems.push(
        "{ ms, gflops } 객체를 돌려주세요. 두 값 모두 0보다 큰 유한한 숫자여야 합니다.",
      );
      break;
    }
    // The learner's time and the check's own, measured right before and after, must agree
    // within a factor of 5 (+2 ms for a pause of the shared machine during a short run): wide
    // enough for a busy machine, narrow enough to catch a total over all repeats (20x) or
    // seconds and microseconds (1000x).
    const low = Math.min(before, after) / 5;
    const high = Math.max(before, after) * 5 + 2;
    if (timing.ms > high) {
      const total = timing.ms / repeats;
      problems.push(
        total >= low && total <= high
          ? `n=${n}: ms가 곱 한 번의 시간보다 훨씬 깁니다. 전체 시간을 repeats로 나누었나요?`
          : `n=${n}: ms가 이 백엔드에서 검사가 직접 측정한 곱 한 번의 시간보다 5배 넘게 깁니다. 준비 실행(warm-up)을 빼고, performance.now()의 ms 단위로 측정했는지 확인하세요.`,
      );
    } else if (timing.ms < low) {
      problems.push(
        `n=${n}: ms가 이 백엔드에서 검사가 직접 측정한 시간보다 5배 넘게 짧습니다. 곱을 ${repeats}번 모두 실행하고 await z.data()로 계산이 끝나기를 기다렸는지, 시간 단위가 ms인지 확인하세요.`,
      );
    }
    const gflops = gflopsProblem(n, timing);
    if (gflops) problems.push(gflops);
  }
  return result(question, problems);
}

export const check00 = {
  q1: makeCheck("00-1 첫 텐서", (matrix: tf.Tensor | undefined) => {
    const question = "00-1 첫 텐서";
    if (!isTensor(matrix)) {
      return result(question, [
        "tf.tensor2d(...)로 만든 텐서를 넘겨 주세요 (지금은 텐서가 아닙니다).",
      ]);
    }
    const problems: string[] = [];
    if (matrix.shape.join("x") !== "2x3") {
      problems.push(
        `모양이 [2, 3]이어야 합니다 (지금은 [${matrix.shape.join(", ")}]).`,
      );
    }
    if (matrix.dtype !== "float32") {
      problems.push(`dtype이 float32여야 합니다 (지금은 ${matrix.dtype}).`);
    }
    if (problems.length === 0) {
      const values = Array.from(matrix.dataSync());
      if (values.join(",") !== "1,2,3,4,5,6") {
        problems.push("값은 첫 행 1, 2, 3과 둘째 행 4, 5, 6이어야 합니다.");
      }
    }
    return result(question, problems);
  }),
  q2: makeCheck("00-2 행 합계", (rowSums: number[] | undefined) => {
    const question = "00-2 행 합계";
    if (!Array.isArray(rowSums)) {
      return result(question, [
        "number[] 배열을 넘겨 주세요 (텐서라면 .arraySync()로 바꿉니다).",
      ]);
    }
    if (rowSums.length !== 2) {
      return result(question, [
        `행이 2개이니 합계도 2개여야 합니다 (지금은 ${rowSums.length}개). 어느 축(axis)으로 더했는지 확인하세요.`,
      ]);
    }
    const ok = rowSums[0] === 6 && rowSums[1] === 15;
    return result(
      question,
      ok
        ? []
        : ["각 행의 원소를 더한 값이 아닙니다. tf.sum의 axis를 확인하세요."],
    );
  }),
  q3: makeCheck("00-3 행렬 곱 속도 측정하기", evaluateTiming),
  data: DATA,
};
