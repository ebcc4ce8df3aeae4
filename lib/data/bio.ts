/**
 * BIO (and BIOES) span decoding, the one rule of the course: seqeval's default (non-strict)
 * `get_entities`. lib/data's `entitiesFromTokenLabels` (NER spans in a text), the
 * token-classification pipeline's `groupEntities` and lib/train's `entityScores` all chunk tags
 * with `getEntities`.
 */

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
