"""Fuzz suite (issue 16): a seeded sample of corrupted inputs through ``info``, ``sync``
and ``coreg``; the whole corpus runs in ``benchmarks/fuzz_full.py``.

Invariants checked for every case (see ``corpus.run_case``): no traceback, a non-zero
exit prints one line naming a file, nothing is written after an error, inputs keep their
sha256, an exit 0 never prints or writes NaN/inf, impossible inputs are refused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

#: cases per CI run (all overwrite and bad-option cases, the rest drawn with the seed)
N_SAMPLE = int(os.environ.get("WORKBENCH_FUZZ_N", "100"))
SEED = int(os.environ.get("WORKBENCH_FUZZ_SEED", "16"))
CASES = corpus.sample(N_SAMPLE, SEED)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus.build_base(tmp_path_factory.mktemp("fuzz") / "base")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_case(case: corpus.Case, base: Path, tmp_path: Path) -> None:
    out = corpus.run_case(case, base, tmp_path / "case", timeout_s=60)
    assert out.ok, f"{case.id}: {out.problems}; exit {out.rc}; stderr: {out.stderr[-600:]!r}"


def test_corpus_covers_every_format() -> None:
    kinds = {c.id.split("/")[0] for c in corpus.all_cases()}
    assert {"bv", "vmrk", "edf", "bdf", "set", "cells", "fdt", "fif", "sidecar", "bold", "t1", "mgz", "tsv",
            "sfp", "elc", "pos", "digfif", "surf", "project", "overwrite", "args"} <= kinds
    assert len(corpus.all_cases()) > 500


def test_eeglab_cell_arrays_read_like_mne(base: Path) -> None:
    """Issue 16 class 9: chanlocs/event as cell arrays give MNE's channels and triggers."""
    import mne

    from workbench.engine.io.eeg import read_eeg_header

    h = read_eeg_header(base / "cells.set")
    raw = mne.io.read_raw_eeglab(base / "cells.set", verbose="error")
    assert h.ch_names == raw.ch_names == ["Fz", "Cz"]
    assert list(h.markers.description) == list(raw.annotations.description) == ["R128"] * corpus.N_VOL
    assert abs(h.markers.onset - raw.annotations.onset).max() < 1e-9
