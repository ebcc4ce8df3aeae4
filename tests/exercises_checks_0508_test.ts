/**
 * The answer checks of lessons 05-08: a right answer passes, typical wrong answers fail, and the
 * feedback never contains the expected value. Checks that need the course model's weights are
 * skipped until models/ko-mini-bert/model.safetensors exists.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  alignWordLabels,
  AutoTokenizer,
  BertConfig,
  BertForSequenceClassification,
  bestAnswerSpan,
  courseModelDir,
  HATE_LABELS,
  initBackend,
  loadCurseDetection,
  loadHateSpeech,
  type Offset,
  pipeline,
} from "../lib/mod.ts";
import {
  classificationReport,
  type Example,
  Trainer,
} from "../lib/train/mod.ts";
import { check05 } from "../lib/exercises/check05.ts";
import { check06 } from "../lib/exercises/check06.ts";
import { check07 } from "../lib/exercises/check07.ts";
import { check08 } from "../lib/exercises/check08.ts";
import type { CheckResult } from "../lib/exercises/feedback.ts";
import { assertFail, assertPass } from "./exercise_assertions.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", resolve(ROOT, "..", "shared", "mirror"));
}
const HAS_WEIGHTS = existsSync(join(courseModelDir(), "model.safetensors"));

/**
 * Feedback must not give the answer away. A one-character answer (the course model's top
 * fill-mask token can be ".") appears in any Korean sentence, so for those only a standalone
 * occurrence (after a space, quote or bracket) counts as revealing it.
 */
function assertNotRevealed(checked: CheckResult, secrets: (string | number)[]) {
  const text = checked.problems.join("\n");
  for (const secret of secrets.map(String)) {
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const revealed = secret.length > 1
      ? text.includes(secret)
      : new RegExp(`(^|[\\s"'\`「“(])${escaped}(?=$|[\\s"'\`」”),])`, "m").test(
        text,
      );
    assert.ok(!revealed, `feedback reveals ${secret}`);
  }
}

// 05-1 and 05-3 are tested in exercises_checks_030507_test.ts.

Deno.test("05-2 logits to label scores: softmax sorted passes; unsorted, raw or overflowing fail", async () => {
  const right = (logits: number[], id2label: Record<number, string>) => {
    const max = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e, i) => ({ label: id2label[i], score: e / sum }))
      .sort((a, b) => b.score - a.score);
  };
  assertPass(await check05.q2.evaluate(right));
  assertFail(
    await check05.q2.evaluate((logits, id2label) =>
      right(logits, id2label).sort((a, b) => a.score - b.score)
    ),
    /내림차순/,
  );
  assertFail(
    await check05.q2.evaluate((logits, id2label) =>
      logits.map((v, i) => ({ label: id2label[i], score: v }))
    ),
    /softmax/,
  );
  assertFail(
    await check05.q2.evaluate((logits, id2label) => {
      const exps = logits.map(Math.exp);
      const sum = exps.reduce((a, b) => a + b, 0);
      return exps.map((e, i) => ({ label: id2label[i], score: e / sum }))
        .sort((a, b) => b.score - a.score);
    }),
    /NaN/,
  );
  assertFail(
    await check05.q2.evaluate((logits, id2label) =>
      right(logits, id2label).map((s, i) => ({ ...s, label: String(i) }))
    ),
    /id2label/,
  );
});

Deno.test("06-1 NER alignment: HF's first-sub-word rule passes; labelling every piece fails", async () => {
  assertPass(await check06.q1.evaluate((w, l) => alignWordLabels(w, l)));
  assertFail(
    await check06.q1.evaluate((w, l) =>
      alignWordLabels(w, l, { labelAllTokens: true })
    ),
    /첫 서브토큰만/,
  );
  assertFail(
    await check06.q1.evaluate((wordIds, labels) =>
      wordIds.map((w) => (w === null ? 0 : labels[w]))
    ),
    /-100/,
  );
});

Deno.test("06-2 QA span: the library's search passes; independent argmaxes or no length limit fail", async () => {
  type Feature = { offset_mapping: (Offset | null)[]; context: string };
  assertPass(
    await check06.q2.evaluate((feature: Feature, start, end) =>
      bestAnswerSpan(feature, start, end)!.text
    ),
  );
  const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
  const naive = (feature: Feature, start: number[], end: number[]) => {
    const s = feature.offset_mapping[argmax(start)];
    const e = feature.offset_mapping[argmax(end)];
    return feature.context.slice(s?.[0] ?? 0, e?.[1] ?? 0);
  };
  const wrong = await check06.q2.evaluate(naive);
  assertFail(wrong, /null|앞/);
  // The right search without the 30-token limit on the answer's length.
  assertFail(
    await check06.q2.evaluate((feature: Feature, start, end) =>
      bestAnswerSpan(feature, start, end, { maxAnswerLength: 1000 })!.text
    ),
    /30토큰보다 긴/,
  );
  assertFail(await check06.q2.evaluate(() => "없는 답"), /context/);
});

Deno.test("06-3 NLI pair: the tokenizer's pair encoding passes; one segment or one [SEP] fails", async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const { q3Premise, q3Hypothesis } = check06.data;
  const pair = tokenizer(q3Premise, { textPair: q3Hypothesis });
  assertPass(
    await check06.q3.evaluate({
      input_ids: pair.input_ids,
      token_type_ids: pair.token_type_ids,
    }),
  );
  const joined = tokenizer(`${q3Premise} ${q3Hypothesis}`);
  const wrong = await check06.q3.evaluate({
    input_ids: joined.input_ids,
    token_type_ids: joined.token_type_ids,
  });
  assertFail(wrong, /\[SEP\]/);
  assertFail(
    await check06.q3.evaluate({
      input_ids: pair.input_ids,
      token_type_ids: pair.token_type_ids.map(() => 0),
    }),
    /모두 0/,
  );
  assertNotRevealed(wrong, [pair.input_ids.slice(1, 4).join(",")]);
});

Deno.test("07-1 KLUE heads: the right table passes; STS as 5 classes fails", async () => {
  const right = {
    "YNAT": { head: "BertForSequenceClassification", numLabels: 7 },
    "KLUE-NLI": { head: "BertForSequenceClassification", numLabels: 3 },
    "KLUE-STS": { head: "BertForSequenceClassification", numLabels: 1 },
    "KLUE-NER": { head: "BertForTokenClassification", numLabels: 13 },
    "KLUE-MRC": { head: "BertForQuestionAnswering", numLabels: 2 },
  };
  assertPass(await check07.q1.evaluate(right));
  const wrong = await check07.q1.evaluate({
    ...right,
    "KLUE-STS": { head: "BertForSequenceClassification", numLabels: 6 },
    "KLUE-NER": { head: "BertForSequenceClassification", numLabels: 13 },
  });
  assertFail(wrong, /회귀/);
  assertFail(wrong, /KLUE-NER/);
  assertNotRevealed(wrong, ["BertForTokenClassification"]);
});

// 07-2 and 07-3 are tested in exercises_checks_030507_test.ts.

Deno.test("08-1 label mapping: any bijection from the data's strings passes; a missing label or shifted ids fail", async () => {
  const hate = (await loadHateSpeech("dev", { quiet: true })).getColumn("hate")
    .toArray() as string[];
  // Not HATE_LABELS' order: any consistent mapping is right.
  const names = [...HATE_LABELS].reverse();
  const label2id = Object.fromEntries(names.map((n, i) => [n, i]));
  const id2label = Object.fromEntries(names.map((n, i) => [i, n]));
  const labelIds = hate.map((h) => label2id[h]);
  assertPass(await check08.q1.evaluate({ label2id, id2label, labelIds }));
  assertFail(
    await check08.q1.evaluate({
      label2id: { none: 0, hate: 1 },
      id2label: { 0: "none", 1: "hate" },
      labelIds,
    }),
    /키/,
  );
  assertFail(
    await check08.q1.evaluate({
      label2id,
      id2label,
      labelIds: labelIds.map((id) => (id + 1) % 3),
    }),
    /번째/,
  );
  assertFail(
    await check08.q1.evaluate({
      label2id: Object.fromEntries(names.map((n, i) => [n, i + 1])),
      id2label,
      labelIds,
    }),
    /0부터/,
  );
});

Deno.test("08-2 per-class scores: classificationReport passes; NaN on an unpredicted or absent class and swapped P/R fail", async () => {
  assertPass(
    await check08.q2.evaluate((p, l, n) => {
      const { precision, recall, f1 } = classificationReport(p, l, n);
      return { precision, recall, f1 };
    }),
  );
  const raw = (p: number[], l: number[], n: number) => {
    const precision: number[] = [], recall: number[] = [], f1: number[] = [];
    for (let c = 0; c < n; c++) {
      const tp = p.filter((v, i) => v === c && l[i] === c).length;
      const pr = tp / p.filter((v) => v === c).length;
      const rc = tp / l.filter((v) => v === c).length;
      precision.push(pr);
      recall.push(rc);
      f1.push((2 * pr * rc) / (pr + rc));
    }
    return { precision, recall, f1 };
  };
  assertFail(await check08.q2.evaluate(raw), /NaN/);
  // Guards precision's zero denominator but not recall's (a class absent from the labels).
  const halfGuarded = (p: number[], l: number[], n: number) => {
    const r = classificationReport(p, l, n);
    const recall = r.recall.map((v, c) =>
      l.some((x) => x === c) ? v : Number.NaN
    );
    const f1 = r.f1.map((v, c) => (Number.isNaN(recall[c]) ? Number.NaN : v));
    return { precision: r.precision, recall, f1 };
  };
  assertFail(await check08.q2.evaluate(halfGuarded), /recall에 NaN/);
  assertFail(
    await check08.q2.evaluate((p, l, n) => {
      const r = classificationReport(p, l, n);
      return { precision: r.recall, recall: r.precision, f1: r.f1 };
    }),
    /precision/,
  );
});

Deno.test("08-3 capstone: a trained classifier on curse data passes; misreported F1, made-up or reversed labels, foreign sentences, an untrained model or LABEL_n names fail", async () => {
  await initBackend();
  const tokenizer = await AutoTokenizer.fromPretrained(courseModelDir());
  const id2label = { 0: "일반", 1: "욕설" };
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 64,
    num_labels: 2,
    id2label,
    label2id: { 일반: 0, 욕설: 1 },
  });
  // Real curse-detection sentences, 60 of each class. A tiny model that learns these very
  // sentences stands in for the capstone: the check judges the model on them, not the split.
  const curse = await loadCurseDetection({ quiet: true });
  const allTexts = curse.getColumn("sentence").toArray() as string[];
  const allLabels = (curse.getColumn("label").toArray() as number[]).map(
    Number,
  );
  const picked = [0, 1].flatMap((c) =>
    allLabels.flatMap((l, i) => (l === c ? [i] : [])).slice(0, 60)
  );
  const texts = picked.map((i) => allTexts[i]);
  const labels = picked.map((i) => allLabels[i]);
  const examples: Example[] = texts.map((t, i) => ({
    input_ids: tokenizer.encode(t, { truncation: true, maxLength: 64 }),
    label: labels[i],
  }));
  const trained = new BertForSequenceClassification(config, { seed: 3 });
  await new Trainer({
    model: trained,
    args: {
      numTrainEpochs: 30,
      batchSize: 16,
      learningRate: 3e-3,
      progress: false,
      padTokenId: tokenizer.padTokenId,
    },
    trainDataset: examples,
  }).train();
  const predict = async (model: BertForSequenceClassification) => {
    const classifier = await pipeline("text-classification", {
      model,
      tokenizer,
    }, { engine: "tfjs" });
    const out = await classifier(texts) as { label: string }[];
    await classifier.dispose();
    return out.map((o) => (o.label === "욕설" ? 1 : 0));
  };
  const macroF1 = classificationReport(await predict(trained), labels, 2)
    .macroF1;
  const answer = {
    model: trained,
    tokenizer,
    evalTexts: texts,
    evalLabels: labels,
  };
  assertPass(await check08.q3.evaluate({ ...answer, macroF1 }));
  assertFail(
    await check08.q3.evaluate({
      ...answer,
      macroF1: macroF1 - 0.2,
    }),
    /다시 측정한/,
  );
  assertFail(
    await check08.q3.evaluate({
      ...answer,
      evalLabels: labels.map((l) => 1 - l),
      macroF1: 0,
    }),
    /label과 다릅니다/,
  );
  assertFail(
    await check08.q3.evaluate({
      ...answer,
      evalTexts: texts.map((t, i) => (i === 5 ? `${t} 추가` : t)),
      macroF1,
    }),
    /6번째 문장이 욕설 탐지 데이터/,
  );
  // A model that never trained scores near the "always the majority class" baseline.
  const untrained = new BertForSequenceClassification(config, { seed: 5 });
  const guesses = await predict(untrained);
  assertFail(
    await check08.q3.evaluate({
      ...answer,
      model: untrained,
      macroF1: classificationReport(guesses, labels, 2).macroF1,
    }),
    /많은 쪽|낮습니다/,
  );
  // Scored against its own predictions any model is perfect: the labels must be the data's.
  assert.notDeepEqual(guesses, labels);
  assertFail(
    await check08.q3.evaluate({
      ...answer,
      model: untrained,
      evalLabels: guesses,
      macroF1: 1,
    }),
    /label과 다릅니다/,
  );
  const unnamed = new BertForSequenceClassification(
    new BertConfig({
      ...config.toJSON(),
      id2label: undefined,
      label2id: undefined,
    }),
    { seed: 4 },
  );
  assertFail(
    await check08.q3.evaluate({ ...answer, model: unnamed, macroF1 }),
    /id2label/,
  );
  for (const m of [trained, untrained, unnamed]) m.dispose();
});

Deno.test("05-08 empty exercise stubs fail with a hint, not a crash", async () => {
  const stubs: [string, Promise<CheckResult>][] = [
    ["q1", check05.q1.evaluate([])],
    ["q2", check05.q2.evaluate(() => [])],
    ["q1", check06.q1.evaluate(() => [])],
    ["q2", check06.q2.evaluate(() => "")],
    ["q3", check06.q3.evaluate({ input_ids: [], token_type_ids: [] })],
    ["q1", check07.q1.evaluate({})],
    [
      "q3",
      check07.q3.evaluate({
        learningRate: 0,
        numTrainEpochs: 0,
        batchSize: 0,
        maxLength: 0,
        warmupRatio: 0,
      }),
    ],
    [
      "q1",
      check08.q1.evaluate({ label2id: {}, id2label: {}, labelIds: [] }),
    ],
    [
      "q2",
      check08.q2.evaluate(() => ({ precision: [], recall: [], f1: [] })),
    ],
  ];
  for (const [name, pending] of stubs) {
    if (name === "q1" && !HAS_WEIGHTS) continue;
    const checked = await pending.catch((e) => {
      throw new Error(`${name} threw: ${e}`);
    });
    assert.equal(checked.passed, false, `${name} passed an empty stub`);
    assert.ok(
      checked.problems.every((p) => !p.startsWith("답을 검사하는 중 오류")),
      `${name}: ${checked.problems.join(" | ")}`,
    );
  }
});
