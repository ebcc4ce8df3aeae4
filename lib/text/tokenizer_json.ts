/**
 * The tokenizer.json object (Hugging Face `tokenizers` format) for a BERT WordPiece vocabulary.
 * Older checkpoints (KcBERT, mBERT) ship only vocab.txt + tokenizer_config.json; we build the
 * same object `transformers` would convert them to, so one code path serves every model.
 */
import { CourseError } from "../runtime/errors.ts";

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

/** Sections every tokenizer.json written by `tokenizers` has (null when unused), as it requires. */
const TOKENIZER_JSON_SECTIONS = [
  "normalizer",
  "pre_tokenizer",
  "model",
  "post_processor",
  "decoder",
] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.slice(0, 40))}`;
  }
  return typeof value === "object" ? "an object" : `${typeof value} ${value}`;
}

/** What is wrong with a tokenizer.json's layout, or null when it has its sections and a model. */
function layoutProblem(json: unknown): string | null {
  if (!isPlainObject(json)) {
    return `it is ${describeValue(json)}, not an object`;
  }
  if (Object.keys(json).length === 0) return "it is an empty object ({})";
  const missing = [...TOKENIZER_JSON_SECTIONS, "added_tokens"].filter((key) =>
    !(key in json)
  );
  if (missing.length) {
    return `it has no ${missing.map((k) => `"${k}"`).join(", ")} section`;
  }
  for (const key of TOKENIZER_JSON_SECTIONS) {
    const value = json[key];
    if (
      key === "model"
        ? !isPlainObject(value)
        : value !== null && !isPlainObject(value)
    ) {
      return `"${key}" is ${describeValue(value)}, not an object${
        key === "model" ? "" : " or null"
      }`;
    }
  }
  const added = json.added_tokens;
  if (!Array.isArray(added)) {
    return `"added_tokens" is ${describeValue(added)}, not an array`;
  }
  const badAdded = added.findIndex((token) =>
    !isPlainObject(token) || typeof token.content !== "string" ||
    !Number.isInteger(token.id)
  );
  if (badAdded >= 0) {
    return `"added_tokens[${badAdded}]" is not a token ({ "id": ..., "content": ... })`;
  }
  return null;
}

/** What is wrong with a WordPiece `model.vocab`, or null. */
function vocabProblem(vocab: unknown): string | null {
  if (!isPlainObject(vocab)) {
    return `"model.vocab" is ${
      vocab === undefined ? "missing" : describeValue(vocab)
    } (a WordPiece vocab maps each token to its id)`;
  }
  const entries = Object.entries(vocab);
  if (entries.length === 0) return `"model.vocab" is empty`;
  const bad = entries.find(([, id]) =>
    typeof id !== "number" || !Number.isInteger(id) || id < 0
  );
  if (bad) {
    return `"model.vocab" maps ${JSON.stringify(bad[0])} to ${
      JSON.stringify(bad[1])
    }, not a token id (an integer >= 0)`;
  }
  return null;
}

/**
 * Throws a CourseError naming `source` unless `json` is a usable BERT (WordPiece) tokenizer.json:
 * `{}`, a truncated or hand-edited file, or another tool's JSON would otherwise fail deep inside
 * transformers.js with a TypeError. `vocabTxtBeside`: the folder also has a vocab.txt.
 */
export function assertTokenizerJson(
  json: unknown,
  source: string,
  { vocabTxtBeside = false } = {},
): asserts json is TokenizerJson {
  let problem = layoutProblem(json);
  if (problem === null) {
    const model = (json as TokenizerJson).model;
    if (model.type && model.type !== "WordPiece") {
      throw new CourseError(
        "TOKENIZER_NOT_WORDPIECE",
        `${source} is a ${model.type} tokenizer, not BERT WordPiece`,
        "이 코스의 토크나이저는 BERT(WordPiece) 계열만 다룹니다. BERT 체크포인트를 고르세요.",
      );
    }
    problem = vocabProblem(model.vocab);
  }
  if (problem === null) return;
  throw new CourseError(
    "TOKENIZER_BAD_FORMAT",
    `${source} is not a usable tokenizer.json: ${problem}`,
    "파일이 손상되었거나 Hugging Face tokenizers 형식이 아닙니다. 원래 토크나이저를 불러올 수 있다면 " +
      "tokenizer.savePretrained(폴더)로 다시 저장하고, 내려받은 모델이라면 캐시의 파일을 지우고 다시 내려받으세요." +
      (vocabTxtBeside
        ? " 같은 폴더에 vocab.txt가 있으니 tokenizer.json을 지우면 vocab.txt + tokenizer_config.json으로 불러옵니다."
        : ""),
  );
}
