/**
 * What savePretrained writes, Hugging Face Python reads: `from_pretrained` reports no missing or
 * unexpected keys and computes the same logits. Skipped when .venv lacks torch + transformers.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  BertConfig,
  BertForPreTraining,
  BertForSequenceClassification,
} from "../lib/models/mod.ts";
import { join } from "node:path";
import { SeededRandom } from "../lib/runtime/random.ts";
import { Trainer } from "../lib/train/trainer.ts";
import type { Example } from "../lib/train/types.ts";
import {
  assertClose,
  FIXTURE_DIR,
  REPO_ROOT,
  TEST_BACKEND,
  useBackend,
} from "./models_util.ts";

const PYTHON = `${REPO_ROOT}.venv/bin/python`;

async function hasTransformers(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch, transformers"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const available = await hasTransformers();
if (!available) {
  console.log(
    `models_hf_interop_test: skipped (no torch + transformers in ${PYTHON})`,
  );
}

const SCRIPT = `
import json, sys, torch, transformers
spec = json.loads(sys.argv[1])
cls = getattr(transformers, spec["class"])
model, info = cls.from_pretrained(spec["dir"], output_loading_info=True)
model.eval()
ids = torch.tensor(spec["input_ids"])
mask = torch.tensor(spec["attention_mask"])
with torch.no_grad():
    out = model(input_ids=ids, attention_mask=mask)
result = {k: getattr(out, k).flatten().tolist() for k in spec["outputs"]}
result["info"] = {k: [str(x) for x in v] for k, v in info.items()}
result["id2label"] = {str(k): v for k, v in model.config.id2label.items()}
print(json.dumps(result))
`;

async function runHf(spec: Record<string, unknown>) {
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT, JSON.stringify(spec)],
  }).output();
  if (!success) throw new Error(new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

Deno.test({
  name:
    "HF transformers from_pretrained loads our savePretrained output and agrees",
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await useBackend(TEST_BACKEND);
    const input_ids = [[2, 11, 17, 4, 3, 0], [2, 40, 41, 42, 43, 3]];
    const attention_mask = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]];
    const config = {
      vocab_size: 60,
      hidden_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 3,
      intermediate_size: 40,
      max_position_embeddings: 16,
    };
    const cases = [
      {
        model: new BertForPreTraining(new BertConfig(config), { seed: 5 }),
        cls: "BertForPreTraining",
        outputs: ["prediction_logits", "seq_relationship_logits"],
      },
      {
        model: new BertForSequenceClassification(
          new BertConfig({
            ...config,
            id2label: { 0: "부정", 1: "중립", 2: "긍정" },
          }),
          { seed: 6 },
        ),
        cls: "BertForSequenceClassification",
        outputs: ["logits"],
      },
    ];
    for (const { model, cls, outputs } of cases) {
      // Non-trivial weights so that a wrong layout or a swapped tensor would show.
      tf.tidy(() => {
        for (const v of model.namedParameters().values()) {
          v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, "float32", 9)));
        }
      });
      const dir = await Deno.makeTempDir({ prefix: "models_hf_" });
      await model.savePretrained(dir);
      const hf = await runHf({
        class: cls,
        dir,
        input_ids,
        attention_mask,
        outputs,
      });
      assert.deepEqual(hf.info.missing_keys, [], `${cls} missing keys`);
      assert.deepEqual(hf.info.unexpected_keys, [], `${cls} unexpected keys`);
      assert.deepEqual(hf.info.mismatched_keys, [], `${cls} mismatched keys`);
      tf.tidy(() => {
        const out = model.forward({
          input_ids: tf.tensor2d(input_ids, undefined, "int32"),
          attention_mask: tf.tensor2d(attention_mask, undefined, "int32"),
        });
        for (const key of outputs) {
          assertClose(
            (out[key] as tf.Tensor).dataSync(),
            hf[key],
            `${cls} ${key}`,
          );
        }
      });
      if (cls === "BertForSequenceClassification") {
        assert.deepEqual(hf.id2label, { 0: "부정", 1: "중립", 2: "긍정" });
      }
      model.dispose();
    }
  },
});

Deno.test({
  name:
    "a model fine-tuned by the Trainer loads in HF AutoModelForSequenceClassification with the same logits",
  ignore: !available,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await useBackend(TEST_BACKEND);
    const model = await BertForSequenceClassification.fromPretrained(
      FIXTURE_DIR,
      { num_labels: 2, id2label: { 0: "부정", 1: "긍정" }, verbose: false },
    );
    const before = model.namedParameters().get("classifier.weight")!
      .dataSync().slice();
    const rng = new SeededRandom(3);
    const examples: Example[] = Array.from({ length: 32 }, () => {
      const body = Array.from(
        { length: 2 + rng.int(6) },
        () => 5 + rng.int(100),
      );
      return { input_ids: [2, ...body, 3], label: rng.int(2) };
    });
    const outputDir = await Deno.makeTempDir({ prefix: "hf_finetuned_" });
    await new Trainer({
      model,
      args: {
        batchSize: 8,
        learningRate: 1e-3,
        numTrainEpochs: 2,
        progress: false,
        seed: 1,
      },
      trainDataset: examples,
    }).train();
    const after = model.namedParameters().get("classifier.weight")!.dataSync();
    assert.ok(
      after.some((value, i) => value !== before[i]),
      "training must have moved the classifier",
    );
    const dir = join(outputDir, "final");
    await model.savePretrained(dir);
    const input_ids = [[2, 11, 17, 4, 3, 0], [2, 40, 41, 42, 43, 3]];
    const attention_mask = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]];
    const hf = await runHf({
      class: "AutoModelForSequenceClassification",
      dir,
      input_ids,
      attention_mask,
      outputs: ["logits"],
    });
    assert.deepEqual(hf.info.missing_keys, []);
    assert.deepEqual(hf.info.unexpected_keys, []);
    assert.deepEqual(hf.id2label, { 0: "부정", 1: "긍정" });
    tf.tidy(() => {
      const out = model.forward({
        input_ids: tf.tensor2d(input_ids, undefined, "int32"),
        attention_mask: tf.tensor2d(attention_mask, undefined, "int32"),
      });
      assertClose(out.logits!.dataSync(), hf.logits, "fine-tuned logits");
    });
    model.dispose();
  },
});
