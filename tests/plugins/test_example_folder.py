"""Example input files live for the process only (they used to pile up in the temp dir)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("workbench_cca")


def test_example_files_are_removed_when_the_process_exits(tmp_path):
    code = (
        "from workbench_cca.method import example_inputs\n"
        "inp = example_inputs()\n"
        "path = next(iter(inp.files.values()))[0]\n"
        "import pathlib; assert pathlib.Path(path).is_file()\n"
        "print(pathlib.Path(path).parent)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
    folder = Path(out.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path
    assert not folder.exists()
