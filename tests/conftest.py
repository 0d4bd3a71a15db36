"""Shared test configuration.

GUI tests run under pytest-xvfb (a real X server) with Qt's xcb platform, because
pyvistaqt's OpenGL widget segfaults under ``offscreen`` (STACK.md).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MNE_DONTWRITE_HOME", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
if sys.platform.startswith("linux"):
    os.environ["QT_QPA_PLATFORM"] = "xcb"

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
TEST_DATA_FOLDERS = ("coreg", "markers", "ecg", "reference")
ARTIFACTS = REPO / "tests" / "_artifacts"


def _digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def test_data():
    """The real data files vendored in the repository (``tests/data``, see its README).

    Read-only: a test that modifies a file copies it into ``tmp_path`` first. At the end of
    the session this fixture fails if any file under ``tests/data`` was added, removed or
    changed.
    """
    missing = [d + "/" for d in TEST_DATA_FOLDERS if not (TEST_DATA / d).is_dir()]
    if missing:
        pytest.fail(
            f"test data not found: {TEST_DATA} lacks {', '.join(missing)} (the folder is part "
            "of the repository; restore it with `git checkout -- tests/data`)",
            pytrace=False,
        )
    before = _digest(TEST_DATA)
    yield TEST_DATA
    after = _digest(TEST_DATA)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        pytest.fail(
            f"tests wrote inside the read-only {TEST_DATA}: {', '.join(changed[:10])}"
            " (copy files into tmp_path before modifying them)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests save screenshots and reports for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
