/**
 * Model folders for the pipeline tests: the hf-bert-tiny fixture encoder
 * (real Hugging Face weights) plus a head per task. The sequence
 * classification head is the fixture's own; other heads are seeded.
 */
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStateDict } from "../lib/models/onnx/mod.ts";
import { writeSafetensors } from "../lib/models/safetensors.ts";
import { FIXTURE_DIR, seededArray } from "./onnx_helpers.ts";

export const NER_LABELS = {
  0: "O",
  1: "B-PER",
  2: "I-PER",
  3: "B-LOC",
  4: "I-LOC",
};

type Head = Record<string, { shape: number[]; data: Float32Array }>;

export interface TaskFolders {
  root: string;
  sentiment: string;
  ner: string;
  qa: string;
  similarity: string;
  pretraining: string;
  encoderOnly: string;
  cleanup(): Promise<void>;
}

export async function makeTaskFolders(): Promise<TaskFolders> {
  const root = await mkdtemp(join(tmpdir(), "tasks-test-"));
  const seqcls = await readStateDict(join(FIXTURE_DIR, "seqcls.safetensors"));
  const folders = {
    root,
    sentiment: await writeFolder(
      root,
      "sentiment",
      "BertForSequenceClassification",
      {
        "classifier.weight": seqcls.get("classifier.weight")!,
        "classifier.bias": seqcls.get("classifier.bias")!,
      },
      {
        id2label: { 0: "부정", 1: "중립", 2: "긍정" },
        label2id: { 부정: 0, 중립: 1, 긍정: 2 },
      },
    ),
    ner: await writeFolder(root, "ner", "BertForTokenClassification", {
      "classifier.weight": { shape: [5, 32], data: seededArray(160, 21, 0.6) },
      "classifier.bias": { shape: [5], data: seededArray(5, 22, 0.2) },
    }, { id2label: NER_LABELS }),
    qa: await writeFolder(root, "qa", "BertForQuestionAnswering", {
      "qa_outputs.weight": { shape: [2, 32], data: seededArray(64, 23, 0.6) },
      "qa_outputs.bias": { shape: [2], data: seededArray(2, 24, 0.2) },
    }),
    similarity: await writeFolder(
      root,
      "similarity",
      "BertForSequenceClassification",
      {
        "classifier.weight": { shape: [1, 32], data: seededArray(32, 25, 0.6) },
        "classifier.bias": { shape: [1], data: new Float32Array([2.5]) },
      },
      { id2label: { 0: "LABEL_0" }, problem_type: "regression" },
    ),
    pretraining: FIXTURE_DIR,
    encoderOnly: await writeFolder(
      root,
      "encoder",
      "BertForSequenceClassification",
      {},
    ),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return folders;
}

async function writeFolder(
  root: string,
  name: string,
  architecture: string,
  head: Head,
  configExtra: Record<string, unknown> = {},
): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const weights = new Map(
    [...(await readStateDict(join(FIXTURE_DIR, "model.safetensors")))]
      .filter(([key]) => key.startsWith("bert.")),
  );
  for (const [key, tensor] of Object.entries(head)) weights.set(key, tensor);
  await writeSafetensors(join(dir, "model.safetensors"), weights, {
    metadata: { format: "pt" },
  });
  const config = JSON.parse(
    await readFile(join(FIXTURE_DIR, "config.json"), "utf8"),
  );
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify(
      { ...config, architectures: [architecture], ...configExtra },
      null,
      2,
    ),
  );
  for (const file of ["vocab.txt", "tokenizer_config.json"]) {
    await copyFile(join(FIXTURE_DIR, file), join(dir, file));
  }
  return dir;
}
