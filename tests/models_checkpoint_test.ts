/** Checkpoint reading/writing: byte-exact safetensors, HF layouts, shards, dtypes, error cases. */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  BertForMaskedLM,
  BertForPreTraining,
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
} from "../lib/models/mod.ts";
import { CourseError } from "../lib/runtime/errors.ts";
import {
  FIXTURE_DIR,
  fixtureAvailable,
  TEST_BACKEND,
  useBackend,
} from "./models_util.ts";

const haveFixture = await fixtureAvailable();
const opts = {
  ignore: !haveFixture,
  sanitizeResources: false,
  sanitizeOps: false,
};
await useBackend(TEST_BACKEND);

async function tempModelDir(
  files: Record<string, Uint8Array | string> = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "models_ckpt_" });
  await Deno.copyFile(`${FIXTURE_DIR}/config.json`, `${dir}/config.json`);
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") {
      await Deno.writeTextFile(`${dir}/${name}`, content);
    } else await Deno.writeFile(`${dir}/${name}`, content);
  }
  return dir;
}

async function fixtureTensors() {
  const file = parseSafetensors(
    await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`),
  );
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of file.tensors) {
    tensors.set(name, { shape: t.shape, data: toFloat32(t, name, "") });
  }
  return tensors;
}

async function assertCourseError(
  fn: () => Promise<unknown>,
  code: string,
  mentions?: string,
) {
  try {
    await fn();
  } catch (error) {
    assert.ok(
      error instanceof CourseError,
      `expected CourseError, got ${error}`,
    );
    assert.equal(error.code, code, error.message);
    assert.ok(error.hint.length > 0);
    if (mentions) {
      assert.ok(
        error.message.includes(mentions),
        `"${error.message}" should name ${mentions}`,
      );
    }
    return;
  }
  assert.fail(`expected CourseError ${code}`);
}

Deno.test({
  name: "safetensors writer is byte-identical to the Python library's files",
  ...opts,
  async fn() {
    for (const name of ["model.safetensors", "seqcls.safetensors"]) {
      const original = await Deno.readFile(`${FIXTURE_DIR}/${name}`);
      const parsed = parseSafetensors(original);
      const tensors = new Map(
        [...parsed.tensors].map((
          [k, t],
        ) => [k, { shape: t.shape, data: toFloat32(t, k, name) }]),
      );
      assert.deepEqual(
        serializeSafetensors(tensors, { metadata: parsed.metadata }),
        original,
        name,
      );
    }
  },
});

Deno.test({
  name:
    "savePretrained writes HF's exact model.safetensors and a config HF reads; reload is bit-exact",
  ...opts,
  async fn() {
    const model = await BertForPreTraining.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    const dir = await Deno.makeTempDir({ prefix: "models_save_" });
    await model.savePretrained(dir);
    // Tied decoder left out, Linear weights back to [out, in], names sorted: same bytes as HF's save.
    assert.deepEqual(
      await Deno.readFile(`${dir}/model.safetensors`),
      await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`),
    );
    const written = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    const original = JSON.parse(
      await Deno.readTextFile(`${FIXTURE_DIR}/config.json`),
    );
    assert.deepEqual(
      written,
      original,
      "config.json round trip keeps every field",
    );

    const reloaded = await BertForSequenceClassification.fromPretrained(dir, {
      num_labels: 4,
      verbose: false,
    });
    assert.deepEqual(reloaded.loadingInfo!.missing_keys, [
      "classifier.weight",
      "classifier.bias",
    ]);
    assert.ok(
      reloaded.loadingInfo!.unexpected_keys.every((k) => k.startsWith("cls.")),
    );
    const a = model.namedParameters();
    for (const [name, v] of reloaded.namedParameters()) {
      if (!name.startsWith("bert.")) continue;
      assert.deepEqual(v.dataSync(), a.get(name)!.dataSync(), name);
    }
    model.dispose();
    reloaded.dispose();
  },
});

Deno.test({
  name:
    "every head loads from a BertForPreTraining checkpoint and reports new/unused weights",
  ...opts,
  async fn() {
    const cases: [
      string,
      () => Promise<{ loadingInfo: unknown; dispose(): void }>,
      string[],
    ][] = [
      [
        "mlm",
        () => BertForMaskedLM.fromPretrained(FIXTURE_DIR, { verbose: false }),
        [],
      ],
      [
        "token",
        () =>
          BertForTokenClassification.fromPretrained(FIXTURE_DIR, {
            num_labels: 5,
            verbose: false,
          }),
        [
          "classifier.weight",
          "classifier.bias",
        ],
      ],
      [
        "qa",
        () =>
          BertForQuestionAnswering.fromPretrained(FIXTURE_DIR, {
            verbose: false,
          }),
        [
          "qa_outputs.weight",
          "qa_outputs.bias",
        ],
      ],
    ];
    for (const [label, load, missing] of cases) {
      const model = await load();
      const info = model.loadingInfo as { missing_keys: string[] };
      assert.deepEqual(info.missing_keys, missing, label);
      model.dispose();
    }
    // MLM decoder stays tied: its logits use the loaded word embeddings.
    const mlm = await BertForMaskedLM.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    const pre = await BertForPreTraining.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    const ids = tf.tensor2d([[2, 10, 4, 3]], undefined, "int32");
    const a = tf.tidy(() =>
      (mlm.forward({ input_ids: ids }).logits as tf.Tensor).dataSync()
    );
    const b = tf.tidy(() =>
      (pre.forward({ input_ids: ids }).prediction_logits as tf.Tensor)
        .dataSync()
    );
    assert.deepEqual(a, b);
    mlm.dispose();
    pre.dispose();
    ids.dispose();
  },
});

Deno.test({
  name: "a saved BertModel (no bert. prefix) loads into a head",
  ...opts,
  async fn() {
    const bare = await BertModel.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    const dir = await Deno.makeTempDir({ prefix: "models_bare_" });
    await bare.savePretrained(dir);
    const names = [
      ...parseSafetensors(await Deno.readFile(`${dir}/model.safetensors`))
        .tensors.keys(),
    ];
    assert.ok(
      names.includes("embeddings.word_embeddings.weight") &&
        !names.some((n) => n.startsWith("bert.")),
    );
    const head = await BertForSequenceClassification.fromPretrained(dir, {
      verbose: false,
    });
    assert.deepEqual(head.loadingInfo!.missing_keys, [
      "classifier.weight",
      "classifier.bias",
    ]);
    assert.deepEqual(head.loadingInfo!.unexpected_keys, []);
    assert.deepEqual(
      head.bert.wordEmbeddings.dataSync(),
      bare.wordEmbeddings.dataSync(),
    );
    bare.dispose();
    head.dispose();
  },
});

Deno.test({
  name: "sharded checkpoints, F16/BF16 weights and I64 position_ids load",
  ...opts,
  async fn() {
    const tensors = await fixtureTensors();
    const names = [...tensors.keys()];
    const half = Math.floor(names.length / 2);
    const shard = (part: string[]) =>
      serializeSafetensors(new Map(part.map((n) => [n, tensors.get(n)!])));
    const weightMap: Record<string, string> = {};
    names.forEach((n, i) =>
      weightMap[n] = i < half
        ? "model-00001-of-00002.safetensors"
        : "model-00002-of-00002.safetensors"
    );
    const sharded = await tempModelDir({
      "model-00001-of-00002.safetensors": shard(names.slice(0, half)),
      "model-00002-of-00002.safetensors": shard(names.slice(half)),
      "model.safetensors.index.json": JSON.stringify({
        metadata: {},
        weight_map: weightMap,
      }),
    });
    const fromShards = await BertForPreTraining.fromPretrained(sharded, {
      verbose: false,
    });
    const reference = await BertForPreTraining.fromPretrained(FIXTURE_DIR, {
      verbose: false,
    });
    for (const [name, v] of reference.namedParameters()) {
      assert.deepEqual(
        fromShards.namedParameters().get(name)!.dataSync(),
        v.dataSync(),
        name,
      );
    }

    // F16 save and reload: values within half precision.
    const f16dir = await Deno.makeTempDir({ prefix: "models_f16_" });
    await reference.savePretrained(f16dir, { dtype: "F16" });
    const f16 = parseSafetensors(
      await Deno.readFile(`${f16dir}/model.safetensors`),
    );
    assert.equal(f16.tensors.get("bert.pooler.dense.weight")!.dtype, "F16");
    const fromF16 = await BertForPreTraining.fromPretrained(f16dir, {
      verbose: false,
    });
    for (const [name, v] of reference.namedParameters()) {
      const want = v.dataSync();
      const got = fromF16.namedParameters().get(name)!.dataSync();
      want.forEach((w, i) =>
        assert.ok(
          Math.abs(got[i] - w) <= 1e-3 * Math.abs(w) + 1e-7,
          `${name}[${i}]`,
        )
      );
    }

    // BF16 (top 16 bits of f32) + an old-style int64 position_ids buffer.
    const file = parseSafetensors(
      await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`),
    );
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const bf16Values = new Map<string, Float32Array>();
    for (const [name, t] of file.tensors) {
      const f32 = toFloat32(t, name, "");
      const bytes = new Uint8Array(f32.length * 2);
      const u32 = new Uint32Array(f32.buffer);
      const rounded = new Float32Array(f32.length);
      const roundedBits = new Uint32Array(rounded.buffer);
      for (let i = 0; i < f32.length; i++) {
        const top = u32[i] >>> 16;
        bytes[2 * i] = top & 0xff;
        bytes[2 * i + 1] = top >>> 8;
        roundedBits[i] = top << 16;
      }
      bf16Values.set(name, rounded);
      header[name] = {
        dtype: "BF16",
        shape: t.shape,
        data_offsets: [offset, offset + bytes.length],
      };
      chunks.push(bytes);
      offset += bytes.length;
    }
    const positionIds = new Uint8Array(64 * 8);
    for (let i = 0; i < 64; i++) positionIds[8 * i] = i;
    header["bert.embeddings.position_ids"] = {
      dtype: "I64",
      shape: [1, 64],
      data_offsets: [offset, offset + positionIds.length],
    };
    chunks.push(positionIds);
    const headerBytes = new TextEncoder().encode(JSON.stringify(header));
    const body = new Uint8Array(
      8 + headerBytes.length + offset + positionIds.length,
    );
    new DataView(body.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    body.set(headerBytes, 8);
    let p = 8 + headerBytes.length;
    for (const c of chunks) {
      body.set(c, p);
      p += c.length;
    }
    const bf16dir = await tempModelDir({ "model.safetensors": body });
    const fromBf16 = await BertForPreTraining.fromPretrained(bf16dir, {
      verbose: false,
    });
    assert.deepEqual(fromBf16.loadingInfo!.unexpected_keys, []);
    const pooler = tf.tidy(() =>
      tf.transpose(fromBf16.namedParameters().get("bert.pooler.dense.weight")!)
        .dataSync()
    );
    assert.deepEqual(pooler, bf16Values.get("bert.pooler.dense.weight"));
    for (const m of [fromShards, reference, fromF16, fromBf16]) m.dispose();
  },
});

Deno.test({
  name: "checkpoint errors are CourseErrors that name the file or tensor",
  ...opts,
  async fn() {
    const original = await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`);
    const truncated = await tempModelDir({
      "model.safetensors": original.slice(0, original.length - 100),
    });
    await assertCourseError(
      () => BertForPreTraining.fromPretrained(truncated, { verbose: false }),
      "safetensors_corrupt",
      "model.safetensors",
    );
    const garbage = await tempModelDir({
      "model.safetensors": new TextEncoder().encode("not a checkpoint at all"),
    });
    await assertCourseError(
      () => BertForPreTraining.fromPretrained(garbage, { verbose: false }),
      "safetensors_corrupt",
    );
    const tiny = await tempModelDir({ "model.safetensors": new Uint8Array(3) });
    await assertCourseError(
      () => BertForPreTraining.fromPretrained(tiny, { verbose: false }),
      "safetensors_corrupt",
    );

    const noWeights = await tempModelDir();
    await assertCourseError(
      () => BertModel.fromPretrained(noWeights, { verbose: false }),
      "checkpoint_missing",
      noWeights,
    );
    await assertCourseError(
      () => BertModel.fromPretrained("./no/such/folder", { verbose: false }),
      "model_dir_missing",
    );

    // A Hub id that is nowhere (offline, empty cache, no mirror): lib/hub's CourseError.
    const emptyCache = await Deno.makeTempDir({ prefix: "models_cache_" });
    const saved = {
      offline: Deno.env.get("COURSE_OFFLINE"),
      cache: Deno.env.get("COURSE_CACHE"),
      mirror: Deno.env.get("COURSE_MIRROR"),
    };
    Deno.env.set("COURSE_OFFLINE", "1");
    Deno.env.set("COURSE_CACHE", emptyCache);
    Deno.env.set("COURSE_MIRROR", emptyCache);
    try {
      await assert.rejects(
        () =>
          BertModel.fromPretrained("nobody/no-such-bert", { verbose: false }),
        CourseError,
      );
    } finally {
      for (
        const [key, value] of [["COURSE_OFFLINE", saved.offline], [
          "COURSE_CACHE",
          saved.cache,
        ], ["COURSE_MIRROR", saved.mirror]]
      ) {
        if (value === undefined) Deno.env.delete(key!);
        else Deno.env.set(key!, value);
      }
    }

    // Wrong dtype: an int tensor where a weight belongs.
    const tensors = await fixtureTensors();
    const bytes = serializeSafetensors(tensors);
    const headerLength = Number(
      new DataView(bytes.buffer).getBigUint64(0, true),
    );
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))
      .replace(
        '"bert.pooler.dense.bias":{"dtype":"F32"',
        '"bert.pooler.dense.bias":{"dtype":"I32"',
      );
    bytes.set(new TextEncoder().encode(header), 8); // same length: only the dtype changed
    const wrongDtype = await tempModelDir({ "model.safetensors": bytes });
    await assertCourseError(
      () => BertForPreTraining.fromPretrained(wrongDtype, { verbose: false }),
      "safetensors_dtype",
      "bert.pooler.dense.bias",
    );

    // Shape mismatch: a 3-label classifier into a 5-label model.
    const seqcls = await BertForSequenceClassification.fromPretrained(
      FIXTURE_DIR,
      { num_labels: 3, verbose: false },
    );
    const savedDir = await Deno.makeTempDir({ prefix: "models_seqcls_" });
    await seqcls.savePretrained(savedDir);
    await assertCourseError(
      () =>
        BertForSequenceClassification.fromPretrained(savedDir, {
          num_labels: 5,
          verbose: false,
        }),
      "checkpoint_shape_mismatch",
      "classifier.weight",
    );
    const fixed = await BertForSequenceClassification.fromPretrained(savedDir, {
      num_labels: 5,
      ignore_mismatched_sizes: true,
      verbose: false,
    });
    assert.deepEqual(fixed.loadingInfo!.mismatched_keys.map((m) => m.key), [
      "classifier.weight",
      "classifier.bias",
    ]);
    assert.deepEqual(fixed.classifier.weight.shape, [32, 5]);
    const sameLabels = await BertForSequenceClassification.fromPretrained(
      savedDir,
      { verbose: false },
    );
    assert.equal(sameLabels.config.num_labels, 3);
    assert.deepEqual(
      sameLabels.classifier.weight.dataSync(),
      seqcls.classifier.weight.dataSync(),
    );
    for (const m of [seqcls, fixed, sameLabels]) m.dispose();
  },
});

async function loadingNotices(load: () => Promise<{ dispose(): void }>) {
  const notices: string[] & { warned?: string[] } = [];
  const warned: string[] = [];
  notices.warned = warned;
  const { warn, info } = console;
  // Problems go to stderr (warn), expected notices to stdout (info, not red in Jupyter).
  console.warn = (message: string) => {
    notices.push(String(message));
    warned.push(String(message));
  };
  console.info = (message: string) => notices.push(String(message));
  try {
    (await load()).dispose();
  } finally {
    Object.assign(console, { warn, info });
  }
  return notices;
}

Deno.test({
  name:
    "loading notices say what was re-initialized or dropped, and call only new/unused head weights normal",
  ...opts,
  async fn() {
    // A new classification head on a pre-training checkpoint: head new, MLM/NSP heads unused.
    const head = await loadingNotices(() =>
      BertForSequenceClassification.fromPretrained(FIXTURE_DIR, {
        num_labels: 3,
      })
    );
    assert.equal(head.length, 2, head.join("\n"));
    assert.match(head[0], /헤드 \(classifier\.weight, classifier\.bias\)/);
    assert.match(head[0], /새 헤드라면 정상입니다/);
    assert.doesNotMatch(head[0], /⚠️/);
    assert.match(head[1], /쓰이지 않았습니다: 헤드 \(cls\./);
    assert.match(head[1], /정상입니다/);
    assert.equal(head.warned!.length, 0, "expected notices are not warnings");

    // ignore_mismatched_sizes with another hidden_size re-initializes the whole encoder.
    const resized = await loadingNotices(() =>
      BertForSequenceClassification.fromPretrained(FIXTURE_DIR, {
        hidden_size: 16,
        num_attention_heads: 2,
        ignore_mismatched_sizes: true,
      })
    );
    const reinit = resized.find((n) => n.includes("새로 초기화"))!;
    assert.match(
      reinit,
      /임베딩 \(\d+개\), 인코더 층 0-1 \(\d+개\), 풀러 \(2개\), 헤드/,
    );
    assert.match(
      reinit,
      /bert\.embeddings\.word_embeddings\.weight 체크포인트 \[120,32\] → 모델 \[120,16\]/,
    );
    assert.match(
      reinit,
      /⚠️ 헤드가 아닌 가중치도 새로 초기화되었습니다: 임베딩, 인코더 층 0-1\./,
    );
    assert.match(reinit, /ignore_mismatched_sizes: true는 분류 헤드/);
    assert.doesNotMatch(reinit, /정상입니다/);
    assert.ok(resized.warned!.includes(reinit), "a real problem is a warning");

    // Fewer layers than the checkpoint: layer 1 is dropped, and that is not "a different head".
    const shallow = await loadingNotices(() =>
      BertForSequenceClassification.fromPretrained(FIXTURE_DIR, {
        num_hidden_layers: 1,
      })
    );
    const dropped = shallow.find((n) => n.includes("쓰이지 않았습니다"))!;
    assert.match(dropped, /인코더 층 1 \(\d+개\)/);
    assert.match(
      dropped,
      /⚠️ 버려진 인코더 층: 1 \(이 모델의 num_hidden_layers = 1, 체크포인트의 층 2개\)/,
    );
    assert.doesNotMatch(dropped, /정상입니다/);

    // More layers than the checkpoint: the extra layer is random, said as such.
    const deeper = await loadingNotices(() =>
      BertModel.fromPretrained(FIXTURE_DIR, { num_hidden_layers: 3 })
    );
    const extra = deeper.find((n) => n.includes("새로 초기화"))!;
    assert.match(extra, /인코더 층 2 \(\d+개\)/);
    assert.match(
      extra,
      /⚠️ 인코더 가중치가 새로 초기화되었습니다: 인코더 층 2\./,
    );
    assert.doesNotMatch(extra, /정상입니다/);
  },
});
