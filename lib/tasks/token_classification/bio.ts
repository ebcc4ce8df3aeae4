/**
 * BIO (and BIOES) span decoding, the one rule of the course: seqeval's default (non-strict)
 * `get_entities`. `entitiesFromTokenLabels` here (NER spans in a text), the
 * token-classification pipeline's `groupEntities` (pipeline.ts) and `entityScores`
 * (metrics.ts) all chunk tags with `getEntities`.
 */
import type { Offset } from "../../text/bert_tokenizer.ts";

export interface Entity {
  type: string;
  start: number;
  /** Inclusive, as seqeval's get_entities. */
  end: number;
}

function endOfChunk(
  prevTag: string,
  tag: string,
  prevType: string,
  type: string,
): boolean {
  if (prevTag === "E" || prevTag === "S") return true;
  if (
    (prevTag === "B" || prevTag === "I") &&
    (tag === "B" || tag === "S" || tag === "O")
  ) {
    return true;
  }
  return prevTag !== "O" && prevTag !== "." && prevType !== type;
}

function startOfChunk(
  prevTag: string,
  tag: string,
  prevType: string,
  type: string,
): boolean {
  if (tag === "B" || tag === "S") return true;
  if (
    (prevTag === "E" || prevTag === "S" || prevTag === "O") &&
    (tag === "E" || tag === "I")
  ) {
    return true;
  }
  return tag !== "O" && tag !== "." && prevType !== type;
}

/**
 * A line-by-line port of seqeval's default (non-strict) `get_entities`: a chunk ends before an O,
 * a B-, or a type change, and an I- after O or after another type starts a new chunk.
 */
export function getEntities(tags: string[]): Entity[] {
  const entities: Entity[] = [];
  let prevTag = "O", prevType = "", begin = 0;
  [...tags, "O"].forEach((chunk, i) => {
    const tag = chunk[0] ?? "O";
    const rest = chunk.slice(1);
    const dash = rest.indexOf("-");
    const type = (dash < 0 ? rest : rest.slice(dash + 1)) || "_";
    if (endOfChunk(prevTag, tag, prevType, type)) {
      entities.push({ type: prevType, start: begin, end: i - 1 });
    }
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  });
  return entities;
}

export interface EntitySpan {
  entity: string;
  start: number;
  end: number;
  word: string;
}

/**
 * The inverse, for inference: token label ids -> entity spans in the text. The tags of the
 * tokens that cover text (special tokens, with empty offsets, are skipped) are chunked by
 * `getEntities` (seqeval's rule): I-X right after an X entity extends it; B-X, or I-X after
 * anything else, starts a new one; O (and an unknown id, such as -100) ends it.
 */
export function entitiesFromTokenLabels(
  text: string,
  offsets: Offset[],
  labelIds: number[],
  id2label: Record<number, string>,
): EntitySpan[] {
  const tokens = labelIds.flatMap((_, i) =>
    offsets[i][0] === offsets[i][1] ? [] : [i]
  );
  const tags = tokens.map((i) => id2label[labelIds[i]] ?? "O");
  return getEntities(tags).map(({ type, start: first, end: last }) => {
    const start = offsets[tokens[first]][0];
    const end = offsets[tokens[last]][1];
    return { entity: type, start, end, word: text.slice(start, end) };
  });
}
