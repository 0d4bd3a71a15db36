#!/usr/bin/env bash
# Set everything up (idempotent) and run the whole test suite, as CI does:
# import contract (engine/plugin API/CLI are Qt-free), ruff, then pytest under Xvfb.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash installer/bootstrap.sh || { echo "set-up failed"; exit 1; }
export PATH="$ROOT/.venv/bin:$PATH"
export MNE_DONTWRITE_HOME=true MPLBACKEND=Agg PYVISTA_OFF_SCREEN=false
unset QT_QPA_PLATFORM

echo "== import contract (lint-imports)"
lint-imports --no-cache || exit 1
echo "== ruff"
ruff check workbench plugins tests || exit 1
echo "== pytest"
pytest "$@"
rc=$?
# pytest exit code 5 means "no tests collected": treat as failure, a suite must test something
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$rc"
