import { CourseError } from "../runtime/errors.ts";
import type { SeededRandom } from "../runtime/random.ts";

export interface MaskTokensOptions {
  vocabSize: number;
  maskTokenId: number;
  /** [CLS], [SEP], [PAD], ... : never masked, never drawn as random replacements. */
  specialIds: number[];
  rng: SeededRandom;
  /** Share of (non-special) tokens chosen for prediction; BERT uses 0.15. */
  mlmProbability?: number;
  /** Choose whole words: a token and the "##" pieces after it are masked together. */
  wholeWordMask?: boolean;
  /** Needed for wholeWordMask: is this id a "##" continuation piece? */
  isContinuation?: (id: number) => boolean;
}

export interface MaskedTokens {
  input_ids: number[];
  /** Original id where a token was chosen, -100 elsewhere (ignored by the loss). */
  labels: number[];
}

/** The minimal tokenizer surface `maskOptionsFrom` reads. */
interface MaskingTokenizer {
  vocabSize: number;
  maskTokenId: number;
  allSpecialIds: number[];
  convertIdsToTokens(ids: number[]): string[];
}

/** Masking options from a tokenizer (vocab size, [MASK] id, special ids, "##" detection). */
export function maskOptionsFrom(
  tokenizer: MaskingTokenizer,
  rng: SeededRandom,
  extra: Partial<MaskTokensOptions> = {},
): MaskTokensOptions {
  const continuation = new Uint8Array(tokenizer.vocabSize);
  tokenizer.convertIdsToTokens([...continuation.keys()]).forEach(
    (token, id) => {
      if (token.startsWith("##") && token.length > 2) continuation[id] = 1;
    },
  );
  return {
    vocabSize: tokenizer.vocabSize,
    maskTokenId: tokenizer.maskTokenId,
    specialIds: tokenizer.allSpecialIds,
    rng,
    isContinuation: (id) => continuation[id] === 1,
    ...extra,
  };
}

function validate(options: MaskTokensOptions): void {
  const p = options.mlmProbability ?? 0.15;
  if (!(p > 0 && p < 1)) {
    throw new CourseError(
      "MASK_PROBABILITY",
      `mlmProbability must be in (0, 1), got ${p}`,
      "BERT 논문 값은 0.15입니다.",
    );
  }
  if (options.wholeWordMask && !options.isContinuation) {
    throw new CourseError(
      "MASK_WHOLE_WORD",
      "wholeWordMask needs isContinuation (which ids are ## pieces)",
      "maskOptionsFrom(tokenizer, rng, { wholeWordMask: true })로 옵션을 만드세요.",
    );
  }
}

/** Groups of positions that are masked together: single tokens, or whole words. */
function candidateGroups(
  ids: number[],
  special: Set<number>,
  options: MaskTokensOptions,
) {
  const groups: number[][] = [];
  ids.forEach((id, position) => {
    if (special.has(id)) return;
    const continues = options.wholeWordMask && options.isContinuation!(id) &&
      groups.length > 0 &&
      groups.at(-1)!.at(-1) === position - 1;
    if (continues) groups.at(-1)!.push(position);
    else groups.push([position]);
  });
  return groups;
}

/**
 * BERT's masked-LM corruption of one sequence: each non-special token (or whole word) is
 * chosen with probability `mlmProbability`; a chosen token becomes [MASK] 80% of the time,
 * a random non-special token 10%, and stays itself 10%. Its label is the original id.
 */
export function maskTokens(
  inputIds: number[],
  options: MaskTokensOptions,
): MaskedTokens {
  validate(options);
  const { rng, vocabSize, maskTokenId } = options;
  const p = options.mlmProbability ?? 0.15;
  const special = new Set(options.specialIds);
  const input = [...inputIds];
  const labels = new Array(inputIds.length).fill(-100);
  const randomToken = () => {
    let id: number;
    do id = rng.int(vocabSize); while (special.has(id));
    return id;
  };
  for (const group of candidateGroups(inputIds, special, options)) {
    if (rng.next() >= p) continue;
    for (const position of group) {
      labels[position] = inputIds[position];
      const roll = rng.next();
      if (roll < 0.8) input[position] = maskTokenId;
      else if (roll < 0.9) input[position] = randomToken();
    }
  }
  return { input_ids: input, labels };
}

/** `maskTokens` for each row of a batch (rows may differ in length). */
export function maskBatch(
  rows: number[][],
  options: MaskTokensOptions,
): MaskedTokens[] {
  return rows.map((row) => maskTokens(row, options));
}
