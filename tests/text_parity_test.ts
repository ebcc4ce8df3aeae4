// deno-lint-ignore-file no-explicit-any -- the reference JSON is untyped
// Token ids must equal Hugging Face's. The expected values come from the real Python tokenizer
// (tools/reference/tokenizer_reference.py -> tests/fixtures/tokenizer_reference.json), so CI needs no Python.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AutoTokenizer,
  type BertTokenizer,
  type Offset,
} from "../lib/text/mod.ts";
import { MIRROR, REPO_ROOT } from "./test_paths.ts";

const repoRoot = REPO_ROOT;
const mirror = MIRROR;
const tinyFixture = join(repoRoot, "../shared/fixtures/hf-bert-tiny");
const reference = JSON.parse(
  readFileSync(
    join(repoRoot, "tests/fixtures/tokenizer_reference.json"),
    "utf8",
  ),
);

const FOLDERS: Record<string, string> = {
  "mbert-cased": join(
    mirror,
    "huggingface.co/bert-base-multilingual-cased/resolve/main",
  ),
  "kcbert": join(mirror, "huggingface.co/beomi/kcbert-base/resolve/main"),
  "bert-base-uncased": join(
    mirror,
    "huggingface.co/bert-base-uncased/resolve/main",
  ),
  "kpfbert": join(mirror, "raw.githubusercontent.com/KPFBERT/kpfbert/main"),
  "hf-bert-tiny": tinyFixture,
};

/** Python offsets count code points; ours count UTF-16 units (what JS slicing needs). */
function toCodePointOffsets(text: string, offsets: Offset[]): Offset[] {
  const codePoints = (end: number) => [...text.slice(0, end)].length;
  return offsets.map(([s, e]) => [codePoints(s), codePoints(e)]);
}

interface Case {
  text: string;
  text_pair?: string | null;
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
  offsets: Offset[];
  tokens: string[];
  max_length?: number;
  strategy?: "longest_first" | "only_first" | "only_second";
  error?: string;
}

function checkCase(tokenizer: BertTokenizer, c: Case, label: string) {
  const got = tokenizer(c.text, {
    textPair: c.text_pair ?? undefined,
    truncation: c.strategy ?? false,
    maxLength: c.max_length,
    returnOffsetsMapping: true,
  });
  assert.deepEqual(
    tokenizer.convertIdsToTokens(got.input_ids),
    c.tokens,
    `${label} tokens`,
  );
  assert.deepEqual(got.input_ids, c.input_ids, `${label} input_ids`);
  assert.deepEqual(
    got.token_type_ids,
    c.token_type_ids,
    `${label} token_type_ids`,
  );
  assert.deepEqual(
    got.attention_mask,
    c.attention_mask,
    `${label} attention_mask`,
  );
  // Offsets refer to each text separately, like HF: compare per sequence.
  const offsets = got.offset_mapping!.map((o, i) => {
    const text = c.token_type_ids[i] === 1 ? c.text_pair! : c.text;
    return toCodePointOffsets(text, [o])[0];
  });
  assert.deepEqual(offsets, c.offsets, `${label} offsets`);
}

for (
  const [name, entry] of Object.entries(reference.vocabs) as [string, any][]
) {
  const load = () =>
    AutoTokenizer.fromPretrained(FOLDERS[name], {
      quiet: true,
      ...(entry.overrides.do_lower_case === false
        ? { doLowerCase: false }
        : {}),
    });

  Deno.test(`${name}: special ids and vocab size match Hugging Face`, async () => {
    const tokenizer = await load();
    assert.equal(tokenizer.vocabSize, entry.vocab_size);
    assert.deepEqual(
      {
        cls: tokenizer.clsTokenId,
        sep: tokenizer.sepTokenId,
        pad: tokenizer.padTokenId,
        mask: tokenizer.maskTokenId,
        unk: tokenizer.unkTokenId,
      },
      entry.special_ids,
    );
  });

  Deno.test(`${name}: single sentences (ids, tokens, offsets) equal Hugging Face`, async () => {
    const tokenizer = await load();
    entry.singles.forEach((c: Case, i: number) =>
      checkCase(tokenizer, c, `${name} single ${i}`)
    );
  });

  Deno.test(`${name}: sentence pairs equal Hugging Face`, async () => {
    const tokenizer = await load();
    entry.pairs.forEach((c: Case, i: number) =>
      checkCase(tokenizer, c, `${name} pair ${i}`)
    );
  });

  Deno.test(`${name}: truncation (longest_first, only_first, only_second) equals Hugging Face`, async () => {
    const tokenizer = await load();
    entry.truncations.forEach((c: Case, i: number) => {
      if (c.error) {
        assert.throws(
          () =>
            tokenizer(c.text, {
              textPair: c.text_pair!,
              truncation: c.strategy,
              maxLength: c.max_length,
            }),
          (e: Error) => e.name === "CourseError",
          `${name} truncation ${i} should refuse`,
        );
      } else {
        checkCase(tokenizer, c, `${name} truncation ${i}`);
        assert.equal(
          c.input_ids.at(-1),
          tokenizer.sepTokenId,
          "final [SEP] kept",
        );
      }
    });
  });

  Deno.test(`${name}: padded batches equal Hugging Face`, async () => {
    const tokenizer = await load();
    for (const b of entry.batches) {
      const got = tokenizer(b.texts, {
        padding: b.padding,
        truncation: b.max_length !== null,
        maxLength: b.max_length ?? undefined,
      });
      assert.deepEqual(
        got.input_ids,
        b.input_ids,
        `${name} batch ${b.padding} ${b.max_length}`,
      );
      assert.deepEqual(got.token_type_ids, b.token_type_ids);
      assert.deepEqual(got.attention_mask, b.attention_mask);
    }
  });

  Deno.test(`${name}: decode equals Hugging Face`, async () => {
    const tokenizer = await load();
    for (const d of entry.decode) {
      assert.equal(
        tokenizer.decode(d.ids, { skipSpecialTokens: d.skip_special_tokens }),
        d.text,
      );
    }
  });
}

Deno.test("hf-bert-tiny: reference.json tokenizer_checks and batches", async () => {
  const tiny = JSON.parse(
    readFileSync(join(tinyFixture, "reference.json"), "utf8"),
  );
  const cased = await AutoTokenizer.fromPretrained(tinyFixture);
  const lower = await AutoTokenizer.fromPretrained(tinyFixture, {
    doLowerCase: true,
    quiet: true,
  });
  for (const check of tiny.tokenizer_checks) {
    const tokenizer = check.do_lower_case ? lower : cased;
    assert.deepEqual(tokenizer.tokenize(check.text), check.tokens, check.text);
    assert.deepEqual(
      tokenizer.encode(check.text),
      check.input_ids_with_special,
      check.text,
    );
  }
  for (const batch of Object.values(tiny.batches) as any[]) {
    const texts = batch.texts.map((t: [string, string | null]) => t[0]);
    const pairs = batch.texts.map((t: [string, string | null]) => t[1]);
    const rows = texts.map((t: string, i: number) =>
      cased(t, {
        textPair: pairs[i] ?? undefined,
        padding: "max_length",
        maxLength: 8,
      })
    );
    assert.deepEqual(rows.map((r: any) => r.input_ids), batch.input_ids);
    assert.deepEqual(
      rows.map((r: any) => r.token_type_ids),
      batch.token_type_ids,
    );
    assert.deepEqual(
      rows.map((r: any) => r.attention_mask),
      batch.attention_mask,
    );
  }
});

Deno.test("bert-base-uncased: vocab.txt-built tokenizer equals its tokenizer.json", async () => {
  const fromJson = await AutoTokenizer.fromPretrained(
    FOLDERS["bert-base-uncased"],
    { quiet: true },
  );
  const { mkdtempSync, copyFileSync } = await import("node:fs");
  const dir = mkdtempSync(join(Deno.makeTempDirSync(), "uncased-"));
  for (const f of ["vocab.txt", "tokenizer_config.json"]) {
    copyFileSync(join(FOLDERS["bert-base-uncased"], f), join(dir, f));
  }
  const fromVocab = await AutoTokenizer.fromPretrained(dir, { quiet: true });
  for (const c of reference.vocabs["bert-base-uncased"].singles) {
    assert.deepEqual(fromVocab.encode(c.text), fromJson.encode(c.text), c.text);
  }
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("pair truncation sweep (maxLength 10..60) keeps the same lengths as Hugging Face", async () => {
  for (
    const [name, entry] of Object.entries(reference.vocabs) as [string, any][]
  ) {
    const tokenizer = await AutoTokenizer.fromPretrained(FOLDERS[name], {
      quiet: true,
      ...(entry.overrides.do_lower_case === false
        ? { doLowerCase: false }
        : {}),
    });
    for (const [pairIndex, maxLength, keepA, keepB] of entry.truncation_sweep) {
      const [a, b] = reference.sweep_pairs[pairIndex];
      const { token_type_ids } = tokenizer(a, {
        textPair: b,
        truncation: true,
        maxLength,
      });
      const gotA = token_type_ids.filter((t) => t === 0).length - 2;
      const gotB = token_type_ids.filter((t) => t === 1).length - 1;
      assert.deepEqual(
        [gotA, gotB],
        [keepA, keepB],
        `${name} maxLength ${maxLength}`,
      );
    }
  }
});
