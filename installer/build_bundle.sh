#!/usr/bin/env bash
# Build a one-folder desktop bundle with PyInstaller (dist/eegfmri-workbench/).
# About 45 s and ~900 MB on the reference machine (VTK is most of it); not run by CI.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash installer/bootstrap.sh
.venv/bin/uv pip install -q --python .venv/bin/python "pyinstaller==6.22.*"
.venv/bin/pyinstaller --noconfirm --clean installer/workbench.spec
echo "bundle: $ROOT/dist/eegfmri-workbench/eegfmri-workbench"
