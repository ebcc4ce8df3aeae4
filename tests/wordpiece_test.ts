import assert from "node:assert/strict";
import { join } from "node:path";
import * as tokenizers from "tokenizers";
import {
  BERT_SPECIAL_TOKENS,
  selectVocabulary,
  trainWordPiece,
} from "../lib/text/train_wordpiece.ts";
import { CourseError } from "../lib/runtime/errors.ts";

/** A small Korean corpus with repetition, so merges like 영화 and 재미 are learned. */
const CORPUS = [
  "이 영화 정말 재미있어요",
  "영화가 너무 재미없어요",
  "배우들 연기가 정말 좋았어요",
  "스토리가 재미있고 연기도 좋았다",
  "다시 보고 싶은 영화입니다",
  "이런 영화는 처음 봤어요",
  "연기가 어색해서 몰입이 안 돼요",
  "음악이 좋아서 영화가 더 재미있었다",
  "드라마보다 영화가 낫다",
  "감독의 다음 영화가 기대됩니다",
].flatMap((line) => Array(20).fill(line)).concat(["희귀한 글자 뷁"]);

async function trainedFolder(options: Parameters<typeof trainWordPiece>[1]) {
  const result = await trainWordPiece(CORPUS, options);
  const tokenizer = tokenizers.Tokenizer.fromFile(
    join(options.outputDir, "tokenizer.json"),
  );
  return { result, tokenizer };
}

Deno.test("trainWordPiece writes a Hugging Face tokenizer folder with special tokens first", async () => {
  const outputDir = await Deno.makeTempDir();
  try {
    const { result } = await trainedFolder({
      outputDir,
      vocabSize: 150,
      minFrequency: 1,
    });
    const vocab = (await Deno.readTextFile(join(outputDir, "vocab.txt")))
      .trimEnd().split("\n");
    assert.deepEqual(vocab.slice(0, 5), [...BERT_SPECIAL_TOKENS]);
    assert.deepEqual(vocab.length, 150);
    assert.deepEqual(vocab, result.vocab);
    assert.deepEqual(new Set(vocab).size, vocab.length, "no duplicate tokens");
    const config = JSON.parse(
      await Deno.readTextFile(join(outputDir, "tokenizer_config.json")),
    );
    assert.deepEqual(config.do_lower_case, false);
    assert.deepEqual(config.strip_accents, false);
    assert.deepEqual(config.model_max_length, 128);
    const tokenizerJson = JSON.parse(
      await Deno.readTextFile(join(outputDir, "tokenizer.json")),
    );
    assert.deepEqual(tokenizerJson.model.type, "WordPiece");
    assert.deepEqual(tokenizerJson.normalizer.strip_accents, false);
    assert.deepEqual(tokenizerJson.normalizer.lowercase, false);
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("trained tokenizer keeps Hangul syllables, learns frequent words and adds [CLS]/[SEP]", async () => {
  const outputDir = await Deno.makeTempDir();
  try {
    const { tokenizer } = await trainedFolder({
      outputDir,
      vocabSize: 200,
      minFrequency: 1,
    });
    const encoding = await tokenizer.encode("이 영화 정말 재미있어요", null);
    const tokens = encoding.getTokens();
    assert.deepEqual(tokens[0], "[CLS]");
    assert.deepEqual(tokens.at(-1), "[SEP]");
    assert.ok(tokens.includes("영화"), `영화 should be one token: ${tokens}`);
    assert.ok(!tokens.includes("[UNK]"));
    // stripAccents false: no token is a bare jamo (NFD would tear 영 into ᄋ ᅧ ᆼ).
    assert.ok(
      tokens.every((t) => !/[\u1100-\u11ff]/.test(t)),
      `jamo in ${tokens}`,
    );
    const pair = await tokenizer.encode("영화 좋아요", "다시 보고 싶은 영화");
    assert.deepEqual(
      pair.getTypeIds().at(-1),
      1,
      "second segment has token_type_id 1",
    );
    assert.deepEqual(
      await tokenizer.decode(encoding.getIds(), true),
      "이 영화 정말 재미있어요",
    );
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("limitAlphabet drops rare characters, which then encode as [UNK]", async () => {
  const outputDir = await Deno.makeTempDir();
  try {
    const { result, tokenizer } = await trainedFolder({
      outputDir,
      vocabSize: 120,
      minFrequency: 1,
      limitAlphabet: 40,
    });
    assert.ok(
      !result.vocab.includes("뷁"),
      "a character seen once is not in a 40-character alphabet",
    );
    assert.ok(result.alphabetSize <= 40);
    const tokens =
      (await tokenizer.encode("뷁", null, { addSpecialTokens: false }))
        .getTokens();
    assert.deepEqual(tokens, ["[UNK]"]);
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("a smaller vocabulary is a prefix of a larger one (greedy merges: cutting = smaller vocab_size)", async () => {
  const small = await Deno.makeTempDir();
  const large = await Deno.makeTempDir();
  try {
    const a = await trainWordPiece(CORPUS, {
      outputDir: small,
      vocabSize: 120,
      minFrequency: 1,
    });
    const b = await trainWordPiece(CORPUS, {
      outputDir: large,
      vocabSize: 180,
      minFrequency: 1,
    });
    // Same specials and alphabet, in a reproducible order; every learned token of the small one is in the large one.
    const alphabetEnd = a.vocab.findIndex((t, i) =>
      i >= 5 && [...t.replace(/^##/, "")].length > 1
    );
    assert.deepEqual(
      b.vocab.slice(0, alphabetEnd),
      a.vocab.slice(0, alphabetEnd),
    );
    const largeVocab = new Set(b.vocab);
    assert.deepEqual(a.vocab.filter((t) => !largeVocab.has(t)), []);
  } finally {
    await Deno.remove(small, { recursive: true });
    await Deno.remove(large, { recursive: true });
  }
});

Deno.test("selectVocabulary orders specials, alphabet, then learned tokens and skips dropped ones", () => {
  const learned = ["가", "나", "##나", "다", "가나", "##나다", "가나다"];
  const vocab = selectVocabulary(learned, {
    vocabSize: 9,
    specialTokens: ["[PAD]", "[UNK]"],
    keepCharacter: (c) => c !== "다",
    dropToken: (t) => t === "##나다",
  });
  assert.deepEqual(vocab, [
    "[PAD]",
    "[UNK]",
    "가",
    "나",
    "##나",
    "가나",
    "가나다",
  ]);
});

Deno.test("trainWordPiece explains bad options with a CourseError", async () => {
  const outputDir = await Deno.makeTempDir();
  try {
    const isCourseError = (pattern: RegExp) => (error: unknown) =>
      error instanceof CourseError && pattern.test(error.message) &&
      error.hint.length > 0;
    await assert.rejects(
      () => trainWordPiece(CORPUS, { outputDir, vocabSize: 3 }),
      isCourseError(/vocabSize/),
    );
    await assert.rejects(
      () => trainWordPiece(CORPUS, { outputDir, specialTokens: ["[UNK]"] }),
      isCourseError(/special tokens missing/),
    );
    await assert.rejects(
      () => trainWordPiece(["", "  "], { outputDir }),
      isCourseError(/no text/),
    );
  } finally {
    await Deno.remove(outputDir, { recursive: true });
  }
});

Deno.test("training twice gives the same vocab.txt when no merges tie at the cut (ids ordered by use)", async () => {
  const first = await Deno.makeTempDir();
  const second = await Deno.makeTempDir();
  try {
    await trainWordPiece(CORPUS, { outputDir: first, vocabSize: 170 });
    await trainWordPiece(CORPUS, { outputDir: second, vocabSize: 170 });
    assert.equal(
      await Deno.readTextFile(join(first, "vocab.txt")),
      await Deno.readTextFile(join(second, "vocab.txt")),
    );
  } finally {
    await Deno.remove(first, { recursive: true });
    await Deno.remove(second, { recursive: true });
  }
});
