/**
 * One QA span rule: the question-answering pipeline, lib/tasks/question_answering's
 * bestAnswerSpan, the exercise 06 solution (extractAnswer, loaded from
 * course/solutions/06_다운스트림_태스크.md itself) and the exercise check (check06.q2) pick the
 * same answer from the same logits. The pipeline runs on a stub engine that hands back the given
 * logits, so no model weights are needed (only the course tokenizer).
 */
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { check06 } from "../lib/exercises/check06.ts";
import { courseModelDir } from "../lib/exercises/course_model.ts";
import { SeededRandom } from "../lib/runtime/random.ts";
import type { PaddedBatch } from "../lib/tasks/batching.ts";
import type { TaskContext } from "../lib/tasks/context.ts";
import {
  type Answer,
  answersFromLogits,
  questionAnswering,
} from "../lib/tasks/question_answering/pipeline.ts";
import {
  bestAnswerSpan,
  prepareQaFeatures,
} from "../lib/tasks/question_answering/mod.ts";
import { AutoTokenizer, type Offset } from "../lib/text/mod.ts";
import { repoModule, solutionFunction } from "./solution_code.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", resolve(ROOT, "..", "shared", "mirror"));
}

type Feature = { offset_mapping: (Offset | null)[]; context: string };

type ExtractAnswer = (
  feature: Feature,
  startLogits: number[],
  endLogits: number[],
) => string;

/** The solution's own code (course/solutions/06, 문제 2), read from the master, not copied here. */
const extractAnswer = await solutionFunction<ExtractAnswer>(
  "06_다운스트림_태스크.md",
  "extractAnswer",
  `import type { Offset } from "${repoModule("lib/text/mod.ts")}";`,
);

const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
const { q2Question: question, q2Context: context } = check06.data;
const [feature] = prepareQaFeatures(question, context, null, tokenizer, {
  maxLength: 128,
  docStride: 32,
});

/** A TaskContext whose engine returns `next` logits for every row of a batch. */
function stubContext(next: { start: number[]; end: number[] }): TaskContext {
  const run = (batch: PaddedBatch) => {
    const length = batch.input_ids[0].length;
    const pad = (xs: number[]) =>
      batch.input_ids.flatMap(() =>
        Array.from({ length }, (_, i) => xs[i] ?? -1e4)
      );
    const dims = [batch.input_ids.length, length];
    return Promise.resolve({
      start_logits: { data: Float32Array.from(pad(next.start)), dims },
      end_logits: { data: Float32Array.from(pad(next.end)), dims },
    });
  };
  return {
    tokenizer,
    config: {},
    engine: { name: "onnx", run, dispose: () => Promise.resolve() },
    maxLength: 128,
    batchSize: 8,
  };
}

Deno.test("QA span rule: the exercise check accepts the pipeline's post-processing and the solution", async () => {
  const viaPipeline = (f: Feature, start: number[], end: number[]) =>
    answersFromLogits(
      [{ feature: f, startLogits: start, endLogits: end }],
      { maxAnswerLength: 30 },
    )[0].answer;
  for (const answer of [viaPipeline, extractAnswer]) {
    const checked = await check06.q2.evaluate(answer);
    assert.equal(checked.passed, true, checked.problems.join("\n"));
  }
});

Deno.test("QA span rule: pipeline, bestAnswerSpan and the solution agree on the same logits", async () => {
  const rng = new SeededRandom(2024);
  const float32 = (xs: number[]) => Array.from(Float32Array.from(xs));
  for (let trial = 0; trial < 40; trial++) {
    const n = feature.input_ids.length;
    // float32 like a real engine, so all three see the very same numbers.
    const start = float32(
      Array.from({ length: n }, () => rng.normal(0, trial % 2 ? 1 : 4)),
    );
    const end = float32(
      Array.from({ length: n }, () => rng.normal(0, trial % 2 ? 1 : 4)),
    );
    if (trial % 4 === 1) start[1] += 20; // a question token: never an answer
    if (trial % 4 === 2) end[n - 1] += 20; // the final [SEP]
    const answer = await questionAnswering(
      stubContext({ start, end }),
      { question, context },
      { maxSeqLength: 128, docStride: 32, maxAnswerLength: 30 },
    ) as Answer;
    const want = bestAnswerSpan(feature, start, end, { maxAnswerLength: 30 })!;
    assert.equal(answer.answer, want.text, `trial ${trial}`);
    assert.equal(answer.answer, extractAnswer(feature, start, end));
    assert.deepEqual([answer.start, answer.end], [want.start, want.end]);
    assert.equal(feature.context.slice(answer.start, answer.end), want.text);
    assert.ok(answer.score > 0 && answer.score <= 1);
  }
});
