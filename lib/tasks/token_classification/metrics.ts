/**
 * Entity-level precision/recall/F1 with seqeval's semantics (default, non-strict mode): the
 * entities are bio.ts's `getEntities` chunks, the same rule that decodes NER spans and the
 * pipeline's groups. Plain tags in, plain numbers out.
 */
import { checkSameLength } from "../../runtime/same_length.ts";
import { type Entity, getEntities } from "./bio.ts";

export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Per entity type, with support = number of true entities of that type. */
  perType: Record<
    string,
    { precision: number; recall: number; f1: number; support: number }
  >;
}

function prf(tp: number, predicted: number, actual: number) {
  const precision = predicted === 0 ? 0 : tp / predicted;
  const recall = actual === 0 ? 0 : tp / actual;
  const f1 = precision + recall === 0
    ? 0
    : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** Micro-averaged entity precision/recall/F1 over sentences (seqeval.metrics f1_score etc.). */
export function entityScores(
  predictions: string[][],
  references: string[][],
): EntityScores {
  checkSameLength(predictions, references, "entityScores");
  const key = (sentence: number, e: Entity) =>
    `${sentence}|${e.type}|${e.start}|${e.end}`;
  const trueSet = new Set<string>(), predSet = new Set<string>();
  const types = new Set<string>();
  predictions.forEach((tags, s) => {
    checkSameLength(tags, references[s], `entityScores sentence ${s}`);
    for (const e of getEntities(tags)) {
      predSet.add(key(s, e)), types.add(e.type);
    }
    for (const e of getEntities(references[s])) {
      trueSet.add(key(s, e)), types.add(e.type);
    }
  });
  const typeOf = (k: string) => k.split("|")[1];
  const perType: EntityScores["perType"] = {};
  for (const type of [...types].sort()) {
    const t = [...trueSet].filter((k) => typeOf(k) === type);
    const p = [...predSet].filter((k) => typeOf(k) === type);
    const tp = p.filter((k) => trueSet.has(k)).length;
    perType[type] = { ...prf(tp, p.length, t.length), support: t.length };
  }
  const tp = [...predSet].filter((k) => trueSet.has(k)).length;
  return { ...prf(tp, predSet.size, trueSet.size), perType };
}
