/**
 * Lesson 06's four downstream tasks (KorNLI, KorSTS, KLUE-NER, KorQuAD 1.0) for one or more
 * models, with the lesson's own recipe: the same samples (seed 42), sizes, sequence lengths,
 * learning rates and epochs, so the model card can say how a new course model changes what the
 * lesson shows. Every score is on data the course never pretrains on (see tools/pretraining/build_corpus.ts).
 *
 *   deno run -A tools/pretraining/eval_downstream.ts out.json v1=models/ko-mini-bert v2=.cache/ko-mini-bert-v2
 *
 * COURSE_QUICK=1 shrinks every task to a few steps (checks the code path only).
 */
import { resolve } from "node:path";
import { parseCli, usageError } from "../cli.ts";
import {
  accuracy,
  AutoTokenizer,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  type BertTokenizer,
  deviceReport,
  entityScores,
  type Example,
  initBackend,
  KLUE_NER_TAGS,
  loadKlueNer,
  loadKorNli,
  loadKorQuad,
  loadKorSts,
  NLI_LABELS,
  pearson,
  pipeline,
  prepareQaFeatures,
  qaScores,
  quick,
  sampleStratified,
  spearman,
  tokenizeAndAlignLabels,
  tokenizeForClassification,
  type TrainableModel,
  Trainer,
  trainTestSplit,
} from "../../lib/mod.ts";

const SEED = 42;

type TaskScores = {
  nli_accuracy: number;
  sts_pearson: number;
  sts_spearman: number;
  ner_entity_f1: number;
  qa_exact_match: number;
  qa_f1: number;
  seconds: Record<string, number>;
};

/** Lesson 06's `fineTune`: every layer, AdamW, 10% warmup, linear decay, clipping 1.0. */
async function fineTune(
  model: TrainableModel,
  trainDataset: Example[],
  tokenizer: BertTokenizer,
  learningRate = 1e-4,
  epochs = quick(3, 1),
): Promise<Trainer> {
  const trainer = new Trainer({
    model,
    args: {
      numTrainEpochs: epochs,
      batchSize: 16,
      learningRate,
      warmupRatio: 0.1,
      weightDecay: 0.01,
      seed: SEED,
      padTokenId: tokenizer.padTokenId,
      progress: false,
    },
    trainDataset,
  });
  await trainer.train();
  return trainer;
}

export async function downstreamScores(modelDir: string): Promise<TaskScores> {
  const tokenizer = await AutoTokenizer.fromPretrained(modelDir, {
    quiet: true,
  });
  const trainSize = quick(2000, 64); // STS and NER
  const nliTrainSize = quick(1500, 64);
  const testSize = quick(500, 32);
  const seconds: Record<string, number> = {};
  const timed = async <T>(task: string, work: () => Promise<T>) => {
    const started = performance.now();
    const result = await work();
    seconds[task] = (performance.now() - started) / 1000;
    return result;
  };

  const nli_accuracy = await timed("nli", async () => {
    const options = {
      textColumn: "sentence1",
      textPairColumn: "sentence2",
      labelColumn: "label",
      maxLength: 96,
    };
    const train = tokenizeForClassification(
      sampleStratified(await loadKorNli("dev"), {
        n: nliTrainSize,
        seed: SEED,
      }),
      tokenizer,
      options,
    );
    const test = tokenizeForClassification(
      sampleStratified(await loadKorNli("test"), { n: testSize, seed: SEED }),
      tokenizer,
      options,
    );
    const model = await BertForSequenceClassification.fromPretrained(
      modelDir,
      {
        num_labels: 3,
        id2label: Object.fromEntries(NLI_LABELS.map((name, i) => [i, name])),
        label2id: Object.fromEntries(NLI_LABELS.map((name, i) => [name, i])),
        seed: SEED,
        verbose: false,
      },
    );
    const trainer = await fineTune(model, train, tokenizer);
    const predicted = (await trainer.predict(test)).predictions as number[];
    trainer.dispose();
    model.dispose();
    return accuracy(predicted, test.map((e) => e.label as number));
  });

  const sts = await timed("sts", async () => {
    const options = {
      textColumn: "sentence1",
      textPairColumn: "sentence2",
      labelColumn: "score",
      maxLength: 96,
    };
    const train = tokenizeForClassification(
      (await loadKorSts("train")).sample(trainSize, undefined, undefined, SEED),
      tokenizer,
      options,
    );
    const test = tokenizeForClassification(
      (await loadKorSts("dev")).sample(testSize, undefined, undefined, SEED),
      tokenizer,
      options,
    );
    const model = await BertForSequenceClassification.fromPretrained(
      modelDir,
      { num_labels: 1, seed: SEED, verbose: false },
    );
    const trainer = await fineTune(model, train, tokenizer);
    const predicted = ((await trainer.predict(test)).logits as number[][]).map(
      (row) => row[0],
    );
    trainer.dispose();
    model.dispose();
    const gold = test.map((e) => e.label as number);
    return {
      pearson: pearson(predicted, gold),
      spearman: spearman(predicted, gold),
    };
  });

  const ner_entity_f1 = await timed("ner", async () => {
    const frame = await loadKlueNer();
    const { train, test } = trainTestSplit(frame, {
      testSize: 0.2,
      seed: SEED,
    });
    const label2id = Object.fromEntries(KLUE_NER_TAGS.map((t, i) => [t, i]));
    const id2label = Object.fromEntries(KLUE_NER_TAGS.map((t, i) => [i, t]));
    type NerRow = { tokens: string[]; tags: string[] };
    const examples = (part: typeof frame, n: number): Example[] =>
      (part.toRecords() as unknown as NerRow[]).slice(0, n).map((row) => {
        const { input_ids, token_type_ids, labels } = tokenizeAndAlignLabels(
          row.tokens,
          row.tags,
          tokenizer,
          label2id,
          { maxLength: 96 },
        );
        return { input_ids, token_type_ids, labels };
      });
    const nerTrain = examples(train, trainSize);
    const nerTest = examples(test, testSize);
    const model = await BertForTokenClassification.fromPretrained(modelDir, {
      num_labels: KLUE_NER_TAGS.length,
      id2label,
      label2id,
      seed: SEED,
      verbose: false,
    });
    const trainer = await fineTune(model, nerTrain, tokenizer, 2e-4);
    const predictions = (await trainer.predict(nerTest))
      .predictions as number[][];
    trainer.dispose();
    model.dispose();
    const predictedTags: string[][] = [];
    const goldTags: string[][] = [];
    nerTest.forEach((example, s) => {
      const gold = example.labels as number[];
      const kept = gold.map((g, t) => (g === -100 ? -1 : t)).filter((t) =>
        t >= 0
      );
      goldTags.push(kept.map((t) => id2label[gold[t]]));
      predictedTags.push(kept.map((t) => id2label[predictions[s][t]]));
    });
    return entityScores(predictedTags, goldTags).f1;
  });

  const qa = await timed("qa", async () => {
    const korquad = await loadKorQuad();
    const titles = [
      ...new Set(korquad.getColumn("title").toArray() as string[]),
    ];
    const trainTitles = new Set(
      titles.slice(0, Math.floor(titles.length * 0.8)),
    );
    const rows = korquad.toRecords() as {
      title: string;
      question: string;
      context: string;
      answer_text: string;
      answer_start: number;
    }[];
    const trainRows = rows.filter((r) => trainTitles.has(r.title)).slice(
      0,
      quick(1200, 64),
    );
    const testRows = rows.filter((r) => !trainTitles.has(r.title)).slice(
      0,
      quick(300, 40),
    );
    const maxLength = tokenizer.modelMaxLength;
    const docStride = 32;
    const train: Example[] = trainRows.flatMap((r) =>
      prepareQaFeatures(
        r.question,
        r.context,
        { text: r.answer_text, answer_start: r.answer_start },
        tokenizer,
        { maxLength, docStride },
      )
        .filter((f) => f.start_positions > 0)
        .map((
          { input_ids, token_type_ids, start_positions, end_positions },
        ) => ({ input_ids, token_type_ids, start_positions, end_positions }))
    );
    const model = await BertForQuestionAnswering.fromPretrained(modelDir, {
      seed: SEED,
      verbose: false,
    });
    const trainer = await fineTune(model, train, tokenizer, 2e-4, quick(2, 1));
    const answerer = await pipeline(
      "question-answering",
      { model, tokenizer },
      { engine: "onnx", maxLength },
    );
    const answers = await answerer(
      testRows.map((r) => ({ question: r.question, context: r.context })),
      { docStride },
    ) as { answer: string }[];
    await answerer.dispose();
    trainer.dispose();
    model.dispose();
    return qaScores(
      answers.map((a) => a.answer),
      testRows.map((r) => [r.answer_text]),
      "korquad",
    );
  });

  return {
    nli_accuracy,
    sts_pearson: sts.pearson,
    sts_spearman: sts.spearman,
    ner_entity_f1,
    qa_exact_match: qa.exact_match,
    qa_f1: qa.f1,
    seconds,
  };
}

const USAGE =
  `Usage: deno run -A tools/pretraining/eval_downstream.ts out.json name=modelDir [name=modelDir ...]
  Fine-tunes and scores each model on lesson 06's four tasks and writes the scores to out.json.
  COURSE_QUICK=1 shrinks every task to a few steps (checks the code path only).
  --help  print this and exit`;

if (import.meta.main) {
  const { positionals } = parseCli(USAGE, {
    options: {},
    allowPositionals: true,
  });
  const [out, ...specs] = positionals;
  if (!out || specs.length === 0) {
    usageError(USAGE, "give out.json and at least one name=modelDir");
  }
  const malformed = specs.find((spec) => !/^[^=]+=.+/.test(spec));
  if (malformed !== undefined) {
    usageError(USAGE, `expected name=modelDir, got "${malformed}"`);
  }
  const backend = await initBackend();
  const started = performance.now();
  const models: Record<string, TaskScores & { model: string }> = {};
  for (const spec of specs) {
    const [name, dir] = spec.split("=");
    const scores = await downstreamScores(resolve(dir));
    console.log(`${name}: ${JSON.stringify(scores)}`);
    models[name] = { model: dir, ...scores };
  }
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        recipe: "lesson 06 (notebooks/06_다운스트림_태스크.ipynb), seed 42",
        models,
        machine: { ...deviceReport(), backend: backend.name },
        total_seconds: (performance.now() - started) / 1000,
      },
      null,
      2,
    ) + "\n",
  );
}
