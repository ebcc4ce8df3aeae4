"""The PyTorch recipe for the NSMC classroom run that tools/bench/bench_finetune.ts times.

Same data (first 2,000 non-empty NSMC train reviews, first 500 test reviews), same tokenizer
vocabulary (KcBERT, from the offline mirror), same model shape (4 layers, hidden 256, 4 heads,
intermediate 1024, fresh init, seed 42), 2 epochs, batch 16, AdamW lr 2e-5, linear decay, the
classic recipe: every batch padded to max_length 128. Feature extraction = encoder frozen with
requires_grad False, recomputed every step (what a plain PyTorch loop does).

    .venv/bin/python tools/bench/bench_finetune_torch.py [--mirror ../shared/mirror] [--runs full,features]
"""
import argparse
import json
import os
import resource
import time

import torch
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast
from transformers import get_linear_schedule_with_warmup

parser = argparse.ArgumentParser()
here = os.path.dirname(os.path.abspath(__file__))
parser.add_argument("--mirror", default=os.environ.get("COURSE_MIRROR", os.path.join(here, "../../../shared/mirror")))
parser.add_argument("--runs", default="full,features")
parser.add_argument("--train", type=int, default=2000)
parser.add_argument("--test", type=int, default=500)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--out")
args = parser.parse_args()
torch.set_num_threads(args.threads)


def read_nsmc(split, n):
    path = os.path.join(args.mirror, f"raw.githubusercontent.com/e9t/nsmc/master/ratings_{split}.txt")
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            _, document, label = line.rstrip("\n").split("\t")
            if document.strip():  # a few reviews are empty
                texts.append(document)
                labels.append(int(label))
            if len(texts) == n:
                break
    return texts, labels


vocab = os.path.join(args.mirror, "huggingface.co/beomi/kcbert-base/resolve/main/vocab.txt")
# transformers 5 no longer builds a fast tokenizer from `vocab_file` alone (it silently made a
# near-empty vocabulary), so build the WordPiece tokenizer with `tokenizers` and wrap it.
wordpiece = BertWordPieceTokenizer(vocab, lowercase=False, strip_accents=False)
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
    cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
)
assert len(tokenizer) == 30000, len(tokenizer)
train_texts, train_labels = read_nsmc("train", args.train)
test_texts, test_labels = read_nsmc("test", args.test)
enc = lambda texts: tokenizer(texts, padding="max_length", truncation=True, max_length=128,
                              return_tensors="pt", return_token_type_ids=True)
train_enc, test_enc = enc(train_texts), enc(test_texts)
train_y, test_y = torch.tensor(train_labels), torch.tensor(test_labels)


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def run(name):
    torch.manual_seed(42)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=256, num_hidden_layers=4,
                        num_attention_heads=4, intermediate_size=1024, num_labels=2)
    model = BertForSequenceClassification(config)
    lr = 2e-5
    if name == "features":
        for p in model.bert.parameters():
            p.requires_grad = False
        lr = 1e-3
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = args.epochs * ((len(train_labels) + 15) // 16)
    sched = get_linear_schedule_with_warmup(opt, 0, steps)
    g = torch.Generator().manual_seed(42)
    start, cpu0 = time.perf_counter(), cpu_seconds()
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(len(train_labels), generator=g)
        for i in range(0, len(order), 16):
            idx = order[i:i + 16]
            out = model(input_ids=train_enc["input_ids"][idx], attention_mask=train_enc["attention_mask"][idx],
                        token_type_ids=train_enc["token_type_ids"][idx], labels=train_y[idx])
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
    train_seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    eval_start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(test_labels), 64):
            logits = model(input_ids=test_enc["input_ids"][i:i + 64], attention_mask=test_enc["attention_mask"][i:i + 64],
                           token_type_ids=test_enc["token_type_ids"][i:i + 64]).logits
            correct += (logits.argmax(-1) == test_y[i:i + 64]).sum().item()
    end = time.perf_counter()
    return {
        "run": name, "stack": f"torch {torch.__version__}, {torch.get_num_threads()} threads", "steps": steps,
        "train_seconds": round(train_seconds, 2), "wall_seconds_train_plus_eval": round(end - start, 2),
        "cpu_seconds_train_plus_eval": round(cpu_seconds() - cpu0, 2),
        "train_samples_per_second": round(args.epochs * len(train_labels) / train_seconds, 1),
        "eval_accuracy": round(correct / len(test_labels), 4),
        "eval_samples_per_second": round(len(test_labels) / (end - eval_start), 1),
        "trainable_params": sum(p.numel() for p in params),
        "total_params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


results = []
for name in args.runs.split(","):
    r = run(name)
    print(json.dumps(r), flush=True)
    results.append(r)
if args.out:
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
