#!/usr/bin/env bash
# Idempotent set-up of everything the workbench needs on Debian/Ubuntu:
# system libraries for headless Qt/VTK (when missing), the virtual environment at
# <repo>/.venv and the pinned Python packages. Safe to run again and again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_apt=()
for pkg in xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libgl1 libegl1 libfontconfig1 libdbus-1-3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "[bootstrap] installing system packages: ${need_apt[*]}"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv"
  "$PY" -m venv .venv
fi
STAMP=.venv/.workbench-installed
HASH="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  echo "[bootstrap] installing Python packages (pinned by requirements/constraints.txt)"
  .venv/bin/python -m pip install -q --upgrade pip uv
  VIRTUAL_ENV="$ROOT/.venv" .venv/bin/uv pip install -q --python .venv/bin/python \
      -c requirements/constraints.txt -e ".[test]"
  echo "$HASH" > "$STAMP"
fi

# PyTorch for the deep-fusion plugin: a separate step with pip (not uv), pinned, so that
# pip takes the CPU build this machine keeps on disk; an unpinned torch (or uv) would
# download a multi-GB CUDA build. Not in pyproject/constraints for that reason. Without it
# the deep-fusion plugin is listed as unavailable and everything else works.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "[bootstrap] installing PyTorch 2.13.0 (CPU build) for the deep-fusion plugin"
  .venv/bin/python -m pip install -q torch==2.13.0 \
    || echo "[bootstrap] PyTorch could not be installed: the deep-fusion plugin will be listed as unavailable"
fi

# First-party fusion plugins (plugins/*/pyproject.toml, not the template): each is its own
# distribution declaring the `workbench.fusion` entry point, installed editable so it is
# discovered through exactly the public path a third-party plugin uses. Idempotent: a
# plugin is (re)installed only when its pyproject.toml changed.
for proj in plugins/*/pyproject.toml; do
  [ -f "$proj" ] || continue
  name="$(basename "$(dirname "$proj")")"
  [ "$name" = "template" ] && continue
  pstamp=".venv/.workbench-plugin-$name"
  phash="$(sha256sum "$proj" | cut -d' ' -f1)"
  if [ ! -f "$pstamp" ] || [ "$(cat "$pstamp")" != "$phash" ]; then
    echo "[bootstrap] installing plugin $name"
    VIRTUAL_ENV="$ROOT/.venv" .venv/bin/uv pip install -q --python .venv/bin/python \
        -c requirements/constraints.txt -e "plugins/$name"
    echo "$phash" > "$pstamp"
  fi
done
