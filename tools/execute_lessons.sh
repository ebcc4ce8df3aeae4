#!/usr/bin/env bash
# Runs lessons in full mode on the real Deno kernel and keeps the executed, signed copies in
# notebooks/executed/ (outputs and charts included) for instructors to read without running.
# Each copy records its wall time and the kernel's peak memory in metadata.course_run;
# tests/executed_copies_test.ts fails when a lesson's code no longer matches its copy.
#   bash tools/execute_lessons.sh                 # every lesson (about an hour on 2 cores)
#   bash tools/execute_lessons.sh 04_파인튜닝_freeze_vs_full.ipynb
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${COURSE_MIRROR:-}" ] && [ -d "$ROOT/../shared/mirror" ]; then
  export COURSE_MIRROR="$(cd "$ROOT/../shared/mirror" && pwd)"
fi
unset COURSE_QUICK
lessons=()
if [ "$#" -eq 0 ]; then
  lessons=(notebooks/[0-9]*.ipynb)
else
  for name in "$@"; do lessons+=("notebooks/$(basename "$name")"); done
fi
status=0
for lesson in "${lessons[@]}"; do
  .venv/bin/python tools/run_notebook.py "$lesson" --output-dir notebooks/executed || status=1
done
exit "$status"
