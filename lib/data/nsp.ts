import { CourseError } from "../runtime/errors.ts";
import type { SeededRandom } from "../runtime/random.ts";
import type { BertTokenizer } from "../text/bert_tokenizer.ts";
import { defaultMaxLength } from "../text/truncation.ts";

export interface NspExample {
  input_ids: number[];
  token_type_ids: number[];
  /** 0 = B really follows A (IsNext), 1 = B is a random sentence (NotNext): HF convention. */
  next_sentence_label: 0 | 1;
}

export interface NspOptions {
  /** Length of [CLS] A [SEP] B [SEP]; default 128 capped at the tokenizer's model_max_length. */
  maxLength?: number;
  /** Sometimes use a shorter target length so the model also sees short inputs (BERT: 0.1). */
  shortSeqProb?: number;
}

function truncatePair(
  a: number[],
  b: number[],
  budget: number,
  rng: SeededRandom,
): void {
  // create_pretraining_data.py: cut the longer side, randomly from its front or back.
  while (a.length + b.length > budget) {
    const longer = a.length > b.length ? a : b;
    if (rng.next() < 0.5) longer.shift();
    else longer.pop();
  }
}

/**
 * Sentence-pair examples for next sentence prediction, as BERT's create_pretraining_data:
 * sentences of a document are packed into segments up to the target length, split at a random
 * point into A and B; half of the time B is replaced by text from another random document.
 * `documents` = sentences per document.
 */
export function makeNspExamples(
  documents: string[][],
  tokenizer: BertTokenizer,
  rng: SeededRandom,
  options: NspOptions = {},
): NspExample[] {
  const maxLength = options.maxLength ?? defaultMaxLength(tokenizer, 128);
  const shortSeqProb = options.shortSeqProb ?? 0.1;
  const docs = documents.map((sentences) =>
    sentences.filter((s) => typeof s === "string" && s.trim() !== "")
      .map((s) => tokenizer.wordPieces(s).ids)
  ).filter((doc) => doc.length > 0);
  if (docs.length < 2) {
    throw new CourseError(
      "NSP_TOO_FEW_DOCUMENTS",
      `NSP needs at least 2 non-empty documents, got ${docs.length}`,
      "가짜 다음 문장(NotNext)은 다른 문서에서 뽑습니다. 문서(문장 배열)를 2개 이상 주세요.",
    );
  }
  const budget = maxLength - 3;
  const examples: NspExample[] = [];
  docs.forEach((doc, docIndex) => {
    let target = rng.next() < shortSeqProb ? 2 + rng.int(budget - 1) : budget;
    let chunk: number[][] = [];
    let chunkLength = 0;
    for (let i = 0; i < doc.length; i++) {
      chunk.push(doc[i]);
      chunkLength += doc[i].length;
      if (i !== doc.length - 1 && chunkLength < target) continue;
      const aEnd = chunk.length >= 2 ? 1 + rng.int(chunk.length - 1) : 1;
      let a = chunk.slice(0, aEnd).flat();
      let b: number[];
      let label: 0 | 1;
      const single = chunk[0];
      if (chunk.length === 1 && single.length < 2) {
        label = 1; // nothing to split: only a random B is possible
      } else {
        label = rng.next() < 0.5 ? 1 : 0;
      }
      if (label === 1) {
        b = randomSegment(docs, docIndex, target - a.length, rng);
        // The sentences not used as B go back to be used later, as in the original.
        i -= chunk.length - aEnd;
      } else if (chunk.length === 1) {
        // One long sentence: its own second half is a true continuation (keeps NSP at 50/50;
        // the original script would always make this a NotNext pair).
        const cut = 1 + rng.int(single.length - 1);
        a = single.slice(0, cut);
        b = single.slice(cut);
      } else {
        b = chunk.slice(aEnd).flat();
      }
      truncatePair(a, b, budget, rng);
      if (a.length > 0 && b.length > 0) {
        examples.push({
          input_ids: [
            tokenizer.clsTokenId,
            ...a,
            tokenizer.sepTokenId,
            ...b,
            tokenizer.sepTokenId,
          ],
          token_type_ids: [
            ...new Array(a.length + 2).fill(0),
            ...new Array(b.length + 1).fill(1),
          ],
          next_sentence_label: label,
        });
      }
      chunk = [];
      chunkLength = 0;
      target = rng.next() < shortSeqProb ? 2 + rng.int(budget - 1) : budget;
    }
  });
  return examples;
}

function randomSegment(
  docs: number[][][],
  avoid: number,
  wanted: number,
  rng: SeededRandom,
): number[] {
  let other = rng.int(docs.length - 1);
  if (other >= avoid) other++;
  const sentences = docs[other];
  const out: number[] = [];
  for (let j = rng.int(sentences.length); j < sentences.length; j++) {
    out.push(...sentences[j]);
    if (out.length >= Math.max(wanted, 1)) break;
  }
  return out;
}

/** Alias named in docs/ARCHITECTURE.md. */
export const makeNspPairs = makeNspExamples;
