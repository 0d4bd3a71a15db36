"""Volume markers that stop or come several volumes late: the volumes are predicted from
the fitted TR (flagged 'predicted, not marked') while the data confirm the artifact, for
a bounded number of volumes; markers that come back reconcile with the predictions; a
scanner that stops (the artifact ends, no marker says so) is judged from the data and
nothing is subtracted after it; a TR change under late markers is flagged and the
stream keeps flowing. (Each test fails on the code before, which predicted one volume
past the last marker and gated no marked volume: checked.)"""

from __future__ import annotations

import numpy as np
import online_synth as S
import pytest
from test_late_markers import _replay, _target, load

from workbench.engine.online import OnlineParams, replay_array
from workbench.engine.online import flags as F


@pytest.fixture(scope="module")
def phantom(online_phantom):
    return load(online_phantom)


def _starts(ph: dict) -> np.ndarray:
    return np.round(ph["onsets"] * ph["sf"]).astype(int)


def _vol_error_uv(ph: dict, out: np.ndarray, target: np.ndarray, vols: list[int]) -> np.ndarray:
    """RMS error (uV, EEG channels) against ``target`` over each whole volume of ``vols``."""
    st, eeg = _starts(ph), ph["eeg"]
    return np.array([np.sqrt(np.mean((out[eeg, st[v] : st[v + 1]] - target[eeg, st[v] : st[v + 1]]) ** 2)) * 1e6
                     for v in vols])


def test_markers_missing_for_three_volumes(phantom) -> None:
    """No marker for volumes 15-17: they are corrected from the predicted onsets about as
    well as with their markers, flagged 'predicted, not marked' (none uncorrected), and
    the markers that come back take over."""
    ph = phantom
    target = _target(ph)
    full = _replay(ph)
    keep = np.ones(len(ph["onsets"]), bool)
    keep[15:18] = False
    gap = _replay(ph, onsets=ph["onsets"][keep])
    vols = [15, 16, 17]
    e_full = _vol_error_uv(ph, full.data, target, vols)
    e_gap = _vol_error_uv(ph, gap.data, target, vols)
    st = _starts(ph)
    print(f"volumes 15-17: {np.round(e_full, 2)} uV with markers, {np.round(e_gap, 2)} uV without; "
          f"{gap.state['volumes_predicted_unmarked']} predicted")
    # measured 22.7/23.7/25.4 uV (22.7/23.6/23.7 with the markers); the code before left
    # 16 and 17 uncorrected (98.8 and 100.0 uV after the 70 Hz low-pass)
    assert np.all(e_gap < 1.1 * e_full)
    span = gap.flags[st[15] : st[18]]
    assert not np.any(span & F.GRADIENT_UNCORRECTED)
    assert np.all(span & F.PREDICTED)
    assert gap.state["volumes_predicted_unmarked"] == 3
    # the volumes after: as with all markers (the templates skip the unmarked volumes)
    after = _vol_error_uv(ph, gap.data, target, list(range(18, len(st) - 1)))
    ref = _vol_error_uv(ph, full.data, target, list(range(18, len(st) - 1)))
    assert np.all(after < 1.2 * ref)
    assert not np.any(gap.flags[st[18] + 2 : st[-1]] & (F.GRADIENT_UNCORRECTED | F.PREDICTED))


def test_markers_several_volumes_late(phantom) -> None:
    """Every marker 2.5 TR late: the volumes are corrected from their predicted onsets and
    each marker, when it comes, confirms its predicted volume (no second template, no
    restart): the output stays close to the one with markers on time."""
    ph = phantom
    target = _target(ph)
    on_time = _replay(ph)
    late = _replay(ph, marker_delay_s=2.5)
    vols = list(range(12, len(ph["onsets"]) - 3))
    e_on = _vol_error_uv(ph, on_time.data, target, vols)
    e_late = _vol_error_uv(ph, late.data, target, vols)
    st = late.state
    print(f"volumes 12+: on time {np.median(e_on):.2f} uV (max {e_on.max():.2f}), 2.5 TR late "
          f"{np.median(e_late):.2f} uV (max {e_late.max():.2f}); {st['late_markers_covered']} of "
          f"{st['late_markers']} late markers matched a predicted volume")
    # measured 25.0 vs 24.3 uV median (the templates wait for the markers: two volumes
    # older); the code before predicted none of them (100 uV)
    assert np.median(e_late) < 1.15 * np.median(e_on)
    assert e_late.max() < 1.3 * e_on.max()
    assert st["tr_changes"] == 0 and st["spurious_markers"] == 0
    assert st["late_markers_covered"] >= st["late_markers"] - 4
    s = _starts(ph)
    assert not np.any(late.flags[s[12] : s[-3]] & F.GRADIENT_UNCORRECTED)


def _stopped(ph: dict, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The phantom with the scanner silent from sample ``stop`` on, and its target."""
    data = ph["data"].copy()
    data[:, stop:] -= ph["gradient"][:, stop:]
    gradient = ph["gradient"].copy()
    gradient[:, stop:] = 0.0
    return data, _target(dict(ph, data=data, gradient=gradient))


def _err(out: np.ndarray, target: np.ndarray, a: int, b: int) -> float:
    return float(np.sqrt(np.mean((out[:-1, a:b] - target[:, a:b]) ** 2)) * 1e6)


def test_markers_lost_then_the_scanner_stops(phantom) -> None:
    """The marker stream is lost after volume 16; the scanner goes on for volumes 17-19 and
    stops at 20. The three volumes are predicted and corrected; volume 20 is not confirmed
    by the data, and nothing is subtracted from the clean EEG after the scan."""
    ph = phantom
    sf, s = ph["sf"], _starts(ph)
    data, target = _stopped(ph, s[20])
    out = _replay(ph, data=data, onsets=ph["onsets"][:17])
    e_run = _vol_error_uv(ph, out.data, target, [17, 18, 19])
    settle = s[20] + int(0.1 * sf)
    e_first, e_after = _err(out.data, target, s[20], settle), _err(out.data, target, settle, data.shape[1])
    print(f"volumes 17-19 without markers: {np.round(e_run, 2)} uV; after the scan: {e_first:.2f} uV "
          f"(first 100 ms), {e_after:.4f} uV (rest)")
    # measured 23.7/24.3/25.7 uV (24.3/24.9/25.2 with markers); after: 12.9 uV (the 70 Hz
    # low-pass's memory of volume 19's residual, gone in 40 ms), then 0. The code before
    # left volumes 18 and 19 uncorrected (101 and 104 uV).
    assert np.all(e_run < 30.0)
    assert e_first < 20.0 and e_after < 1e-3
    assert out.state["volumes_predicted_unmarked"] == 0  # no marker came after them
    assert np.all(out.flags[s[17] + 2 : s[20] - 2] & F.PREDICTED)
    assert not np.any(out.flags[s[20] + 2 :] & F.PREDICTED)  # nothing subtracted after the scan
    assert any("scanner stopped?" in m for m in out.messages)


def test_scan_aborted_mid_volume_is_not_subtracted_after(phantom) -> None:
    """The scanner stops 0.4 s into volume 20, whose marker came: the rest of that volume
    is clean EEG and must not have the template subtracted (the worst failure: an
    artifact subtracted that is not there). The data decide within a few ms; the rest
    passes through flagged 'gradient artifact ended'."""
    ph = phantom
    sf, s = ph["sf"], _starts(ph)
    stop = s[20] + int(0.4 * sf)
    data, target = _stopped(ph, stop)
    out = _replay(ph, data=data, onsets=ph["onsets"][:21])
    settle = stop + int(0.1 * sf)
    e_first, e_after = _err(out.data, target, stop, settle), _err(out.data, target, settle, data.shape[1])
    ended = np.flatnonzero(out.flags & F.ARTIFACT_ENDED)
    print(f"after the abort: {e_first:.2f} uV (first 100 ms), {e_after:.4f} uV (rest); flagged from "
          f"{(ended[0] - stop) / sf * 1e3 if ended.size else np.nan:.1f} ms after it")
    # measured 15 uV (the low-pass ringing on the artifact's abrupt end, gone in 40 ms)
    # then 0, flagged from 1 ms before the stop; the code before subtracted the template
    # for the rest of the volume (108 uV in the first 100 ms, 29 uV over the rest of the run)
    assert e_first < 20.0 and e_after < 1e-3
    assert ended.size and abs(ended[0] - stop) <= int(0.005 * sf)
    assert np.all(out.flags[ended[0] : s[20] + int(0.99 * sf)] & F.ARTIFACT_ENDED)
    assert out.state["volumes_artifact_ended"] == 1
    assert any("gradient artifact stopped" in m for m in out.messages)
    # and where the scan goes on, no volume is ever taken for stopped
    full = _replay(ph)
    assert full.state["volumes_artifact_ended"] == 0 or not np.any(full.flags[: s[-1]] & F.ARTIFACT_ENDED)


def test_marker_loss_is_bounded() -> None:
    """Markers lost for good while the scanner runs: at most ``predict_volumes`` volumes
    are predicted, then the rest passes through flagged 'volume marker late' and said."""
    sf, period, onset = 1000.0, 700.3, 300.2
    n = int(onset + 30 * period)
    art = S.gradient_artifact(2, n, period, onset, harmonics=40)
    eeg = S.eeg_noise(2, n, sf)
    marks = S.markers(period, onset, n)
    r = replay_array(art + eeg, ["C3", "C4"], ["eeg", "eeg"], sf, marks[:12] / sf, ["R128"] * 12,
                     params=OnlineParams(bcg=False, lowpass_hz=None, predict_volumes=5), chunk=25, threaded=False)
    fl = r.flags
    pred = fl[marks[12] : marks[17]]
    assert np.all(pred & F.PREDICTED) and not np.any(pred & F.GRADIENT_UNCORRECTED)
    assert np.all(fl[marks[17] + 5 :] & F.MARKER_LATE)
    assert r.state["marker_loss_gave_up"] == 1
    assert any("no volume marker for 5 volumes" in m for m in r.messages)
    err = np.sqrt(np.mean((r.data[:2, marks[12] : marks[17]] - eeg[:, marks[12] : marks[17]]) ** 2))
    assert err < 0.05 * np.sqrt(np.mean(art[:, marks[12] : marks[17]] ** 2))


@pytest.mark.parametrize("delay_s", [0.03, 1.0])
def test_tr_change_with_late_markers(delay_s: float) -> None:
    """The TR changes from 0.70 to 0.52 s while the markers trail by 30 ms or 1.4 TR: the
    volumes predicted at the old TR are not confirmed by the data (never subtracted), the
    change is said and flagged, the stream keeps flowing, and the new TR is corrected."""
    sf, p1, p2, onset = 1000.0, 700.3, 520.7, 300.2
    n1 = int(onset + 14 * p1)
    a1 = S.gradient_artifact(2, n1, p1, onset, harmonics=40)
    m1 = S.markers(p1, onset, n1)
    on2 = float(m1[-1]) + p1
    n = int(on2 + 30 * p2)
    a2 = S.gradient_artifact(2, n, p2, on2, harmonics=40, seed=7)
    art = np.zeros((2, n))
    art[:, :n1] = a1
    i2 = int(np.ceil(on2))
    art[:, i2:] = a2[:, i2:]
    eeg = S.eeg_noise(2, n, sf)
    marks = np.r_[m1, S.markers(p2, on2, n)]
    r = replay_array(art + eeg, ["C3", "C4"], ["eeg", "eeg"], sf, marks / sf, ["R128"] * marks.size,
                     params=OnlineParams(bcg=False, lowpass_hz=None), chunk=25, threaded=False,
                     marker_delay_s=delay_s)
    out, fl = r.data, r.flags
    assert out.shape[1] == n and np.all(np.isfinite(out))
    # (the code before: at 30 ms, volume 14 came out 1.15x worse than raw; at 1 s, the new
    # TR was left 0.96 of the artifact: it predicted one volume past the last marker)
    assert r.state["tr_changes"] == 1
    assert any("TR changed from 0.7003 s to 0.52" in m for m in r.messages)
    assert np.any(fl[i2:] & F.TR_CHANGED)
    # never worse than the raw data around the change (no old-TR template misplaced)
    x = art + eeg
    for k in range(14, 24):
        a, b = int(marks[k]), int(marks[k + 1])
        e_out = np.sqrt(np.mean((out[:2, a:b] - eeg[:, a:b]) ** 2))
        e_raw = np.sqrt(np.mean((x[:, a:b] - eeg[:, a:b]) ** 2))
        assert e_out < 1.05 * e_raw, (k, e_out / e_raw)
    # corrected again at the new TR
    tail = slice(int(marks[-6]), int(marks[-2]))
    assert not np.any(fl[tail] & F.GRADIENT_UNCORRECTED)
    err = np.sqrt(np.mean((out[:2, tail] - eeg[:, tail]) ** 2))
    print(f"delay {delay_s} s: error at the new TR {err / np.sqrt(np.mean(art[:, tail] ** 2)):.3f} of the artifact")
    assert err < 0.05 * np.sqrt(np.mean(art[:, tail] ** 2))


def test_late_markers_reconcile_with_their_predicted_volumes() -> None:
    """Markers 2.5 volumes late on a steady artifact: each marker takes over the predicted
    volume of its number (one volume per number, in order, none restarted), and every
    sample after the first volumes is subtracted once: the error is that of markers on
    time, where a second template would double the artifact."""
    from workbench.engine.online.gradient import CausalGradient

    sf, period, onset = 2000.0, 1000.37, 500.6
    n = int(onset + 40 * period)
    art = S.gradient_artifact(4, n, period, onset)
    eeg = S.eeg_noise(4, n, sf)
    marks = S.markers(period, onset, n)

    def run(late: int | None) -> tuple[np.ndarray, np.ndarray, CausalGradient]:
        g = CausalGradient(4, sf, threaded=False)
        y = np.empty((4, n), np.float32)
        fl = np.empty(n, np.int16)
        mi = 0
        for s in range(0, n, 40):
            e = min(s + 40, n)
            while mi < marks.size and (marks[mi] < e + 40 if late is None else marks[mi] + late < e):
                g.add_marker(int(marks[mi]), now=s)
                mi += 1
            y[:, s:e], fl[s:e] = g.process(art[:, s:e] + eeg[:, s:e])
        g.close()
        return y, fl, g

    y0, _, _ = run(None)
    y, fl, g = run(int(2.5 * period))
    nums = [v.number for v in g.vols]
    assert nums == sorted(set(nums))
    assert [v.first for v in g.vols] == sorted(v.first for v in g.vols)
    assert g.n_late_covered >= g.n_late - 4 and g.n_tr_changes == 0 and g.n_spurious == 0
    a, b = int(marks[8]), int(marks[-3])
    e0 = np.sqrt(np.mean((y0[:, a:b] - eeg[:, a:b]) ** 2))
    e = np.sqrt(np.mean((y[:, a:b] - eeg[:, a:b]) ** 2))
    print(f"2.5 volumes late: {e * 1e6:.2f} uV left vs {e0 * 1e6:.2f} uV on time (artifact "
          f"{np.sqrt(np.mean(art[:, a:b] ** 2)) * 1e6:.0f} uV)")
    # measured 11.7 vs 8.8 uV (the templates wait for the markers: older); the code before
    # matched none of the 38 late markers to a prediction and left most volumes uncorrected
    assert e < 1.5 * e0 + 1e-6
    assert not np.any(fl[a:b] & F.GRADIENT_UNCORRECTED)
