/**
 * Trains a BERT WordPiece vocabulary with Hugging Face's own `tokenizers` library (Rust, npm binding)
 * and writes a Hugging Face tokenizer folder: tokenizer.json, vocab.txt, tokenizer_config.json,
 * special_tokens_map.json.
 *
 * Why the post-processing: the npm binding 0.23.2 can only train with the model's default trainer
 * (`Tokenizer.train(files)`: vocab_size 30000, min_frequency 0, no limit_alphabet). WordPiece training
 * is greedy (BPE-style merges, most frequent pair first), so the first N tokens it learns are exactly
 * what a trainer with vocab_size = N would return: we train once and cut. `limitAlphabet` and
 * `minFrequency` are applied to the learned list afterwards (see `selectVocabulary`).
 *
 * Reproducibility: ids are ordered by use, so the same token set always gets the same ids. The
 * set itself can differ by a few tokens between runs on a large corpus: the Rust trainer breaks
 * ties between equally frequent merges by hash-map order, which changes from process to process,
 * and tokens tied at the `vocabSize` cut fall either side (3 of 12,000 on the course corpus).
 * Treat a shipped vocab.txt as the reference; do not retrain it under an existing model.
 */
import * as tokenizers from "tokenizers";
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";

export const BERT_SPECIAL_TOKENS = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
] as const;

export type TrainWordPieceOptions = {
  /** Folder that receives the tokenizer files (created if missing). */
  outputDir: string;
  /** Final vocabulary size, special tokens included. */
  vocabSize?: number;
  /** Learned (multi-character) tokens the final tokenizer uses fewer times than this on the corpus are dropped. */
  minFrequency?: number;
  /** Special tokens, given ids 0, 1, 2, ... in this order. Must include [UNK], [CLS], [SEP], [PAD], [MASK]. */
  specialTokens?: string[];
  /** Korean has no case; keep false. */
  lowercase?: boolean;
  /** Must stay false for Korean: NFD accent stripping tears Hangul syllables into jamo. */
  stripAccents?: boolean;
  /** Keep only the most frequent characters as single-character tokens; rarer ones become [UNK]. */
  limitAlphabet?: number;
  /** Written to tokenizer_config.json as model_max_length (the model's max_position_embeddings). */
  modelMaxLength?: number;
};

export type TrainWordPieceResult = {
  outputDir: string;
  vocab: string[];
  /** Single characters kept (each may appear twice: `가` and `##가`). */
  alphabetSize: number;
  /** Learned tokens dropped by `minFrequency`. */
  droppedRare: number;
  trainSeconds: number;
};

/** Corpus given either as text lines or as files (one sentence per line, like the pretraining corpus). */
export type WordPieceCorpus = string[] | { files: string[] };

const DEFAULTS = {
  vocabSize: 12000,
  minFrequency: 2,
  lowercase: false,
  stripAccents: false,
  modelMaxLength: 128,
};

function isSingleCharacter(token: string): boolean {
  return [...token.replace(/^##/, "")].length === 1;
}

async function corpusLines(corpus: WordPieceCorpus): Promise<string[]> {
  if (Array.isArray(corpus)) return corpus;
  const texts = await Promise.all(
    corpus.files.map((file) => Deno.readTextFile(file)),
  );
  return texts.flatMap((text) => text.split("\n"));
}

/** The tokenizer every course model uses: BERT normalizer without lowercasing/accent stripping, WordPiece. */
export function buildBertWordPieceTokenizer(
  vocab: string[],
  options: {
    lowercase: boolean;
    stripAccents: boolean;
    specialTokens: string[];
  },
): tokenizers.Tokenizer {
  const ids = Object.fromEntries(vocab.map((token, id) => [token, id]));
  const model = tokenizers.WordPiece.init(ids, {
    unkToken: "[UNK]",
    continuingSubwordPrefix: "##",
    maxInputCharsPerWord: 100,
  });
  const tokenizer = new tokenizers.Tokenizer(model);
  tokenizer.setNormalizer(tokenizers.bertNormalizer({
    cleanText: true,
    handleChineseChars: true,
    stripAccents: options.stripAccents,
    lowercase: options.lowercase,
  }));
  tokenizer.setPreTokenizer(tokenizers.bertPreTokenizer());
  tokenizer.setPostProcessor(
    tokenizers.templateProcessing(
      "[CLS] $A [SEP]",
      "[CLS] $A [SEP] $B:1 [SEP]:1",
      [
        ["[CLS]", ids["[CLS]"]],
        ["[SEP]", ids["[SEP]"]],
      ],
    ),
  );
  tokenizer.setDecoder(tokenizers.wordPieceDecoder("##", true));
  tokenizer.addSpecialTokens(options.specialTokens);
  return tokenizer;
}

/** Character counts over the normalized corpus, for `limitAlphabet` (what HF's trainer counts too). */
function characterCounts(
  lines: string[],
  lowercase: boolean,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const text = lowercase ? line.toLowerCase() : line;
    for (const character of text) {
      if (character.trim() === "") continue;
      counts.set(character, (counts.get(character) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * Picks the final vocabulary from the learned list (learning order): special tokens, the alphabet
 * (only the `limitAlphabet` most frequent characters), then learned tokens in the order they were
 * learned until `vocabSize` is reached.
 */
export function selectVocabulary(
  learnedInOrder: string[],
  options: {
    vocabSize: number;
    specialTokens: string[];
    keepCharacter: (character: string) => boolean;
    dropToken?: (token: string) => boolean;
  },
): string[] {
  const vocab = [...options.specialTokens];
  const taken = new Set(vocab);
  // The trainer lists "##x" characters in hash-map order; sorting makes the alphabet reproducible.
  const alphabet = learnedInOrder.filter((t) =>
    isSingleCharacter(t) && options.keepCharacter(t.replace(/^##/, ""))
  )
    .sort((a, b) =>
      Number(a.startsWith("##")) - Number(b.startsWith("##")) ||
      (a < b ? -1 : a > b ? 1 : 0)
    );
  for (const token of alphabet) {
    if (!taken.has(token)) (vocab.push(token), taken.add(token));
  }
  for (const token of learnedInOrder) {
    if (vocab.length >= options.vocabSize) break;
    if (
      taken.has(token) || isSingleCharacter(token) || options.dropToken?.(token)
    ) continue;
    vocab.push(token);
    taken.add(token);
  }
  return vocab;
}

/** How often each token id is used when `lines` are tokenized (no special tokens). */
async function tokenUsage(
  tokenizer: tokenizers.Tokenizer,
  lines: string[],
): Promise<Map<number, number>> {
  const usage = new Map<number, number>();
  const nonEmpty = lines.filter((line) => line.trim() !== "");
  for (let start = 0; start < nonEmpty.length; start += 4096) {
    const encodings = await tokenizer.encodeBatch(
      nonEmpty.slice(start, start + 4096),
      { addSpecialTokens: false },
    );
    for (const encoding of encodings) {
      for (const id of encoding.getIds()) {
        usage.set(id, (usage.get(id) ?? 0) + 1);
      }
    }
  }
  return usage;
}

/**
 * The trainer merges in parallel, so tokens learned with equal counts come out in a different order
 * from run to run. Ordering learned tokens by how often the final tokenizer uses them (ties by code
 * point) makes ids reproducible, and vocab.txt reads most-used first.
 */
async function orderByUsage(
  vocab: string[],
  lines: string[],
  options: {
    lowercase: boolean;
    stripAccents: boolean;
    specialTokens: string[];
  },
): Promise<string[]> {
  const usage = await tokenUsage(
    buildBertWordPieceTokenizer(vocab, options),
    lines,
  );
  const isFixed = (token: string) =>
    options.specialTokens.includes(token) || isSingleCharacter(token);
  const learned = vocab.map((token, id) => ({
    token,
    uses: usage.get(id) ?? 0,
  }))
    .filter(({ token }) => !isFixed(token))
    .sort((a, b) =>
      b.uses - a.uses || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0)
    );
  return [...vocab.filter(isFixed), ...learned.map(({ token }) => token)];
}

function writeTokenizerFolder(
  tokenizer: tokenizers.Tokenizer,
  vocab: string[],
  outputDir: string,
  options: {
    lowercase: boolean;
    stripAccents: boolean;
    modelMaxLength: number;
  },
): Promise<void[]> {
  tokenizer.save(join(outputDir, "tokenizer.json"), true);
  const specialTokensMap = {
    unk_token: "[UNK]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    cls_token: "[CLS]",
    mask_token: "[MASK]",
  };
  const config = {
    tokenizer_class: "BertTokenizer",
    do_lower_case: options.lowercase,
    strip_accents: options.stripAccents,
    tokenize_chinese_chars: true,
    model_max_length: options.modelMaxLength,
    clean_up_tokenization_spaces: true,
    ...specialTokensMap,
  };
  return Promise.all([
    Deno.writeTextFile(join(outputDir, "vocab.txt"), vocab.join("\n") + "\n"),
    Deno.writeTextFile(
      join(outputDir, "tokenizer_config.json"),
      JSON.stringify(config, null, 2) + "\n",
    ),
    Deno.writeTextFile(
      join(outputDir, "special_tokens_map.json"),
      JSON.stringify(specialTokensMap, null, 2) + "\n",
    ),
  ]);
}

function checkOptions(
  vocabSize: number,
  specialTokens: string[],
  stripAccents: boolean,
): void {
  const missing = BERT_SPECIAL_TOKENS.filter((token) =>
    !specialTokens.includes(token)
  );
  if (missing.length > 0) {
    throw new CourseError(
      "WORDPIECE_SPECIAL_TOKENS",
      `special tokens missing: ${missing.join(", ")}`,
      `specialTokens에 BERT가 쓰는 ${
        BERT_SPECIAL_TOKENS.join(", ")
      }를 모두 넣으세요.`,
    );
  }
  if (
    !Number.isInteger(vocabSize) || vocabSize <= specialTokens.length ||
    vocabSize > 30000
  ) {
    throw new CourseError(
      "WORDPIECE_VOCAB_SIZE",
      `vocabSize must be an integer in (${specialTokens.length}, 30000], got ${vocabSize}`,
      "vocabSize를 8000~30000 사이 정수로 주세요 (이 코스는 12000을 씁니다).",
    );
  }
  if (stripAccents) {
    console.warn(
      "stripAccents: true tears Hangul syllables into jamo (NFD); Korean vocabularies keep it false.",
    );
  }
}

/**
 * Trains a WordPiece vocabulary and writes the tokenizer folder.
 *
 * ```ts
 * await trainWordPiece({ files: [".cache/corpus/pretrain.txt"] }, { outputDir: "out/tok", vocabSize: 12000 });
 * ```
 */
export async function trainWordPiece(
  corpus: WordPieceCorpus,
  options: TrainWordPieceOptions,
): Promise<TrainWordPieceResult> {
  const vocabSize = options.vocabSize ?? DEFAULTS.vocabSize;
  const specialTokens = options.specialTokens ?? [...BERT_SPECIAL_TOKENS];
  const lowercase = options.lowercase ?? DEFAULTS.lowercase;
  const stripAccents = options.stripAccents ?? DEFAULTS.stripAccents;
  const minFrequency = options.minFrequency ?? DEFAULTS.minFrequency;
  checkOptions(vocabSize, specialTokens, stripAccents);

  const lines = await corpusLines(corpus);
  if (!lines.some((line) => line.trim() !== "")) {
    throw new CourseError(
      "WORDPIECE_EMPTY_CORPUS",
      "the corpus has no text",
      "문장이 한 줄에 하나씩 든 텍스트(또는 파일 목록 { files: [...] })를 주세요.",
    );
  }
  const workDir = await Deno.makeTempDir({ prefix: "wordpiece-" });
  try {
    const started = performance.now();
    const trainFile = join(workDir, "corpus.txt");
    await Deno.writeTextFile(
      trainFile,
      lines.map((line) => line.normalize("NFC")).join("\n"),
    );
    const trainer = buildBertWordPieceTokenizer([...specialTokens], {
      lowercase,
      stripAccents,
      specialTokens,
    });
    trainer.train([trainFile]);
    const learned = Object.entries(trainer.getVocab(false)).sort((a, b) =>
      a[1] - b[1]
    ).map(([token]) => token);

    const counts = characterCounts(lines, lowercase);
    const keptCharacters = new Set(
      [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(
        0,
        options.limitAlphabet ?? counts.size,
      )
        .map(([character]) => character),
    );
    const keepCharacter = (character: string) => keptCharacters.has(character);
    let vocab = selectVocabulary(learned, {
      vocabSize,
      specialTokens,
      keepCharacter,
    });

    // One pruning pass: a learned token the final tokenizer barely uses is a wasted embedding row.
    let droppedRare = 0;
    if (minFrequency > 1) {
      const usage = await tokenUsage(
        buildBertWordPieceTokenizer(vocab, {
          lowercase,
          stripAccents,
          specialTokens,
        }),
        lines,
      );
      const rare = new Set(
        vocab.filter((token, id) =>
          !isSingleCharacter(token) && !specialTokens.includes(token) &&
          (usage.get(id) ?? 0) < minFrequency
        ),
      );
      droppedRare = rare.size;
      vocab = selectVocabulary(learned, {
        vocabSize,
        specialTokens,
        keepCharacter,
        dropToken: (t) => rare.has(t),
      });
    }
    vocab = await orderByUsage(vocab, lines, {
      lowercase,
      stripAccents,
      specialTokens,
    });
    const alphabetSize = new Set(
      vocab.filter(isSingleCharacter).map((t) => t.replace(/^##/, "")),
    ).size;

    await Deno.mkdir(options.outputDir, { recursive: true });
    const tokenizer = buildBertWordPieceTokenizer(vocab, {
      lowercase,
      stripAccents,
      specialTokens,
    });
    await writeTokenizerFolder(tokenizer, vocab, options.outputDir, {
      lowercase,
      stripAccents,
      modelMaxLength: options.modelMaxLength ?? DEFAULTS.modelMaxLength,
    });
    return {
      outputDir: options.outputDir,
      vocab,
      alphabetSize,
      droppedRare,
      trainSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}
