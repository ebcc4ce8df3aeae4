/** lib/tasks/text_classification: the text-classification pipeline (sentiment-analysis). */
export type { LabelScore, TextClassificationOptions } from "./pipeline.ts";
