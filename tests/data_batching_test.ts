// Dynamic padding (collate), seeded length-bucketed batches, classification examples.
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  batchIndices,
  collate,
  disposeBatch,
  type Example,
  paddingStats,
  tokenizeForClassification,
} from "../lib/data/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import { MIRROR } from "./test_paths.ts";

await tf.setBackend("cpu");
const mirror = MIRROR;
const tokenizer = await AutoTokenizer.fromPretrained(
  join(mirror, "raw.githubusercontent.com/KPFBERT/kpfbert/main"),
);

Deno.test("collate pads to the longest example with int32 tensors and -100 token labels", () => {
  const examples: Example[] = [
    {
      input_ids: [2, 10, 11, 3],
      token_type_ids: [0, 0, 0, 0],
      label: [-100, 1, 2, -100],
    },
    {
      input_ids: [2, 12, 3],
      token_type_ids: [0, 0, 0],
      label: [-100, 0, -100],
    },
  ];
  const batch = collate(examples, { padTokenId: 0 });
  assert.equal(batch.input_ids.dtype, "int32");
  assert.deepEqual(batch.input_ids.arraySync(), [[2, 10, 11, 3], [
    2,
    12,
    3,
    0,
  ]]);
  assert.deepEqual(batch.attention_mask.arraySync(), [[1, 1, 1, 1], [
    1,
    1,
    1,
    0,
  ]]);
  assert.deepEqual(batch.labels!.arraySync(), [[-100, 1, 2, -100], [
    -100,
    0,
    -100,
    -100,
  ]]);
  disposeBatch(batch);
  const padded = collate(examples, { padTokenId: 0, padToMultipleOf: 8 });
  assert.deepEqual(padded.input_ids.shape, [2, 8]);
  disposeBatch(padded);
});

Deno.test("collate: class ids are int32, regression targets float32", () => {
  const ids = [{ input_ids: [2, 3], label: 1 }, {
    input_ids: [2, 5, 3],
    label: 0,
  }];
  const classes = collate(ids, { padTokenId: 0, numLabels: 2 });
  assert.equal(classes.labels!.dtype, "int32");
  const scores = collate([{ input_ids: [2, 3], label: 3.5 }, {
    input_ids: [2, 3],
    label: 1,
  }], {
    padTokenId: 0,
  });
  assert.equal(scores.labels!.dtype, "float32");
  tf.dispose([classes.labels!, scores.labels!]);
  disposeBatch(classes);
  disposeBatch(scores);
});

Deno.test("collate refuses bad batches with CourseErrors", () => {
  const ok = { input_ids: [2, 3] };
  assert.throws(() => collate([], { padTokenId: 0 }), CourseError);
  assert.throws(
    () => collate([{ input_ids: [] }], { padTokenId: 0 }),
    CourseError,
  );
  assert.throws(
    () => collate([{ ...ok, label: NaN }], { padTokenId: 0 }),
    /NaN/,
  );
  assert.throws(
    () => collate([{ ...ok, label: 2 }], { padTokenId: 0, numLabels: 2 }),
    /num_labels/,
  );
  assert.throws(
    () => collate([{ ...ok, label: 1 }, ok], { padTokenId: 0 }),
    CourseError,
  );
  assert.throws(
    () =>
      collate([{ input_ids: [2, 5, 6, 3] }], { padTokenId: 0, maxLength: 3 }),
    CourseError,
  );
  assert.equal(tf.memory().numTensors, 0, "no tensors leak on errors");
});

Deno.test("batchIndices: every example once, seeded, dropLast", () => {
  const lengths = Array.from({ length: 103 }, (_, i) => 5 + (i * 37) % 50);
  for (const bucketByLength of [false, true]) {
    const a = batchIndices(lengths, { batchSize: 10, seed: 1, bucketByLength });
    assert.deepEqual(a.flat().sort((x, y) => x - y), lengths.map((_, i) => i));
    assert.deepEqual(
      batchIndices(lengths, { batchSize: 10, seed: 1, bucketByLength }),
      a,
    );
    assert.notDeepEqual(
      batchIndices(lengths, { batchSize: 10, seed: 2, bucketByLength }),
      a,
    );
    const dropped = batchIndices(lengths, {
      batchSize: 10,
      seed: 1,
      bucketByLength,
      dropLast: true,
    });
    assert.ok(dropped.every((b) => b.length === 10));
    assert.equal(dropped.length, 10);
  }
  const ordered = batchIndices(lengths, { batchSize: 10, shuffle: false });
  assert.deepEqual(ordered[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.throws(() => batchIndices(lengths, { batchSize: 0 }), CourseError);
});

Deno.test("NSMC: length bucketing cuts padding (measured on 20,000 reviews)", () => {
  const lines = readFileSync(
    join(mirror, "raw.githubusercontent.com/e9t/nsmc/master/ratings_train.txt"),
    "utf8",
  )
    .split("\n").slice(1, 20_001).map((line) => line.split("\t"))
    .filter((cols) => cols.length === 3 && cols[1].trim() !== "");
  const examples = tokenizeForClassification(
    { texts: lines.map((c) => c[1]), labels: lines.map((c) => Number(c[2])) },
    tokenizer,
    { maxLength: 128 },
  );
  const plain = paddingStats(
    examples,
    batchIndices(examples, { batchSize: 32, seed: 0 }),
  );
  const bucketed = paddingStats(
    examples,
    batchIndices(examples, { batchSize: 32, seed: 0, bucketByLength: true }),
  );
  console.log(
    `NSMC ${examples.length} reviews, batch 32: pad fraction ${
      plain.padFraction.toFixed(3)
    } ` +
      `-> ${bucketed.padFraction.toFixed(3)} with bucketing`,
  );
  assert.ok(plain.padFraction > 0.4);
  assert.ok(bucketed.padFraction < 0.1);
});

Deno.test("tokenizeForClassification maps string labels and lists known ones on error", () => {
  const label2id = { 부정: 0, 긍정: 1 };
  const examples = tokenizeForClassification(
    { texts: ["재밌다", "별로"], labels: ["긍정", "부정"] },
    tokenizer,
    { label2id },
  );
  assert.deepEqual(examples.map((e) => e.label), [1, 0]);
  assert.throws(
    () =>
      tokenizeForClassification({ texts: ["a"], labels: ["중립"] }, tokenizer, {
        label2id,
      }),
    /부정, 긍정/,
  );
  assert.throws(
    () => tokenizeForClassification({ texts: [""] }, tokenizer),
    CourseError,
  );
});
