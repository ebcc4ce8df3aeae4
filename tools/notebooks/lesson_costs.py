#!/usr/bin/env python3
"""Writes each lesson's measured full-mode time and memory where instructors read them.

The figures come from the executed copies in notebooks/executed/ (metadata.course_run, written by
tools/notebooks/browser_check.py --executed-dir): the lesson's "**걸리는 시간**" paragraph in
course/notebooks/NN_*.md and the table between the lesson-costs markers in README.md. Nothing is
typed by hand, so the text cannot drift from the run. Afterwards rebuild the notebooks
(deno task notebooks) and carry the prose into the copies (tools/notebooks/refresh_executed.py).

  .venv/bin/python tools/notebooks/lesson_costs.py
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXECUTED = ROOT / "notebooks" / "executed"
LESSONS = ROOT / "course" / "notebooks"
README = ROOT / "README.md"
BEGIN, END = "<!-- lesson-costs -->", "<!-- /lesson-costs -->"


def minutes(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}분 {seconds % 60}초" if seconds >= 60 else f"{seconds}초"


def gib(mib: float) -> str:
    return f"{mib / 1024:.1f} GB"


def paragraph(name: str, run: dict) -> str:
    long_cells = ", ".join(f"{c['cell']}번째 코드 셀 {minutes(c['seconds'])}" for c in run.get("long_cells", []))
    return (
        f"**걸리는 시간** (전체 모드, JupyterLab에서 처음부터 끝까지 실행, 강의용 2코어 CPU, 네이티브 TensorFlow 엔진, "
        f"{run['finished'][:10]}에 측정): 노트북 전체 {minutes(run['seconds'])}, 커널의 최대 메모리 {gib(run['kernel_peak_rss_mib'])}. "
        + (f"10초 넘게 걸리는 셀: {long_cells}. " if long_cells else "")
        + f"모든 출력과 숫자는 실행된 사본 `notebooks/executed/{name}.ipynb`에서 미리 볼 수 있습니다. "
        "다 본 노트북은 Kernel → Shut Down Kernel로 커널을 끄면 메모리가 돌아옵니다."
    )


def update_lesson(md: Path, text: str) -> None:
    source = md.read_text()
    pattern = re.compile(r"^\*\*걸리는 시간\*\*.*?(?=\n\n)", re.S | re.M)
    if pattern.search(source):
        source = pattern.sub(lambda _: text, source, count=1)
    else:
        anchor = "**목차**" if "**목차**" in source else re.search(r"^## 1\.", source, re.M).group(0)
        source = source.replace(anchor, f"{text}\n\n{anchor}", 1)
    md.write_text(source)


def main() -> int:
    rows = []
    for copy in sorted(EXECUTED.glob("[0-9]*.ipynb")):
        run = json.loads(copy.read_text()).get("metadata", {}).get("course_run")
        md = LESSONS / f"{copy.stem}.md"
        if not run or run.get("mode") != "full" or not md.exists():
            print(f"skipped {copy.name}: no full-mode run record", file=sys.stderr)
            continue
        update_lesson(md, paragraph(copy.stem, run))
        rows.append(f"| {copy.stem[:2]} | {minutes(run['seconds'])} | {gib(run['kernel_peak_rss_mib'])} |")
    table = "\n".join(["| 레슨 | 전체 모드 시간 | 커널 최대 메모리 |", "| ---- | -------------- | ---------------- |", *rows])
    readme = README.read_text()
    if BEGIN in readme:
        readme = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), f"{BEGIN}\n{table}\n{END}", readme, flags=re.S)
        README.write_text(readme)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
