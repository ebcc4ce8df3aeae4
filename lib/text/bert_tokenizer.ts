import { BertTokenizer as HfBertTokenizer } from "@huggingface/transformers";
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CourseError } from "../runtime/errors.ts";
import { assertNotBlank, assertText, toNfc } from "./normalize.ts";
import { alignTokens, type Offset } from "./offsets.ts";
import {
  assertTokenizerJson,
  type BertTokenizerSettings,
  settingsFromTokenizerJson,
  type TokenizerConfig,
  type TokenizerJson,
} from "./tokenizer_json.ts";
import {
  truncatedLengths,
  type TruncationStrategy,
  visibleLength,
} from "./truncation.ts";

export type { Offset } from "./offsets.ts";
export type { TruncationStrategy } from "./truncation.ts";

export interface TokenizerCallOptions {
  /** Second sequence(s): a string for one text, a string[] of the same length for a batch. */
  textPair?: string | string[] | null;
  /** true/"longest": pad to the longest in the batch; "max_length": pad to `maxLength`. */
  padding?: boolean | "longest" | "max_length";
  /** true = "longest_first". Left out but `maxLength` given: truncate too (as HF does). */
  truncation?: boolean | TruncationStrategy;
  /** Length limit including [CLS]/[SEP]; defaults to `modelMaxLength`. */
  maxLength?: number;
  padToMultipleOf?: number;
  addSpecialTokens?: boolean;
  /** "tf": int32 tf.Tensor2D of shape [batch, length]. */
  returnTensors?: "tf";
  /** Character offsets [start, end) of each token in the NFC text; [0, 0] for special tokens. */
  returnOffsetsMapping?: boolean;
  /** Encode "" as [CLS] [SEP] instead of throwing (Hugging Face's behaviour). */
  allowEmpty?: boolean;
}

export interface BatchEncoding<T> {
  input_ids: T;
  token_type_ids: T;
  attention_mask: T;
  offset_mapping?: T extends number[][] ? Offset[][]
    : T extends number[] ? Offset[]
    : Offset[][];
}

export interface WordPieces {
  tokens: string[];
  ids: number[];
  /** Only when asked for: offsets into the NFC-normalized text. */
  offsets?: Offset[];
}

interface EncodedRow {
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
  offset_mapping?: Offset[];
}

const NO_OFFSET: Offset = [0, 0];

export interface BertTokenizer {
  (
    text: string,
    options?: TokenizerCallOptions & { returnTensors?: undefined },
  ): BatchEncoding<
    number[]
  >;
  (
    text: string[],
    options?: TokenizerCallOptions & { returnTensors?: undefined },
  ): BatchEncoding<
    number[][]
  >;
  (
    text: string | string[],
    options: TokenizerCallOptions & { returnTensors: "tf" },
  ): BatchEncoding<tf.Tensor2D>;
}

/**
 * A BERT WordPiece tokenizer with the Hugging Face API, callable like `tokenizer(texts, options)`.
 * The WordPiece itself is transformers.js'; this class adds NFC input, truncation that keeps the
 * final [SEP], offsets, tensors and savePretrained.
 */
export class BertTokenizer {
  declare readonly hf: HfBertTokenizer;
  declare readonly tokenizerJson: TokenizerJson;
  declare readonly tokenizerConfig: TokenizerConfig;
  declare readonly settings: BertTokenizerSettings;
  /** token -> id, like Hugging Face's `tokenizer.vocab`. */
  declare readonly vocab: Map<string, number>;
  declare readonly modelMaxLength: number;
  declare readonly specialTokens: ReadonlySet<string>;
  declare readonly allSpecialIds: number[];
  declare private readonly idToToken: string[];

  constructor(
    tokenizerJson: TokenizerJson,
    tokenizerConfig: TokenizerConfig = {},
  ) {
    assertTokenizerJson(tokenizerJson, "tokenizerJson");
    const callable =
      ((text: string | string[], options?: TokenizerCallOptions) =>
        (callable as unknown as BertTokenizer).call(
          text,
          options,
        )) as unknown as BertTokenizer;
    Object.setPrototypeOf(callable, new.target.prototype);
    const settings = settingsFromTokenizerJson(tokenizerJson, tokenizerConfig);
    const hf = new HfBertTokenizer(tokenizerJson, {
      ...tokenizerConfig,
      cls_token: settings.special.cls,
      sep_token: settings.special.sep,
      pad_token: settings.special.pad,
      mask_token: settings.special.mask,
      unk_token: settings.special.unk,
    });
    const vocab = new Map(
      Object.entries(tokenizerJson.model.vocab as Record<string, number>),
    );
    const idToToken: string[] = [];
    for (const [token, id] of vocab) idToToken[id] = token;
    const special = Object.values(settings.special).filter((token) =>
      vocab.has(token)
    );
    const maxLength = Number(
      tokenizerConfig.model_max_length ?? tokenizerConfig.max_len,
    );
    Object.assign(callable, {
      hf,
      tokenizerJson,
      tokenizerConfig,
      settings,
      vocab,
      idToToken,
      // Like HF: a checkpoint without model_max_length has no limit (HF writes 1e30).
      modelMaxLength: Number.isFinite(maxLength) && maxLength < 1e9
        ? maxLength
        : Infinity,
      specialTokens: new Set(special),
      allSpecialIds: special.map((token) => vocab.get(token)!),
    });
    return callable;
  }

  get clsToken(): string {
    return this.settings.special.cls;
  }
  get sepToken(): string {
    return this.settings.special.sep;
  }
  get padToken(): string {
    return this.settings.special.pad;
  }
  get maskToken(): string {
    return this.settings.special.mask;
  }
  get unkToken(): string {
    return this.settings.special.unk;
  }
  get clsTokenId(): number {
    return this.requireId(this.clsToken);
  }
  get sepTokenId(): number {
    return this.requireId(this.sepToken);
  }
  get padTokenId(): number {
    return this.requireId(this.padToken);
  }
  get maskTokenId(): number {
    return this.requireId(this.maskToken);
  }
  get unkTokenId(): number {
    return this.requireId(this.unkToken);
  }
  /** Number of ids (= the model's `vocab_size`). */
  get vocabSize(): number {
    return this.idToToken.length;
  }
  /** Does lowercasing + accent stripping split Hangul into jamo? (HF's BERT default does.) */
  get decomposesHangul(): boolean {
    const { lowercase, stripAccents } = this.settings;
    return lowercase ? stripAccents !== false : stripAccents === true;
  }

  private requireId(token: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) {
      throw new CourseError(
        "TOKENIZER_SPECIAL_TOKEN",
        `special token ${token} is not in the vocabulary`,
        "vocab.txt와 tokenizer_config.json의 특수 토큰 이름([CLS], [SEP] 등)이 맞는지 확인하세요.",
      );
    }
    return id;
  }

  /** Word pieces of one text, without special tokens (and their offsets when asked). */
  wordPieces(text: string, options: { offsets?: boolean } = {}): WordPieces {
    assertText(text, "tokenizer input");
    const nfc = toNfc(text);
    const tokens = this.hf.tokenize(nfc);
    const ids = this.convertTokensToIds(tokens);
    if (!options.offsets) return { tokens, ids };
    const offsets = alignTokens(
      nfc,
      tokens,
      {
        cleanText: true,
        handleChineseChars: this.settings.handleChineseChars,
        lowercase: this.settings.lowercase,
        stripAccents: this.settings.stripAccents,
      },
      this.unkToken,
      this.specialTokens,
    );
    return { tokens, ids, offsets };
  }

  /** `tokenize("안녕하세요")` -> ["안녕", "##하세요"] (no special tokens unless asked). */
  tokenize(
    text: string,
    options: { pair?: string; addSpecialTokens?: boolean } = {},
  ): string[] {
    if (!options.addSpecialTokens) {
      const first = this.wordPieces(text).tokens;
      return options.pair === undefined
        ? first
        : [...first, ...this.wordPieces(options.pair).tokens];
    }
    const { input_ids } = this.encodeRow(text, options.pair ?? null, {
      addSpecialTokens: true,
      allowEmpty: true,
    });
    return this.convertIdsToTokens(input_ids);
  }

  /** Token ids with [CLS]/[SEP] (like HF `encode`). */
  encode(
    text: string,
    options:
      & Omit<TokenizerCallOptions, "returnTensors" | "padding" | "textPair">
      & {
        textPair?: string;
      } = {},
  ): number[] {
    return this.encodeRow(text, options.textPair ?? null, {
      allowEmpty: true,
      ...options,
    }).input_ids;
  }

  convertTokensToIds(tokens: string): number;
  convertTokensToIds(tokens: string[]): number[];
  convertTokensToIds(tokens: string | string[]): number | number[] {
    const unk = this.vocab.get(this.unkToken)!;
    if (typeof tokens === "string") return this.vocab.get(tokens) ?? unk;
    return tokens.map((token) => this.vocab.get(token) ?? unk);
  }

  convertIdsToTokens(ids: number): string;
  convertIdsToTokens(ids: number[]): string[];
  convertIdsToTokens(ids: number | number[]): string | string[] {
    if (typeof ids === "number" && !Number.isInteger(ids)) {
      throw badIds(`convertIdsToTokens: id ${ids} is not an integer token id`);
    }
    const list = typeof ids === "number"
      ? [ids]
      : tokenIds(ids, "convertIdsToTokens");
    const one = (id: number) => {
      const token = this.idToToken[id];
      if (token === undefined) {
        throw new CourseError(
          "TOKENIZER_BAD_ID",
          `token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`,
          "다른 토크나이저로 만든 id이거나 모델 출력이 잘못되었습니다. 같은 체크포인트의 토크나이저를 쓰세요.",
        );
      }
      return token;
    };
    return typeof ids === "number" ? one(list[0]) : list.map(one);
  }

  /** ids -> text; WordPiece "##" pieces are glued back. */
  decode(
    ids: number[] | tf.Tensor,
    options: {
      skipSpecialTokens?: boolean;
      cleanUpTokenizationSpaces?: boolean;
    } = {},
  ): string {
    const list = tokenIds(
      ids instanceof tf.Tensor ? (ids.arraySync() as number[]).flat() : ids,
      "decode",
    );
    if (list.length === 0) return "";
    this.convertIdsToTokens(list); // validates the ids with a clear error
    return this.hf.decode(list, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces,
    });
  }

  batchDecode(
    batch: number[][] | tf.Tensor2D,
    options: {
      skipSpecialTokens?: boolean;
      cleanUpTokenizationSpaces?: boolean;
    } = {},
  ): string[] {
    const rows = batch instanceof tf.Tensor
      ? (batch.arraySync() as number[][])
      : batch;
    if (!Array.isArray(rows)) {
      throw badIds(
        `batchDecode: batch must be an array of id arrays, got ${
          describeIds(rows)
        }`,
      );
    }
    return rows.map((row, i) =>
      this.decode(tokenIds(row, "batchDecode", `batch[${i}]`), options)
    );
  }

  /** One example, unpadded: truncation happens on word pieces, then [CLS] A [SEP] (B [SEP]). */
  encodeRow(
    text: string,
    pair: string | null,
    options: Omit<
      TokenizerCallOptions,
      "textPair" | "padding" | "returnTensors"
    > = {},
  ): EncodedRow {
    const wantOffsets = options.returnOffsetsMapping ?? false;
    if (!options.allowEmpty) {
      assertText(text, "tokenizer input");
      assertNotBlank(text, "tokenizer input");
      if (pair !== null) {
        assertText(pair, "textPair");
        assertNotBlank(pair, "textPair");
      }
    }
    const a = this.wordPieces(text, { offsets: wantOffsets });
    const b = pair === null
      ? null
      : this.wordPieces(pair, { offsets: wantOffsets });
    const addSpecial = options.addSpecialTokens ?? true;
    const strategy = this.truncationStrategy(options);
    let keepA = a.ids.length;
    let keepB = b ? b.ids.length : null;
    if (strategy) {
      const maxLength = options.maxLength ?? this.modelMaxLength;
      const specials = addSpecial ? (b ? 3 : 2) : 0;
      if (Number.isFinite(maxLength)) {
        [keepA, keepB] = truncatedLengths(
          visibleLength(a.tokens, maxLength),
          b ? visibleLength(b.tokens, maxLength) : null,
          maxLength - specials,
          strategy,
        );
      }
    }
    const idsA = a.ids.slice(0, keepA);
    const idsB = b ? b.ids.slice(0, keepB!) : null;
    const offA = a.offsets?.slice(0, keepA) ?? [];
    const offB = b?.offsets?.slice(0, keepB!) ?? [];
    let inputIds: number[];
    let typeIds: number[];
    let offsets: Offset[];
    if (addSpecial) {
      const cls = this.clsTokenId;
      const sep = this.sepTokenId;
      inputIds = [cls, ...idsA, sep];
      typeIds = new Array(inputIds.length).fill(0);
      offsets = [NO_OFFSET, ...offA, NO_OFFSET];
      if (idsB) {
        inputIds.push(...idsB, sep);
        typeIds.push(...new Array(idsB.length + 1).fill(1));
        offsets.push(...offB, NO_OFFSET);
      }
    } else {
      inputIds = [...idsA, ...(idsB ?? [])];
      typeIds = [
        ...new Array(idsA.length).fill(0),
        ...new Array(idsB?.length ?? 0).fill(1),
      ];
      offsets = [...offA, ...offB];
    }
    const row: EncodedRow = {
      input_ids: inputIds,
      token_type_ids: typeIds,
      attention_mask: new Array(inputIds.length).fill(1),
    };
    if (wantOffsets) {
      row.offset_mapping = offsets.map(([s, e]) => [s, e] as Offset);
    }
    return row;
  }

  private truncationStrategy(
    options: TokenizerCallOptions,
  ): TruncationStrategy | null {
    const { truncation, maxLength } = options;
    if (truncation === undefined) {
      return maxLength !== undefined ? "longest_first" : null;
    }
    if (truncation === false) return null;
    return truncation === true ? "longest_first" : truncation;
  }

  /** The `tokenizer(texts, options)` call. */
  call(
    text: string | string[],
    options: TokenizerCallOptions = {},
  ):
    | BatchEncoding<number[]>
    | BatchEncoding<number[][]>
    | BatchEncoding<tf.Tensor2D> {
    const single = !Array.isArray(text);
    const texts = single ? [text] : text;
    const pairs = this.pairsFor(texts, options.textPair, single);
    texts.forEach((t, i) => assertText(t, single ? "text" : `texts[${i}]`));
    let rows = texts.map((t, i) => {
      try {
        return this.encodeRow(t, pairs ? pairs[i] : null, options);
      } catch (error) {
        if (error instanceof CourseError && !single) {
          throw new CourseError(
            error.code,
            `texts[${i}]: ${error.message}`,
            error.hint,
          );
        }
        throw error;
      }
    });
    rows = this.pad(rows, options);
    const encoding = {
      input_ids: rows.map((r) => r.input_ids),
      token_type_ids: rows.map((r) => r.token_type_ids),
      attention_mask: rows.map((r) => r.attention_mask),
      ...(options.returnOffsetsMapping
        ? { offset_mapping: rows.map((r) => r.offset_mapping!) }
        : {}),
    };
    if (options.returnTensors === "tf") {
      return {
        ...encoding,
        input_ids: toInt32Tensor(encoding.input_ids),
        token_type_ids: toInt32Tensor(encoding.token_type_ids),
        attention_mask: toInt32Tensor(encoding.attention_mask),
      } as BatchEncoding<tf.Tensor2D>;
    }
    if (!single) return encoding as BatchEncoding<number[][]>;
    return {
      input_ids: encoding.input_ids[0],
      token_type_ids: encoding.token_type_ids[0],
      attention_mask: encoding.attention_mask[0],
      ...(encoding.offset_mapping
        ? { offset_mapping: encoding.offset_mapping[0] }
        : {}),
    } as BatchEncoding<number[]>;
  }

  private pairsFor(
    texts: string[],
    textPair: string | string[] | null | undefined,
    single: boolean,
  ): string[] | null {
    if (textPair === undefined || textPair === null) return null;
    const shapeMatches = single
      ? typeof textPair === "string"
      : Array.isArray(textPair) && textPair.length === texts.length;
    if (!shapeMatches) {
      throw new CourseError(
        "TOKENIZER_PAIR_SHAPE",
        `textPair must match text: got ${texts.length} text(s) and ${
          Array.isArray(textPair) ? textPair.length : typeof textPair
        } pair(s)`,
        "문장 하나에는 textPair도 문자열 하나, 문장 배열에는 같은 길이의 문자열 배열을 주세요.",
      );
    }
    const pairs = single ? [textPair as string] : textPair as string[];
    pairs.forEach((pair, i) => assertText(pair, `textPair[${i}]`));
    return pairs;
  }

  private pad(rows: EncodedRow[], options: TokenizerCallOptions): EncodedRow[] {
    const padding = options.padding ?? false;
    if (padding === false) return rows;
    let target = padding === "max_length"
      ? options.maxLength ?? this.modelMaxLength
      : Math.max(...rows.map((r) => r.input_ids.length));
    if (!Number.isFinite(target)) {
      throw new CourseError(
        "TOKENIZER_NO_MAX_LENGTH",
        'padding: "max_length" needs maxLength (this tokenizer has no model_max_length)',
        '{ padding: "max_length", maxLength: 128 }처럼 길이를 정해 주세요.',
      );
    }
    const multiple = options.padToMultipleOf;
    if (multiple && target % multiple !== 0) {
      target += multiple - (target % multiple);
    }
    const padId = this.padTokenId;
    return rows.map((row) => {
      const extra = Math.max(0, target - row.input_ids.length);
      if (extra === 0) return row;
      return {
        input_ids: [...row.input_ids, ...new Array(extra).fill(padId)],
        token_type_ids: [...row.token_type_ids, ...new Array(extra).fill(0)],
        attention_mask: [...row.attention_mask, ...new Array(extra).fill(0)],
        ...(row.offset_mapping
          ? {
            offset_mapping: [
              ...row.offset_mapping,
              ...Array.from({ length: extra }, () => [0, 0] as Offset),
            ],
          }
          : {}),
      };
    });
  }

  /** Writes tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json. */
  savePretrained(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const { special, lowercase, stripAccents, handleChineseChars } =
      this.settings;
    const specialMap = {
      unk_token: special.unk,
      sep_token: special.sep,
      pad_token: special.pad,
      cls_token: special.cls,
      mask_token: special.mask,
    };
    const config: TokenizerConfig = {
      ...this.tokenizerConfig,
      do_lower_case: lowercase,
      strip_accents: stripAccents,
      tokenize_chinese_chars: handleChineseChars,
      ...specialMap,
      tokenizer_class: "BertTokenizer",
    };
    if (Number.isFinite(this.modelMaxLength)) {
      config.model_max_length = this.modelMaxLength;
    }
    writeFileSync(
      join(dir, "tokenizer.json"),
      JSON.stringify(this.tokenizerJson, null, 2),
    );
    writeFileSync(join(dir, "vocab.txt"), this.idToToken.join("\n") + "\n");
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify(config, null, 2) + "\n",
    );
    writeFileSync(
      join(dir, "special_tokens_map.json"),
      JSON.stringify(specialMap, null, 2) + "\n",
    );
  }
}

function describeIds(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array (${value.length} items)`;
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number") return String(value);
  return typeof value;
}

function badIds(message: string): CourseError {
  return new CourseError(
    "TOKENIZER_BAD_IDS",
    message,
    "정수 토큰 id 배열 하나를 넣으세요 (예: tokenizer.decode(encoding.input_ids)). " +
      "여러 문장이면 batchDecode(ids[][])를 쓰고, 모델 출력(logits)이라면 먼저 tf.argMax(logits, -1)로 id를 고르세요.",
  );
}

/**
 * Token ids as a plain number[] (arrays and typed arrays accepted); a CourseError naming
 * `method` and its argument `name` otherwise.
 */
function tokenIds(ids: unknown, method: string, name = "ids"): number[] {
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
    throw badIds(
      `${method}: ${name} must be an array of token ids, got ${
        describeIds(ids)
      }`,
    );
  }
  const list = Array.from(ids as ArrayLike<unknown>);
  const bad = list.findIndex((id) =>
    typeof id !== "number" || !Number.isInteger(id)
  );
  if (bad >= 0) {
    const value = list[bad];
    throw badIds(
      Array.isArray(value)
        ? `${method}: ${name}[${bad}] is itself an array; ${method} takes one sequence (batchDecode takes several)`
        : `${method}: ${name}[${bad}] is ${
          describeIds(value)
        }, not an integer token id`,
    );
  }
  return list as number[];
}

function toInt32Tensor(rows: number[][]): tf.Tensor2D {
  const width = rows[0]?.length ?? 0;
  if (rows.some((row) => row.length !== width)) {
    throw new CourseError(
      "TOKENIZER_RAGGED",
      "returnTensors: 'tf' needs rows of equal length",
      '길이가 다른 문장을 텐서로 만들려면 padding: true (또는 "max_length")를 함께 주세요.',
    );
  }
  const flat = new Int32Array(rows.length * width);
  rows.forEach((row, i) => flat.set(row, i * width));
  return tf.tensor2d(flat, [rows.length, width], "int32");
}
