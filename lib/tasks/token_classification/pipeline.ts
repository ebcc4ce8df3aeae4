/**
 * token-classification (NER): a label per word piece, then, with the
 * "simple" aggregation, consecutive pieces of one entity (B-X I-X ...) merged
 * into a span with character offsets into the (NFC-normalized) text.
 *
 * A text longer than the model's window is read in overlapping windows, and
 * each piece takes its label from the window where it has the most context on
 * both sides (the "max context" rule of BERT's SQuAD code), so every piece is
 * labelled once and none is cut off.
 */
import { CourseError } from "../../runtime/errors.ts";
import {
  assertNonEmptyText,
  inferRows,
  labelName,
  requireOutput,
  type TaskContext,
} from "../context.ts";
import { asList, inputName } from "../inputs.ts";
import { argmax, softmax } from "../math.ts";
import { checkStride, splitIntoWindows } from "../windows.ts";
import { getEntities } from "./bio.ts";

export interface TokenClassificationOptions {
  /** "simple" (default): group B-/I- pieces into entities; "none": every piece. */
  aggregationStrategy?: "simple" | "none";
  /** Labels left out of the result (default ["O"]). */
  ignoreLabels?: string[];
  /**
   * Word pieces shared by neighbouring windows when a text is longer than the
   * model's window (default: min(128, half a window)).
   */
  stride?: number;
}

export interface TokenPrediction {
  entity: string;
  score: number;
  /** Position of the piece in the encoded text ([CLS] = 0), windows or not. */
  index: number;
  word: string;
  start: number;
  end: number;
}

export interface EntityGroup {
  entity_group: string;
  /** Mean of the pieces' scores. */
  score: number;
  word: string;
  start: number;
  end: number;
}

export async function tokenClassification(
  ctx: TaskContext,
  inputs: string | string[],
  options: TokenClassificationOptions = {},
): Promise<
  TokenPrediction[] | EntityGroup[] | TokenPrediction[][] | EntityGroup[][]
> {
  const { items, single } = asList(inputs, (v) => typeof v === "string");
  const strategy = options.aggregationStrategy ?? "simple";
  if (strategy !== "simple" && strategy !== "none") {
    throw new CourseError(
      "TASK_BAD_OPTION",
      `unsupported aggregationStrategy "${strategy}"`,
      'aggregationStrategy는 "simple" 또는 "none"을 쓰세요.',
    );
  }
  const ignore = new Set(options.ignoreLabels ?? ["O"]);
  const texts = items.map((text, index) =>
    assertNonEmptyText(text, inputName(single, index)).normalize("NFC")
  );
  const windowLength = ctx.maxLength - 2; // [CLS] pieces [SEP]
  const stride = checkStride(
    options.stride ?? Math.min(128, Math.floor(windowLength / 2)),
    windowLength,
    "stride",
    "maxLength",
  );
  const pieces = texts.map((text) =>
    ctx.tokenizer.wordPieces(text, { offsets: true })
  );
  const spans = pieces.map(({ ids }) =>
    splitIntoWindows(ids.length, windowLength, stride)
  );
  const { clsTokenId, sepTokenId } = ctx.tokenizer;
  const rows = await inferRows(
    ctx,
    spans.flatMap((textSpans, owner) =>
      textSpans.map(({ begin, end }) => {
        const input_ids = [
          clsTokenId,
          ...pieces[owner].ids.slice(begin, end),
          sepTokenId,
        ];
        return { input_ids, token_type_ids: input_ids.map(() => 0) };
      })
    ),
  );
  let nextRow = 0;
  const results = texts.map((text, owner) => {
    const windows = spans[owner].map((span) => ({
      ...span,
      logits: requireOutput(rows[nextRow++], "logits"),
    }));
    const predictions = predictTokens(
      ctx,
      pieces[owner].ids,
      pieces[owner].offsets!,
      text,
      (piece) => {
        const best = windows.reduce((a, b) =>
          maxContext(b, piece) > maxContext(a, piece) ? b : a
        );
        return { logits: best.logits, row: piece - best.begin + 1 };
      },
    );
    if (strategy === "none") {
      return predictions.filter((p) => !ignore.has(p.entity));
    }
    return groupEntities(predictions, text).filter((g) =>
      !ignore.has(g.entity_group)
    );
  });
  return (single ? results[0] : results) as
    | TokenPrediction[]
    | EntityGroup[]
    | TokenPrediction[][]
    | EntityGroup[][];
}

/** Context a window gives `piece`: the fewer pieces on its poorer side. */
function maxContext(
  window: { begin: number; end: number },
  piece: number,
): number {
  if (piece < window.begin || piece >= window.end) return -1;
  return Math.min(piece - window.begin, window.end - 1 - piece) +
    0.01 * (window.end - window.begin);
}

function predictTokens(
  ctx: TaskContext,
  pieceIds: number[],
  offsets: [number, number][],
  text: string,
  logitsOf: (piece: number) => {
    logits: { data: Float32Array; dims: number[] };
    row: number;
  },
): TokenPrediction[] {
  const special = new Set(ctx.tokenizer.allSpecialIds);
  const predictions: TokenPrediction[] = [];
  pieceIds.forEach((id, piece) => {
    // [UNK] is a real word; a literal "[SEP]" typed in the text is not.
    if (special.has(id) && id !== ctx.tokenizer.unkTokenId) return;
    const { logits, row } = logitsOf(piece);
    const numLabels = logits.dims[1];
    const probabilities = softmax(
      logits.data.subarray(row * numLabels, (row + 1) * numLabels),
    );
    const best = argmax(probabilities);
    const [start, end] = offsets[piece];
    predictions.push({
      entity: labelName(ctx.config, best),
      score: probabilities[best],
      index: piece + 1,
      word: text.slice(start, end),
      start,
      end,
    });
  });
  return predictions;
}

/** "B-PER" -> ["B", "PER"]; a label without a prefix continues ("I"). */
function splitTag(entity: string): [string, string] {
  if (entity.startsWith("B-")) return ["B", entity.slice(2)];
  if (entity.startsWith("I-")) return ["I", entity.slice(2)];
  return ["I", entity];
}

/**
 * Hugging Face's `group_entities`: a new group at each B- or type change. The
 * chunking is bio.ts's `getEntities` (seqeval), the course's one BIO rule;
 * as in HF, a label without a B-/I- prefix (O too) is read as I- of its own
 * type, so every piece lands in a group.
 */
export function groupEntities(
  predictions: TokenPrediction[],
  text: string,
): EntityGroup[] {
  const tags = predictions.map((p) => {
    const [bi, type] = splitTag(p.entity);
    return `${bi}-${type}`;
  });
  return getEntities(tags).map(({ start: first, end: last }) => {
    const pieces = predictions.slice(first, last + 1);
    const start = pieces[0].start;
    const end = pieces.at(-1)!.end;
    return {
      entity_group: splitTag(pieces[0].entity)[1],
      score: pieces.reduce((sum, p) => sum + p.score, 0) / pieces.length,
      word: text.slice(start, end),
      start,
      end,
    };
  });
}

/** This folder's tasks for `pipeline()` (lib/tasks/pipeline.ts gathers every folder's `TASKS`). */
export const TASKS = { "token-classification": tokenClassification } as const;
