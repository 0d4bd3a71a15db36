"""A small phantom shared by the cardiac tests (built once per session, read-only in tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def cardiac_phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s, 32 EEG channels at 2.5 kHz (below ~2 kHz the gradient correction leaves aliased residue
    as large as a weak ECG), TR 1.5 s with 20 slices; ECG with gradient residue and a BCG."""
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    out = tmp_path_factory.mktemp("cardiac_phantom") / "study"
    simulate_study(out, PhantomConfig(duration_s=60, n_eeg=32, sfreq=2500, tr=1.5, slices=20, seed=3,
                                      n_head_points=30))
    return out


@pytest.fixture(scope="session")
def cardiac_truth(cardiac_phantom: Path):
    from workbench.engine.phantom import load_truth

    return load_truth(cardiac_phantom)


@pytest.fixture(scope="session")
def gradient_corrected(cardiac_phantom: Path, tmp_path_factory: pytest.TempPathFactory):
    """The phantom's study after sync and gradient correction through the runner (do not modify)."""
    from workbench.engine.runner import Runner
    from workbench.engine.steps import builtin_steps
    from workbench.engine.study import Study

    study = Study.load(cardiac_phantom)
    runner = Runner(study, builtin_steps(), tmp_path_factory.mktemp("cardiac_grad"), write_files=False)
    runner.run_step("sync")
    runner.run_step("gradient")
    return study


@pytest.fixture(scope="session")
def bcg_only_eeg(cardiac_truth):
    """(recorded EEG without gradient and line, the BCG-free target, sfreq, R-peaks) on 12 EEG channels."""
    a = cardiac_truth.arrays
    rows = list(range(12))
    target = sum(np.asarray(a[k][rows], float) for k in ("clean", "blink", "drift"))
    x = target + np.asarray(a["bcg"][rows], float)
    return x, target, cardiac_truth.sfreq, np.asarray(cardiac_truth.rpeaks, float)
