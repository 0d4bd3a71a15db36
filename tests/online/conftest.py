"""Small phantom shared by the online tests (built once per session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def online_phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s, 32 EEG + EOG + ECG at 2 kHz, TR 1 s with 16 slices, 20 ppm drift, a
    drifting artifact with one head movement (read-only in tests)."""
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("online_phantom") / "study"
    cfg = PhantomConfig(duration_s=30, n_eeg=32, sfreq=2000, tr=1.0, slices=16, seed=5,
                        drift_ppm=20.0, gradient_drift=1.0, motion_events=1)
    simulate_study(out, cfg)
    return out


from online_synth import vhdr  # noqa: E402  (the tests import it from online_synth: "conftest" is ambiguous)


@pytest.fixture(scope="session")
def short_recording(online_phantom, tmp_path_factory):
    """The first 9 s of the phantom as FIF (for real-time replays) and its Raw."""
    from workbench.engine.io.eeg import read_eeg

    raw = read_eeg(vhdr(online_phantom), preload=True).crop(0, 9.0)
    path = tmp_path_factory.mktemp("online_lsl") / "short_raw.fif"
    raw.save(path, verbose="error")
    return path, raw


@pytest.fixture(scope="session")
def bcg_recording(online_phantom, tmp_path_factory):
    """The first 16 s of the phantom as FIF: long enough for the online BCG to start
    (its template is full at about 13 s)."""
    from workbench.engine.io.eeg import read_eeg

    raw = read_eeg(vhdr(online_phantom), preload=True).crop(0, 16.0)
    path = tmp_path_factory.mktemp("online_lsl_bcg") / "bcg_raw.fif"
    raw.save(path, verbose="error")
    return path, raw
