#!/usr/bin/env bash
# Opens the course in JupyterLab (after tools/setup.sh): the server's root is the repo, so
# notebooks/, exercises/ and solutions/ are all there; it starts in my_notebooks/.
# Extra arguments go to Jupyter (e.g. --no-browser --port 8890).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup.sh"
cd "$ROOT"
if [ -z "${COURSE_MIRROR:-}" ] && [ -d "$ROOT/../shared/mirror" ]; then
  export COURSE_MIRROR="$ROOT/../shared/mirror"
  echo "[lab] using the offline mirror COURSE_MIRROR=$COURSE_MIRROR"
fi
# Learners work in personal copies (my_notebooks/, my_exercises/, ignored by git): saving outputs
# never touches tracked files, so a later `git pull` of course updates cannot conflict. A copy is
# made only when missing, so a learner's work is never overwritten; delete a copy to get the new
# version of that lesson. Same folder depth as notebooks/, so "../models/..." paths still work.
for source in notebooks exercises; do
  mkdir -p "my_$source"
  copied=0
  for notebook in "$source"/*.ipynb; do
    target="my_$source/$(basename "$notebook")"
    if [ ! -e "$target" ]; then
      cp "$notebook" "$target"
      copied=$((copied + 1))
    fi
  done
  [ "$copied" -gt 0 ] && echo "[lab] $copied new notebook(s) copied to my_$source/ (your working copies)"
done
# Docker containers and many cloud VMs run as root, which Jupyter refuses without this flag.
EXTRA=()
if [ "$(id -u)" = "0" ]; then
  echo "[lab] running as root (a container or VM): starting Jupyter with --allow-root"
  EXTRA+=(--allow-root)
fi
if "$ROOT/.venv/bin/python" -c "import jupyterlab" 2>/dev/null; then
  echo "[lab] starting JupyterLab on my_notebooks/ (stop it with Ctrl+C)"
  exec "$ROOT/.venv/bin/jupyter" lab --ServerApp.root_dir="$ROOT" \
    --LabApp.default_url=/lab/tree/my_notebooks ${EXTRA[@]+"${EXTRA[@]}"} "$@"
fi
# Debian fallback installs the classic Notebook only.
echo "[lab] JupyterLab is missing; starting Jupyter Notebook on my_notebooks/"
exec "$ROOT/.venv/bin/jupyter" notebook --notebook-dir="$ROOT" \
  --NotebookApp.default_url=/tree/my_notebooks ${EXTRA[@]+"${EXTRA[@]}"} "$@"
