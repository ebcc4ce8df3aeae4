/**
 * Plain-text parsing shared by the loaders. We split TSV ourselves instead of using a CSV reader
 * because these files use no quoting at all: NSMC reviews contain literal `"` characters that a
 * CSV reader would treat as the start of a quoted field and silently merge lines.
 */
import { CourseError } from "../../runtime/errors.ts";

/** Lines of a text file without the line breaks (handles `\r\n`), last empty line dropped. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  if (lines[0]?.charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1); // BOM
  return lines;
}

export interface Tsv {
  header: string[];
  rows: string[][];
}

/** Tab-separated file with a header line; every row must have exactly the header's field count. */
export function parseTsv(text: string, source: string): Tsv {
  const lines = splitLines(text);
  const header = lines[0].split("\t");
  const rows: string[][] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === "") continue;
    const fields = lines[i].split("\t");
    if (fields.length !== header.length) {
      throw new CourseError(
        "DATA_BAD_ROW",
        `${source} line ${
          i + 1
        }: ${fields.length} fields, expected ${header.length}`,
        "파일이 손상되었을 수 있습니다. 캐시(COURSE_CACHE)의 파일을 지우고 다시 받아 보세요.",
      );
    }
    rows.push(fields);
  }
  return { header, rows };
}

/** Column `name` of a parsed TSV. */
export function column(tsv: Tsv, name: string): string[] {
  const index = tsv.header.indexOf(name);
  if (index < 0) {
    throw new CourseError(
      "DATA_MISSING_COLUMN",
      `column "${name}" not found (columns: ${tsv.header.join(", ")})`,
      "원본 파일 형식이 바뀌었을 수 있습니다. datasets/registry.json의 체크섬과 데이터 카드를 확인하세요.",
    );
  }
  return tsv.rows.map((row) => row[index]);
}

/**
 * One line of the HateSpeech news-title files: titles with a comma or quote were written
 * CSV-style (`"""마음 고생""…"`), the rest raw. Undo the CSV quoting only when the whole line is
 * one quoted field.
 */
export function unquoteCsvField(line: string): string {
  if (line.length >= 2 && line.startsWith('"') && line.endsWith('"')) {
    const inner = line.slice(1, -1);
    // A lone quote inside means the line was not CSV-quoted after all.
    if (!/(^|[^"])"([^"]|$)/.test(inner.replace(/""/g, ""))) {
      return inner.replace(/""/g, '"');
    }
  }
  return line;
}

/** Parses a number, failing loudly with the file and row rather than producing NaN. */
export function toNumber(value: string, source: string, row: number): number {
  const number = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(number)) {
    throw new CourseError(
      "DATA_BAD_NUMBER",
      `${source} row ${row + 1}: "${value}" is not a number`,
      "파일이 손상되었을 수 있습니다. 캐시의 파일을 지우고 다시 받아 보세요.",
    );
  }
  return number;
}
