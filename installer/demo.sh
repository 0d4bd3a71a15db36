#!/usr/bin/env bash
# Set everything up (idempotent) and run the main job: the demo study in the GUI.
# With no display, the same demo runs headless and prints where the report is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash installer/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec workbench demo "$@"
else
  echo "No display found: running the demo headless."
  exec workbench demo --headless --out "${WORKBENCH_DEMO_OUT:-$ROOT/demo-out}" "$@"
fi
