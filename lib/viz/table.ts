/**
 * HTML tables for polars DataFrames and arrays of records, with the column
 * types and the shape, the way Python learners know them from pandas/polars.
 */
import { displayBundle, escapeHtml, type MediaBundle } from "./jupyter.ts";

/** What we use of a nodejs-polars DataFrame (duck-typed: no polars import here). */
export interface DataFrameLike {
  columns: string[];
  height: number;
  dtypes: unknown[];
  head(length: number): { toRecords(): Record<string, unknown>[] };
}

export type TableRecords = Record<string, unknown>[];

export interface TableOptions {
  /** Rows shown (default 20); the rest is counted in the caption. */
  maxRows?: number;
  /** Longest cell text before it is cut with "…" (default 80). */
  maxCellChars?: number;
  caption?: string;
}

function isDataFrameLike(value: unknown): value is DataFrameLike {
  const candidate = value as DataFrameLike;
  return typeof candidate === "object" && candidate !== null &&
    Array.isArray(candidate.columns) && typeof candidate.head === "function" &&
    typeof candidate.height === "number";
}

/** `DataType(Float64)` -> `f64`, the short names polars prints. */
function shortDtype(dtype: unknown): string {
  const name = String(dtype).replace(/^DataType\((.*)\)$/, "$1");
  const short: Record<string, string> = {
    Float64: "f64",
    Float32: "f32",
    Int64: "i64",
    Int32: "i32",
    Int16: "i16",
    Int8: "i8",
    UInt64: "u64",
    UInt32: "u32",
    UInt8: "u8",
    String: "str",
    Utf8: "str",
    Bool: "bool",
    Boolean: "bool",
  };
  return short[name] ?? name.toLowerCase();
}

export function formatCell(value: unknown, maxChars = 80): string {
  let text: string;
  if (value === null || value === undefined) text = "null";
  else if (typeof value === "number" && !Number.isInteger(value)) {
    text = String(Number(value.toPrecision(6)));
  } else if (typeof value === "object") text = JSON.stringify(value);
  else text = String(value);
  return text.length > maxChars ? text.slice(0, maxChars - 1) + "…" : text;
}

interface TableData {
  columns: string[];
  dtypes?: string[];
  rows: TableRecords;
  totalRows: number;
}

function tableData(source: DataFrameLike | TableRecords, maxRows: number) {
  if (isDataFrameLike(source)) {
    return {
      columns: source.columns,
      dtypes: source.dtypes.map(shortDtype),
      rows: source.head(maxRows).toRecords(),
      totalRows: source.height,
    } satisfies TableData;
  }
  const columns = [...new Set(source.flatMap((row) => Object.keys(row)))];
  return {
    columns,
    rows: source.slice(0, maxRows),
    totalRows: source.length,
  } satisfies TableData;
}

function plainText(table: TableData, maxChars: number): string {
  const lines = [table.columns.join("\t")];
  for (const row of table.rows) {
    lines.push(
      table.columns.map((c) => formatCell(row[c], maxChars)).join("\t"),
    );
  }
  if (table.totalRows > table.rows.length) {
    lines.push(`… (${table.totalRows - table.rows.length} more rows)`);
  }
  return `shape: (${table.totalRows}, ${table.columns.length})\n` +
    lines.join("\n");
}

/** Builds the MIME bundle (HTML + plain text) for a table without showing it. */
export function tableBundle(
  source: DataFrameLike | TableRecords,
  options: TableOptions = {},
): MediaBundle {
  const { maxRows = 20, maxCellChars = 80, caption } = options;
  const table = tableData(source, maxRows);
  const header = table.columns.map((column, i) => {
    const dtype = table.dtypes?.[i];
    return `<th>${escapeHtml(column)}${
      dtype ? `<br><small>${escapeHtml(dtype)}</small>` : ""
    }</th>`;
  }).join("");
  const body = table.rows.map((row) =>
    "<tr>" + table.columns.map((column) => {
      const value = row[column];
      const align = typeof value === "number"
        ? ' style="text-align:right"'
        : "";
      return `<td${align}>${escapeHtml(formatCell(value, maxCellChars))}</td>`;
    }).join("") + "</tr>"
  ).join("\n");
  const hidden = table.totalRows - table.rows.length;
  const summary = `shape: (${table.totalRows}, ${table.columns.length})` +
    (hidden > 0
      ? ` · 처음 ${table.rows.length}행만 표시 (${hidden}행 생략)`
      : "");
  const title = caption ? `${escapeHtml(caption)} — ` : "";
  const html = `<table class="course-table">
<caption style="caption-side:top;text-align:left">${title}${summary}</caption>
<thead><tr>${header}</tr></thead>
<tbody>
${body}
</tbody>
</table>`;
  return { "text/html": html, "text/plain": plainText(table, maxCellChars) };
}

/** Shows a polars DataFrame or an array of records as a table in the cell output. */
export async function showTable(
  source: DataFrameLike | TableRecords,
  options: TableOptions = {},
): Promise<void> {
  await displayBundle(tableBundle(source, options));
}
