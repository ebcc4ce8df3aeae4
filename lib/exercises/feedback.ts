/**
 * The shape every exercise check shares: an evaluation that returns what is wrong (never what the
 * answer is), and a printer that turns it into Korean feedback in the notebook.
 */
export interface CheckResult {
  question: string;
  passed: boolean;
  /** What is wrong, in Korean; empty when passed. */
  problems: string[];
}

export type Evaluation<A extends unknown[]> = (
  ...answer: A
) => Promise<CheckResult> | CheckResult;

/** A check as notebooks call it: prints feedback, returns nothing (so Jupyter shows no `true`). */
export type Check<A extends unknown[]> = ((...answer: A) => Promise<void>) & {
  /** The same check without printing, for tests and for code that wants the verdict. */
  evaluate: (...answer: A) => Promise<CheckResult>;
};

export function result(question: string, problems: string[]): CheckResult {
  return { question, passed: problems.length === 0, problems };
}

/**
 * The verdict is in words as well as the mark: without an emoji font ✅ and ❌ both render as
 * the same empty box, and pass and fail would look alike.
 */
export function formatFeedback(checked: CheckResult): string {
  if (checked.passed) return `✅ 통과 [${checked.question}] 정답입니다!`;
  return [
    `❌ 다시 [${checked.question}] 아직 아닙니다. 고칠 점:`,
    ...checked.problems.map((p) => `  - ${p}`),
  ].join("\n");
}

/**
 * What is wrong with an answer object before any value is checked: not an object at all, or
 * fields that are `undefined`/`null` (usually a TODO line left empty or a variable set in a cell
 * that was not run). Empty when every field is there.
 */
export function missingFields(answer: unknown, fields: string[]): string[] {
  const shape = `{ ${fields.join(", ")} }`;
  if (!answer || typeof answer !== "object") {
    return [`${shape} 객체를 넘겨 주세요.`];
  }
  const record = answer as Record<string, unknown>;
  const missing = fields.filter((field) =>
    record[field] === undefined || record[field] === null
  );
  if (missing.length === 0) return [];
  return [
    `${missing.join(", ")}: 값이 ${
      missing.length === 1 ? String(record[missing[0]]) : "undefined/null"
    }입니다. 그 변수에 값을 넣는 TODO 줄을 채웠는지, 그 셀을 실행했는지 확인하세요.`,
  ];
}

export function makeCheck<A extends unknown[]>(
  question: string,
  evaluation: Evaluation<A>,
): Check<A> {
  const evaluate = async (...answer: A): Promise<CheckResult> => {
    try {
      return await evaluation(...answer);
    } catch (error) {
      // A learner's function that throws is a wrong answer, not a crash of the notebook.
      const message = error instanceof Error
        ? error.message.split("\n")[0]
        : String(error);
      return result(question, [`답을 검사하는 중 오류가 났습니다: ${message}`]);
    }
  };
  const check = async (...answer: A) => {
    console.log(formatFeedback(await evaluate(...answer)));
  };
  return Object.assign(check, { evaluate });
}

/**
 * Loose check of a written answer: each concept is a list of interchangeable words, and the
 * answer must mention at least one word of every concept. Feedback names the concept, not words.
 */
export interface Concept {
  /** Lower-case words or phrases; one of them must appear. */
  anyOf: string[];
  /** Korean description of what is missing, phrased as a nudge ("어느 쪽 문맥을 보는지..."). */
  missing: string;
}

export function missingConcepts(
  answer: unknown,
  concepts: Concept[],
  minLength = 10,
): string[] {
  if (typeof answer !== "string" || answer.trim().length === 0) {
    return ["답을 문자열로 적어 주세요 (빈 문자열입니다)."];
  }
  const text = answer.normalize("NFC").toLowerCase();
  if (text.replace(/\s/g, "").length < minLength) {
    return [
      `한 문장 이상으로 조금 더 자세히 적어 주세요 (${minLength}자 이상).`,
    ];
  }
  return concepts.filter((c) =>
    !c.anyOf.some((w) => text.includes(w.toLowerCase()))
  )
    .map((c) => c.missing);
}

/** "3번째" style positions are easier to read for learners than 0-based indices. */
export function ordinal(index: number): string {
  return `${index + 1}번째`;
}

/** Compares two number/string arrays and says where they first differ, without the right value. */
export function firstDifference(
  name: string,
  got: unknown,
  want: readonly (number | string)[],
  lengthHint = "특수 토큰, 패딩, 잘라내기 설정을 확인하세요.",
): string | null {
  if (!Array.isArray(got)) return `${name}은(는) 배열이어야 합니다.`;
  if (got.length !== want.length) {
    return `${name}의 길이가 다릅니다 (지금 ${got.length}개). ${lengthHint}`;
  }
  const at = want.findIndex((w, i) => got[i] !== w);
  return at < 0
    ? null
    : `${name}의 ${ordinal(at)} 값이 다릅니다 (지금 ${
      JSON.stringify(got[at])
    }).`;
}
