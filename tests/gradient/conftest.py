"""A small phantom study shared by the gradient tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s, 32 EEG channels at 2.5 kHz, TR 1.5 s with 20 interleaved slices, 20 ppm drift,
    2 missing and 1 extra volume trigger with 50 µs latency jitter (read-only in tests)."""
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("gradient_phantom") / "study"
    cfg = PhantomConfig(
        duration_s=30,
        n_eeg=32,
        sfreq=2500,
        tr=1.5,
        slices=20,
        seed=3,
        drift_ppm=20.0,
        missing_triggers=2,
        extra_triggers=1,
        trigger_jitter_s=5e-5,
    )
    simulate_study(out, cfg)
    return out
