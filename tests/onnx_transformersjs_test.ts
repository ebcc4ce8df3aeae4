/**
 * The exported folder loads in transformers.js (onnxruntime-node underneath)
 * offline, and its pipelines give the Hugging Face numbers.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { env, pipeline } from "@huggingface/transformers";
import { exportOnnx, readStateDict } from "../lib/models/onnx/mod.ts";
import { AutoTokenizer } from "../lib/text/mod.ts";
import {
  type Answer,
  pipeline as coursePipeline,
  type TokenPrediction,
} from "../lib/tasks/mod.ts";
import { makeTaskFolders } from "./tasks_helpers.ts";
import {
  FIXTURE_DIR,
  loadReference,
  runOnnx,
  softmax,
} from "./onnx_helpers.ts";

const reference = await loadReference();
const ID2LABEL = { 0: "부정", 1: "중립", 2: "긍정" };

async function exportFixture(
  task: "text-classification" | "fill-mask",
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "onnx-tjs-"));
  const dir = join(root, `tiny-${task}`);
  const stateDict = await readStateDict(
    join(FIXTURE_DIR, "model.safetensors"),
  );
  const head = await readStateDict(join(FIXTURE_DIR, "seqcls.safetensors"));
  for (const [name, tensor] of head) stateDict.set(name, tensor);
  const config = {
    ...JSON.parse(await readFile(join(FIXTURE_DIR, "config.json"), "utf8")),
    id2label: ID2LABEL,
    label2id: { 부정: 0, 중립: 1, 긍정: 2 },
  };
  // The fixture has only vocab.txt; lib/text writes the tokenizer.json that
  // transformers.js needs.
  await exportOnnx({ config, stateDict }, dir, {
    task,
    tokenizer: await AutoTokenizer.fromPretrained(FIXTURE_DIR),
  });
  return dir;
}

function useLocalFolder(dir: string): string {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(dir) + "/";
  return basename(dir);
}

Deno.test("transformers.js text-classification on the exported model: labels from id2label, HF scores", async () => {
  const dir = await exportFixture("text-classification");
  try {
    const classifier = await pipeline(
      "text-classification",
      useLocalFolder(dir),
    );
    // Row 2 of batch 1 is the single sentence "안녕하세요 !".
    const wantScores = softmax(reference.batches[0].seqcls.logits[1]);
    const output = await classifier("안녕하세요 !", { top_k: 3 }) as {
      label: string;
      score: number;
    }[];
    assert.equal(output.length, 3);
    for (const { label, score } of output) {
      const index = Number(
        Object.entries(ID2LABEL).find(([, name]) => name === label)![0],
      );
      assert.ok(
        Math.abs(score - wantScores[index]) < 1e-4,
        `${label}: ${score} vs ${wantScores[index]}`,
      );
    }
    const best = wantScores.indexOf(Math.max(...wantScores));
    assert.equal(output[0].label, ID2LABEL[best as 0 | 1 | 2]);
    await classifier.dispose();
  } finally {
    await rm(dirname(dir), { recursive: true, force: true });
  }
});

Deno.test("transformers.js fill-mask on the exported model ranks like onnxruntime", async () => {
  const dir = await exportFixture("fill-mask");
  try {
    // The fixture's tokenizer check: "the [MASK] is good" -> these ids.
    const inputIds = [2, 11, 4, 13, 24, 3];
    const direct = await runOnnx(join(dir, "onnx", "model.onnx"), {
      input_ids: [inputIds],
      attention_mask: [inputIds.map(() => 1)],
      token_type_ids: [inputIds.map(() => 0)],
    });
    const vocabSize = direct.logits.dims[2];
    const maskRow = Array.from(
      (direct.logits.data as Float32Array).subarray(
        2 * vocabSize,
        3 * vocabSize,
      ),
    );
    const probabilities = softmax(maskRow);
    const wantTop = probabilities.map((p, id) => ({ p, id }))
      .sort((a, b) => b.p - a.p).slice(0, 5);

    const unmasker = await pipeline("fill-mask", useLocalFolder(dir));
    const output = await unmasker("the [MASK] is good", { top_k: 5 }) as {
      score: number;
      token: number;
      token_str: string;
      sequence: string;
    }[];
    assert.deepEqual(output.map((o) => o.token), wantTop.map((t) => t.id));
    output.forEach((o, i) =>
      assert.ok(Math.abs(o.score - wantTop[i].p) < 1e-5)
    );
    assert.equal(
      output[0].sequence,
      `the ${output[0].token_str} is good`,
    );
    await unmasker.dispose();
  } finally {
    await rm(dirname(dir), { recursive: true, force: true });
  }
});

Deno.test("our pipelines and transformers.js agree on exported NER and QA models", async () => {
  const folders = await makeTaskFolders();
  try {
    const tokenizer = await AutoTokenizer.fromPretrained(folders.qa);
    for (const name of ["qa", "ner"] as const) {
      await exportOnnx(folders[name], join(folders.root, `${name}-onnx`), {
        tokenizer,
      });
    }
    env.allowRemoteModels = false;
    env.localModelPath = folders.root + "/";
    const context = "안녕하세요 ! 한국어 학생 hello 좋아요 감사합니다 .";

    const theirQa = await pipeline("question-answering", "qa-onnx");
    const ourQa = await coursePipeline("question-answering", folders.qa);
    const theirs = await theirQa("감사합니다 ?", context) as {
      answer: string;
      score: number;
    };
    const ours = await ourQa({ question: "감사합니다 ?", context }) as Answer;
    assert.ok(Math.abs(theirs.score - ours.score) < 1e-5);
    // transformers.js decodes word pieces; we slice the context itself.
    assert.equal(
      theirs.answer.replace(/^##/, "").replace(/\s/g, ""),
      ours.answer.replace(/\s/g, ""),
    );

    const theirNer = await pipeline("token-classification", "ner-onnx");
    const ourNer = await coursePipeline("ner", folders.ner);
    const theirTokens = await theirNer(context) as {
      entity: string;
      score: number;
      index: number;
    }[];
    const ourTokens = await ourNer(context, {
      aggregationStrategy: "none",
    }) as TokenPrediction[];
    assert.deepEqual(
      ourTokens.map((t) => [t.index, t.entity]),
      theirTokens.map((t) => [t.index, t.entity]),
    );
    ourTokens.forEach((t, i) =>
      assert.ok(Math.abs(t.score - theirTokens[i].score) < 1e-5)
    );
    for (const p of [theirQa, ourQa, theirNer, ourNer]) await p.dispose();
  } finally {
    await folders.cleanup();
  }
});
