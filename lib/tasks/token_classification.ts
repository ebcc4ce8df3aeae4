/**
 * token-classification (NER): a label per word piece, then, with the
 * "simple" aggregation, consecutive pieces of one entity (B-X I-X ...) merged
 * into a span with character offsets into the (NFC-normalized) text.
 */
import { CourseError } from "../runtime/errors.ts";
import {
  assertNonEmptyText,
  inferRows,
  labelName,
  requireOutput,
  type TaskContext,
} from "./context.ts";
import { asList } from "./inputs.ts";
import { argmax, softmax } from "./math.ts";

export interface TokenClassificationOptions {
  /** "simple" (default): group B-/I- pieces into entities; "none": every piece. */
  aggregationStrategy?: "simple" | "none";
  /** Labels left out of the result (default ["O"]). */
  ignoreLabels?: string[];
}

export interface TokenPrediction {
  entity: string;
  score: number;
  /** Position of the piece in the encoded input ([CLS] = 0). */
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
  const encodings = items.map((text) => {
    const nfc = assertNonEmptyText(text, "text").normalize("NFC");
    const encoding = ctx.tokenizer(nfc, {
      truncation: true,
      maxLength: ctx.maxLength,
      returnOffsetsMapping: true,
    });
    return { nfc, encoding };
  });
  const rows = await inferRows(
    ctx,
    encodings.map(({ encoding }) => ({
      input_ids: encoding.input_ids,
      token_type_ids: encoding.token_type_ids,
    })),
  );
  const results = rows.map((row, i) => {
    const { nfc, encoding } = encodings[i];
    const predictions = predictTokens(
      ctx,
      requireOutput(row, "logits"),
      encoding.input_ids,
      encoding.offset_mapping!,
      nfc,
    );
    if (strategy === "none") {
      return predictions.filter((p) => !ignore.has(p.entity));
    }
    return groupEntities(predictions, nfc).filter((g) =>
      !ignore.has(g.entity_group)
    );
  });
  return (single ? results[0] : results) as
    | TokenPrediction[]
    | EntityGroup[]
    | TokenPrediction[][]
    | EntityGroup[][];
}

function predictTokens(
  ctx: TaskContext,
  logits: { data: Float32Array; dims: number[] },
  inputIds: number[],
  offsets: [number, number][],
  text: string,
): TokenPrediction[] {
  const numLabels = logits.dims[1];
  const special = new Set(ctx.tokenizer.allSpecialIds);
  const predictions: TokenPrediction[] = [];
  inputIds.forEach((id, index) => {
    // [UNK] is a real word; [CLS]/[SEP]/[PAD] are not.
    if (special.has(id) && id !== ctx.tokenizer.unkTokenId) return;
    const probabilities = softmax(
      logits.data.subarray(index * numLabels, (index + 1) * numLabels),
    );
    const best = argmax(probabilities);
    const [start, end] = offsets[index];
    predictions.push({
      entity: labelName(ctx.config, best),
      score: probabilities[best],
      index,
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

/** Hugging Face's `group_entities`: a new group at each B- or type change. */
export function groupEntities(
  predictions: TokenPrediction[],
  text: string,
): EntityGroup[] {
  const groups: TokenPrediction[][] = [];
  for (const prediction of predictions) {
    const last = groups.at(-1)?.at(-1);
    const [bi, tag] = splitTag(prediction.entity);
    if (last && splitTag(last.entity)[1] === tag && bi !== "B") {
      groups.at(-1)!.push(prediction);
    } else {
      groups.push([prediction]);
    }
  }
  return groups.map((pieces) => {
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
