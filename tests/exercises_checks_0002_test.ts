/**
 * The exercise checks of lessons 00-02: the solution's answer passes, plausible wrong answers
 * (including false claims) fail, and the feedback never contains the value it expected. The
 * right answers here are written independently of the checks, with the library.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import {
  AutoTokenizer,
  BertForMaskedLM,
  type BertTokenizer,
  check00,
  check01,
  check02,
  courseModelDir,
  initBackend,
  SeededRandom,
} from "../lib/mod.ts";
import { assertFail, assertPass } from "./exercise_assertions.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", join(ROOT, "..", "shared", "mirror"));
}
await initBackend();

const MODEL_DIR = courseModelDir();
const tokenizer = await AutoTokenizer.fromPretrained(MODEL_DIR);
const HAS_WEIGHTS = existsSync(join(MODEL_DIR, "model.safetensors")) &&
  existsSync(join(MODEL_DIR, "config.json"));

function assertNotRevealed(problems: string[], secrets: (string | number)[]) {
  const text = problems.join("\n");
  for (const secret of secrets) {
    assert.ok(
      !new RegExp(`(^|[^0-9])${String(secret)}([^0-9]|$)`).test(text),
      `feedback reveals ${secret}: ${text}`,
    );
  }
}

// ---- lesson 00 -------------------------------------------------------------------------------

Deno.test("00-1 and 00-2: the 2x3 tensor and its row sums pass; near misses fail", async () => {
  const matrix = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  assertPass(await check00.q1.evaluate(matrix));
  assertPass(await check00.q2.evaluate([6, 15]));
  assertFail(await check00.q2.evaluate([5, 7, 9]), /axis/);
  const transposed = tf.tensor2d([[1, 4], [2, 5], [3, 6]]);
  assertFail(await check00.q1.evaluate(transposed), /\[2, 3\]/);
  tf.dispose([matrix, transposed]);
});

type TimeMatMul = (
  n: number,
  repeats: number,
) => Promise<{ ms: number; gflops: number }>;

/** The lesson's measurement with knobs for the usual mistakes. */
function timer(
  options: {
    flopsPerN3?: number;
    divideByRepeats?: boolean;
    disposeProducts?: boolean;
    fixedN?: number;
  } = {},
): TimeMatMul {
  return async (n, repeats) => {
    const size = options.fixedN ?? n;
    const x = tf.randomNormal([size, size]);
    const y = tf.randomNormal([size, size]);
    const warmup = tf.matMul(x, y);
    await warmup.data();
    warmup.dispose();
    const start = performance.now();
    for (let i = 0; i < repeats; i++) {
      const z = tf.matMul(x, y);
      await z.data();
      if (options.disposeProducts ?? true) z.dispose();
    }
    const total = performance.now() - start;
    const ms = (options.divideByRepeats ?? true) ? total / repeats : total;
    tf.dispose([x, y]);
    return {
      ms,
      gflops: ((options.flopsPerN3 ?? 2) * size ** 3) / (ms * 1e6),
    };
  };
}

Deno.test("00-3 matMul timing: the lesson's measurement passes; leaks, n³, totals and made-up numbers fail", async () => {
  const tensors = tf.memory().numTensors;
  assertPass(await check00.q3.evaluate(timer()));
  assert.equal(tf.memory().numTensors, tensors, "the check itself leaks");
  // The products that answer leaks are freed by the scope around it.
  tf.engine().startScope();
  try {
    assertFail(
      await check00.q3.evaluate(timer({ disposeProducts: false })),
      /텐서가 20개 남았습니다/,
    );
  } finally {
    tf.engine().endScope();
  }
  assert.equal(tf.memory().numTensors, tensors, "leaked products not freed");
  assertFail(await check00.q3.evaluate(timer({ flopsPerN3: 1 })), /2n³/);
  assertFail(
    await check00.q3.evaluate(timer({ divideByRepeats: false })),
    /repeats로 나누었나요/,
  );
  // A function that ignores n reports GFLOP/s of another size.
  assertFail(await check00.q3.evaluate(timer({ fixedN: 64 })));
  // Plausible-looking numbers that were never measured.
  assertFail(
    await check00.q3.evaluate(() =>
      Promise.resolve({ ms: 1000, gflops: 0.03 })
    ),
  );
  assertFail(
    await check00.q3.evaluate(() => Promise.resolve({ ms: 0, gflops: 0 })),
    /0보다 큰/,
  );
  // Seconds instead of milliseconds, consistently converted: 1000x too short.
  const seconds: TimeMatMul = async (n, repeats) => {
    const t = await timer()(n, repeats);
    return { ms: t.ms / 1000, gflops: t.gflops * 1000 };
  };
  assertFail(await check00.q3.evaluate(seconds), /5배 넘게 짧습니다/);
});

// ---- lesson 01 -------------------------------------------------------------------------------

/** The lesson's probability and rank of the original first piece, with both sides or the left only. */
async function contextEffects() {
  const model = await BertForMaskedLM.fromPretrained(MODEL_DIR, {
    verbose: false,
  });
  const probe = (ids: number[], position: number, target: number) => {
    const probs = tf.tidy(() =>
      tf.softmax(
        (model.forward({ input_ids: tf.tensor2d([ids], undefined, "int32") })
          .logits as tf.Tensor3D).gather([position], 1).reshape([-1]),
      ).dataSync()
    );
    const prob = probs[target];
    return { prob, rank: 1 + probs.filter((p) => p > prob).length };
  };
  const rows = check01.data.contextCases.map(({ sentence, word }) => {
    const ids = tokenizer.encode(sentence);
    const pieces = tokenizer.encode(word).slice(1, -1);
    const at = ids.findIndex((_, i) =>
      pieces.every((p, j) => ids[i + j] === p)
    );
    const masked = ids.map((id, i) =>
      i >= at && i < at + pieces.length ? tokenizer.maskTokenId : id
    );
    const both = probe(masked, at, ids[at]);
    const left = probe(
      [...masked.slice(0, at + 1), tokenizer.sepTokenId],
      at,
      ids[at],
    );
    const noSep = probe(masked.slice(0, at + 1), at, ids[at]);
    return {
      answer: {
        bothProb: both.prob,
        bothRank: both.rank,
        leftProb: left.prob,
        leftRank: left.rank,
        rightContextHelped: both.prob > left.prob,
      },
      noSepProb: noSep.prob,
    };
  });
  model.dispose();
  return rows;
}

Deno.test({
  name:
    "01-1 context: recomputed probabilities pass; a false claim, swapped numbers, 0-based ranks and a missing [SEP] fail",
  ignore: !HAS_WEIGHTS,
}, async () => {
  const rows = await contextEffects();
  const right = rows.map((r) => r.answer);
  const started = performance.now();
  assertPass(await check01.q1.evaluate(right));
  console.log(`01-1 check: ${(performance.now() - started).toFixed(0)} ms`);
  // The data must show a real difference, one case each way, or the question teaches nothing.
  assert.ok(
    right.some((r) => r.bothRank === 1 && r.leftRank > 100),
    `no case where the right context decides: ${JSON.stringify(right)}`,
  );
  assert.ok(right.some((r) => !r.rightContextHelped));

  // "BERT sees neither side": a false belief written as numbers, unmeasured.
  const claim = right.map(() => ({
    bothProb: 0.5,
    bothRank: 1,
    leftProb: 0.5,
    leftRank: 1,
    rightContextHelped: false,
  }));
  assertFail(await check01.q1.evaluate(claim), /bothProb가/);
  // Right numbers, but the belief "the right context always helps" against them.
  const alwaysHelps = right.map((r) => ({ ...r, rightContextHelped: true }));
  assertFail(
    await check01.q1.evaluate(alwaysHelps),
    /직접 구한 bothProb와 leftProb와 맞지 않습니다/,
  );
  const swapped = right.map((r) => ({
    ...r,
    bothProb: r.leftProb,
    leftProb: r.bothProb,
  }));
  assertFail(await check01.q1.evaluate(swapped), /서로 바뀌었습니다/);
  const zeroBased = right.map((r) => ({ ...r, bothRank: r.bothRank - 1 }));
  assertFail(await check01.q1.evaluate(zeroBased), /1부터 셉니다/);
  const noSep = rows.map((r) => ({ ...r.answer, leftProb: r.noSepProb }));
  const noSepResult = await check01.q1.evaluate(noSep);
  assertFail(noSepResult, /\[SEP\]가 빠졌습니다/);
  const wrongRank = right.map((r) => ({ ...r, leftRank: r.leftRank + 40 }));
  const wrongRankResult = await check01.q1.evaluate(wrongRank);
  assertFail(wrongRankResult, /leftRank가 다릅니다/);
  // Small ranks (1, 2) also read as ordinals in any message; the large one must not appear.
  assertNotRevealed(
    wrongRankResult.problems,
    right.map((r) => r.leftRank).filter((rank) => rank >= 10),
  );
  assertFail(await check01.q1.evaluate(right.slice(0, 1)), /배열/);
});

type LossFn = Parameters<typeof check01.q2.evaluate>[0];

/** MLM over chosen positions + NSP, written with tf ops (the solution's way). */
function lossWith(
  options: { allPositions?: boolean; nsp?: boolean; halve?: boolean } = {},
): LossFn {
  return (outputs, targets) =>
    tf.tidy(() => {
      const vocab = outputs.prediction_logits.shape[2];
      const logProbs = tf.logSoftmax(
        outputs.prediction_logits.reshape([-1, vocab]),
      );
      const labels = targets.labels.reshape([-1]) as tf.Tensor1D;
      const keep = tf.notEqual(labels, tf.scalar(-100, "int32"));
      const safe = tf.where(keep, labels, tf.zerosLike(labels));
      const picked = tf.sum(tf.mul(logProbs, tf.oneHot(safe, vocab)), 1);
      const weights = tf.cast(keep, "float32");
      const count = options.allPositions ? labels.size : tf.sum(weights);
      let loss: tf.Tensor = tf.div(
        tf.neg(tf.sum(tf.mul(picked, weights))),
        count,
      );
      if (options.nsp ?? true) {
        const nsp = tf.neg(tf.mean(tf.sum(
          tf.mul(
            tf.logSoftmax(outputs.seq_relationship_logits),
            tf.oneHot(targets.next_sentence_label, 2),
          ),
          1,
        )));
        loss = tf.add(loss, nsp);
      }
      return (options.halve ? tf.div(loss, 2) : loss) as tf.Scalar;
    });
}

Deno.test("01-2 pretraining loss: MLM over chosen positions + NSP passes; the usual mistakes get their hint", async () => {
  assertPass(await check01.q2.evaluate(lossWith()));
  assertFail(
    await check01.q2.evaluate(lossWith({ allPositions: true })),
    /고른\) 위치의 수로 나누세요/,
  );
  assertFail(await check01.q2.evaluate(lossWith({ nsp: false })), /NSP 손실/);
  assertFail(
    await check01.q2.evaluate(lossWith({ halve: true })),
    /평균이 아니라 합/,
  );
  // -100 as a class: oneHot(-100) is all zeros, so those positions add 0 but still count.
  const ignoresNothing: LossFn = (outputs, targets) =>
    tf.tidy(() => {
      const vocab = outputs.prediction_logits.shape[2];
      const logProbs = tf.logSoftmax(outputs.prediction_logits);
      const mlm = tf.neg(
        tf.mean(tf.sum(tf.mul(logProbs, tf.oneHot(targets.labels, vocab)), 2)),
      );
      return mlm as tf.Scalar;
    });
  assertFail(await check01.q2.evaluate(ignoresNothing));
  const library: LossFn = () => {
    const crossEntropy = () => tf.scalar(0);
    return crossEntropy();
  };
  assertFail(await check01.q2.evaluate(library), /crossEntropy/);
  assertFail(await check01.q2.evaluate(() => tf.scalar(0)));
});

type MaskFn = (
  ids: number[],
  tok: BertTokenizer,
  rng: SeededRandom,
) => { input_ids: number[]; labels: number[] };

function maskWith(
  rates: { select: number; mask: number; random: number },
  options: { skipSpecial?: boolean } = {},
): MaskFn {
  return (ids, tok, rng) => {
    const special = new Set([tok.clsTokenId, tok.sepTokenId, tok.padTokenId]);
    const input_ids = [...ids];
    const labels = ids.map(() => -100);
    ids.forEach((id, i) => {
      if ((options.skipSpecial ?? true) && special.has(id)) return;
      if (rng.next() >= rates.select) return;
      labels[i] = id;
      const roll = rng.next();
      if (roll < rates.mask) input_ids[i] = tok.maskTokenId;
      else if (roll < rates.mask + rates.random) {
        input_ids[i] = rng.int(tok.vocabSize);
      }
    });
    return { input_ids, labels };
  };
}

Deno.test("01-3 masking: 80/10/10 passes; wrong rates, specials, Math.random and mutation fail", async () => {
  const right = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 }),
  );
  assert.ok(right.passed, right.problems.join());
  const allMask = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 1, random: 0 }),
  );
  assert.ok(!allMask.passed);
  const tooMany = await check01.q3.evaluate(
    maskWith({ select: 0.3, mask: 0.8, random: 0.1 }),
  );
  assert.ok(!tooMany.passed);
  const specials = await check01.q3.evaluate(
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 }, { skipSpecial: false }),
  );
  assert.ok(!specials.passed);
  assert.ok(specials.problems.some((p) => p.includes("특수 토큰")));
  const unseeded: MaskFn = (ids, tok) =>
    maskWith({ select: 0.15, mask: 0.8, random: 0.1 })(
      ids,
      tok,
      new SeededRandom(Math.floor(Math.random() * 1e9)),
    );
  assert.ok(!(await check01.q3.evaluate(unseeded)).passed);
  const mutating: MaskFn = (ids, tok, rng) => {
    const out = maskWith({ select: 0.15, mask: 0.8, random: 0.1 })(
      ids,
      tok,
      rng,
    );
    ids.splice(0, ids.length, ...out.input_ids);
    return out;
  };
  assert.ok(!(await check01.q3.evaluate(mutating)).passed);
  const throwing: MaskFn = () => {
    throw new Error("boom");
  };
  const crashed = await check01.q3.evaluate(throwing);
  assert.ok(!crashed.passed && crashed.problems[0].includes("boom"));
});

type NspFn = Parameters<typeof check01.q4.evaluate>[0];

function nspWith(
  options: {
    isNext?: number;
    sameDocument?: boolean;
    swappedLabels?: boolean;
    neighbourOnly?: boolean;
  } = {},
): NspFn {
  return (documents, d, s, rng) => {
    const a = documents[d][s];
    const [isNextLabel, notNextLabel] = options.swappedLabels ? [1, 0] : [0, 1];
    if (rng.next() < (options.isNext ?? 0.5)) {
      return { a, b: documents[d][s + 1], next_sentence_label: isNextLabel };
    }
    let other: number;
    if (options.sameDocument) other = d;
    else if (options.neighbourOnly) other = (d + 1) % documents.length;
    else {
      other = rng.int(documents.length - 1);
      if (other >= d) other++;
    }
    const pool = options.sameDocument
      ? documents[d].filter((_, j) => j !== s + 1)
      : documents[other];
    return {
      a,
      b: pool[rng.int(pool.length)],
      next_sentence_label: notNextLabel,
    };
  };
}

Deno.test("01-4 NSP pairs: 50/50 with B from another document passes; skewed, same-document, swapped labels fail", async () => {
  assertPass(await check01.q4.evaluate(nspWith()));
  assertFail(
    await check01.q4.evaluate(nspWith({ isNext: 0.7 })),
    /IsNext 비율/,
  );
  assertFail(
    await check01.q4.evaluate(nspWith({ sameDocument: true })),
    /같은 문서에서 골랐습니다/,
  );
  assertFail(
    await check01.q4.evaluate(nspWith({ swappedLabels: true })),
    /0 = IsNext, 1 = NotNext/,
  );
  assertFail(
    await check01.q4.evaluate(nspWith({ neighbourOnly: true })),
    /같은 몇 문서/,
  );
  const unseeded: NspFn = (documents, d, s) =>
    nspWith()(
      documents,
      d,
      s,
      new SeededRandom(Math.floor(Math.random() * 1e9)),
    );
  assertFail(await check01.q4.evaluate(unseeded), /rng/);
  const mutating: NspFn = (documents, d, s, rng) => {
    const pair = nspWith()(documents, d, s, rng);
    documents[d] = [...documents[d]].reverse();
    return pair;
  };
  assertFail(await check01.q4.evaluate(mutating));
});

// ---- lesson 02 -------------------------------------------------------------------------------

Deno.test("02-1 tokenize: the library's own encoding passes; near misses fail without the answer", async () => {
  const { q1Sentence, q1MaxLength } = check02.data;
  const encoded = tokenizer(q1Sentence, {
    padding: "max_length",
    truncation: true,
    maxLength: q1MaxLength,
  });
  const right = {
    tokens: tokenizer.tokenize(q1Sentence),
    input_ids: encoded.input_ids,
    attention_mask: encoded.attention_mask,
  };
  assert.equal(right.input_ids.length, q1MaxLength);
  assert.ok((await check02.q1.evaluate(right)).passed);

  const unpadded = { ...right, input_ids: tokenizer.encode(q1Sentence) };
  assert.ok(!(await check02.q1.evaluate(unpadded)).passed);
  const withSpecials = {
    ...right,
    tokens: tokenizer.tokenize(q1Sentence, { addSpecialTokens: true }),
  };
  const result = await check02.q1.evaluate(withSpecials);
  assert.ok(!result.passed);
  assert.ok(!result.problems.join().includes("[CLS]"));
  const oneOff = {
    ...right,
    input_ids: right.input_ids.map((id, i) => (i === 2 ? id + 1 : id)),
  };
  const offResult = await check02.q1.evaluate(oneOff);
  assert.ok(!offResult.passed);
  assertNotRevealed(offResult.problems, [right.input_ids[2]]);
});

type PairFn = Parameters<typeof check02.q2.evaluate>[0];

/** [CLS] A [SEP] B [SEP] + padding by hand, with knobs for the usual mistakes. */
function pairWith(
  options: {
    sepInSegmentB?: boolean;
    padTypesWithOne?: boolean;
    noPadding?: boolean;
    oneSep?: boolean;
  } = {},
): PairFn {
  return (textA, textB, maxLength) => {
    const a = tokenizer.convertTokensToIds(tokenizer.tokenize(textA));
    const b = tokenizer.convertTokensToIds(tokenizer.tokenize(textB));
    const ids = options.oneSep
      ? [tokenizer.clsTokenId, ...a, tokenizer.sepTokenId, ...b]
      : [
        tokenizer.clsTokenId,
        ...a,
        tokenizer.sepTokenId,
        ...b,
        tokenizer.sepTokenId,
      ];
    const zeros = options.sepInSegmentB ? a.length + 1 : a.length + 2;
    const types = ids.map((_, i) => (i < zeros ? 0 : 1));
    const extra = options.noPadding ? 0 : maxLength - ids.length;
    return {
      input_ids: [...ids, ...new Array(extra).fill(tokenizer.padTokenId)],
      token_type_ids: [
        ...types,
        ...new Array(extra).fill(options.padTypesWithOne ? 1 : 0),
      ],
      attention_mask: [...ids.map(() => 1), ...new Array(extra).fill(0)],
    };
  };
}

Deno.test("02-2 sentence pair: a hand-built [CLS] A [SEP] B [SEP] + padding passes; segment and padding mistakes fail", async () => {
  assertPass(await check02.q2.evaluate(pairWith()));
  // The tokenizer's own call is the reference, so it must pass as well.
  const viaTokenizer: PairFn = (a, b, maxLength) =>
    tokenizer(a, { textPair: b, padding: "max_length", maxLength });
  assertPass(await check02.q2.evaluate(viaTokenizer));
  assertFail(
    await check02.q2.evaluate(pairWith({ sepInSegmentB: true })),
    /token_type_ids의 \d+번째 값이 다릅니다/,
  );
  assertFail(
    await check02.q2.evaluate(pairWith({ padTypesWithOne: true })),
    /token_type_ids/,
  );
  assertFail(
    await check02.q2.evaluate(pairWith({ noPadding: true })),
    /길이가 다릅니다/,
  );
  assertFail(await check02.q2.evaluate(pairWith({ oneSep: true })));
  // A single sentence (no pair) is not what was asked.
  const single: PairFn = (a, _b, maxLength) =>
    tokenizer(a, { padding: "max_length", maxLength });
  assertFail(await check02.q2.evaluate(single));
  const wrongId = pairWith();
  const offByOne: PairFn = (a, b, n) => {
    const out = wrongId(a, b, n);
    return {
      ...out,
      input_ids: out.input_ids.map((id, i) => i === 1 ? id + 1 : id),
    };
  };
  const offResult = await check02.q2.evaluate(offByOne);
  assertFail(offResult, /input_ids의 2번째 값이 다릅니다/);
  const [a0, b0] = check02.data.q2Pairs[0];
  assertNotRevealed(offResult.problems, [
    tokenizer(a0, { textPair: b0 }).input_ids[1],
  ]);
});

Deno.test("02-3 token counts: counts from mBERT and the course vocabulary pass; counting specials gets a hint", async () => {
  const mbert = await AutoTokenizer.fromPretrained(check02.data.mbertId);
  const right = {
    mbertKorean: mbert.tokenize(check02.data.q3Korean).length,
    mbertEnglish: mbert.tokenize(check02.data.q3English).length,
    courseKorean: tokenizer.tokenize(check02.data.q3Korean).length,
    courseEnglish: tokenizer.tokenize(check02.data.q3English).length,
  };
  assert.ok((await check02.q3.evaluate(right)).passed);
  const withSpecials = await check02.q3.evaluate({
    ...right,
    mbertKorean: right.mbertKorean + 2,
  });
  assert.ok(!withSpecials.passed);
  assert.ok(withSpecials.problems[0].includes("[CLS]"));
  assertNotRevealed(withSpecials.problems, [right.mbertKorean]);
  // The rubric of the written interpretation says which vocabulary wins for which language.
  console.log(`02-3 counts: ${JSON.stringify(right)}`);
});
