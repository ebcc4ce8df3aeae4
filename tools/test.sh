#!/usr/bin/env bash
# Everything CI checks, in the order that fails fastest: setup, formatting, lint, types
# (code and notebooks), generated files in sync, then all deno tests (the notebook tests run
# every lesson and solution on the real Deno kernel in quick mode).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n==> %s\n' "$*"; }

step "setup"
bash tools/setup.sh

if [ -z "${COURSE_MIRROR:-}" ] && [ -d "$ROOT/../shared/mirror" ]; then
  export COURSE_MIRROR="$(cd "$ROOT/../shared/mirror" && pwd)"
fi
echo "COURSE_MIRROR=${COURSE_MIRROR:-<unset>}"

step "deno fmt --check"
deno fmt --check
step "deno lint"
deno lint
step "deno check (library, tools, tests)"
deno check lib/ tools/ tests/
step "notebooks type-check"
deno run -A tools/notebooks/typecheck_notebooks.ts
if [ -f tools/notebooks/build_notebooks.ts ]; then
  step "notebooks/ and solutions/ match their Markdown sources"
  deno run -A tools/notebooks/build_notebooks.ts --check
fi
step "exercises/ matches solutions/"
deno run -A tools/notebooks/generate_exercises.ts --check

step "deno test (library tests, notebook runs in quick mode)"
deno test -A "$@" --ignore=tests/tf_graph_test.ts tests/
# The TensorFlow graph engine gets a process of its own: models_parity_test.ts starts WebGPU,
# whose Vulkan driver (Mesa) maps a second LLVM that TensorFlow's graph optimizer would call
# into (lib/runtime/native_graph.ts refuses to open a graph then; tf_graph_test checks both).
step "deno test (TensorFlow graph engine, in a process without WebGPU)"
deno test -A "$@" tests/tf_graph_test.ts
# The suite above runs on the default engine (native TensorFlow when setup could install it);
# the parity and trainer tests run once more on wasm, the engine of machines without it.
step "deno test on wasm (parity with Hugging Face, interop, Trainer on BERT)"
COURSE_TEST_BACKEND=wasm deno test -A "$@" tests/models_parity_test.ts \
  tests/models_hf_interop_test.ts tests/models_model_test.ts tests/train_bert_test.ts
