/**
 * Dynamic padding for inference: group inputs of similar length, pad each
 * group only to its own longest row, and put results back in input order.
 */

export interface Encoding {
  input_ids: number[];
  token_type_ids: number[];
}

export interface PaddedBatch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}

export function padBatch(
  encodings: Encoding[],
  padTokenId: number,
): PaddedBatch {
  const length = Math.max(...encodings.map((e) => e.input_ids.length));
  const pad = (row: number[], value: number) =>
    row.concat(Array(length - row.length).fill(value));
  return {
    input_ids: encodings.map((e) => pad(e.input_ids, padTokenId)),
    attention_mask: encodings.map((e) => pad(e.input_ids.map(() => 1), 0)),
    token_type_ids: encodings.map((e) => pad(e.token_type_ids, 0)),
  };
}

/**
 * Index groups of at most `batchSize`, longest inputs first, so each batch
 * pads little. Sorting is safe here because rows do not interact at inference.
 */
export function lengthSortedBatches(
  lengths: number[],
  batchSize: number,
): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) =>
    lengths[b] - lengths[a] || a - b
  );
  const groups: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    groups.push(order.slice(i, i + batchSize));
  }
  return groups;
}
