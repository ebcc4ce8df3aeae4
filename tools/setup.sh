#!/usr/bin/env bash
# Installs what the course needs, idempotently, and says what it does:
#   1. npm packages from deno.json (deno install -> node_modules/), then the native engine:
#      TensorFlow's C library under tfjs-node (tools/setup/setup_native.ts)
#   2. a Python venv .venv/ with jupyterlab, nbclient and plotly (plotly is the JupyterLab
#      extension that draws application/vnd.plotly.v1+json); Debian packages as a fallback
#   3. the Deno Jupyter kernel spec ("deno")
# Running it again only checks. Env: COURSE_PYTHON (python to build the venv with),
# COURSE_PIP_INDEX (a pip index URL to use instead of PyPI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY_PACKAGES=(jupyterlab nbclient nbformat plotly)
LOCAL_INDEX="/opt/pypi/simple"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

command -v deno >/dev/null 2>&1 || die "deno not found. Install Deno 2 (https://deno.com or: npm i -g deno) and run again."

# 1. npm packages ------------------------------------------------------------------------------
cd "$ROOT"
say "npm packages: deno install (node_modules/, pinned by deno.json + deno.lock)"
deno install --quiet

# 1b. native engine ----------------------------------------------------------------------------
# TensorFlow's C library under tfjs (tools/setup/setup_native.ts says which way it got it, or why not).
deno run -A tools/setup/setup_native.ts || say "native engine setup failed; the course will use wasm"

# 2. Python venv -------------------------------------------------------------------------------
# Ready = the notebook runner's modules plus a front end: JupyterLab with plotly's extension,
# or (Debian fallback) the classic Notebook.
venv_ready() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.util as util
import nbclient, nbformat, jupyter_client
lab = util.find_spec("jupyterlab") and util.find_spec("plotly")
raise SystemExit(0 if lab or util.find_spec("notebook") else 1)
EOF
}

pypi_reachable() {
  "$1" - <<'EOF' >/dev/null 2>&1
import urllib.request
urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5)
EOF
}

pip_install() {
  local pip=("$VENV/bin/python" -m pip install --disable-pip-version-check --timeout 15 --retries 1)
  if [ -n "${COURSE_PIP_INDEX:-}" ]; then
    say "pip install ${PY_PACKAGES[*]} (index $COURSE_PIP_INDEX)"
    "${pip[@]}" --index-url "$COURSE_PIP_INDEX" "${PY_PACKAGES[@]}"
  elif pypi_reachable "$VENV/bin/python"; then
    say "pip install ${PY_PACKAGES[*]} (PyPI)"
    "${pip[@]}" "${PY_PACKAGES[@]}"
  elif [ -d "$LOCAL_INDEX" ]; then
    say "PyPI unreachable; pip install ${PY_PACKAGES[*]} from the local index $LOCAL_INDEX"
    "${pip[@]}" --index-url "file://$LOCAL_INDEX" "${PY_PACKAGES[@]}"
  else
    say "PyPI unreachable and no local index"
    return 1
  fi
}

apt_fallback() {
  # Debian's packages give the classic Notebook instead of JupyterLab; plotly figures still
  # draw there through the text/html fallback of lib/viz/plotly.ts.
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  say "pip could not install; trying Debian packages: python3-nbclient jupyter-notebook python3-plotly"
  "${sudo[@]}" apt-get install -y --no-install-recommends \
    python3-nbclient python3-nbformat jupyter-notebook python3-plotly python3-venv || return 1
  rm -rf "$VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
}

if venv_ready; then
  say "Python venv: $VENV is ready (${PY_PACKAGES[*]})"
else
  PYTHON="${COURSE_PYTHON:-$(command -v python3 || true)}"
  [ -n "$PYTHON" ] || die "python3 not found. Install Python 3.9+ (Debian: apt-get install python3 python3-venv)."
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the Python venv: $PYTHON -m venv .venv"
    "$PYTHON" -m venv "$VENV" || die "could not create .venv (Debian: apt-get install python3-venv)"
  fi
  if ! pip_install; then
    apt_fallback || die "could not install ${PY_PACKAGES[*]}: check the network or pip's index settings"
  fi
  venv_ready || die "the venv still lacks one of: ${PY_PACKAGES[*]}"
  say "Python venv ready: $VENV"
fi

# 3. Deno Jupyter kernel -----------------------------------------------------------------------
# deno writes the spec into the user's Jupyter data dir, which the venv's Jupyter also searches.
DENO_PATH="$(command -v deno)"
KERNEL_JSON="$("$VENV/bin/python" - <<'EOF' 2>/dev/null || true
from jupyter_client.kernelspec import KernelSpecManager
try:
    print(KernelSpecManager().get_kernel_spec("deno").argv[0])
except Exception:
    pass
EOF
)"
if [ "$KERNEL_JSON" = "$DENO_PATH" ] || [ "$(readlink -f "$KERNEL_JSON" 2>/dev/null)" = "$(readlink -f "$DENO_PATH")" ]; then
  say "Deno kernel: installed ($DENO_PATH)"
else
  say "Deno kernel: deno jupyter --install --force"
  deno jupyter --install --force 2>&1 | grep -v 'unstable' || true
fi
"$VENV/bin/python" -c "from jupyter_client.kernelspec import KernelSpecManager as K; K().get_kernel_spec('deno')" \
  || die "the venv's Jupyter cannot find the 'deno' kernel"

# 4. JupyterLab defaults for an offline classroom ----------------------------------------------
# The "get notified about Jupyter news?" popup asks every learner on first start and then
# fetches news from the internet; a course that runs offline turns both off.
LAB_SETTINGS="$VENV/share/jupyter/lab/settings"
if [ -d "$VENV/share/jupyter/lab" ] && [ ! -f "$LAB_SETTINGS/overrides.json" ]; then
  mkdir -p "$LAB_SETTINGS"
  cat >"$LAB_SETTINGS/overrides.json" <<'EOF'
{
  "@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false",
    "checkForUpdates": false
  }
}
EOF
  say "JupyterLab: news popup and update check off ($LAB_SETTINGS/overrides.json)"
fi

say "done. Start the course: deno task lab"
