"""Late volume markers: a volume whose marker trails the samples starts from the onset
the TR rhythm predicts, where the data confirm the artifact; a volume that never comes
(the scan stopped) is not subtracted."""

from __future__ import annotations

import numpy as np
import pytest
from online_synth import vhdr
from scipy import signal

from workbench.engine.online import OnlineParams, replay_array
from workbench.engine.online import flags as F

HEAD_S = 0.04  # the start of each volume compared (a 30 ms late marker leaves it uncorrected)


@pytest.fixture(scope="module")
def phantom(online_phantom):
    return load(online_phantom)


def load(study) -> dict:  # noqa: ANN001
    """The phantom's samples, volume markers and true gradient artifact."""
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.phantom import load_truth

    raw = read_eeg(vhdr(study), preload=True)
    truth = load_truth(study)
    ann = raw.annotations
    keep = [i for i, d in enumerate(ann.description) if d.endswith("R128")]
    sf = float(raw.info["sfreq"])
    return dict(
        data=raw.get_data(), names=list(raw.ch_names), types=raw.get_channel_types(), sf=sf,
        onsets=np.asarray(ann.onset)[keep], desc=[ann.description[i] for i in keep],
        gradient=np.asarray(truth.arrays["gradient"], np.float64),
        eeg=[i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"],
    )


def _replay(ph: dict, data: np.ndarray | None = None, onsets: np.ndarray | None = None, **kw):
    params = OnlineParams(bcg=False, predict_onsets=kw.pop("predict", True))
    return replay_array(
        ph["data"] if data is None else data, ph["names"], ph["types"], ph["sf"],
        ph["onsets"] if onsets is None else onsets, ph["desc"] if onsets is None else ph["desc"][: len(onsets)],
        params=params, chunk=int(round(0.01 * ph["sf"])), **kw,
    )


def _head_error_uv(ph: dict, out: np.ndarray, target: np.ndarray, vols: range) -> np.ndarray:
    """RMS error (uV) against ``target`` over the first HEAD_S of each volume in ``vols``."""
    sf, eeg = ph["sf"], ph["eeg"]
    w = int(HEAD_S * sf)
    starts = np.round(ph["onsets"] * sf).astype(int)
    return np.array([np.sqrt(np.mean((out[eeg, s : s + w] - target[eeg, s : s + w]) ** 2)) * 1e6
                     for s in starts[list(vols)]])


def _target(ph: dict) -> np.ndarray:
    """The recording without its gradient artifact, through the online 70 Hz low-pass."""
    lp = signal.butter(4, 70, fs=ph["sf"], output="sos")
    return signal.sosfilt(lp, ph["data"] - ph["gradient"], axis=1)


def test_late_markers_start_volumes_from_the_predicted_onset(phantom) -> None:
    """Markers 30 ms late (three 10 ms chunks): the volume starts are corrected about as
    well as with markers on time, and no sample of a scanned volume is left flagged."""
    ph = phantom
    target = _target(ph)
    on_time = _replay(ph)
    late = _replay(ph, marker_delay_s=0.03)
    vols = range(10, len(ph["onsets"]) - 1)
    e_on = _head_error_uv(ph, on_time.data, target, vols)
    e_late = _head_error_uv(ph, late.data, target, vols)
    st = late.state
    print(f"first {HEAD_S * 1e3:.0f} ms of volumes 10+: on time {np.median(e_on):.2f} uV (max {e_on.max():.2f}), "
          f"30 ms late {np.median(e_late):.2f} uV (max {e_late.max():.2f}); {st['late_markers_covered']} of "
          f"{st['late_markers']} late markers covered")
    # measured: 24.24 vs 24.24 uV median, identical (the 2 kHz aliasing residual and the
    # BCG dominate both); 114 uV with the prediction off
    assert np.median(e_late) < 1.1 * np.median(e_on)
    assert e_late.max() < 1.5 * e_on.max()
    assert st["late_markers"] >= len(ph["onsets"]) - 2
    assert st["late_markers_covered"] >= st["late_markers"] - 3  # all but the first (no rhythm yet)
    s10 = int(round(ph["onsets"][10] * ph["sf"]))
    s_last = int(round(ph["onsets"][-1] * ph["sf"]))
    assert not np.any(late.flags[s10:s_last] & F.GRADIENT_UNCORRECTED)
    # the same output, even when a marker comes after the previous epoch completed (100 ms
    # here; its store waits for it): before, the templates were then placed with a fit one
    # marker short (up to 48 uV apart on the 5 kHz phantom)
    np.testing.assert_array_equal(late.data[:-1, s10:s_last], on_time.data[:-1, s10:s_last])
    # ... and the same flags but one: the starts corrected before their markers came say so
    pred = (late.flags[s10:s_last] & F.PREDICTED) != 0
    np.testing.assert_array_equal(late.flags[s10:s_last] & ~F.PREDICTED, on_time.flags[s10:s_last])
    assert 0 < pred.sum() <= 0.031 * ph["sf"] * (len(ph["onsets"]) - 10)
    later = _replay(ph, marker_delay_s=0.1)
    assert np.max(np.abs(later.data[:-1, s10:s_last] - on_time.data[:-1, s10:s_last])) < 1e-9


def test_late_markers_without_prediction_leave_the_volume_starts(phantom) -> None:
    """The same late markers with the prediction off: the first 30 ms of each volume go out
    uncorrected (mV of artifact), flagged 'no volume marker' (what the old code did)."""
    ph = phantom
    target = _target(ph)
    late = _replay(ph, marker_delay_s=0.03, predict=False)
    e = _head_error_uv(ph, late.data, target, range(10, len(ph["onsets"]) - 1))
    print(f"prediction off: {np.median(e):.0f} uV median on the volume starts")
    assert np.median(e) > 50.0  # measured 114 uV (24 uV with the prediction)


def test_a_volume_that_never_comes_is_not_subtracted(phantom) -> None:
    """The scan stops after volume 19 (no artifact, no markers after it): the predicted
    volume 20 is rejected by the data and the EEG after the scan passes through,
    flagged 'volume marker late' for at most one TR, then 'no volume marker'."""
    ph = phantom
    sf = ph["sf"]
    stop = int(round(ph["onsets"][20] * sf))
    data = ph["data"].copy()
    data[:, stop:] -= ph["gradient"][:, stop:]  # the scanner is silent from volume 20 on
    onsets = ph["onsets"][:20]
    gradient = ph["gradient"].copy()
    gradient[:, stop:] = 0.0
    target = _target(dict(ph, data=data, gradient=gradient))
    with_pred = _replay(ph, data=data, onsets=onsets)
    without = _replay(ph, data=data, onsets=onsets, predict=False)

    def err(out: np.ndarray, a: int, b: int) -> float:
        return float(np.sqrt(np.mean((out[:-1, a:b] - target[:, a:b]) ** 2)) * 1e6)

    settle = stop + int(0.1 * sf)
    e_pred, e_old = err(with_pred.data, stop, settle), err(without.data, stop, settle)
    print(f"first 100 ms after the scan: {e_pred:.2f} uV with the prediction, {e_old:.2f} uV without")
    # measured 1.96 vs 54.4 uV when this test was written: without the prediction the last
    # volume's epoch, two samples longer than a TR, subtracted the start of a volume that
    # never came. Since then the data-driven stop (``gate_stop``) catches that in both
    # modes (2.8 vs 2.7 uV), so the prediction only has to do no harm here.
    assert e_pred < 5.0 and e_old < 5.0
    assert err(with_pred.data, settle, data.shape[1]) < 1e-3  # passed through unchanged
    assert with_pred.state["samples_from_predicted_onsets"] == 0
    late = np.flatnonzero(with_pred.flags & F.MARKER_LATE)
    assert late.size and late[0] >= stop - 2 and late[-1] < stop + 1.01 * sf
    assert np.all(with_pred.flags[int(stop + 1.1 * sf) :] & F.NO_VOLUME)
