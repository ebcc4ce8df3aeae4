import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { resolveModelDir } from "../hub/mod.ts";
import { CourseError } from "../runtime/errors.ts";
import { BertTokenizer } from "./bert_tokenizer.ts";
import {
  assertTokenizerJson,
  buildTokenizerJson,
  parseVocabTxt,
  settingsFromConfig,
  type TokenizerConfig,
  type TokenizerJson,
} from "./tokenizer_json.ts";

/** Overrides, like keyword arguments to Hugging Face's `from_pretrained`. */
export interface TokenizerLoadOptions {
  doLowerCase?: boolean;
  stripAccents?: boolean | null;
  tokenizeChineseChars?: boolean;
  modelMaxLength?: number;
  /** Silence the warning about Hangul being split into jamo. */
  quiet?: boolean;
}

const TOKENIZER_FILES = [
  "tokenizer.json",
  "vocab.txt",
  "tokenizer_config.json",
];

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A local folder as is; a Hub id through lib/hub (cache -> mirror -> network). */
function resolveFolder(dirOrHubId: string): Promise<string> {
  if (isDirectory(dirOrHubId)) return Promise.resolve(dirOrHubId);
  return resolveModelDir(dirOrHubId, [], { optional: TOKENIZER_FILES });
}

/** The parsed file (any JSON value, `null` included), or undefined when there is no such file. */
function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CourseError(
      "TOKENIZER_BAD_JSON",
      `cannot parse ${path}: ${(error as Error).message}`,
      "파일이 중간에 잘렸거나 JSON이 아닙니다. 캐시의 파일을 지우고 다시 내려받으세요.",
      { cause: error },
    );
  }
}

function countHangulSyllables(vocab: Record<string, number>): number {
  let count = 0;
  for (const token of Object.keys(vocab)) {
    if (/[\uac00-\ud7a3]/.test(token) && ++count >= 100) break;
  }
  return count;
}

function readConfig(path: string): TokenizerConfig {
  const config = readJson(path);
  if (config === undefined || config === null) return {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new CourseError(
      "TOKENIZER_BAD_FORMAT",
      `${path} is not a usable tokenizer_config.json: it is ${
        Array.isArray(config) ? "an array" : typeof config
      }, not an object`,
      'tokenizer_config.json은 { "do_lower_case": false, ... } 같은 JSON 객체여야 합니다. ' +
        "tokenizer.savePretrained(폴더)로 다시 저장하거나, 내려받은 모델이라면 캐시의 파일을 지우고 다시 내려받으세요.",
    );
  }
  return config as TokenizerConfig;
}

function applyOverrides(
  json: TokenizerJson,
  config: TokenizerConfig,
  options: TokenizerLoadOptions,
): void {
  const overridesNormalizer = options.doLowerCase !== undefined ||
    options.stripAccents !== undefined ||
    options.tokenizeChineseChars !== undefined;
  if (overridesNormalizer && !json.normalizer) {
    // A tokenizer.json without a normalizer ("normalizer": null) changes nothing but what is asked.
    json.normalizer = {
      type: "BertNormalizer",
      clean_text: false,
      handle_chinese_chars: false,
      strip_accents: false,
      lowercase: false,
    };
  }
  if (options.doLowerCase !== undefined) {
    json.normalizer.lowercase = options.doLowerCase;
    config.do_lower_case = options.doLowerCase;
  }
  if (options.stripAccents !== undefined) {
    json.normalizer.strip_accents = options.stripAccents;
    config.strip_accents = options.stripAccents;
  }
  if (options.tokenizeChineseChars !== undefined) {
    json.normalizer.handle_chinese_chars = options.tokenizeChineseChars;
    config.tokenize_chinese_chars = options.tokenizeChineseChars;
  }
  if (options.modelMaxLength !== undefined) {
    config.model_max_length = options.modelMaxLength;
  }
}

function warnIfHangulIsSplit(tokenizer: BertTokenizer, source: string): void {
  if (!tokenizer.decomposesHangul) return;
  if (countHangulSyllables(tokenizer.tokenizerJson.model.vocab) < 100) return;
  console.warn(
    `⚠️ ${source}: do_lower_case=true이고 strip_accents가 false가 아니라서, ` +
      "Hugging Face 규칙대로 한글 음절이 자모로 분해됩니다(대부분 [UNK]가 됩니다). " +
      "한국어 어휘라면 AutoTokenizer.fromPretrained(dir, { doLowerCase: false })로 불러오세요.",
  );
}

export const AutoTokenizer = {
  /**
   * Loads a BERT tokenizer from a folder or a Hub id. Uses tokenizer.json when present;
   * otherwise builds it from vocab.txt + tokenizer_config.json with Hugging Face's defaults
   * (do_lower_case = true when the config does not say).
   */
  async fromPretrained(
    dirOrHubId: string,
    options: TokenizerLoadOptions = {},
  ): Promise<BertTokenizer> {
    const folder = await resolveFolder(dirOrHubId);
    const config = readConfig(join(folder, "tokenizer_config.json"));
    const jsonPath = join(folder, "tokenizer.json");
    const vocabPath = join(folder, "vocab.txt");
    const stored = readJson(jsonPath);
    let json: TokenizerJson;
    if (stored !== undefined) {
      assertTokenizerJson(stored, jsonPath, {
        vocabTxtBeside: existsSync(vocabPath),
      });
      json = stored;
      json.model.type = "WordPiece";
    } else {
      if (!existsSync(vocabPath)) {
        throw new CourseError(
          "TOKENIZER_NOT_FOUND",
          `no tokenizer.json or vocab.txt in ${folder}`,
          "토크나이저 폴더에는 tokenizer.json 또는 vocab.txt가 있어야 합니다.",
        );
      }
      const vocab = parseVocabTxt(readFileSync(vocabPath, "utf8"));
      json = buildTokenizerJson(vocab, settingsFromConfig(config));
    }
    applyOverrides(json, config, options);
    const tokenizer = new BertTokenizer(json, config);
    if (!options.quiet) warnIfHangulIsSplit(tokenizer, dirOrHubId);
    return tokenizer;
  },

  /** Builds a tokenizer from a vocabulary in memory (tests, lessons, trainWordPiece). */
  fromVocab(
    vocab: string[],
    config: TokenizerConfig = { do_lower_case: false },
  ): BertTokenizer {
    return new BertTokenizer(
      buildTokenizerJson(vocab, settingsFromConfig(config)),
      config,
    );
  },
};
