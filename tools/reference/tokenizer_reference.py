"""Writes tests/fixtures/tokenizer_reference.json: token ids from the real Hugging Face tokenizer.

Run from the repository root with the course venv (transformers + tokenizers from the local wheel store):
    .venv/bin/python tools/reference/tokenizer_reference.py [MIRROR] [HF_BERT_TINY]
The Deno parity test (tests/text_parity_test.ts) compares lib/text against this file, so CI needs no Python.
Offsets are Python character (code point) offsets, as Hugging Face returns them.
"""

import json
import sys
from pathlib import Path

import tokenizers
import transformers
from transformers import BertTokenizer

MIRROR = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/mirror")
TINY = Path(sys.argv[2] if len(sys.argv) > 2 else "../shared/fixtures/hf-bert-tiny")

# (name, folder relative to MIRROR or absolute, from_pretrained overrides)
# KcBERT: the mirror has only vocab.txt + config.json; its Hub tokenizer_config.json sets
# do_lower_case false, which we pass explicitly (the library takes the same override).
VOCABS = [
    ("mbert-cased", MIRROR / "huggingface.co/bert-base-multilingual-cased/resolve/main", {}),
    ("kcbert", MIRROR / "huggingface.co/beomi/kcbert-base/resolve/main", {"do_lower_case": False}),
    ("bert-base-uncased", MIRROR / "huggingface.co/bert-base-uncased/resolve/main", {}),
    ("kpfbert", MIRROR / "raw.githubusercontent.com/KPFBERT/kpfbert/main", {}),
    ("hf-bert-tiny", TINY, {}),
]

LONG_REVIEW = (
    "사이몬페그의 익살스런 연기가 돋보였던 영화!스파이더맨에서 늙어보이기만 했던 커스틴 던스트가 "
    "너무나도 이뻐보였다. 그리고 이 영화는 처음부터 끝까지 긴장감을 놓을 수 없게 만들었고, "
    "배우들의 연기와 음악, 연출까지 모두 훌륭해서 다시 보고 싶은 영화 중 하나가 되었습니다. "
    "다만 중반부의 전개가 조금 느리다는 점은 아쉬웠지만 전체적으로 10점 만점에 9점을 주고 싶네요!!"
)

SENTENCES = [
    "아 더빙.. 진짜 짜증나네요 목소리",
    "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나",
    "너무재밓었다그래서보는것을추천한다",
    "교도소 이야기구먼 ..솔직히 재미는 없다..평점 조정",
    "막 걸음마 뗀 3세부터 초등학교 1학년생인 8살용영화.ㅋㅋㅋ...별반개도 아까움.",
    "원작의 긴장감을 제대로 살려내지못했다.",
    "별 반개도 아깝다 욕나온다 이응경 길용우 연기생활이몇년인지..정말 발로해도 그것보단 낫겟다",
    "ㅋㅋㅋㅋㅋ 개꿀잼 ㅎㅎ 인정? 어 인정~",
    "존잼ㅋㅋ 갓띵작 레알 꿀잼임",
    "2024년 3월 15일, 관객 1,234,567명 돌파! 평점 9.5/10",
    "가격은 $19.99이고 할인율은 35%입니다.",
    "이 영화 정말 최고예요 😍😍 👍👍",
    "🎬🍿 팝콘 필수!!! 🔥",
    "BERT 모델을 fine-tuning 해서 NSMC 감성 분류를 합니다.",
    "Transformer는 Attention Is All You Need 논문에서 나왔다",
    "iPhone 15 Pro Max 샀는데 카메라가 미쳤음",
    "\"따옴표\"와 '작은따옴표', (괄호) [대괄호] {중괄호} <꺾쇠>",
    "이메일은 test@example.com 이고, 주소는 https://naver.com/movie?id=123 입니다",
    "韓國語와 漢字가 섞인 文章입니다",
    "日本語のテキストも少し",
    "Café naïve résumé — Ünïcödé",
    "   앞뒤   공백이    많은    문장   ",
    "탭\t문자와\n줄바꿈이 있는 문장",
    "ㅇㅇ ㄱㄱ ㅂㅂ ㅠㅠ ㅜㅜ",
    "똵뛟쓃 같은 드문 글자",
    "Hello, World!",
    "the [MASK] is good",
    "서울은 대한민국의 [MASK]이다.",
    "긴단어 " + "가나다라마바사아자차카타파하" * 8 + " 끝",
    "수학: 2+2=4, x^2 − y² ≥ 0",
    "‘스마트 따옴표’와 “큰 따옴표” … 말줄임",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ １２３ 전각",
    "zero\u200bwidth 공백\u200d과 제어문자\u0007끝",
    "정말?! 진짜!? 헐...",
    "평점이 너무 낮아서 올립니다 10점",
    "1점도 아깝다",
    "배우들 연기가 너무 좋았고 스토리도 탄탄했다 강추합니다",
    "안녕하세요 !",
    LONG_REVIEW,
]

PAIRS = [
    ("아 더빙.. 진짜 짜증나네요 목소리", "원작의 긴장감을 제대로 살려내지못했다."),
    ("BERT 모델을 fine-tuning 해서 NSMC 감성 분류를 합니다.", "Transformer는 Attention Is All You Need 논문에서 나왔다"),
    ("ㅋㅋㅋㅋㅋ 개꿀잼 ㅎㅎ 인정? 어 인정~", "배우들 연기가 너무 좋았고 스토리도 탄탄했다 강추합니다"),
    ("hello", "좋아요 감사합니다"),
]

# (text, text_pair, max_length, truncation strategy)
TRUNCATIONS = [
    (LONG_REVIEW, None, 16, "longest_first"),
    (LONG_REVIEW, None, 33, "longest_first"),
    (LONG_REVIEW, LONG_REVIEW[40:], 16, "longest_first"),
    (LONG_REVIEW, LONG_REVIEW[40:], 17, "longest_first"),
    (LONG_REVIEW, LONG_REVIEW[100:], 40, "longest_first"),
    ("짧은 질문입니다", LONG_REVIEW, 20, "longest_first"),
    (LONG_REVIEW, "짧은 답", 21, "longest_first"),
    ("영화 평점은 몇 점인가요?", LONG_REVIEW, 24, "only_second"),
    (LONG_REVIEW, "두 번째 문장", 20, "only_first"),
]

SWEEP_PAIRS = [(LONG_REVIEW, LONG_REVIEW[100:]), (LONG_REVIEW[30:], LONG_REVIEW[90:])]

BATCH = ["아 더빙.. 진짜 짜증나네요 목소리", "1점도 아깝다", LONG_REVIEW, "존잼ㅋㅋ"]


def encode_case(tok, text, pair=None, **kw):
    enc = tok(text, pair, return_offsets_mapping=True, **kw)
    return {
        "input_ids": enc["input_ids"],
        "token_type_ids": enc["token_type_ids"],
        "attention_mask": enc["attention_mask"],
        "offsets": [list(o) for o in enc["offset_mapping"]],
        "tokens": tok.convert_ids_to_tokens(enc["input_ids"]),
    }


def truncation_case(tok, text, pair, max_length, strategy):
    case = dict(text=text, text_pair=pair, max_length=max_length, strategy=strategy)
    try:
        case.update(encode_case(tok, text, pair, truncation=strategy, max_length=max_length))
    except Exception as error:  # HF refuses when the other sequence alone is too long
        case["error"] = str(error)
    return case


def main():
    out = {
        "generator": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "script": "tools/reference/tokenizer_reference.py",
        },
        "sweep_pairs": SWEEP_PAIRS,
        "vocabs": {},
    }
    for name, folder, overrides in VOCABS:
        tok = BertTokenizer.from_pretrained(str(folder), **overrides)
        entry = {
            "folder": str(folder),
            "overrides": overrides,
            "tokenizer_class": type(tok).__name__,
            "special_ids": {
                "cls": tok.cls_token_id, "sep": tok.sep_token_id, "pad": tok.pad_token_id,
                "mask": tok.mask_token_id, "unk": tok.unk_token_id,
            },
            "vocab_size": len(tok),
            "singles": [dict(text=t, **encode_case(tok, t)) for t in SENTENCES],
            "pairs": [dict(text=a, text_pair=b, **encode_case(tok, a, b)) for a, b in PAIRS],
            "truncations": [truncation_case(tok, a, b, m, s) for a, b, m, s in TRUNCATIONS],
            "batches": [],
        }
        for padding, max_length in [(True, None), ("max_length", 32), (True, 12)]:
            enc = tok(BATCH, padding=padding, truncation=max_length is not None, max_length=max_length)
            entry["batches"].append({
                "texts": BATCH, "padding": padding, "max_length": max_length,
                "input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"],
                "attention_mask": enc["attention_mask"],
            })
        # Pair truncation depends on word boundaries in HF (see lib/text/truncation.ts): sweep it.
        # rows: [pair index, max_length, kept tokens of text, kept tokens of text_pair]
        entry["truncation_sweep"] = []
        for index, (a, b) in enumerate(SWEEP_PAIRS):
            for m in range(10, 61):
                tt = tok(a, b, truncation="longest_first", max_length=m)["token_type_ids"]
                entry["truncation_sweep"].append([index, m, tt.count(0) - 2, tt.count(1) - 1])
        entry["decode"] = [
            {"ids": e["input_ids"], "skip_special_tokens": skip,
             "text": tok.decode(e["input_ids"], skip_special_tokens=skip)}
            for e in entry["pairs"][:2] for skip in (False, True)
        ]
        out["vocabs"][name] = entry
    path = Path("tests/fixtures/tokenizer_reference.json")
    path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
