/**
 * The one answer-span rule of the course (`rankAnswerSpans`, and `bestAnswerSpan` on one
 * window): the question-answering pipeline, lesson 06's exercise check and evaluation all
 * read answers from start/end logits with it.
 */
import type { QaFeature } from "./prepare.ts";

export interface QaPrediction {
  text: string;
  /** Character span in the (NFC) context, end exclusive. */
  start: number;
  end: number;
  /** startLogits[startToken] + endLogits[endToken]: the ranking score. */
  score: number;
}

/** A ranked answer with where it was read: `window` indexes the list given to `rankAnswerSpans`. */
export interface QaSpan extends QaPrediction {
  window: number;
  /** Token positions in that window, inclusive; both 0 ([CLS]) for the null answer. */
  startToken: number;
  endToken: number;
}

/** One window's logits; `offset_mapping` is null outside the context (question, specials). */
export interface QaWindowLogits {
  feature: Pick<QaFeature, "offset_mapping" | "context">;
  startLogits: ArrayLike<number>;
  endLogits: ArrayLike<number>;
}

export interface QaSpanOptions {
  /** Longest answer in tokens (default 30, as `postprocess_qa_predictions`). */
  maxAnswerLength?: number;
  /** How many answers (default 1). */
  topK?: number;
  /**
   * Let "no answer" compete: its score is the smallest start[CLS] + end[CLS] over the windows,
   * and it comes back as `{text: "", start: 0, end: 0}` (Hugging Face's pipeline convention).
   */
  handleImpossibleAnswer?: boolean;
}

/**
 * The one answer-span rule (lesson 06's exercise, the question-answering pipeline, evaluation):
 * Hugging Face's `postprocess_qa_predictions`. A span (s, e) of a window scores
 * startLogits[s] + endLogits[e]; s and e are context tokens (offset_mapping not null),
 * s <= e and e - s + 1 <= maxAnswerLength. Every such span is searched (as the pipeline's
 * `decode_spans`, not only the top-20 starts/ends), spans from all windows of one example are
 * ranked together, a span found in two windows keeps its best score, ties go to the earlier
 * window and start. With `handleImpossibleAnswer` the null answer is ranked among the spans
 * (after any span with the same score). Returns up to topK answers, best first; [] when no
 * window has a context token.
 */
export function rankAnswerSpans(
  windows: QaWindowLogits[],
  options: QaSpanOptions = {},
): QaSpan[] {
  const maxAnswerLength = options.maxAnswerLength ?? 30;
  const topK = options.topK ?? 1;
  const best = new Map<string, QaSpan>();
  windows.forEach(({ feature, startLogits, endLogits }, window) => {
    const offsets = feature.offset_mapping;
    const spans: QaSpan[] = [];
    offsets.forEach((startOffset, s) => {
      if (!startOffset) return;
      const lastEnd = Math.min(offsets.length, s + maxAnswerLength);
      for (let e = s; e < lastEnd; e++) {
        const endOffset = offsets[e];
        if (!endOffset) continue;
        const [start, end] = [startOffset[0], endOffset[1]];
        spans.push({
          text: feature.context.slice(start, end),
          start,
          end,
          score: startLogits[s] + endLogits[e],
          window,
          startToken: s,
          endToken: e,
        });
      }
    });
    // Only a window's own top-k can be in the overall top-k.
    for (const span of spans.sort((a, b) => b.score - a.score).slice(0, topK)) {
      const key = `${span.start}:${span.end}`;
      const seen = best.get(key);
      if (!seen || span.score > seen.score) best.set(key, span);
    }
  });
  const ranked = [...best.values()].sort((a, b) =>
    b.score - a.score || a.window - b.window || a.startToken - b.startToken
  );
  if (options.handleImpossibleAnswer && windows.length > 0) {
    const nullScores = windows.map((w) => w.startLogits[0] + w.endLogits[0]);
    const score = Math.min(...nullScores);
    const at = ranked.findIndex((span) => span.score < score);
    ranked.splice(at < 0 ? ranked.length : at, 0, {
      text: "",
      start: 0,
      end: 0,
      score,
      window: nullScores.indexOf(score),
      startToken: 0,
      endToken: 0,
    });
  }
  return ranked.slice(0, topK);
}

/** `rankAnswerSpans` on one feature: its best span, or null when it holds no context token. */
export function bestAnswerSpan(
  feature: Pick<QaFeature, "offset_mapping" | "context">,
  startLogits: ArrayLike<number>,
  endLogits: ArrayLike<number>,
  options: { maxAnswerLength?: number } = {},
): QaSpan | null {
  return rankAnswerSpans([{ feature, startLogits, endLogits }], {
    maxAnswerLength: options.maxAnswerLength,
  })[0] ?? null;
}
