"""Runs the "## Python에서는" snippets of the lesson masters with Python `transformers`.

Why: every lesson ends with a Markdown section showing the same steps in Python (`transformers`,
`datasets`, scikit-learn). Those blocks are Markdown, not cells (the kernel is Deno), so nothing
else runs them; this script does, so a snippet that the course prints is one that ran.

The ```python blocks under a "## Python에서는" heading in course/notebooks/NN_*.md are one script
in parts (a later block may use what an earlier one defined): they run joined, in order, in one
process per lesson, from a scratch folder laid out like the repository (`notebooks/` as the working folder,
`models/` and `runs/` linked to the real ones), so the learner-facing relative paths
("../models/ko-mini-bert", "../runs/...") work unchanged. A snippet that reads what its lesson saved
(lesson 05 reads runs/05_nsmc_sentiment and the ONNX export) needs that lesson run first (quick mode
is enough). Offline, two things are redirected and nothing else is changed:

- `https://raw.githubusercontent.com/...` in the source becomes the same path under $COURSE_MIRROR;
- `from_pretrained("<hub id>")` on AutoTokenizer / AutoConfig reads
  $COURSE_MIRROR/huggingface.co/<hub id>/resolve/main when that folder exists.

Needs torch, transformers (5.x), accelerate, datasets and scikit-learn in the Python it runs with.

Usage: python tools/notebooks/check_python_snippets.py [--python PY] [--timeout S] [--file X.py] [NN ...]
  NN: lesson numbers to run (default: all). Exit status 1 when a snippet fails or a lesson 00-08
  has no snippet.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "course" / "notebooks"
HEADING = "## Python에서는"

PRELUDE = r'''
import os as _os
import transformers as _transformers

_MIRROR = _os.environ.get("COURSE_MIRROR", "")


def _local(name):
    if isinstance(name, str) and _MIRROR and not _os.path.exists(name):
        folder = _os.path.join(_MIRROR, "huggingface.co", name, "resolve", "main")
        if _os.path.isdir(folder):
            return folder
    return name


def _redirect(cls):
    original = cls.from_pretrained.__func__

    def from_pretrained(klass, name, *args, **kwargs):
        return original(klass, _local(name), *args, **kwargs)

    cls.from_pretrained = classmethod(from_pretrained)


for _cls in (_transformers.AutoTokenizer, _transformers.AutoConfig):
    _redirect(_cls)
'''


def snippets(markdown: str) -> list[str]:
    """The ```python blocks after the "## Python에서는" heading (up to the next ## heading)."""
    start = markdown.find(HEADING)
    if start < 0:
        return []
    section = markdown[start + len(HEADING):]
    following = re.search(r"^## ", section, flags=re.M)
    if following:
        section = section[: following.start()]
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)


def run_snippet(code: str, python: str, timeout: float, scratch: Path) -> tuple[bool, str, float]:
    mirror = os.environ.get("COURSE_MIRROR", "")
    if mirror:
        code = code.replace(
            "https://raw.githubusercontent.com/",
            str(Path(mirror) / "raw.githubusercontent.com") + "/",
        )
    script = scratch / "notebooks" / "snippet.py"
    script.write_text(PRELUDE + "\n" + code, encoding="utf-8")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
        "PYTHONWARNINGS": "ignore",
        "TRANSFORMERS_VERBOSITY": "error",
        "TQDM_DISABLE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [python, script.name],
            cwd=script.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or "") + (error.stderr or "")
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        return False, f"{output}\n(timed out after {timeout:.0f} s)", timeout
    seconds = time.perf_counter() - started
    return done.returncode == 0, done.stdout + done.stderr, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--show", type=int, default=8, help="output lines to show for a snippet that ran")
    parser.add_argument("--file", action="append", default=[], help="a .py file to run instead")
    parser.add_argument("lessons", nargs="*")
    args = parser.parse_args()
    wanted = set(args.lessons)
    failures = 0
    sources = [Path(f) for f in args.file] or sorted(LESSONS.glob("[0-9][0-9]_*.md"))
    for path in sources:
        number = path.name[:2]
        if wanted and number not in wanted:
            continue
        text = path.read_text(encoding="utf-8")
        blocks = [text] if path.suffix == ".py" else snippets(text)
        sizes = [sum(1 for line in b.splitlines() if line.strip()) for b in blocks]
        if not blocks:
            print(f"FAIL {path.name}: no ```python block under '{HEADING}'")
            failures += 1
            continue
        with tempfile.TemporaryDirectory(prefix="py_snippet_") as tmp:
            scratch = Path(tmp)
            (scratch / "notebooks").mkdir()
            (scratch / "models").symlink_to(ROOT / "models")
            (ROOT / "runs").mkdir(exist_ok=True)
            (scratch / "runs").symlink_to(ROOT / "runs")
            ok, output, seconds = run_snippet("\n".join(blocks), args.python, args.timeout, scratch)
        status = "ok  " if ok else "FAIL"
        print(f"{status} {path.name}: {len(blocks)} block(s) of {sizes} non-blank lines, {seconds:.0f} s")
        tail = "\n".join(output.strip().splitlines()[-25 if not ok else -args.show :])
        print("     " + tail.replace("\n", "\n     "))
        failures += 0 if ok else 1
    print(f"{'all snippets ran' if failures == 0 else f'{failures} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
