/**
 * Pretraining data: the corpus format (tools/pretraining/build_corpus.ts writes it) read into documents, and
 * documents turned into NSP pairs (per epoch, length-grouped) and MLM-masked examples (per step).
 * Every draw is seeded from (seed, epoch or step), so a resumed run sees what an uninterrupted one saw.
 */
import { existsSync } from "node:fs";
import { CourseError, SeededRandom } from "../runtime/mod.ts";
import type { BertTokenizer } from "../text/mod.ts";
import {
  type Example,
  makeNspExamples,
  maskOptionsFrom,
  maskTokens,
} from "../data/mod.ts";
import { derivedSeed, type PretrainOptions, SEED_PURPOSE } from "./options.ts";

/** Reads BERT's pretraining format: one sentence per line, a blank line between documents. */
export function parseDocuments(text: string): string[][] {
  return text.split(/\n\s*\n/).map((block) =>
    block.split("\n").filter((l) => l.trim())
  ).filter((
    d,
  ) => d.length > 0);
}

/** The documents of a corpus file (`pretrain.txt`, `heldout.txt`), the first `maxDocuments` if given. */
export async function readDocuments(
  file: string,
  maxDocuments?: number,
): Promise<string[][]> {
  if (!existsSync(file)) {
    throw new CourseError(
      "PRETRAIN_CORPUS_MISSING",
      `corpus not found: ${file}`,
      "먼저 `deno run -A tools/pretraining/build_corpus.ts`로 코퍼스를 만드세요 (.cache/corpus/pretrain.txt).",
    );
  }
  const documents = parseDocuments(await Deno.readTextFile(file));
  return maxDocuments ? documents.slice(0, maxDocuments) : documents;
}

/** One epoch's NSP pairs (fresh A/B splits and random NotNext partners every epoch), shuffled. */
export function epochExamples(
  documents: string[][],
  tokenizer: BertTokenizer,
  options: {
    seed: number;
    epoch: number;
    maxLength: number;
    batchSize?: number;
  },
): Example[] {
  const rng = new SeededRandom(
    derivedSeed(
      options.seed,
      SEED_PURPOSE.epochPairs,
      options.epoch * 1000 + options.maxLength,
    ),
  );
  const examples = makeNspExamples(documents, tokenizer, rng, {
    maxLength: options.maxLength,
  });
  const shuffled = rng.shuffle(examples);
  return options.batchSize
    ? lengthGroupedOrder(shuffled, options.batchSize, rng)
    : shuffled;
}

/**
 * Batches of similar length (HF `group_by_length`): examples are sorted by length inside windows of
 * `window` batches, cut into batches, and the batches shuffled. Most pairs are short reviews, so with
 * dynamic padding this cuts the padded tokens per step by about 2.3x (measured on the corpus).
 */
export function lengthGroupedOrder<T extends { input_ids: number[] }>(
  examples: T[],
  batchSize: number,
  rng: SeededRandom,
  window = 50,
): T[] {
  const batches: T[][] = [];
  for (let start = 0; start < examples.length; start += batchSize * window) {
    const sorted = examples.slice(start, start + batchSize * window)
      .sort((a, b) => a.input_ids.length - b.input_ids.length);
    for (let i = 0; i + batchSize <= sorted.length; i += batchSize) {
      batches.push(sorted.slice(i, i + batchSize));
    }
  }
  return rng.shuffle(batches).flat();
}

/** BERT's 80/10/10 masking, redrawn for every step (dynamic masking, as RoBERTa showed helps). */
export function maskedExamples(
  examples: Example[],
  tokenizer: BertTokenizer,
  seed: number,
  mlmProbability = 0.15,
): Example[] {
  const options = maskOptionsFrom(tokenizer, new SeededRandom(seed), {
    mlmProbability,
  });
  return examples.map((example) => {
    const { input_ids, labels } = maskTokens(example.input_ids, options);
    return { ...example, input_ids, labels };
  });
}

/**
 * Fixed held-out pairs and masks (same seed every time), so evaluations are comparable across a run
 * (and tools/pretraining/eval_course_model.ts scores the final model on exactly these).
 */
export function heldoutExamples(
  documents: string[][],
  tokenizer: BertTokenizer,
  options: Pick<PretrainOptions, "seed" | "longSeqLength" | "evalExamples">,
): Example[] {
  const examples = epochExamples(documents, tokenizer, {
    seed: options.seed + 7,
    epoch: 0,
    maxLength: options.longSeqLength,
  });
  // Sorted by length: evaluation pads far less, and the metric does not depend on batch order.
  return maskedExamples(
    examples.slice(0, options.evalExamples),
    tokenizer,
    derivedSeed(options.seed, SEED_PURPOSE.heldoutMasks, 0),
  ).sort((a, b) => a.input_ids.length - b.input_ids.length);
}

/** `items` cut into consecutive chunks of `size` (the last one may be shorter). */
export function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}
