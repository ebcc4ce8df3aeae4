/** lib/tasks/fill_mask: the fill-mask pipeline (the MLM head). */
export type {
  FillMaskCandidate,
  FillMaskOptions,
  FillMaskResult,
} from "./pipeline.ts";
