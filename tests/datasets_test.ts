import assert from "node:assert/strict";
import { resolve } from "node:path";
import {
  HATE_LABELS,
  KLUE_NER_TAGS,
  loadCurseDetection,
  loadHateSpeech,
  loadHateSpeechUnlabeled,
  loadKlueNer,
  loadKlueNli,
  loadKlueSts,
  loadKorNli,
  loadKorQuad,
  loadKorSts,
  loadNewsTitles,
  loadNsmc,
  sampleStratified,
  trainTestSplit,
} from "../lib/data/datasets.ts";
import { unquoteCsvField } from "../lib/data/loaders/parse.ts";
import {
  registryEntries,
  sha256File,
  urlToRelativePath,
} from "../lib/hub/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { MIRROR, REPO_ROOT } from "./test_paths.ts";

// Loaders read through the hub; point it at the mirror and keep the test off the network.
Deno.env.set("COURSE_MIRROR", MIRROR);
Deno.env.set("COURSE_OFFLINE", "1");
const quiet = { quiet: true, progress: false } as const;

const values = <T>(
  df: { getColumn(name: string): { toArray(): unknown[] } },
  name: string,
) => df.getColumn(name).toArray() as T[];

Deno.test("registry: every entry's sha256 and size match the mirror file, ids unique, cards exist", async () => {
  const entries = registryEntries();
  assert.equal(entries.length, 31);
  assert.equal(new Set(entries.map((e) => e.id)).size, entries.length);
  for (const entry of entries) {
    const path = resolve(MIRROR, urlToRelativePath(entry.url));
    assert.equal(await sha256File(path), entry.sha256, entry.id);
    assert.equal((await Deno.stat(path)).size, entry.bytes, entry.id);
    assert.ok(entry.license.length > 0, entry.id);
    const card = await Deno.readTextFile(resolve(REPO_ROOT, entry.card));
    assert.ok(card.includes(entry.url), `${entry.card} must cite ${entry.url}`);
  }
});

Deno.test("NSMC: 150,000 / 50,000 rows minus empty documents, literal quotes kept", async () => {
  const train = await loadNsmc("train", quiet);
  const test = await loadNsmc("test", quiet);
  assert.equal(train.height, 150_000 - 5);
  assert.equal(test.height, 50_000 - 3);
  assert.deepEqual(train.columns, ["id", "document", "label"]);
  assert.deepEqual(new Set(values<number>(train, "label")), new Set([0, 1]));
  assert.ok(values<string>(train, "document").every((d) => d.trim() !== ""));
  // A CSV reader with `"` quoting would merge lines around these; we keep them as text.
  assert.ok(
    values<string>(train, "document").filter((d) => d.includes('"')).length >
      100,
  );
  assert.equal(values<string>(train, "id")[0], "9976970");

  const flagged = await loadNsmc("train", { ...quiet, dropEmpty: false });
  assert.equal(flagged.height, 150_000);
  assert.equal(values<boolean>(flagged, "is_empty").filter(Boolean).length, 5);
  await assert.rejects(() => loadNsmc("valid" as "train", quiet), CourseError);
});

Deno.test("KorSTS, KorNLI, KLUE-NLI, KLUE-STS row counts and value ranges", async () => {
  for (
    const [split, rows] of [["train", 5749], ["dev", 1500], [
      "test",
      1379,
    ]] as const
  ) {
    const df = await loadKorSts(split, quiet);
    assert.equal(df.height, rows, split);
    assert.ok(values<number>(df, "score").every((s) => s >= 0 && s <= 5));
  }
  const nliDev = await loadKorNli("dev", quiet);
  assert.equal(nliDev.height, 2490);
  assert.equal((await loadKorNli("test", quiet)).height, 5010);
  assert.deepEqual(
    new Set(values<number>(nliDev, "label")),
    new Set([0, 1, 2]),
  );

  const klueNli = await loadKlueNli(quiet);
  assert.equal(klueNli.height, 3000);
  const klueSts = await loadKlueSts(quiet);
  assert.equal(klueSts.height, 519);
  assert.ok(values<number>(klueSts, "label").every((s) => s >= 0 && s <= 5));
});

Deno.test("KLUE-NER: 5,000 sentences, one tag per character, matches the annotated sentence", async () => {
  const ner = await loadKlueNer(quiet);
  assert.equal(ner.height, 5000);
  const sentences = values<string>(ner, "sentence");
  const tokens = values<string[]>(ner, "tokens");
  const tags = values<string[]>(ner, "tags");
  for (let i = 0; i < ner.height; i++) {
    assert.equal(tokens[i].length, tags[i].length);
    assert.equal(tokens[i].join(""), sentences[i]);
    assert.ok(
      tags[i].every((t) => (KLUE_NER_TAGS as readonly string[]).includes(t)),
    );
  }
  assert.equal(sentences[0].slice(0, 3), "경찰은");
  assert.deepEqual(tags[0].slice(0, 3), ["B-OG", "I-OG", "O"]);
  assert.equal(tokens[0][3], " ", "spaces are characters too");
});

Deno.test("HateSpeech labeled/unlabeled, news titles aligned with comments", async () => {
  const train = await loadHateSpeech("train", quiet);
  const dev = await loadHateSpeech("dev", quiet);
  assert.equal(train.height, 7896);
  assert.equal(dev.height, 471);
  assert.deepEqual(
    [...new Set(values<string>(train, "hate"))].sort(),
    [...HATE_LABELS].sort(),
  );
  assert.equal((await loadHateSpeechUnlabeled(quiet)).height, 33_893);
  assert.equal((await loadNewsTitles("train", quiet)).height, 7896);
  assert.equal((await loadNewsTitles("dev", quiet)).height, 471);
  assert.equal((await loadNewsTitles("unlabeled-5", quiet)).height, 33_893);
  const titles = values<string>(await loadNewsTitles("dev", quiet), "title");
  assert.ok(titles[3].startsWith('"마음 고생"…나영석'), titles[3]);
  assert.equal(unquoteCsvField('"a, ""b"""'), 'a, "b"');
  assert.equal(unquoteCsvField('"a" and "b"'), '"a" and "b"');
});

Deno.test("curse detection: 5,825 rows, a sentence containing | keeps it", async () => {
  const curse = await loadCurseDetection(quiet);
  assert.equal(curse.height, 5825);
  const labels = values<number>(curse, "label");
  assert.equal(labels.filter((l) => l === 1).length, 2044);
  assert.ok(
    values<string>(curse, "sentence").some((s) => s.includes("| 한경닷컴")),
  );
});

Deno.test("KorQuAD: 5,774 flattened questions whose answer sits at answer_start", async () => {
  const korquad = await loadKorQuad(quiet);
  assert.equal(korquad.height, 5774);
  const context = values<string>(korquad, "context");
  const text = values<string>(korquad, "answer_text");
  const start = values<number>(korquad, "answer_start");
  for (let i = 0; i < korquad.height; i++) {
    assert.equal(
      context[i].slice(start[i], start[i] + text[i].length),
      text[i],
      `row ${i}`,
    );
  }
});

Deno.test("sampleStratified and trainTestSplit are seeded and keep label proportions", async () => {
  const hate = await loadHateSpeech("train", quiet);
  const sample = sampleStratified(hate, {
    n: 1000,
    labelColumn: "label",
    seed: 1,
  });
  assert.equal(sample.height, 1000);
  const count = (df: typeof hate, label: number) =>
    values<number>(df, "label").filter((l) => l === label).length;
  for (const label of [0, 1, 2]) {
    assert.ok(
      Math.abs(count(sample, label) / 1000 - count(hate, label) / hate.height) <
        0.002,
    );
  }
  const again = sampleStratified(hate, {
    n: 1000,
    labelColumn: "label",
    seed: 1,
  });
  assert.deepEqual(values(again, "comments"), values(sample, "comments"));
  const other = sampleStratified(hate, {
    n: 1000,
    labelColumn: "label",
    seed: 2,
  });
  assert.notDeepEqual(values(other, "comments"), values(sample, "comments"));

  const { train, test } = trainTestSplit(hate, {
    testSize: 0.25,
    seed: 3,
    stratify: "label",
  });
  assert.equal(train.height + test.height, hate.height);
  assert.equal(test.height, Math.round(hate.height * 0.25));
  const trainSet = new Set(values<string>(train, "comments"));
  assert.equal(
    values<string>(test, "comments").filter((c) => trainSet.has(c)).length <=
      20,
    true,
  );
  for (const label of [0, 1, 2]) {
    assert.ok(
      Math.abs(
        count(test, label) / test.height - count(hate, label) / hate.height,
      ) < 0.002,
    );
  }
  const plain = trainTestSplit(hate, { testSize: 100, seed: 3 });
  assert.equal(plain.test.height, 100);
  assert.throws(() => trainTestSplit(hate, { testSize: 0 }), CourseError);
  assert.throws(
    () => sampleStratified(hate, { n: 10, labelColumn: "nope" }),
    CourseError,
  );
});
