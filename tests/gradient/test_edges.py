"""The scan's first and last volumes are corrected as well as the middle ones.

A scorer that cuts the scan out and then band-passes it (zero phase) puts the filter's
start-up transient on the scan's first and last samples, so a residual there counts
heavily. Before the fix, the last volume's last sample got the (missing) next volume's
leading edge subtracted (~400 uV on a 5 kHz phantom) and the sample before the first
onset kept the first volume's leading edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from workbench.engine.gradient import GradientParams, remove_gradient
from workbench.engine.gradient import aas as aas_mod
from workbench.engine.gradient.aas import scan_edges
from workbench.engine.io.eeg import read_eeg
from workbench.engine.phantom.truth import load_truth


def _corrected(study: Path, lowpass: float | None):
    vhdr = next(study.glob("sub-01/eeg/*_eeg.vhdr"))
    meta = json.loads(next(study.glob("sub-01/func/*_bold.json")).read_text())
    raw = read_eeg(vhdr, preload=True)
    res = remove_gradient(raw, params=GradientParams(lowpass=lowpass), sidecar=meta)
    names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True)]
    out = res.raw.get_data(picks=names)
    gt = load_truth(study)
    idx = [gt.ch_names.index(n) for n in names]
    target = np.zeros_like(out)
    for k, a in gt.arrays.items():
        if k not in ("gradient", "line"):
            target += np.asarray(a[idx, : out.shape[1]], np.float64)
    on = res.sync.volume_onsets() * raw.info["sfreq"]
    per = res.sync.period_eeg * raw.info["sfreq"]
    return out, target, on, per, raw.info["sfreq"]


def _cut_band_errors(out, target, on, per, sf) -> tuple[np.ndarray, float]:
    """Per-volume RMS of (output - truth) after cutting the scan and band-passing 1-40 Hz
    (4th-order Butterworth, zero phase), and the scan's NRMSE scored that way."""
    s0, s1 = int(np.ceil(on[0])), int(np.ceil(on[-1] + per))
    sos = butter(4, [1.0, 40.0], "bandpass", fs=sf, output="sos")
    ob = sosfiltfilt(sos, out[:, s0:s1], axis=1)
    tb = sosfiltfilt(sos, target[:, s0:s1], axis=1)
    e = ob - tb
    per_vol = np.array(
        [np.sqrt(np.mean(e[:, int(np.ceil(t)) - s0 : int(np.ceil(t + per)) - s0] ** 2)) for t in on]
    )
    return per_vol, float(np.sqrt((e**2).sum() / (tb**2).sum()))


def test_last_volume_and_scan_start_are_corrected_like_the_middle(
    phantom_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, target, on, per, sf = _corrected(phantom_study, None)
    per_vol, nrmse = _cut_band_errors(out, target, on, per, sf)
    mid = float(np.median(per_vol[3:-3]))
    # the last volume (no successor) within 1.5x the middle volumes' 1-40 Hz error
    assert per_vol[-1] < 1.5 * mid
    # the scan's last sample and the sample before the first onset: no spike left
    err = out - target
    s0, s1 = int(np.ceil(on[0])), int(np.ceil(on[-1] + per))
    base = np.sqrt(np.mean(err[:, s0 - int(0.5 * sf) : s0 - 10] ** 2))  # before the scan
    assert np.sqrt(np.mean(err[:, s1 - 1] ** 2)) < 3 * base
    assert np.sqrt(np.mean(err[:, s0 - 1] ** 2)) < 3 * base
    # without the edge decision (the old behaviour) the last sample carries a spike
    monkeypatch.setattr(aas_mod, "_scan_edge_samples", lambda *a, **k: None)
    out0, *_ = _corrected(phantom_study, None)
    per_vol0, nrmse0 = _cut_band_errors(out0, target, on, per, sf)
    assert np.sqrt(np.mean((out0 - target)[:, s1 - 1] ** 2)) > 10 * base
    assert per_vol0[-1] > 2 * mid and nrmse < nrmse0


def test_scan_edges_finds_pauses() -> None:
    on = np.r_[np.arange(5) * 100.0, 1000 + np.arange(4) * 100.0]
    first, last = scan_edges(on + 0.3, 100.0)
    assert np.flatnonzero(first).tolist() == [0, 5]
    assert np.flatnonzero(last).tolist() == [4, 8]
