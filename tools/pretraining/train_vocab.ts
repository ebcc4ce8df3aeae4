/**
 * Trains the course model's WordPiece vocabulary and the measurements that chose its size.
 *
 *   deno run -A tools/pretraining/train_vocab.ts [--corpus .cache/corpus] [--sizes 8000,12000,16000] [--choose 12000]
 *
 * For each size: tokens per held-out sentence and per word, [UNK] rate, and the share of a
 * 4-layer/hidden-256 BERT's parameters that sits in the word-embedding matrix. KcBERT's and
 * KPF-BERT's published vocabularies are measured on the same text for comparison. The chosen size
 * is written to models/ko-mini-bert/ (tokenizer files) and the table to .cache/vocab/report.md.
 */
import { join, resolve } from "node:path";
import {
  buildBertWordPieceTokenizer,
  trainWordPiece,
} from "../../lib/text/train_wordpiece.ts";
import { publicFile } from "./build_corpus.ts";
import { parseCli } from "../cli.ts";

const REPO_ROOT = resolve(import.meta.dirname!, "../..");

/** The course model's shape (tools/pretraining/pretrain.ts uses the same numbers). */
export const MINI_BERT_SHAPE = {
  hidden: 256,
  layers: 4,
  intermediate: 1024,
  maxPositions: 128,
  typeVocab: 2,
};

/** BertForPreTraining parameter count, split into the word-embedding matrix and everything else. */
export function pretrainingParameterCount(
  vocabSize: number,
  shape = MINI_BERT_SHAPE,
) {
  const { hidden: h, layers, intermediate: i, maxPositions, typeVocab } = shape;
  const wordEmbeddings = vocabSize * h;
  const otherEmbeddings = (maxPositions + typeVocab) * h + 2 * h;
  const layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h;
  const pooler = h * h + h;
  // The MLM decoder weight is tied to the word embeddings; only its bias is new.
  const heads = (h * h + h) + 2 * h + vocabSize + (2 * h + 2);
  const total = wordEmbeddings + otherEmbeddings + layers * layer + pooler +
    heads;
  return { total, wordEmbeddings, embeddingShare: wordEmbeddings / total };
}

export type VocabMeasurement = {
  name: string;
  vocabSize: number;
  tokensPerSentence: number;
  tokensPerWord: number;
  unkRate: number;
  /** Share of words that needed more than one piece. */
  splitWordRate: number;
};

export async function measureVocabulary(
  name: string,
  vocab: string[],
  sentences: string[],
): Promise<VocabMeasurement> {
  const tokenizer = buildBertWordPieceTokenizer(vocab, {
    lowercase: false,
    stripAccents: false,
    specialTokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter((t) =>
      vocab.includes(t)
    ),
  });
  const unkId = vocab.indexOf("[UNK]");
  let tokens = 0, unknown = 0, words = 0, splitWords = 0;
  const encodings = await tokenizer.encodeBatch(sentences, {
    addSpecialTokens: false,
  });
  for (const encoding of encodings) {
    const ids = encoding.getIds();
    tokens += ids.length;
    unknown += ids.filter((id) => id === unkId).length;
    const piecesPerWord = new Map<number, number>();
    for (const word of encoding.getWordIds()) {
      if (word !== null && word !== undefined) {
        piecesPerWord.set(word, (piecesPerWord.get(word) ?? 0) + 1);
      }
    }
    words += piecesPerWord.size;
    splitWords += [...piecesPerWord.values()].filter((n) => n > 1).length;
  }
  return {
    name,
    vocabSize: vocab.length,
    tokensPerSentence: tokens / sentences.length,
    tokensPerWord: tokens / words,
    unkRate: unknown / tokens,
    splitWordRate: splitWords / words,
  };
}

function readVocabFile(path: string): Promise<string[]> {
  return Deno.readTextFile(path).then((text) =>
    text.split("\n").filter((line) => line.length > 0)
  );
}

const USAGE =
  `Usage: deno run -A tools/pretraining/train_vocab.ts [--corpus .cache/corpus] [--sizes 8000,12000,16000]
       [--choose 12000] [--limit-alphabet 2000] [--out models/ko-mini-bert]
  --corpus          folder with pretrain.txt and heldout.txt (tools/pretraining/build_corpus.ts writes it)
  --sizes           vocabulary sizes to train and measure, comma-separated
  --choose          the size written to --out (trained even if not in --sizes)
  --limit-alphabet  distinct characters kept in the alphabet (default: 2000)
  --out             folder for the chosen tokenizer files (default: models/ko-mini-bert)
  --help            print this and exit`;

function parseFlags() {
  const { values } = parseCli(USAGE, {
    options: {
      corpus: { type: "string" },
      sizes: { type: "string", default: "8000,12000,16000" },
      choose: { type: "string", default: "12000" },
      "limit-alphabet": { type: "string", default: "2000" },
      out: { type: "string" },
    },
  });
  return {
    corpus: values.corpus !== undefined
      ? resolve(values.corpus)
      : join(REPO_ROOT, ".cache", "corpus"),
    sizes: values.sizes.split(",").map(Number),
    choose: Number(values.choose),
    limitAlphabet: Number(values["limit-alphabet"]),
    out: values.out !== undefined
      ? resolve(values.out)
      : join(REPO_ROOT, "models", "ko-mini-bert"),
  };
}

function percent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

if (import.meta.main) {
  const flags = parseFlags();
  const trainFile = join(flags.corpus, "pretrain.txt");
  const heldout = (await Deno.readTextFile(join(flags.corpus, "heldout.txt")))
    .split("\n").filter((l) => l.trim());
  const rows: string[] = [];
  const measurements: (VocabMeasurement & {
    embeddingShare?: number;
    parameters?: number;
    trainSeconds?: number;
  })[] = [];
  const sizes = [...new Set([...flags.sizes, flags.choose])].sort((a, b) =>
    a - b
  );
  for (const vocabSize of sizes) {
    const outputDir = vocabSize === flags.choose
      ? flags.out
      : join(REPO_ROOT, ".cache", "vocab", `wp-${vocabSize}`);
    const result = await trainWordPiece({ files: [trainFile] }, {
      outputDir,
      vocabSize,
      minFrequency: 2,
      limitAlphabet: flags.limitAlphabet,
      modelMaxLength: 128,
    });
    const params = pretrainingParameterCount(vocabSize);
    measurements.push({
      ...await measureVocabulary(
        `ours-${vocabSize / 1000}k`,
        result.vocab,
        heldout,
      ),
      embeddingShare: params.embeddingShare,
      parameters: params.total,
      trainSeconds: result.trainSeconds,
    });
    console.error(
      `trained ${vocabSize} in ${
        result.trainSeconds.toFixed(1)
      } s -> ${outputDir}`,
    );
  }
  const references = {
    "KcBERT-30k":
      "https://huggingface.co/beomi/kcbert-base/resolve/main/vocab.txt",
    "KPF-BERT-36k":
      "https://raw.githubusercontent.com/KPFBERT/kpfbert/main/vocab.txt",
  };
  for (const [name, url] of Object.entries(references)) {
    measurements.push(
      await measureVocabulary(
        name,
        await readVocabFile(await publicFile(url)),
        heldout,
      ),
    );
  }
  rows.push(
    "| vocabulary | size | tokens / sentence | tokens / word | words split | [UNK] rate | word-embedding share of params (L4-H256) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const m of measurements) {
    const share = pretrainingParameterCount(m.vocabSize).embeddingShare;
    rows.push(
      `| ${m.name} | ${m.vocabSize} | ${m.tokensPerSentence.toFixed(2)} | ${
        m.tokensPerWord.toFixed(3)
      } | ${percent(m.splitWordRate)} | ${percent(m.unkRate)} | ${
        percent(share)
      } |`,
    );
  }
  const report = rows.join("\n") + "\n";
  await Deno.mkdir(join(REPO_ROOT, ".cache", "vocab"), { recursive: true });
  await Deno.writeTextFile(
    join(REPO_ROOT, ".cache", "vocab", "report.md"),
    report,
  );
  await Deno.writeTextFile(
    join(REPO_ROOT, ".cache", "vocab", "measurements.json"),
    JSON.stringify({ heldoutSentences: heldout.length, measurements }, null, 2),
  );
  console.log(report);
}
