/**
 * The tokenizer.json object (Hugging Face `tokenizers` format) for a BERT WordPiece vocabulary.
 * Older checkpoints (KcBERT, mBERT) ship only vocab.txt + tokenizer_config.json; we build the
 * same object `transformers` would convert them to, so one code path serves every model.
 */

export interface SpecialTokens {
  unk: string;
  sep: string;
  pad: string;
  cls: string;
  mask: string;
}

export interface BertTokenizerSettings {
  lowercase: boolean;
  /** null = follow `lowercase`, exactly as Hugging Face does. */
  stripAccents: boolean | null;
  handleChineseChars: boolean;
  special: SpecialTokens;
}

// deno-lint-ignore no-explicit-any
export type TokenizerJson = Record<string, any>;
// deno-lint-ignore no-explicit-any
export type TokenizerConfig = Record<string, any>;

/** vocab.txt: one token per line, id = line number. A final newline is not an empty token. */
export function parseVocabTxt(content: string): string[] {
  const lines = content.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Token -> id. Object.fromEntries keeps tokens such as "__proto__" as plain keys. */
export function vocabObject(tokens: string[]): Record<string, number> {
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

/** A special token in tokenizer_config.json is a string or an AddedToken object. */
function tokenText(value: unknown, fallback: string): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "content" in value) {
    return String((value as { content: unknown }).content);
  }
  return fallback;
}

export function specialTokensFromConfig(
  config: TokenizerConfig,
): SpecialTokens {
  return {
    unk: tokenText(config.unk_token, "[UNK]"),
    sep: tokenText(config.sep_token, "[SEP]"),
    pad: tokenText(config.pad_token, "[PAD]"),
    cls: tokenText(config.cls_token, "[CLS]"),
    mask: tokenText(config.mask_token, "[MASK]"),
  };
}

/** Settings from tokenizer_config.json with Hugging Face's defaults (do_lower_case = true). */
export function settingsFromConfig(
  config: TokenizerConfig,
): BertTokenizerSettings {
  return {
    lowercase: config.do_lower_case ?? true,
    stripAccents: config.strip_accents ?? null,
    handleChineseChars: config.tokenize_chinese_chars ?? true,
    special: specialTokensFromConfig(config),
  };
}

export function buildTokenizerJson(
  vocab: string[],
  settings: BertTokenizerSettings,
): TokenizerJson {
  const vocabMap = vocabObject(vocab);
  const { special } = settings;
  const specialOrder = [
    special.pad,
    special.unk,
    special.cls,
    special.sep,
    special.mask,
  ];
  const addedTokens = specialOrder
    .filter((token) => token in vocabMap)
    .sort((a, b) => vocabMap[a] - vocabMap[b])
    .map((content) => ({
      id: vocabMap[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  const cls = { SpecialToken: { id: special.cls, type_id: 0 } };
  const sepA = { SpecialToken: { id: special.sep, type_id: 0 } };
  const sepB = { SpecialToken: { id: special.sep, type_id: 1 } };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: settings.handleChineseChars,
      strip_accents: settings.stripAccents,
      lowercase: settings.lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [cls, { Sequence: { id: "A", type_id: 0 } }, sepA],
      pair: [
        cls,
        { Sequence: { id: "A", type_id: 0 } },
        sepA,
        { Sequence: { id: "B", type_id: 1 } },
        sepB,
      ],
      special_tokens: {
        [special.cls]: {
          id: special.cls,
          ids: [vocabMap[special.cls]],
          tokens: [special.cls],
        },
        [special.sep]: {
          id: special.sep,
          ids: [vocabMap[special.sep]],
          tokens: [special.sep],
        },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: special.unk,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: vocabMap,
    },
  };
}

/** Reads the normalizer settings back out of a tokenizer.json (to compute offsets). */
export function settingsFromTokenizerJson(
  json: TokenizerJson,
  config: TokenizerConfig,
): BertTokenizerSettings {
  const normalizer = json.normalizer ?? {};
  return {
    lowercase: normalizer.lowercase ?? false,
    stripAccents: normalizer.strip_accents ?? null,
    handleChineseChars: normalizer.handle_chinese_chars ?? true,
    special: specialTokensFromConfig({
      unk_token: json.model?.unk_token,
      ...config,
    }),
  };
}
