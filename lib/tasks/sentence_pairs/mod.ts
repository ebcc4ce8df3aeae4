/** lib/tasks/sentence_pairs: the next-sentence and sentence-similarity pipelines. */
export type { NextSentenceResult, SimilarityResult } from "./pipeline.ts";
