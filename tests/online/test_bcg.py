"""Causal R-peaks and BCG subtraction on a synthetic ECG/BCG with known beats."""

from __future__ import annotations

import numpy as np
import online_synth as S

from workbench.engine.online.bcg import CausalBCG
from workbench.engine.online.rpeaks import CausalRPeaks

SF = 1000.0


def _detect(ecg: np.ndarray, chunk: int = 20, **kw) -> list[int]:
    det = CausalRPeaks(SF, **kw)
    out = []
    for s in range(0, ecg.size, chunk):
        out += det.process(ecg[s : s + chunk], s)
    return out


def test_rpeaks_found_once_each_with_a_constant_offset() -> None:
    n = int(120 * SF)
    ecg, _, truth = S.ecg_and_bcg(4, n, SF)
    ecg = ecg + S.eeg_noise(1, n, SF, rms=20e-6)[0]
    found = np.array(_detect(ecg))
    after = truth[truth > 4 * SF]  # the first 3 s learn polarity and threshold
    near = np.array([found[np.argmin(np.abs(found - t))] - t for t in after])
    assert np.all(np.abs(near) < 0.05 * SF)  # every beat found within 50 ms ...
    assert np.ptp(near) <= 0.01 * SF  # ... at a constant offset (the template absorbs it)
    assert found.size == after.size + np.sum(found < after[0] - 0.1 * SF)  # no extra peak


def test_rpeaks_of_an_inverted_ecg() -> None:
    n = int(40 * SF)
    ecg, _, truth = S.ecg_and_bcg(4, n, SF, hr=55)
    found = np.array(_detect(-ecg))
    after = truth[truth > 4 * SF]
    assert len(found[found > 4 * SF - 50]) == after.size


def test_bcg_subtracted_from_past_beats() -> None:
    n = int(90 * SF)
    ecg, bcg, _ = S.ecg_and_bcg(8, n, SF)
    eeg = S.eeg_noise(8, n, SF)
    x = eeg + bcg
    det = CausalRPeaks(SF)
    sub = CausalBCG(8, SF, window=20, min_beats=5)
    y = np.empty_like(x, dtype=np.float32)
    ready_at = None
    for s in range(0, n, 20):
        pk = det.process(ecg[s : s + 20], s)
        y[:, s : s + 20], ok = sub.process(x[:, s : s + 20], pk)
        if ok and ready_at is None:
            ready_at = s
    assert ready_at is not None and ready_at < 15 * SF
    a = int(30 * SF)
    before = np.sqrt(np.mean(bcg[:, a:] ** 2))
    left = np.sqrt(np.mean((y[:, a:] - eeg[:, a:]) ** 2))
    assert before / left > 3  # > 9.5 dB of the BCG removed, causally
    # nothing subtracted while learning
    np.testing.assert_allclose(y[:, :ready_at], x[:, :ready_at], atol=1e-9)
