import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  buildCorpus,
  dedupKey,
  formatDocuments,
  loadEvaluationKeys,
  newsCommentDocuments,
  normalizeText,
  nsmcDocuments,
  splitHeldout,
  splitSentences,
} from "../tools/pretraining/build_corpus.ts";
import { parseDocuments } from "../lib/pretrain/mod.ts";

const REPO_ROOT = resolve(import.meta.dirname!, "..");
if (!Deno.env.get("COURSE_MIRROR")) {
  Deno.env.set("COURSE_MIRROR", join(REPO_ROOT, "..", "shared", "mirror"));
}
const MIRROR = Deno.env.get("COURSE_MIRROR")!;
const hasMirror = existsSync(join(MIRROR, "raw.githubusercontent.com"));

Deno.test("normalizeText composes Hangul (NFC) and collapses whitespace", () => {
  const decomposed = "재미".normalize("NFD");
  assert.notEqual(decomposed, "재미");
  assert.equal(normalizeText(`  ${decomposed}\t있다\u200b `), "재미 있다");
  assert.equal(dedupKey("재미 있다"), dedupKey("재미있다"));
});

Deno.test("splitSentences splits at sentence ends and glues tiny fragments", () => {
  assert.deepEqual(splitSentences("정말 좋았다. 다시 보고 싶다! 강추"), [
    "정말 좋았다.",
    "다시 보고 싶다! 강추",
  ]);
  assert.deepEqual(splitSentences("최고"), ["최고"]);
  assert.deepEqual(splitSentences("   "), []);
  assert.deepEqual(splitSentences("와. 대박. 이 영화는 꼭 보세요."), [
    "와. 대박.",
    "이 영화는 꼭 보세요.",
  ]);
});

Deno.test("NSMC documents drop duplicates, evaluation text and labels", () => {
  const tsv = [
    "id\tdocument\tlabel",
    "1\t재미있다. 또 보고 싶다\t1",
    "2\t재미있다.  또 보고 싶다\t1", // duplicate up to spacing
    "3\t테스트에 있는 리뷰입니다\t0", // in the evaluation split
    "4\t\t0", // empty
  ].join("\n");
  const blocked = new Set([dedupKey("테스트에 있는 리뷰입니다")]);
  const documents = nsmcDocuments(tsv, new Set(), blocked);
  assert.deepEqual(documents.map((d) => d.sentences), [[
    "재미있다.",
    "또 보고 싶다",
  ]]);
  assert.ok(
    !formatDocuments(documents).includes("\t1"),
    "labels never reach the corpus",
  );
});

Deno.test("news comments follow their aligned title; the title opens only the first run", () => {
  const comments = [
    "첫 댓글입니다",
    "둘째 댓글입니다",
    "셋째 댓글입니다",
    "다른 기사 댓글",
  ].join("\n");
  const titles = [
    '"기사 제목 하나"',
    '"기사 제목 하나"',
    '"기사 제목 하나"',
    '"기사 제목 둘"',
  ].join("\n");
  const documents = newsCommentDocuments(
    comments,
    titles,
    new Set(),
    new Set(),
    2,
  );
  assert.deepEqual(documents.map((d) => d.sentences), [
    ["기사 제목 하나", "첫 댓글입니다", "둘째 댓글입니다"],
    ["셋째 댓글입니다"],
    ["기사 제목 둘", "다른 기사 댓글"],
  ]);
});

Deno.test("heldout split is deterministic, disjoint and about the asked fraction", () => {
  const documents = Array.from(
    { length: 5000 },
    (_, i) => ({ source: "t", sentences: [`문장 ${i}`] }),
  );
  const first = splitHeldout(documents, 0.02, 42);
  const second = splitHeldout(documents, 0.02, 42);
  assert.deepEqual(first.heldout, second.heldout);
  assert.equal(first.train.length + first.heldout.length, 5000);
  assert.ok(
    first.heldout.length > 60 && first.heldout.length < 140,
    `heldout ${first.heldout.length}`,
  );
});

Deno.test("formatDocuments writes BERT's format and parseDocuments reads it back", () => {
  const documents = [{ source: "a", sentences: ["하나", "둘"] }, {
    source: "b",
    sentences: ["셋"],
  }];
  const text = formatDocuments(documents);
  assert.equal(text, "하나\n둘\n\n셋\n");
  assert.deepEqual(parseDocuments(text), [["하나", "둘"], ["셋"]]);
});

Deno.test({
  name:
    "the real corpus has no evaluation text, no duplicates, and keeps multi-sentence documents",
  ignore: !hasMirror,
  async fn() {
    const [documents, blocked] = await Promise.all([
      buildCorpus(),
      loadEvaluationKeys(),
    ]);
    assert.ok(documents.length > 100_000, `documents: ${documents.length}`);
    const seen = new Set<string>();
    let multiSentence = 0;
    for (const document of documents) {
      if (document.sentences.length > 1) multiSentence++;
      for (const sentence of document.sentences) {
        assert.equal(sentence, sentence.normalize("NFC"));
        assert.ok(sentence.trim().length > 0);
        assert.ok(!sentence.includes("\n"));
        assert.ok(
          !blocked.has(dedupKey(sentence)),
          `evaluation text leaked: ${sentence}`,
        );
      }
    }
    for (const document of documents) {
      const key = dedupKey(document.sentences.join(" "));
      assert.ok(!seen.has(key), `duplicate document ${key}`);
      seen.add(key);
    }
    assert.ok(
      multiSentence > 20_000,
      `multi-sentence documents: ${multiSentence}`,
    );
    // A well-known NSMC test review must be absent even though short reviews repeat across splits.
    const testReview = (await Deno.readTextFile(
      join(
        MIRROR,
        "raw.githubusercontent.com/e9t/nsmc/master/ratings_test.txt",
      ),
    )).split("\n")[1].split("\t")[1];
    assert.ok(blocked.has(dedupKey(testReview)));
  },
});
