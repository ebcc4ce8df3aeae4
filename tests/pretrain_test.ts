import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/runtime/backend.ts";
import { SeededRandom } from "../lib/runtime/random.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import { collate, disposeBatch } from "../lib/data/mod.ts";
import { readSafetensors, toFloat32 } from "../lib/models/mod.ts";
import {
  buildPretrainingModel,
  epochExamples,
  lengthGroupedOrder,
  maskedExamples,
  pretrain,
  PRETRAIN_DEFAULTS,
  pretrainingLoss,
  sequenceLengthAt,
} from "../lib/pretrain/mod.ts";
import { parsePretrainFlags } from "../tools/pretraining/pretrain.ts";
import { formatDocuments } from "../tools/pretraining/build_corpus.ts";
import { COURSE_TOKENIZER_DIR, TINY_PRETRAIN } from "./pretrain_fixtures.ts";

await initBackend();
const tokenizer = await AutoTokenizer.fromPretrained(COURSE_TOKENIZER_DIR, {
  quiet: true,
});

/** Short Korean documents in the corpus format: reviews and a comment thread. */
const DOCUMENTS = [
  [
    "이 영화 정말 재미있어요.",
    "배우들 연기가 최고였습니다.",
    "다시 보고 싶네요.",
  ],
  ["스토리가 너무 지루했다.", "음악만 좋았다."],
  ["감독의 다음 작품이 기대됩니다."],
  ["드라마 결말이 아쉽네요.", "주인공이 불쌍해요.", "작가님 힘내세요."],
  ["연기가 어색해서 몰입이 안 돼요.", "그래도 끝까지 봤습니다."],
  ["최고의 영화", "강력 추천합니다."],
  [
    "오늘 뉴스 제목이 자극적이네요.",
    "기자님 사실 확인 좀 하세요.",
    "댓글이 더 재밌다.",
  ],
  ["가족과 함께 보기 좋은 영화입니다.", "아이들이 좋아했어요."],
].map((sentences) => sentences.map((s) => s.normalize("NFC")));

async function tinyCorpus(dir: string): Promise<void> {
  const documents = Array.from({ length: 6 }, () => DOCUMENTS).flat().map((
    sentences,
    i,
  ) => ({
    source: "test",
    sentences: i % 8 === 0 ? [...sentences, `${i}번째 문서입니다.`] : sentences,
  }));
  await Deno.writeTextFile(
    join(dir, "pretrain.txt"),
    formatDocuments(documents),
  );
  await Deno.writeTextFile(
    join(dir, "heldout.txt"),
    formatDocuments(documents.slice(0, 8)),
  );
}

Deno.test("sequence length is 64 for the first 90% of steps and 128 for the rest", () => {
  const options = { ...PRETRAIN_DEFAULTS, maxSteps: 1000 };
  assert.equal(sequenceLengthAt(0, options), 64);
  assert.equal(sequenceLengthAt(899, options), 64);
  assert.equal(sequenceLengthAt(900, options), 128);
  assert.equal(sequenceLengthAt(999, options), 128);
});

Deno.test("epoch examples are NSP pairs: deterministic per epoch, both labels, within max length", () => {
  const many = Array.from({ length: 40 }, () => DOCUMENTS).flat();
  const a = epochExamples(many, tokenizer, {
    seed: 1,
    epoch: 0,
    maxLength: 64,
  });
  const b = epochExamples(many, tokenizer, {
    seed: 1,
    epoch: 0,
    maxLength: 64,
  });
  const c = epochExamples(many, tokenizer, {
    seed: 1,
    epoch: 1,
    maxLength: 64,
  });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const notNext = a.filter((e) => e.next_sentence_label === 1).length /
    a.length;
  assert.ok(notNext > 0.3 && notNext < 0.7, `NotNext share ${notNext}`);
  for (const example of a) {
    assert.ok(example.input_ids.length <= 64);
    assert.equal(example.input_ids[0], tokenizer.clsTokenId);
    assert.equal(example.input_ids.at(-1), tokenizer.sepTokenId);
  }
});

Deno.test("dynamic masking: about 15% of tokens, never special tokens, different each step", () => {
  const examples = epochExamples(
    Array.from({ length: 200 }, () => DOCUMENTS).flat(),
    tokenizer,
    {
      seed: 1,
      epoch: 0,
      maxLength: 64,
    },
  );
  const first = maskedExamples(examples, tokenizer, 11);
  const again = maskedExamples(examples, tokenizer, 11);
  const other = maskedExamples(examples, tokenizer, 12);
  assert.deepEqual(first, again);
  assert.notDeepEqual(first, other);
  let chosen = 0, total = 0, asMask = 0;
  const special = new Set([
    tokenizer.clsTokenId,
    tokenizer.sepTokenId,
    tokenizer.padTokenId,
  ]);
  first.forEach((example, i) => {
    const labels = example.labels as number[];
    examples[i].input_ids.forEach((id, j) => {
      if (special.has(id)) {
        assert.equal(labels[j], -100, "special tokens are never predicted");
        return;
      }
      total++;
      if (labels[j] !== -100) {
        chosen++;
        assert.equal(labels[j], id, "the label is the original token");
        if (example.input_ids[j] === tokenizer.maskTokenId) asMask++;
      }
    });
  });
  assert.ok(
    Math.abs(chosen / total - 0.15) < 0.02,
    `masked share ${chosen / total}`,
  );
  assert.ok(
    Math.abs(asMask / chosen - 0.8) < 0.05,
    `[MASK] share ${asMask / chosen}`,
  );
});

Deno.test("loss on masked positions only equals Hugging Face's BertForPreTraining loss", () => {
  const model = buildPretrainingModel(
    tokenizer,
    TINY_PRETRAIN,
  );
  const examples = maskedExamples(
    epochExamples(DOCUMENTS, tokenizer, { seed: 3, epoch: 0, maxLength: 64 })
      .slice(0, 6),
    tokenizer,
    5,
  );
  const batch = collate(examples, { padTokenId: tokenizer.padTokenId });
  try {
    const ours = pretrainingLoss(model, batch, false);
    const reference = model.forward(batch, { training: false });
    const expected = reference.loss!.dataSync()[0];
    assert.ok(
      Math.abs(ours.loss.dataSync()[0] - expected) < 1e-4,
      `${ours.loss.dataSync()[0]} vs ${expected}`,
    );
    const [, , mlmCount] = ours.stats.dataSync();
    const labelled = examples.flatMap((e) =>
      e.labels as number[]
    ).filter((l) => l !== -100).length;
    assert.equal(mlmCount, labelled);
    tf.dispose([
      ours.loss,
      ours.stats,
      ...Object.values(reference).filter((t) => t instanceof tf.Tensor),
    ]);
  } finally {
    disposeBatch(batch);
    model.dispose();
  }
});

Deno.test("parsePretrainFlags reads numbers and paths and rejects unknown flags", () => {
  const options = parsePretrainFlags([
    "--minutes",
    "5",
    "--max-steps",
    "200",
    "--out",
    "x",
    "--quiet",
  ]);
  assert.equal(options.minutes, 5);
  assert.equal(options.maxSteps, 200);
  assert.equal(options.outputDir, resolve("x"));
  assert.equal(options.quiet, true);
  assert.throws(() => parsePretrainFlags(["--nope", "1"]), /unknown/);
  const continued = parsePretrainFlags([
    "--init-from",
    "ckpt",
    "--mlm-probability",
    "0.3",
    "--no-dropout",
  ]);
  assert.equal(continued.initFrom, resolve("ckpt"));
  assert.equal(continued.mlmProbability, 0.3);
  assert.equal(continued.noDropout, true);
  assert.equal(options.noDropout, false);
  assert.equal(options.mlmProbability, 0.15);
});

Deno.test("maskedExamples chooses about mlmProbability of the tokens", () => {
  const ids =
    tokenizer("이 영화 정말 재미있어요 배우들 연기도 좋고 음악도 좋았다")
      .input_ids;
  const examples = Array.from({ length: 200 }, () => ({ input_ids: ids }));
  const share = (p: number) => {
    const masked = maskedExamples(examples, tokenizer, 1, p);
    const chosen = masked.flatMap((e) => e.labels as number[])
      .filter((l) => l !== -100).length;
    return chosen / (examples.length * (ids.length - 2));
  };
  assert.ok(Math.abs(share(0.15) - 0.15) < 0.03, `${share(0.15)}`);
  assert.ok(Math.abs(share(0.3) - 0.3) < 0.03, `${share(0.3)}`);
});

Deno.test({
  name:
    "a short pretraining run lowers the loss, resumes exactly from its checkpoint and exports a HF folder",
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pretrain-test-" });
    try {
      await tinyCorpus(root);
      const common = {
        ...TINY_PRETRAIN,
        corpusDir: root,
        maxSteps: 24,
        minutes: 5,
      };
      const straight = await pretrain({
        ...common,
        outputDir: join(root, "a"),
        modelDir: join(root, "a-model"),
      });
      await pretrain({
        ...common,
        outputDir: join(root, "b"),
        modelDir: join(root, "b-model"),
        stopAtStep: 10,
      });
      const resumed = await pretrain({
        ...common,
        outputDir: join(root, "b"),
        modelDir: join(root, "b-model"),
      });

      const losses = straight.log_history.filter((r) =>
        r.mlm_loss !== undefined
      ).map((r) => r.mlm_loss);
      assert.ok(
        losses.at(-1)! < losses[0] - 0.5,
        `mlm loss ${losses[0]} -> ${losses.at(-1)}`,
      );
      const tensors = straight.log_history.filter((r) =>
        r.tensors !== undefined
      ).map((r) => r.tensors);
      assert.equal(
        new Set(tensors.slice(1)).size,
        1,
        `tensor count grows during training: ${tensors}`,
      );
      assert.equal(resumed.global_step, 24);
      assert.ok(resumed.finished);

      const a = await readSafetensors(
        join(root, "a", "checkpoint-24", "model.safetensors"),
      );
      const b = await readSafetensors(
        join(root, "b", "checkpoint-24", "model.safetensors"),
      );
      for (const [name, tensor] of a.tensors) {
        const mine = toFloat32(tensor, name, "a");
        const other = toFloat32(b.tensors.get(name)!, name, "b");
        const maxDiff = mine.reduce(
          (m, v, i) => Math.max(m, Math.abs(v - other[i])),
          0,
        );
        assert.ok(maxDiff < 1e-5, `${name} differs by ${maxDiff} after resume`);
      }
      const files = [...Deno.readDirSync(join(root, "a-model"))].map((e) =>
        e.name
      ).sort();
      for (
        const file of [
          "config.json",
          "model.safetensors",
          "tokenizer.json",
          "training_summary.json",
          "vocab.txt",
        ]
      ) {
        assert.ok(files.includes(file), `${file} in ${files}`);
      }
      const config = JSON.parse(
        await Deno.readTextFile(join(root, "a-model", "config.json")),
      );
      assert.equal(config.vocab_size, tokenizer.vocabSize);
      assert.equal(config.hidden_size, 32);
      assert.equal(
        config.torch_dtype,
        "float32",
        "Python transformers loads the float16 file as float32",
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("length-grouped order keeps every batch of similar length and every example once", () => {
  const examples = Array.from(
    { length: 640 },
    (_, i) => ({ input_ids: new Array(1 + (i * 37) % 60).fill(i) }),
  );
  const ordered = lengthGroupedOrder(examples, 32, new SeededRandom(1), 10);
  assert.equal(ordered.length, 640);
  assert.deepEqual(new Set(ordered), new Set(examples));
  let padded = 0, random = 0;
  for (let i = 0; i < 640; i += 32) {
    const lengths = ordered.slice(i, i + 32).map((e) => e.input_ids.length);
    padded += 32 * Math.max(...lengths);
    random += 32 *
      Math.max(...examples.slice(i, i + 32).map((e) => e.input_ids.length));
  }
  assert.ok(
    padded < random * 0.7,
    `padded tokens ${padded} vs ${random} unsorted`,
  );
});
