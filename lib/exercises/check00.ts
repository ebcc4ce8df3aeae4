/**
 * Checks for lesson 00 (환경 설정): a first tensor, a reduction, and reading the device report.
 * They say what is wrong, never the answer.
 */
import * as tf from "@tensorflow/tfjs-core";
import { getBackendInfo } from "../runtime/mod.ts";
import { makeCheck, result } from "./feedback.ts";

function isTensor(value: unknown): value is tf.Tensor {
  return value instanceof tf.Tensor;
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
  q3: makeCheck("00-3 백엔드 이름", (backendName: string | undefined) => {
    const question = "00-3 백엔드 이름";
    const actual = getBackendInfo()?.name;
    if (actual === undefined) {
      return result(question, ["먼저 await initBackend()를 실행하세요."]);
    }
    return result(
      question,
      backendName === actual ? [] : [
        "지금 커널이 쓰는 백엔드 이름이 아닙니다. initBackend()의 결과를 보세요.",
      ],
    );
  }),
};
