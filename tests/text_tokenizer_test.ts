// Behaviour of lib/text beyond id parity: the callable API, NFC, errors, tensors, offsets, saving.
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { AutoTokenizer, BertTokenizer } from "../lib/text/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import { MIRROR, REPO_ROOT } from "./test_paths.ts";

const repoRoot = REPO_ROOT;
const mirror = MIRROR;
const KPF = join(mirror, "raw.githubusercontent.com/KPFBERT/kpfbert/main");
const TINY = join(repoRoot, "../shared/fixtures/hf-bert-tiny");

await tf.setBackend("cpu");
const kpf = await AutoTokenizer.fromPretrained(KPF);

Deno.test("the tokenizer is a callable BertTokenizer with HF-style fields", () => {
  assert.ok(kpf instanceof BertTokenizer);
  assert.equal(typeof kpf, "function");
  const out = kpf("이 영화 정말 재밌어요");
  assert.equal(out.input_ids[0], kpf.clsTokenId);
  assert.equal(out.input_ids.at(-1), kpf.sepTokenId);
  assert.deepEqual(out.attention_mask, out.input_ids.map(() => 1));
  assert.equal(kpf.vocabSize, 36440);
  assert.equal(kpf.vocab.get("[MASK]"), kpf.maskTokenId);
  assert.equal(kpf.clsToken, "[CLS]");
  assert.deepEqual(
    kpf.convertTokensToIds(kpf.convertIdsToTokens(out.input_ids)),
    out.input_ids,
  );
});

Deno.test("NFD Korean (macOS, web) tokenizes exactly like NFC", () => {
  const nfc = "한국어 자연어 처리는 재미있다";
  const nfd = nfc.normalize("NFD");
  assert.notEqual(nfd, nfc);
  assert.deepEqual(kpf.encode(nfd), kpf.encode(nfc));
  assert.ok(!kpf.encode(nfd).includes(kpf.unkTokenId));
});

Deno.test("batches pad, truncate keeping [SEP], and become int32 tensors", () => {
  const texts = [
    "짧다",
    "이 문장은 조금 더 길어서 패딩이 필요 없습니다 정말로 그렇습니다",
  ];
  const padded = kpf(texts, { padding: true });
  assert.equal(padded.input_ids[0].length, padded.input_ids[1].length);
  assert.equal(
    padded.attention_mask[0].filter((m) => m === 0).length > 0,
    true,
  );
  const cut = kpf(texts, {
    padding: "max_length",
    truncation: true,
    maxLength: 8,
  });
  for (const row of cut.input_ids) assert.equal(row.length, 8);
  assert.equal(
    cut.input_ids[1][7],
    kpf.sepTokenId,
    "final [SEP] survives truncation",
  );
  const tensors = kpf(texts, { padding: true, returnTensors: "tf" });
  assert.equal(tensors.input_ids.dtype, "int32");
  assert.deepEqual(tensors.input_ids.shape, [2, padded.input_ids[0].length]);
  assert.deepEqual(tensors.attention_mask.arraySync(), padded.attention_mask);
  tf.dispose([
    tensors.input_ids,
    tensors.token_type_ids,
    tensors.attention_mask,
  ]);
  const multiple = kpf(texts, { padding: true, padToMultipleOf: 8 });
  assert.equal(multiple.input_ids[0].length % 8, 0);
});

Deno.test("pairs get token_type_ids 0 then 1", () => {
  const out = kpf("질문입니다", { textPair: "답입니다" });
  const firstSep = out.input_ids.indexOf(kpf.sepTokenId);
  assert.ok(out.token_type_ids.slice(0, firstSep + 1).every((t) => t === 0));
  assert.ok(out.token_type_ids.slice(firstSep + 1).every((t) => t === 1));
});

Deno.test("bad input gives CourseErrors with Korean hints", () => {
  for (const bad of [42, null, undefined, { text: "x" }]) {
    assert.throws(() => kpf(bad as unknown as string), CourseError);
  }
  assert.throws(() => kpf(["좋다", 3 as unknown as string]), /texts\[1\]/);
  assert.throws(
    () => kpf("   "),
    (e: unknown) => e instanceof CourseError && /빈/.test(e.hint),
  );
  assert.deepEqual(kpf("", { allowEmpty: true }).input_ids, [
    kpf.clsTokenId,
    kpf.sepTokenId,
  ]);
  assert.throws(() => kpf(["a", "b"], { textPair: "c" }), CourseError);
  assert.throws(() => kpf(["a", "bb"], { returnTensors: "tf" }), /padding/);
  assert.throws(() => kpf.convertIdsToTokens([999999]), CourseError);
  assert.throws(
    () =>
      kpf("질문 ".repeat(30), {
        textPair: "답",
        truncation: "only_second",
        maxLength: 10,
      }),
    CourseError,
  );
});

Deno.test("offsets slice the original text, emoji and NFD included", () => {
  const text = "이순신은 1545년에 태어났다 😀 OK!";
  const out = kpf(text, { returnOffsetsMapping: true });
  const tokens = kpf.convertIdsToTokens(out.input_ids);
  out.offset_mapping!.forEach(([s, e], i) => {
    if (tokens[i] === "[CLS]" || tokens[i] === "[SEP]") {
      return assert.deepEqual([s, e], [0, 0]);
    }
    const piece = tokens[i].replace(/^##/, "");
    if (tokens[i] !== "[UNK]") assert.equal(text.slice(s, e), piece);
  });
});

Deno.test("decode glues ## pieces and can skip special tokens", () => {
  const ids = kpf.encode("재밌어요 정말");
  assert.equal(kpf.decode(ids, { skipSpecialTokens: true }), "재밌어요 정말");
  assert.match(kpf.decode(ids), /^\[CLS\] .* \[SEP\]$/);
  assert.deepEqual(kpf.batchDecode([ids, ids], { skipSpecialTokens: true }), [
    "재밌어요 정말",
    "재밌어요 정말",
  ]);
});

Deno.test("savePretrained writes a folder that loads back to the same tokenizer", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tok-"));
  try {
    const tiny = await AutoTokenizer.fromPretrained(TINY);
    tiny.savePretrained(dir);
    const config = JSON.parse(
      readFileSync(join(dir, "tokenizer_config.json"), "utf8"),
    );
    assert.equal(config.do_lower_case, false);
    assert.equal(config.model_max_length, 64);
    const vocab = readFileSync(join(dir, "vocab.txt"), "utf8").trimEnd().split(
      "\n",
    );
    assert.equal(vocab.length, 120);
    const back = await AutoTokenizer.fromPretrained(dir);
    const text = "the [MASK] is good 안녕하세요 !";
    assert.deepEqual(back.encode(text), tiny.encode(text));
    assert.equal(back.modelMaxLength, 64);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

Deno.test("a Korean vocabulary loaded with do_lower_case=true warns about jamo", async () => {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    await AutoTokenizer.fromPretrained(KPF, { doLowerCase: true });
  } finally {
    console.warn = original;
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /doLowerCase: false/);
});

Deno.test("a broken tokenizer.json is a CourseError naming the file, not a TypeError", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tok-bad-"));
  const file = join(dir, "tokenizer.json");
  const vocabTxt = readFileSync(join(TINY, "vocab.txt"), "utf8");
  const saved = JSON.parse(
    JSON.stringify((await AutoTokenizer.fromPretrained(TINY)).tokenizerJson),
  );
  const broken: [string, unknown, RegExp][] = [
    ["{}", {}, /empty object/],
    ["null", null, /null, not an object/],
    ["[]", [], /array, not an object/],
    ["no model", { ...saved, model: undefined }, /no "model" section/],
    [
      "no vocab",
      { ...saved, model: { ...saved.model, vocab: undefined } },
      /"model\.vocab" is missing/,
    ],
    [
      "string ids",
      { ...saved, model: { ...saved.model, vocab: { "[UNK]": "0" } } },
      /"model\.vocab" maps "\[UNK\]" to "0"/,
    ],
    ["bad normalizer", { ...saved, normalizer: "bert" }, /"normalizer"/],
  ];
  try {
    for (const [label, content, reason] of broken) {
      Deno.writeTextFileSync(file, JSON.stringify(content));
      for (const vocabBeside of [false, true]) {
        if (vocabBeside) {
          Deno.writeTextFileSync(join(dir, "vocab.txt"), vocabTxt);
        } else rmSync(join(dir, "vocab.txt"), { force: true });
        await assert.rejects(
          () => AutoTokenizer.fromPretrained(dir),
          (e: unknown) => {
            assert.ok(e instanceof CourseError, `${label}: ${e}`);
            assert.equal(e.code, "TOKENIZER_BAD_FORMAT", label);
            assert.ok(e.message.includes(file), `${label}: ${e.message}`);
            assert.match(e.message, reason, label);
            assert.match(e.hint, /savePretrained/, label);
            assert.match(e.hint, /다시 내려받/, label);
            assert.equal(/vocab\.txt/.test(e.hint), vocabBeside, label);
            return true;
          },
          label,
        );
      }
    }
    // The same check guards a tokenizer built from an object in memory.
    assert.throws(
      () => new BertTokenizer({}),
      (e: unknown) =>
        e instanceof CourseError && e.code === "TOKENIZER_BAD_FORMAT",
    );
    // tokenizer_config.json must be an object too (a string would be spread into the config).
    rmSync(file);
    Deno.writeTextFileSync(join(dir, "tokenizer_config.json"), '"bert"');
    await assert.rejects(
      () => AutoTokenizer.fromPretrained(dir),
      (e: unknown) =>
        e instanceof CourseError && e.message.includes("tokenizer_config.json"),
    );
    // A file without a normalizer ("normalizer": null) still loads and takes overrides.
    rmSync(join(dir, "tokenizer_config.json"));
    Deno.writeTextFileSync(
      file,
      JSON.stringify({ ...saved, normalizer: null }),
    );
    const bare = await AutoTokenizer.fromPretrained(dir, {
      doLowerCase: false,
    });
    assert.equal(bare.tokenizerJson.normalizer.lowercase, false);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

Deno.test("decode and batchDecode name a bad ids argument", () => {
  const ids = kpf.encode("재밌어요");
  const bad: [unknown, RegExp][] = [
    [null, /decode: ids must be an array of token ids, got null/],
    [undefined, /got undefined/],
    [7, /got 7/],
    ["재밌어요", /got the string/],
    [[ids[0], 1.5], /ids\[1\] is 1\.5, not an integer/],
    [[ids[0], "3"], /ids\[1\] is the string "3"/],
    [[ids], /ids\[0\] is itself an array.*batchDecode/],
  ];
  for (const [value, message] of bad) {
    assert.throws(
      () => kpf.decode(value as number[]),
      (e: unknown) =>
        e instanceof CourseError && e.code === "TOKENIZER_BAD_IDS" &&
        message.test(e.message) && /batchDecode/.test(e.hint),
      String(value),
    );
  }
  assert.throws(
    () => kpf.batchDecode(null as unknown as number[][]),
    /batchDecode: batch must be an array/,
  );
  assert.throws(
    () => kpf.batchDecode([ids, null as unknown as number[]]),
    /batchDecode: batch\[1\] must be an array/,
  );
  assert.throws(
    () => kpf.convertIdsToTokens(null as unknown as number[]),
    /convertIdsToTokens: ids must be an array/,
  );
  assert.throws(() => kpf.convertIdsToTokens(2.5), /id 2\.5 is not an integer/);
  // Typed arrays (a tensor's dataSync()) are ids too.
  assert.equal(
    kpf.decode(Int32Array.from(ids) as unknown as number[], {
      skipSpecialTokens: true,
    }),
    "재밌어요",
  );
});
