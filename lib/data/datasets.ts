/**
 * Loaders for the course's public Korean datasets. Each one fetches its file through lib/hub
 * (cache -> offline mirror -> network, checksum from datasets/registry.json) and returns a
 * nodejs-polars DataFrame with the columns named in the data card (datasets/cards/).
 */
import pl from "nodejs-polars";
import { resolveDataset } from "../hub/registry.ts";
import type { ProgressOption } from "../hub/progress.ts";
import { CourseError } from "../runtime/errors.ts";
import {
  column,
  parseTsv,
  splitLines,
  toNumber,
  unquoteCsvField,
} from "./loaders/parse.ts";

export {
  sampleStratified,
  takeRows,
  trainTestSplit,
} from "./loaders/sampling.ts";
export type {
  StratifiedSampleOptions,
  TrainTestSplitOptions,
} from "./loaders/sampling.ts";

export interface LoadOptions {
  progress?: ProgressOption;
  /** Do not print the one-line note about dropped rows. */
  quiet?: boolean;
}

/** Label names in index order, for `id2label` / `label2id` and for reading predictions. */
export const NSMC_LABELS = ["부정", "긍정"] as const;
export const NLI_LABELS = ["entailment", "neutral", "contradiction"] as const;
export const HATE_LABELS = ["none", "offensive", "hate"] as const;
export const CURSE_LABELS = ["일반", "욕설"] as const;
export const KLUE_NER_TAGS = [
  "B-DT",
  "I-DT",
  "B-LC",
  "I-LC",
  "B-OG",
  "I-OG",
  "B-PS",
  "I-PS",
  "B-QT",
  "I-QT",
  "B-TI",
  "I-TI",
  "O",
] as const; // deno-fmt-ignore

async function readDataset(fileId: string, options: LoadOptions): Promise<string> {
  return await Deno.readTextFile(await resolveDataset(fileId, { progress: options.progress }));
}

function checkSplit<T extends string>(
  name: string,
  split: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(split)) {
    throw new CourseError(
      "DATA_UNKNOWN_SPLIT",
      `${name} has no split "${split}"`,
      `${name}에서 쓸 수 있는 split: ${allowed.join(", ")}`,
    );
  }
  return split as T;
}

function note(options: LoadOptions, text: string): void {
  if (!options.quiet) console.log(`[데이터] ${text}`);
}

function labelIndex(
  labels: readonly string[],
  value: string,
  source: string,
): number {
  const index = labels.indexOf(value);
  if (index < 0) {
    throw new CourseError(
      "DATA_UNKNOWN_LABEL",
      `${source}: unknown label "${value}" (known: ${labels.join(", ")})`,
      "원본 파일이 바뀌었거나 손상되었을 수 있습니다. 데이터 카드의 라벨 목록을 확인하세요.",
    );
  }
  return index;
}

const int = (name: string, values: number[]) =>
  pl.Series(name, values, pl.Int64);
const float = (name: string, values: number[]) =>
  pl.Series(name, values, pl.Float64);
const text = (name: string, values: string[]) =>
  pl.Series(name, values, pl.Utf8);
const bool = (name: string, values: boolean[]) =>
  pl.Series(name, values, pl.Bool);

export interface NsmcOptions extends LoadOptions {
  /**
   * NSMC has a few reviews with an empty `document` (5 in train, 3 in test). `true` (default)
   * drops them; `false` keeps them and adds an `is_empty` column so they can be inspected.
   */
  dropEmpty?: boolean;
}

/** NSMC movie reviews: `id` (string), `document`, `label` (0 부정, 1 긍정). 150,000 train / 50,000 test. */
export async function loadNsmc(
  split: "train" | "test",
  options: NsmcOptions = {},
): Promise<pl.DataFrame> {
  checkSplit("NSMC", split, ["train", "test"]);
  const source = `nsmc/${split}`;
  const tsv = parseTsv(await readDataset(source, options), source);
  const ids = column(tsv, "id");
  const documents = column(tsv, "document");
  const labels = column(tsv, "label").map((v, i) => toNumber(v, source, i));
  const empty = documents.map((d) => d.trim() === "");
  const emptyCount = empty.filter(Boolean).length;
  if (options.dropEmpty === false) {
    if (emptyCount > 0) {
      note(
        options,
        `NSMC ${split}: 빈 문서 ${emptyCount}개 (is_empty 열로 표시)`,
      );
    }
    return pl.DataFrame([
      text("id", ids),
      text("document", documents),
      int("label", labels),
      bool("is_empty", empty),
    ]);
  }
  const keep = (_: unknown, i: number) => !empty[i];
  if (emptyCount > 0) {
    note(
      options,
      `NSMC ${split}: ${ids.length.toLocaleString()}행 중 빈 문서 ${emptyCount}개 제외`,
    );
  }
  return pl.DataFrame([
    text("id", ids.filter(keep)),
    text("document", documents.filter(keep)),
    int("label", labels.filter(keep)),
  ]);
}

/**
 * KorSTS sentence similarity: `genre`, `filename`, `year`, `id`, `score` (0-5), `sentence1`,
 * `sentence2`. 5,749 train / 1,500 dev / 1,379 test pairs.
 */
export async function loadKorSts(
  split: "train" | "dev" | "test",
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  checkSplit("KorSTS", split, ["train", "dev", "test"]);
  const source = `korsts/${split}`;
  const tsv = parseTsv(await readDataset(source, options), source);
  return pl.DataFrame([
    ...["genre", "filename", "year", "id"].map((name) =>
      text(name, column(tsv, name))
    ),
    float("score", column(tsv, "score").map((v, i) => toNumber(v, source, i))),
    text("sentence1", column(tsv, "sentence1")),
    text("sentence2", column(tsv, "sentence2")),
  ]);
}

/**
 * KorNLI, XNLI part (Korean translation): `sentence1` (premise), `sentence2` (hypothesis),
 * `gold_label`, `label` (index in NLI_LABELS). 2,490 dev / 5,010 test pairs.
 */
export async function loadKorNli(
  split: "dev" | "test",
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  checkSplit("KorNLI", split, ["dev", "test"]);
  const source = `kornli/xnli-${split}`;
  const tsv = parseTsv(await readDataset(source, options), source);
  const gold = column(tsv, "gold_label");
  return pl.DataFrame([
    text("sentence1", column(tsv, "sentence1")),
    text("sentence2", column(tsv, "sentence2")),
    text("gold_label", gold),
    int("label", gold.map((g) => labelIndex(NLI_LABELS, g, source))),
  ]);
}

interface KlueNliRecord {
  guid: string;
  source: string;
  premise: string;
  hypothesis: string;
  gold_label: string;
}

/** KLUE-NLI v1.1 dev (3,000 pairs): `guid`, `source`, `premise`, `hypothesis`, `gold_label`, `label`. */
export async function loadKlueNli(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const records = JSON.parse(
    await readDataset("klue-nli/dev", options),
  ) as KlueNliRecord[];
  return pl.DataFrame([
    text("guid", records.map((r) => r.guid)),
    text("source", records.map((r) => r.source)),
    text("premise", records.map((r) => r.premise)),
    text("hypothesis", records.map((r) => r.hypothesis)),
    text("gold_label", records.map((r) => r.gold_label)),
    int(
      "label",
      records.map((r) => labelIndex(NLI_LABELS, r.gold_label, "klue-nli/dev")),
    ),
  ]);
}

interface KlueStsRecord {
  guid: string;
  source: string;
  sentence1: string;
  sentence2: string;
  labels: { label: number; "real-label": number; "binary-label": number };
}

/**
 * KLUE-STS v1.1 dev (519 pairs): `guid`, `source`, `sentence1`, `sentence2`, `label` (0-5, one
 * decimal), `real_label` (annotator mean), `binary_label` (1 when label >= 3).
 */
export async function loadKlueSts(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const records = JSON.parse(
    await readDataset("klue-sts/dev", options),
  ) as KlueStsRecord[];
  return pl.DataFrame([
    text("guid", records.map((r) => r.guid)),
    text("source", records.map((r) => r.source)),
    text("sentence1", records.map((r) => r.sentence1)),
    text("sentence2", records.map((r) => r.sentence2)),
    float("label", records.map((r) => r.labels.label)),
    float("real_label", records.map((r) => r.labels["real-label"])),
    int("binary_label", records.map((r) => r.labels["binary-label"])),
  ]);
}

/**
 * KLUE-NER v1.1 dev (5,000 sentences). The file has one character per line (`char \t BIO-tag`,
 * spaces included as characters), `##` comment lines and a blank line between sentences.
 * Rows: `guid`, `sentence` (plain text), `tokens` (list of characters), `tags` (list of BIO tags
 * from KLUE_NER_TAGS, one per character).
 */
export async function loadKlueNer(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const source = "klue-ner/dev";
  const guids: string[] = [];
  const sentences: string[] = [];
  const tokens: string[][] = [];
  const tags: string[][] = [];
  let guid = "";
  let chars: string[] = [];
  let labels: string[] = [];
  const flush = () => {
    if (chars.length === 0) return;
    guids.push(guid);
    sentences.push(chars.join(""));
    tokens.push(chars);
    tags.push(labels);
    chars = [];
    labels = [];
  };
  for (const line of splitLines(await readDataset(source, options))) {
    if (line.startsWith("## ")) {
      // `## klue-ner-v1_dev_00000-wikitree\t<annotated sentence>` starts a sentence; other ## lines describe the format.
      const match = line.match(/^## (klue-ner-\S+)\t/);
      if (match) {
        flush();
        guid = match[1];
      }
      continue;
    }
    if (line === "") {
      flush();
      continue;
    }
    // Not trimmed: a line " \tO" is the space character, which is part of the sentence.
    const tab = line.lastIndexOf("\t");
    const tag = line.slice(tab + 1);
    if (tab < 0 || !(KLUE_NER_TAGS as readonly string[]).includes(tag)) {
      throw new CourseError(
        "DATA_BAD_ROW",
        `${source}: cannot read line "${line}"`,
        "파일이 손상되었을 수 있습니다. 캐시의 파일을 지우고 다시 받아 보세요.",
      );
    }
    chars.push(line.slice(0, tab));
    labels.push(tag);
  }
  flush();
  return pl.DataFrame([
    text("guid", guids),
    text("sentence", sentences),
    pl.Series("tokens", tokens, pl.List(pl.Utf8)),
    pl.Series("tags", tags, pl.List(pl.Utf8)),
  ]);
}

/**
 * Korean HateSpeech (news comments, labeled): `comments`, `contain_gender_bias` (bool), `bias`
 * (none/gender/others), `hate` (none/offensive/hate), `label` (index in HATE_LABELS).
 * 7,896 train / 471 dev.
 */
export async function loadHateSpeech(
  split: "train" | "dev",
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  checkSplit("Korean HateSpeech", split, ["train", "dev"]);
  const source = `hate-speech/${split}`;
  const tsv = parseTsv(await readDataset(source, options), source);
  const hate = column(tsv, "hate");
  return pl.DataFrame([
    text("comments", column(tsv, "comments")),
    bool(
      "contain_gender_bias",
      column(tsv, "contain_gender_bias").map((v) => v === "True"),
    ),
    text("bias", column(tsv, "bias")),
    text("hate", hate),
    int("label", hate.map((h) => labelIndex(HATE_LABELS, h, source))),
  ]);
}

/** Unlabeled news comments, part 5 of 5 (33,893 lines): one column `comment`, plain text for pretraining. */
export async function loadHateSpeechUnlabeled(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const lines = splitLines(
    await readDataset("hate-speech/unlabeled-5", options),
  );
  const kept = lines.filter((line) => line.trim() !== "");
  if (kept.length < lines.length) {
    note(options, `빈 줄 ${lines.length - kept.length}개 제외`);
  }
  return pl.DataFrame([text("comment", kept)]);
}

export type NewsTitleSplit = "train" | "dev" | "test" | "unlabeled-5";

/**
 * The news title each HateSpeech comment was written under, one line per comment (so row i
 * belongs to comment i of the same split). Titles with quotes were CSV-quoted in the file; the
 * quoting is removed. Column: `title`.
 */
export async function loadNewsTitles(
  split: NewsTitleSplit = "train",
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  checkSplit("news titles", split, ["train", "dev", "test", "unlabeled-5"]);
  const lines = splitLines(await readDataset(`news-titles/${split}`, options));
  return pl.DataFrame([text("title", lines.map(unquoteCsvField))]);
}

/**
 * Curse detection (5,825 lines of `sentence|label`, 1 = curse). A sentence may itself contain
 * `|`, so the label is what follows the last `|`. Columns: `sentence` (trimmed), `label`.
 */
export async function loadCurseDetection(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const source = "curse-detection/dataset";
  const sentences: string[] = [];
  const labels: number[] = [];
  splitLines(await readDataset(source, options)).forEach((line, i) => {
    if (line.trim() === "") return;
    const bar = line.lastIndexOf("|");
    if (bar < 0) {
      throw new CourseError(
        "DATA_BAD_ROW",
        `${source} line ${i + 1} has no "|"`,
        "파일이 손상되었을 수 있습니다.",
      );
    }
    sentences.push(line.slice(0, bar).trim());
    labels.push(toNumber(line.slice(bar + 1), source, i));
  });
  return pl.DataFrame([text("sentence", sentences), int("label", labels)]);
}

interface SquadFile {
  data: {
    title: string;
    paragraphs: {
      context: string;
      qas: {
        id: string;
        question: string;
        answers: { text: string; answer_start: number }[];
      }[];
    }[];
  }[];
}

/**
 * KorQuAD 1.0 dev (5,774 questions), flattened to one row per question: `id`, `title`,
 * `context`, `question`, `answer_text`, `answer_start` (character offset into context; the dev
 * set has one answer per question). Used as published (CC BY-ND): no modified copies are saved.
 */
export async function loadKorQuad(
  options: LoadOptions = {},
): Promise<pl.DataFrame> {
  const squad = JSON.parse(
    await readDataset("korquad/v1-dev", options),
  ) as SquadFile;
  const rows = {
    id: [] as string[],
    title: [] as string[],
    context: [] as string[],
    question: [] as string[],
  };
  const answerText: string[] = [];
  const answerStart: number[] = [];
  for (const article of squad.data) {
    for (const paragraph of article.paragraphs) {
      for (const qa of paragraph.qas) {
        rows.id.push(qa.id);
        rows.title.push(article.title);
        rows.context.push(paragraph.context);
        rows.question.push(qa.question);
        answerText.push(qa.answers[0]?.text ?? "");
        answerStart.push(qa.answers[0]?.answer_start ?? -1);
      }
    }
  }
  return pl.DataFrame([
    ...Object.entries(rows).map(([name, values]) => text(name, values)),
    text("answer_text", answerText),
    int("answer_start", answerStart),
  ]);
}
