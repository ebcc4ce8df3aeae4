#!/usr/bin/env python3
"""Carries prose edits of a lesson into its executed copy without re-running it.

A copy in notebooks/executed/ keeps its outputs while the lesson's code cells are unchanged; when
only Markdown changed (a sentence, a new section), this rebuilds the copy from the lesson's cells
with the copy's outputs put back into the code cells, in order. A lesson whose code changed is
left alone and named: re-run it (tools/notebooks/browser_check.py --executed-dir notebooks/executed).

  .venv/bin/python tools/notebooks/refresh_executed.py            # every lesson
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.sign import NotebookNotary

ROOT = Path(__file__).resolve().parents[2]
EXECUTED = ROOT / "notebooks" / "executed"


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def refresh(lesson_path: Path) -> str:
    copy_path = EXECUTED / lesson_path.name
    if not copy_path.exists():
        return f"missing  {copy_path.name}: run it"
    lesson = nbformat.read(lesson_path, as_version=4)
    copy = nbformat.read(copy_path, as_version=4)
    ran, wanted = code_cells(copy), code_cells(lesson)
    if [c.source for c in ran] != [c.source for c in wanted]:
        return f"code     {lesson_path.name}: code changed, re-run it"
    if [c.source for c in copy.cells] == [c.source for c in lesson.cells]:
        return f"same     {lesson_path.name}"
    for target, source in zip(wanted, ran):
        target.outputs = source.outputs
        target.execution_count = source.execution_count
    lesson.metadata["course_run"] = copy.metadata.get("course_run", {})
    NotebookNotary().sign(lesson)
    nbformat.write(lesson, copy_path)
    return f"updated  {lesson_path.name}: prose from the lesson, outputs kept"


def main() -> int:
    results = [refresh(p) for p in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
    print("\n".join(results))
    return 1 if any(r.startswith(("code", "missing")) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
