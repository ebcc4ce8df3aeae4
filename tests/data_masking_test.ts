// MLM masking and NSP pairs: the rates BERT's paper prescribes, checked statistically.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  makeNspExamples,
  maskOptionsFrom,
  maskTokens,
} from "../lib/data/mod.ts";
import { SeededRandom } from "../lib/runtime/random.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import { MIRROR } from "./test_paths.ts";

const mirror = MIRROR;
const tokenizer = await AutoTokenizer.fromPretrained(
  join(mirror, "raw.githubusercontent.com/KPFBERT/kpfbert/main"),
);

function randomRows(
  rng: SeededRandom,
  rows: number,
  length: number,
): number[][] {
  const special = new Set(tokenizer.allSpecialIds);
  return Array.from({ length: rows }, () => {
    const body: number[] = [];
    while (body.length < length) {
      const id = rng.int(tokenizer.vocabSize);
      if (!special.has(id)) body.push(id);
    }
    const padding = new Array(rng.int(8)).fill(tokenizer.padTokenId);
    return [tokenizer.clsTokenId, ...body, tokenizer.sepTokenId, ...padding];
  });
}

Deno.test("maskTokens: 15% of ~100k tokens, 80/10/10, specials never touched", () => {
  const rng = new SeededRandom(7);
  const options = maskOptionsFrom(tokenizer, rng);
  const special = new Set(tokenizer.allSpecialIds);
  let candidates = 0, chosen = 0, masked = 0, random = 0, kept = 0;
  for (const row of randomRows(new SeededRandom(1), 1000, 100)) {
    const { input_ids, labels } = maskTokens(row, options);
    row.forEach((id, i) => {
      if (special.has(id)) {
        assert.equal(input_ids[i], id, "special token changed");
        assert.equal(labels[i], -100, "special token labelled");
        return;
      }
      candidates++;
      if (labels[i] === -100) return assert.equal(input_ids[i], id);
      chosen++;
      assert.equal(labels[i], id);
      if (input_ids[i] === tokenizer.maskTokenId) masked++;
      else if (input_ids[i] === id) kept++;
      else {
        random++;
        assert.ok(
          !special.has(input_ids[i]),
          "random replacement is a special token",
        );
      }
    });
  }
  assert.equal(candidates, 100_000);
  const rate = chosen / candidates;
  assert.ok(Math.abs(rate - 0.15) < 0.005, `masked rate ${rate}`);
  assert.ok(
    Math.abs(masked / chosen - 0.8) < 0.015,
    `[MASK] share ${masked / chosen}`,
  );
  assert.ok(
    Math.abs(random / chosen - 0.1) < 0.01,
    `random share ${random / chosen}`,
  );
  assert.ok(
    Math.abs(kept / chosen - 0.1) < 0.01,
    `kept share ${kept / chosen}`,
  );
});

Deno.test("maskTokens is reproducible with the same seed and differs with another", () => {
  const row = randomRows(new SeededRandom(3), 1, 200)[0];
  const a = maskTokens(row, maskOptionsFrom(tokenizer, new SeededRandom(5)));
  const b = maskTokens(row, maskOptionsFrom(tokenizer, new SeededRandom(5)));
  const c = maskTokens(row, maskOptionsFrom(tokenizer, new SeededRandom(6)));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.labels, c.labels);
});

Deno.test("whole word masking masks every piece of a chosen word", () => {
  const text =
    "사이몬페그의 익살스런 연기가 돋보였던 영화 스파이더맨에서 늙어보이기만 했던 커스틴 던스트";
  const ids = tokenizer.encode(text);
  const tokens = tokenizer.convertIdsToTokens(ids);
  const options = maskOptionsFrom(tokenizer, new SeededRandom(11), {
    wholeWordMask: true,
    mlmProbability: 0.3,
  });
  let sawMultiPiece = false;
  for (let trial = 0; trial < 50; trial++) {
    const { labels } = maskTokens(ids, options);
    for (let i = 1; i < ids.length; i++) {
      if (tokens[i].startsWith("##")) {
        assert.equal(
          labels[i] === -100,
          labels[i - 1] === -100,
          `piece ${tokens[i]} split`,
        );
        if (labels[i] !== -100) sawMultiPiece = true;
      }
    }
  }
  assert.ok(sawMultiPiece);
});

Deno.test("makeNspExamples: ~50% IsNext, format [CLS] A [SEP] B [SEP], within maxLength", () => {
  const rng = new SeededRandom(2);
  const documents = Array.from({ length: 200 }, (_, d) =>
    Array.from(
      { length: 6 + (d % 5) },
      (_, s) => `문서 ${d}번의 ${s}번째 문장입니다 영화가 정말 재미있었어요`,
    ));
  const examples = makeNspExamples(documents, tokenizer, rng, {
    maxLength: 48,
  });
  assert.ok(examples.length > 300, `only ${examples.length} examples`);
  const notNext = examples.filter((e) => e.next_sentence_label === 1).length /
    examples.length;
  assert.ok(Math.abs(notNext - 0.5) < 0.07, `NotNext share ${notNext}`);
  for (const e of examples) {
    assert.ok(e.input_ids.length <= 48);
    assert.equal(e.input_ids[0], tokenizer.clsTokenId);
    assert.equal(e.input_ids.at(-1), tokenizer.sepTokenId);
    assert.equal(
      e.input_ids.filter((id) => id === tokenizer.sepTokenId).length,
      2,
    );
    const firstSep = e.input_ids.indexOf(tokenizer.sepTokenId);
    assert.deepEqual(
      e.token_type_ids,
      e.input_ids.map((_, i) => (i <= firstSep ? 0 : 1)),
    );
  }
  // IsNext pairs continue the same document: B's document number equals A's.
  const docOf = (ids: number[]) =>
    tokenizer.decode(ids).match(/문서 (\d+)/)?.[1];
  for (
    const e of examples.filter((x) => x.next_sentence_label === 0).slice(0, 50)
  ) {
    const firstSep = e.input_ids.indexOf(tokenizer.sepTokenId);
    const a = docOf(e.input_ids.slice(1, firstSep));
    const b = docOf(e.input_ids.slice(firstSep + 1));
    if (a && b) assert.equal(a, b);
  }
});
