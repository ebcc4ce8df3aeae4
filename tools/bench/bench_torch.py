"""PyTorch side of `deno task bench` (tools/bench/bench_train.ts runs it in the same session, shape by shape).

Hugging Face BertForSequenceClassification, float32, torch.manual_seed(0); random token ids in
[5, vocab), no padding; train step = zero_grad, forward with labels, backward, AdamW(lr 2e-5) step;
inference step = eval + no_grad forward. Prints one JSON line: the median step time in seconds.

    python tools/bench/bench_torch.py --task train --layers 4 --hidden 256 --heads 4 --intermediate 1024 \
        --vocab 32000 --batch 32 --seq 64 --warmup 3 --steps 10 [--threads 2]
"""
import argparse
import json
import resource
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

parser = argparse.ArgumentParser()
for name in ("layers", "hidden", "heads", "intermediate", "vocab", "batch", "seq", "warmup", "steps"):
    parser.add_argument(f"--{name}", type=int, required=True)
parser.add_argument("--task", choices=("train", "inference"), required=True)
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--attn", default="eager", help="attn_implementation: eager or sdpa")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
torch.manual_seed(0)
config = BertConfig(
    vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
    num_attention_heads=args.heads, intermediate_size=args.intermediate, num_labels=2,
    attn_implementation=args.attn,
)
model = BertForSequenceClassification(config)
generator = torch.Generator().manual_seed(1)
input_ids = torch.randint(5, args.vocab, (args.batch, args.seq), generator=generator)
attention_mask = torch.ones_like(input_ids)
token_type_ids = torch.zeros_like(input_ids)
labels = torch.randint(0, 2, (args.batch,), generator=generator)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)


def train_step():
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                 labels=labels).loss
    loss.backward()
    optimizer.step()


def inference_step():
    model.eval()
    with torch.no_grad():
        model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


step = train_step if args.task == "train" else inference_step
for _ in range(args.warmup):
    step()
times = []
for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
print(json.dumps({
    "median_step_s": statistics.median(times),
    "threads": torch.get_num_threads(),
    "torch": torch.__version__,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
