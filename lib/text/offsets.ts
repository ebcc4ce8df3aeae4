/**
 * Character offsets of word pieces in the original text.
 *
 * transformers.js gives tokens but no offsets, and NER/QA need them. We redo the BertNormalizer
 * one character at a time (remembering where each normalized character came from), then walk
 * the tokens through the normalized text. The normalization rules copy transformers.js'
 * BertNormalizer so that the walk sees exactly the text its WordPiece saw.
 */

export type Offset = [start: number, end: number];

export interface NormalizerSettings {
  cleanText: boolean;
  handleChineseChars: boolean;
  lowercase: boolean;
  /** null = follow `lowercase` (Hugging Face's rule). */
  stripAccents: boolean | null;
}

const PUNCTUATION =
  /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const WHITESPACE = /^\s$/u;
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;

function isControl(char: string): boolean {
  if (char === "\t" || char === "\n" || char === "\r") return false;
  return CONTROL.test(char);
}

function isChineseCodeUnit(cp: number): boolean {
  // transformers.js tests UTF-16 code units, so characters outside the BMP never match.
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0xf900 && cp <= 0xfaff);
}

function stripMarks(text: string): string {
  return text.normalize("NFD").replace(/\p{Mn}/gu, "");
}

interface NormalizedText {
  text: string;
  /** For each UTF-16 unit of `text`: the [start, end) of the source character. */
  source: Offset[];
}

export function normalizeWithAlignment(
  original: string,
  settings: NormalizerSettings,
): NormalizedText {
  let text = "";
  const source: Offset[] = [];
  const stripAccents = settings.lowercase
    ? settings.stripAccents !== false
    : settings.stripAccents === true;
  let index = 0;
  for (const char of original) {
    const from: Offset = [index, index + char.length];
    index += char.length;
    const cp = char.codePointAt(0)!;
    let piece = char;
    if (settings.cleanText) {
      if (cp === 0 || cp === 0xfffd || isControl(char)) continue;
      if (WHITESPACE.test(char)) piece = " ";
    }
    if (
      settings.handleChineseChars && char.length === 1 && isChineseCodeUnit(cp)
    ) {
      piece = ` ${piece} `;
    }
    if (settings.lowercase) piece = piece.toLowerCase();
    if (stripAccents) piece = stripMarks(piece);
    text += piece;
    for (let i = 0; i < piece.length; i++) source.push(from);
  }
  return { text, source };
}

/** End of the pre-tokenizer word that starts at `start` (a lone punctuation mark or a run). */
function wordEnd(text: string, start: number): number {
  const first = String.fromCodePoint(text.codePointAt(start)!);
  if (PUNCTUATION.test(first)) return start + first.length;
  let end = start;
  while (end < text.length) {
    const char = String.fromCodePoint(text.codePointAt(end)!);
    if (WHITESPACE.test(char) || PUNCTUATION.test(char)) break;
    end += char.length;
  }
  return end;
}

/**
 * Offsets (UTF-16 indices into `original`, end exclusive) of each word piece in `tokens`.
 * `specialTokens` are matched literally (they were split out before normalization).
 */
export function alignTokens(
  original: string,
  tokens: string[],
  settings: NormalizerSettings,
  unkToken: string,
  specialTokens: ReadonlySet<string>,
): Offset[] {
  const { text, source } = normalizeWithAlignment(original, settings);
  const offsets: Offset[] = [];
  let cursor = 0;
  for (const token of tokens) {
    // "#" is punctuation to the pre-tokenizer, so only WordPiece continuations start with "##".
    const isContinuation = token.startsWith("##") && token.length > 2 &&
      !specialTokens.has(token);
    if (!isContinuation) {
      while (cursor < text.length && WHITESPACE.test(text[cursor])) cursor++;
    }
    const surface = isContinuation ? token.slice(2) : token;
    const matches =
      text.slice(cursor, cursor + surface.length).toLowerCase() ===
        surface.toLowerCase();
    let end: number;
    if (matches) end = cursor + surface.length;
    else if (token === unkToken) end = wordEnd(text, cursor);
    else end = Math.min(text.length, cursor + surface.length);
    offsets.push(
      cursor < end
        ? [source[cursor][0], source[end - 1][1]]
        : [original.length, original.length],
    );
    cursor = end;
  }
  return offsets;
}
