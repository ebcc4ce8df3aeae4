/**
 * Training-side preparation for token classification (NER): word or character BIO tags ->
 * one label id per word piece (Hugging Face's tokenize_and_align_labels). The inverse, for
 * inference, is bio.ts's `entitiesFromTokenLabels`.
 */
import { CourseError } from "../../runtime/errors.ts";
import type { BertTokenizer, Offset } from "../../text/bert_tokenizer.ts";
import { defaultMaxLength } from "../../text/truncation.ts";

export interface NerExample {
  input_ids: number[];
  token_type_ids: number[];
  /** One label id per token; -100 on [CLS]/[SEP] (and on later pieces of a word in word mode). */
  labels: number[];
  /** Character offsets of each token in `text` ([0, 0] for special tokens). */
  offset_mapping: Offset[];
  text: string;
}

export interface NerOptions {
  maxLength?: number;
  /**
   * "char" (default): every token takes the tag of its first character, so entities that
   * start or end inside a word (이순신+은) keep their span. "first-subword": Hugging Face's
   * run_ner rule: only the first piece of each whitespace word is labelled, others -100.
   */
  labelMode?: "char" | "first-subword";
}

function tagId(
  tag: string,
  label2id: Record<string, number>,
  where: string,
): number {
  if (Object.hasOwn(label2id, tag)) return label2id[tag];
  throw new CourseError(
    "NER_UNKNOWN_TAG",
    `${where}: unknown tag "${tag}"; known tags: ${
      Object.keys(label2id).join(", ")
    }`,
    "label2id에 데이터의 모든 태그(B-PS, I-PS, O, ...)가 있는지 확인하세요.",
  );
}

/**
 * Hugging Face's alignment for word-level tags: given the word index of each token (null for
 * special tokens), the first token of a word gets the word's label, the others -100.
 */
export function alignWordLabels(
  wordIds: (number | null)[],
  wordLabels: number[],
  options: { labelAllTokens?: boolean } = {},
): number[] {
  let previous: number | null = null;
  return wordIds.map((word) => {
    const label = word === null
      ? -100
      : word !== previous || options.labelAllTokens
      ? wordLabels[word]
      : -100;
    previous = word;
    return label;
  });
}

/** Per-character tags from chars or whitespace-separated words with per-word tags. */
function toCharacters(
  units: string[],
  tags: string[],
): { text: string; charTags: string[]; wordOfChar: number[] } {
  if (units.length !== tags.length) {
    throw new CourseError(
      "NER_LENGTH_MISMATCH",
      `${units.length} characters/words but ${tags.length} tags`,
      "문자(또는 단어)마다 태그가 하나씩 있어야 합니다.",
    );
  }
  const isCharLevel = units.every((u) => [...u].length <= 1);
  let text = "";
  const charTags: string[] = [];
  const wordOfChar: number[] = [];
  let word = 0;
  units.forEach((unit, i) => {
    if (!isCharLevel && i > 0) {
      text += " ";
      charTags.push("O");
      wordOfChar.push(-1);
    }
    for (let k = 0; k < unit.length; k++) {
      charTags.push(tags[i]);
      wordOfChar.push(isCharLevel ? (/\s/.test(unit) ? -1 : word) : i);
    }
    text += unit;
    if (isCharLevel && /\s/.test(unit)) word++;
  });
  return { text, charTags, wordOfChar };
}

/**
 * Tokenizes a NER sentence and gives each token a label. `units` are characters (KLUE-NER:
 * one character per line, spaces included) or words; `tags` are their BIO tags.
 */
export function tokenizeAndAlignLabels(
  units: string[],
  tags: string[],
  tokenizer: BertTokenizer,
  label2id: Record<string, number>,
  options: NerOptions = {},
): NerExample {
  const { text, charTags, wordOfChar } = toCharacters(units, tags);
  if (text.normalize("NFC").length !== text.length) {
    throw new CourseError(
      "NER_NOT_NFC",
      "NER text is not NFC: character offsets would not line up with the tags",
      "문자열을 먼저 .normalize('NFC')로 바꾼 뒤 태그와 맞춰 주세요.",
    );
  }
  const encoded = tokenizer(text, {
    truncation: true,
    maxLength: options.maxLength ?? defaultMaxLength(tokenizer),
    returnOffsetsMapping: true,
  });
  const offsets = encoded.offset_mapping!;
  const special = new Set(tokenizer.allSpecialIds);
  let previousWord: number | null = null;
  const labels = encoded.input_ids.map((id, i) => {
    const [start, end] = offsets[i];
    if (special.has(id) && start === end) return -100;
    const tag = charTags[start];
    const word = wordOfChar[start];
    if (options.labelMode === "first-subword" && word === previousWord) {
      return -100;
    }
    previousWord = word;
    return tagId(tag, label2id, `character ${start}`);
  });
  return {
    input_ids: encoded.input_ids,
    token_type_ids: encoded.token_type_ids,
    labels,
    offset_mapping: offsets,
    text,
  };
}
