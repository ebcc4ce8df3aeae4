import { CourseError } from "../runtime/errors.ts";

/**
 * Korean text typed on macOS or copied from the web is often NFD (each syllable split into
 * conjoining jamo). BERT vocabularies store NFC syllables, so NFD text would become [UNK].
 * Everything the tokenizer sees goes through here first.
 */
export function toNfc(text: string): string {
  return text.normalize("NFC");
}

/** Throws a CourseError unless `text` is a string; `where` names the input in the message. */
export function assertText(
  text: unknown,
  where: string,
): asserts text is string {
  if (typeof text !== "string") {
    const got = text === null
      ? "null"
      : Array.isArray(text)
      ? "array"
      : typeof text;
    throw new CourseError(
      "TOKENIZER_INPUT_TYPE",
      `${where}: expected a string, got ${got}`,
      "토크나이저에는 문자열(string) 또는 문자열 배열(string[])을 넣으세요. " +
        "DataFrame 열이라면 .toArray()로 꺼내고, 숫자나 null 값은 먼저 걸러내세요.",
    );
  }
}

/** Empty or whitespace-only text makes an example with no content: refuse it unless asked. */
export function assertNotBlank(text: string, where: string): void {
  if (text.trim().length === 0) {
    throw new CourseError(
      "TOKENIZER_EMPTY_TEXT",
      `${where}: the text is empty or only whitespace`,
      "빈 문장은 학습에 쓸모가 없습니다. 데이터에서 빈 행을 먼저 지우세요 " +
        "(예: df.filter(pl.col('document').str.strip().str.lengths().gt(0))). " +
        "빈 문장을 [CLS] [SEP]로 그대로 두려면 { allowEmpty: true }를 주세요.",
    );
  }
}
