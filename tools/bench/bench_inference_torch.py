"""PyTorch side of tools/bench/bench_inference.ts: the same sentences through the same model folder,
batched the way our pipeline batches them (sorted by length, padded to the longest of each batch).

Hugging Face tokenizer (fast, from the folder) and BertForSequenceClassification in float32, eval
mode, torch.inference_mode(); the timed part is what a pipeline call does: tokenize, pad, forward,
softmax, pick the label. Prints one JSON line: sentences/s, setup seconds (imports and loading),
torch version.

    python tools/bench/bench_inference_torch.py --model DIR --texts texts.json --batch 32 [--threads 2]
"""
import argparse
import json
import time

started = time.perf_counter()
import torch  # noqa: E402
from transformers import AutoTokenizer, BertForSequenceClassification  # noqa: E402
from transformers.utils import logging  # noqa: E402

logging.disable_progress_bar()  # its lines would land in the Deno benchmark's output

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--texts", required=True, help="a JSON list of sentences")
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--max-length", type=int, default=128)
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--attn", default="sdpa", help="attn_implementation: eager or sdpa")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
with open(args.texts, encoding="utf-8") as f:
    texts = json.load(f)
tokenizer = AutoTokenizer.from_pretrained(args.model)
model = BertForSequenceClassification.from_pretrained(args.model, attn_implementation=args.attn).eval()
setup_s = time.perf_counter() - started


def classify(batch_texts):
    encoded = tokenizer(batch_texts, truncation=True, max_length=args.max_length)["input_ids"]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    labels = [None] * len(encoded)
    with torch.inference_mode():
        for start in range(0, len(order), args.batch):
            rows = order[start:start + args.batch]
            padded = tokenizer.pad({"input_ids": [encoded[i] for i in rows]}, return_tensors="pt")
            logits = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"],
                           token_type_ids=torch.zeros_like(padded["input_ids"])).logits
            probabilities = logits.softmax(-1)
            for i, (score, label) in zip(rows, zip(*probabilities.max(-1))):
                labels[i] = (model.config.id2label[int(label)], float(score))
    return labels


classify(texts[:args.batch])  # warm-up, as for the other contenders
start = time.perf_counter()
classify(texts)
seconds = time.perf_counter() - start
print(json.dumps({"sentences_per_s": len(texts) / seconds, "setup_s": setup_s, "torch": torch.__version__}))
