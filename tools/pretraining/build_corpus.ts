/**
 * Builds the pretraining corpus of the course's Korean mini-BERT from the mirror's public Korean text.
 *
 *   deno run -A tools/pretraining/build_corpus.ts [--out .cache/corpus] [--heldout 0.02] [--seed 42]
 *
 * Output is BERT's pretraining format: one sentence per line, a blank line between documents.
 * The recipe (what is in, what is out and why) is docs/corpus.md; keep the two in sync.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { resolveUrl } from "../../lib/hub/mod.ts";
import { parseCli } from "../cli.ts";

/** A document is an ordered list of sentences; NSP takes its "next sentence" pairs from inside one. */
export type CorpusDocument = { source: string; sentences: string[] };

const REPO_ROOT = resolve(import.meta.dirname!, "../..");
const GH = "https://raw.githubusercontent.com";

/** Every public file this tool reads, by role. Evaluation files are read only to remove their text. */
export const CORPUS_URLS = {
  nsmcTrain: `${GH}/e9t/nsmc/master/ratings_train.txt`,
  hateComments:
    `${GH}/kocohub/korean-hate-speech/master/unlabeled/unlabeled_comments_5.txt`,
  hateCommentTitles:
    `${GH}/kocohub/korean-hate-speech/master/news_title/unlabeled_comments.news_title_5.txt`,
  korStsTrain: `${GH}/kakaobrain/kor-nlu-datasets/master/KorSTS/sts-train.tsv`,
} as const;

/** Splits that lessons evaluate or fine-tune on for the capstone: their text must not leak into pretraining. */
export const EVALUATION_URLS = {
  nsmcTest: `${GH}/e9t/nsmc/master/ratings_test.txt`,
  korStsDev: `${GH}/kakaobrain/kor-nlu-datasets/master/KorSTS/sts-dev.tsv`,
  korStsTest: `${GH}/kakaobrain/kor-nlu-datasets/master/KorSTS/sts-test.tsv`,
  korNliDev: `${GH}/kakaobrain/kor-nlu-datasets/master/KorNLI/xnli.dev.ko.tsv`,
  korNliTest:
    `${GH}/kakaobrain/kor-nlu-datasets/master/KorNLI/xnli.test.ko.tsv`,
  klueNliDev:
    `${GH}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-nli-v1.1/klue-nli-v1.1_dev.json`,
  klueStsDev:
    `${GH}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-sts-v1.1/klue-sts-v1.1_dev.json`,
  klueNerDev:
    `${GH}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-ner-v1.1/klue-ner-v1.1_dev.tsv`,
  korQuadDev:
    `${GH}/korquad/korquad.github.io/master/dataset/KorQuAD_v1.0_dev.json`,
  hateTrain: `${GH}/kocohub/korean-hate-speech/master/labeled/train.tsv`,
  hateDev: `${GH}/kocohub/korean-hate-speech/master/labeled/dev.tsv`,
  curse: `${GH}/2runo/Curse-detection-data/master/dataset.txt`,
} as const;

/** NFC, no control characters, whitespace collapsed: the one form every comparison and output line uses. */
export function normalizeText(text: string): string {
  return text.normalize("NFC")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u001f\u007f\u200b-\u200d\ufeff]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Key for exact-duplicate and contamination checks: also ignores spacing, which Korean web text varies freely. */
export function dedupKey(text: string): string {
  return normalizeText(text).replace(/\s+/g, "");
}

/**
 * Splits review/comment text into sentences at sentence-final punctuation followed by a space
 * ("좋다. 근데" -> 2), keeping the punctuation. Web text rarely ends sentences cleanly, so pieces
 * shorter than `minChars` are glued to their neighbour instead of becoming one-character "sentences".
 */
export function splitSentences(text: string, minChars = 4): string[] {
  const normalized = normalizeText(text);
  if (!normalized) return [];
  const pieces = normalized.split(/(?<=[.!?…]|[.!?…]["')\]])\s+/u).filter((p) =>
    p.length > 0
  );
  const sentences: string[] = [];
  for (const piece of pieces) {
    const last = sentences.length - 1;
    if (
      last >= 0 &&
      (piece.length < minChars || sentences[last].length < minChars)
    ) {
      sentences[last] = `${sentences[last]} ${piece}`;
    } else {
      sentences.push(piece);
    }
  }
  return sentences;
}

/** Tools default to the shared offline mirror next to the checkout, as the tests do. */
function useDefaultMirror(): void {
  const sibling = join(REPO_ROOT, "..", "shared", "mirror");
  if (!Deno.env.get("COURSE_MIRROR") && existsSync(sibling)) {
    Deno.env.set("COURSE_MIRROR", sibling);
  }
}

/** Local path of a public file: download cache, then `COURSE_MIRROR`, then network (lib/hub), checksum verified. */
export function publicFile(url: string): Promise<string> {
  useDefaultMirror();
  return resolveUrl(url);
}

async function readPublicText(url: string): Promise<string> {
  return await Deno.readTextFile(await publicFile(url));
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** TSV column by header name; the files have quotes inside fields, so no quote handling on purpose. */
function tsvColumn(text: string, column: string): string[] {
  const [header, ...rows] = lines(text);
  const index = header.split("\t").indexOf(column);
  if (index < 0) throw new Error(`column ${column} not in header: ${header}`);
  return rows.map((row) => row.split("\t")[index] ?? "").filter((value) =>
    value.length > 0
  );
}

/** Every text a lesson evaluates on (and capstone data), as dedup keys. */
export async function loadEvaluationKeys(): Promise<Set<string>> {
  const texts: string[] = [];
  const read = (url: string) => readPublicText(url);
  texts.push(...tsvColumn(await read(EVALUATION_URLS.nsmcTest), "document"));
  for (const url of [EVALUATION_URLS.korStsDev, EVALUATION_URLS.korStsTest]) {
    const tsv = await read(url);
    texts.push(...tsvColumn(tsv, "sentence1"), ...tsvColumn(tsv, "sentence2"));
  }
  for (const url of [EVALUATION_URLS.korNliDev, EVALUATION_URLS.korNliTest]) {
    const tsv = await read(url);
    texts.push(...tsvColumn(tsv, "sentence1"), ...tsvColumn(tsv, "sentence2"));
  }
  for (const row of JSON.parse(await read(EVALUATION_URLS.klueNliDev))) {
    texts.push(row.premise, row.hypothesis);
  }
  for (const row of JSON.parse(await read(EVALUATION_URLS.klueStsDev))) {
    texts.push(row.sentence1, row.sentence2);
  }
  // KLUE-NER is one character per line; sentences end at blank lines.
  let sentence = "";
  for (const line of lines(await read(EVALUATION_URLS.klueNerDev))) {
    if (line.startsWith("##")) continue;
    if (line.trim() === "") {
      if (sentence) texts.push(sentence);
      sentence = "";
    } else {
      sentence += line.split("\t")[0];
    }
  }
  if (sentence) texts.push(sentence);
  const korQuad = JSON.parse(await read(EVALUATION_URLS.korQuadDev));
  for (const article of korQuad.data) {
    for (const paragraph of article.paragraphs) {
      texts.push(
        paragraph.context,
        ...paragraph.qas.map((qa: { question: string }) => qa.question),
      );
    }
  }
  for (const url of [EVALUATION_URLS.hateTrain, EVALUATION_URLS.hateDev]) {
    texts.push(...tsvColumn(await read(url), "comments"));
  }
  for (const line of lines(await read(EVALUATION_URLS.curse))) {
    const bar = line.lastIndexOf("|");
    texts.push(bar >= 0 ? line.slice(0, bar) : line);
  }
  // Also block each sentence of a multi-sentence evaluation text, so a review cannot leak piecewise.
  const keys = new Set<string>();
  for (const text of texts) {
    const key = dedupKey(text ?? "");
    if (key) keys.add(key);
    for (const part of splitSentences(text ?? "")) {
      const partKey = dedupKey(part);
      if (partKey.length >= 10) keys.add(partKey);
    }
  }
  return keys;
}

/**
 * Drops texts seen before or in evaluation data; `seen` is shared across sources so dedup is global.
 * Callers pass the text after removing evaluation sentences, so what is compared is what gets written.
 */
function keepNew(
  text: string,
  seen: Set<string>,
  blocked: Set<string>,
): boolean {
  const key = dedupKey(text);
  if (!key || seen.has(key) || blocked.has(key)) return false;
  seen.add(key);
  return true;
}

/** Sentences of one unit, minus any sentence that itself is an evaluation text. */
function cleanSentences(text: string, blocked: Set<string>): string[] {
  return splitSentences(text).filter((s) => !blocked.has(dedupKey(s)));
}

/** NSMC train: each review is a document of its sentences (labels are never read). */
export function nsmcDocuments(
  tsv: string,
  seen: Set<string>,
  blocked: Set<string>,
): CorpusDocument[] {
  const documents: CorpusDocument[] = [];
  for (const review of tsvColumn(tsv, "document")) {
    const sentences = cleanSentences(review, blocked);
    if (keepNew(sentences.join(" "), seen, blocked)) {
      documents.push({ source: "nsmc", sentences });
    }
  }
  return documents;
}

/**
 * HateSpeech unlabeled comments: line i of the comments file belongs to the news title on line i of the
 * title file. An article's comments, in file order, are cut into documents of at most `commentsPerDocument`
 * comments (the first one opened by the title), so NSP's "next sentence" stays on the same article and
 * held-out documents are not huge.
 */
export function newsCommentDocuments(
  commentsText: string,
  titlesText: string,
  seen: Set<string>,
  blocked: Set<string>,
  commentsPerDocument = 8,
): CorpusDocument[] {
  const comments = lines(commentsText);
  const titles = lines(titlesText);
  if (comments.filter((c) => c).length !== titles.filter((t) => t).length) {
    throw new Error(
      `comments (${comments.length}) and titles (${titles.length}) do not align`,
    );
  }
  const byTitle = new Map<string, string[][]>();
  for (let i = 0; i < comments.length; i++) {
    const title = normalizeText(titles[i].replace(/^"(.*)"$/, "$1"));
    const sentences = cleanSentences(comments[i], blocked);
    if (!title || !keepNew(sentences.join(" "), seen, blocked)) continue;
    if (!byTitle.has(title)) byTitle.set(title, []);
    byTitle.get(title)!.push(sentences);
  }
  const documents: CorpusDocument[] = [];
  for (const [title, titleComments] of byTitle) {
    const titleSentence = blocked.has(dedupKey(title)) ? [] : [title];
    for (
      let start = 0;
      start < titleComments.length;
      start += commentsPerDocument
    ) {
      // The title opens only the first run: repeating it would put the same line in the corpus many times.
      const run = titleComments.slice(start, start + commentsPerDocument)
        .flat();
      const opening = start === 0 ? titleSentence : [];
      documents.push({
        source: "news-comments",
        sentences: [...opening, ...run],
      });
    }
  }
  return documents;
}

/** KorSTS train: pairs are paraphrase-like, not consecutive text, so each sentence is its own document. */
export function korStsDocuments(
  tsv: string,
  seen: Set<string>,
  blocked: Set<string>,
): CorpusDocument[] {
  const documents: CorpusDocument[] = [];
  for (
    const sentence of [
      ...tsvColumn(tsv, "sentence1"),
      ...tsvColumn(tsv, "sentence2"),
    ]
  ) {
    if (!keepNew(sentence, seen, blocked)) continue;
    documents.push({ source: "korsts", sentences: [normalizeText(sentence)] });
  }
  return documents;
}

/** FNV-1a of the first sentence: a stable, order-independent way to pick held-out documents. */
function stableHash(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function splitHeldout(
  documents: CorpusDocument[],
  fraction: number,
  seed: number,
): { train: CorpusDocument[]; heldout: CorpusDocument[] } {
  const train: CorpusDocument[] = [];
  const heldout: CorpusDocument[] = [];
  for (const document of documents) {
    const draw = stableHash(document.sentences.join("\n"), seed) /
      0x1_0000_0000;
    (draw < fraction ? heldout : train).push(document);
  }
  return { train, heldout };
}

/**
 * BERT's format: one sentence per line, blank line between documents. lib/pretrain's
 * `parseDocuments` reads it back.
 */
export function formatDocuments(documents: CorpusDocument[]): string {
  return documents.map((d) => d.sentences.join("\n")).join("\n\n") + "\n";
}

export type CorpusStats = {
  documents: number;
  sentences: number;
  characters: number;
  words: number;
};

export function corpusStats(documents: CorpusDocument[]): CorpusStats {
  let sentences = 0, characters = 0, words = 0;
  for (const document of documents) {
    sentences += document.sentences.length;
    for (const s of document.sentences) {
      characters += s.length;
      words += s.split(" ").length;
    }
  }
  return { documents: documents.length, sentences, characters, words };
}

export async function buildCorpus(): Promise<CorpusDocument[]> {
  const blocked = await loadEvaluationKeys();
  const seen = new Set<string>();
  return [
    ...newsCommentDocuments(
      await readPublicText(CORPUS_URLS.hateComments),
      await readPublicText(CORPUS_URLS.hateCommentTitles),
      seen,
      blocked,
    ),
    ...korStsDocuments(
      await readPublicText(CORPUS_URLS.korStsTrain),
      seen,
      blocked,
    ),
    ...nsmcDocuments(
      await readPublicText(CORPUS_URLS.nsmcTrain),
      seen,
      blocked,
    ),
  ];
}

const USAGE =
  `Usage: deno run -A tools/pretraining/build_corpus.ts [--out .cache/corpus] [--heldout 0.02] [--seed 42]
  --out      folder for pretrain.txt, heldout.txt and stats.json (default: .cache/corpus)
  --heldout  share of documents kept out of training (default: 0.02)
  --seed     seed of the held-out split (default: 42)
  --help     print this and exit`;

function parseFlags(): { out: string; heldout: number; seed: number } {
  const { values } = parseCli(USAGE, {
    options: {
      out: { type: "string" },
      heldout: { type: "string", default: "0.02" },
      seed: { type: "string", default: "42" },
    },
  });
  return {
    out: values.out !== undefined
      ? resolve(values.out)
      : join(REPO_ROOT, ".cache", "corpus"),
    heldout: Number(values.heldout),
    seed: Number(values.seed),
  };
}

if (import.meta.main) {
  const flags = parseFlags();
  const documents = await buildCorpus();
  const { train, heldout } = splitHeldout(documents, flags.heldout, flags.seed);
  await Deno.mkdir(flags.out, { recursive: true });
  await Deno.writeTextFile(
    join(flags.out, "pretrain.txt"),
    formatDocuments(train),
  );
  await Deno.writeTextFile(
    join(flags.out, "heldout.txt"),
    formatDocuments(heldout),
  );
  const bySource: Record<string, CorpusStats> = {};
  for (const source of new Set(documents.map((d) => d.source))) {
    bySource[source] = corpusStats(
      documents.filter((d) => d.source === source),
    );
  }
  const stats = {
    train: corpusStats(train),
    heldout: corpusStats(heldout),
    bySource,
  };
  await Deno.writeTextFile(
    join(flags.out, "stats.json"),
    JSON.stringify(stats, null, 2),
  );
  console.log(JSON.stringify(stats, null, 2));
}
