/**
 * Smoke test of tools/pretraining/eval_course_model.ts in quick sizes, on a tiny BERT built here with the
 * course tokenizer (the shipped weights are not needed). NSMC is read from the mirror.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { initBackend } from "../lib/runtime/backend.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import { BertConfig, BertForPreTraining } from "../lib/models/mod.ts";
import {
  defaultEvalOptions,
  evaluateCourseModel,
  parseEvalFlags,
  reportPath,
  resultsMarkdown,
  unigramBaseline,
} from "../tools/pretraining/eval_course_model.ts";
import { formatDocuments } from "../tools/pretraining/build_corpus.ts";
import { COURSE_TOKENIZER_DIR, SHORT_DOCUMENTS } from "./pretrain_fixtures.ts";
import { MIRROR } from "./test_paths.ts";

if (!Deno.env.get("COURSE_MIRROR")) Deno.env.set("COURSE_MIRROR", MIRROR);

/** A tiny seed-42 model folder with the course tokenizer, and a held-out file in the corpus format. */
async function tinyModelFolder(): Promise<{ dir: string; heldout: string }> {
  await initBackend();
  const tokenizer = await AutoTokenizer.fromPretrained(COURSE_TOKENIZER_DIR, {
    quiet: true,
  });
  const dir = await Deno.makeTempDir({ prefix: "eval_course_model_" });
  const config = new BertConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 128,
    pad_token_id: tokenizer.padTokenId,
  });
  const model = new BertForPreTraining(config, { seed: 42 });
  await model.savePretrained(dir);
  model.dispose();
  for (const file of ["tokenizer.json", "vocab.txt", "tokenizer_config.json"]) {
    copyFileSync(join(COURSE_TOKENIZER_DIR, file), join(dir, file));
  }
  const heldout = join(dir, "heldout.txt");
  await Deno.writeTextFile(
    heldout,
    formatDocuments(
      SHORT_DOCUMENTS.map((sentences) => ({ source: "test", sentences })),
    ),
  );
  return { dir, heldout };
}

Deno.test("eval_course_model: quick run measures held-out, four NSMC runs and fill-mask", async () => {
  const { dir, heldout } = await tinyModelFolder();
  try {
    const options = {
      ...defaultEvalOptions(true),
      modelDir: dir,
      heldoutFile: heldout,
      heldoutPairs: 8,
      trainSize: 32,
      testSize: 16,
      featureEpochs: 2,
    };
    const report = await evaluateCourseModel(options, () => {});

    // The folder holds a seed-42 init, so "pretrained" and the seed-42 baseline must agree exactly.
    const { pretrained, random_init } = report.heldout;
    assert.ok(report.heldout.pairs > 0 && report.heldout.pairs <= 8);
    assert.deepEqual(pretrained, random_init);
    assert.ok(
      pretrained.mlm_perplexity > 1 &&
        Number.isFinite(pretrained.mlm_perplexity),
    );
    assert.ok(pretrained.nsp_accuracy >= 0 && pretrained.nsp_accuracy <= 1);

    assert.equal(report.nsmc.train_examples, 32);
    assert.equal(report.nsmc.test_examples, 16);
    assert.deepEqual(
      report.nsmc.runs.map((r) => r.run),
      [
        "full_pretrained",
        "full_random_init",
        "features_pretrained",
        "features_random_init",
      ],
    );
    for (const run of report.nsmc.runs) {
      // 32 examples / batch 16: one epoch of full fine-tuning, two of the cheap head-only runs.
      assert.equal(run.steps, run.freeze === "full" ? 2 : 4, run.run);
      assert.equal(run.epochs, run.freeze === "full" ? 1 : 2, run.run);
      assert.ok(run.accuracy >= 0 && run.accuracy <= 1, run.run);
      assert.ok(run.macro_f1 >= 0 && run.macro_f1 <= 1, run.run);
      assert.ok(run.train_samples_per_second > 0, run.run);
    }
    const features = report.nsmc.runs.find((r) =>
      r.run === "features_pretrained"
    )!;
    const full = report.nsmc.runs.find((r) => r.run === "full_pretrained")!;
    assert.ok(features.trainable_params < full.trainable_params);
    assert.ok(features.feature_seconds !== null);

    assert.equal(report.fill_mask.length, options.fillMaskSentences.length);
    for (const { top5 } of report.fill_mask) {
      assert.equal(top5.length, 5);
      for (let i = 1; i < 5; i++) assert.ok(top5[i - 1].score >= top5[i].score);
      assert.ok(top5.every((c) => !c.sequence.includes("[MASK]")));
    }
    assert.equal(report.pretraining, undefined);
    assert.match(report.weights_sha256, /^[0-9a-f]{64}$/);
    const card = resultsMarkdown(report);
    assert.equal(
      card.match(/^\| (full fine-tuning|feature extraction) \|/gm)?.length,
      4,
    );
    assert.ok(card.includes(options.fillMaskSentences[0]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval_course_model: evaluation.json only for a finished model in full mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(reportPath({ modelDir: dir, quick: false }), undefined);
    await Deno.writeTextFile(join(dir, "training_summary.json"), "{}");
    assert.equal(reportPath({ modelDir: dir, quick: true }), undefined);
    assert.equal(
      reportPath({ modelDir: dir, quick: false }),
      join(dir, "evaluation.json"),
    );
    assert.equal(
      reportPath({ modelDir: dir, quick: true }, "x.json"),
      resolve("x.json"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const { options } = parseEvalFlags([
    "--model",
    "m",
    "--quick",
    "--full-lr",
    "5e-5",
  ]);
  assert.equal(options.modelDir, resolve("m"));
  assert.equal(options.quick, true);
  assert.equal(options.fullLearningRate, 5e-5);
  assert.equal(options.trainSize, 64);
  assert.ok(existsSync(join(COURSE_TOKENIZER_DIR, "vocab.txt")));
});

Deno.test("eval_course_model: the unigram baseline scores the masked targets by corpus frequency", async () => {
  const tokenizer = await AutoTokenizer.fromPretrained(
    COURSE_TOKENIZER_DIR,
    { quiet: true },
  );
  const [movie] = tokenizer.convertTokensToIds(["영화"]);
  const [good] = tokenizer.convertTokensToIds(["좋다"]);
  // 3 x "영화" and 1 x "좋다" in the corpus; two masked targets: "영화" and "좋다".
  const baseline = unigramBaseline([["영화 영화", "영화 좋다"]], tokenizer, [
    { input_ids: [2, 4, 4, 3], labels: [-100, movie, good, -100] },
  ]);
  const denominator = 4 + tokenizer.vocabSize;
  const expected = -(Math.log(4 / denominator) + Math.log(2 / denominator)) /
    2;
  assert.ok(Math.abs(baseline.mlm_loss - expected) < 1e-9);
  assert.equal(baseline.mlm_accuracy, 0.5); // "영화" is the most frequent token
  assert.ok(Math.abs(baseline.mlm_perplexity - Math.exp(expected)) < 1e-6);
});

Deno.test("eval_downstream: lesson 06's four tasks in quick sizes give scores in range", async () => {
  const { downstreamScores } = await import(
    "../tools/pretraining/eval_downstream.ts"
  );
  const { dir } = await tinyModelFolder();
  const previous = Deno.env.get("COURSE_QUICK");
  Deno.env.set("COURSE_QUICK", "1");
  try {
    const scores = await downstreamScores(dir);
    for (
      const key of ["nli_accuracy", "sts_pearson", "ner_entity_f1"] as const
    ) {
      assert.ok(Math.abs(scores[key]) <= 1, `${key} ${scores[key]}`);
    }
    assert.ok(scores.nli_accuracy >= 0);
    // QA scores are percentages, as the KorQuAD script reports them.
    assert.ok(scores.qa_f1 >= 0 && scores.qa_f1 <= 100);
    assert.ok(scores.qa_exact_match <= scores.qa_f1);
    assert.deepEqual(Object.keys(scores.seconds), ["nli", "sts", "ner", "qa"]);
  } finally {
    if (previous === undefined) Deno.env.delete("COURSE_QUICK");
    else Deno.env.set("COURSE_QUICK", previous);
    await Deno.remove(dir, { recursive: true });
  }
});
