"""Bad input never stops the stream: it passes through uncorrected, flagged, and said."""

from __future__ import annotations

import numpy as np
import online_synth as S
import pytest

from workbench.engine.online import OnlineParams, OnlinePipeline
from workbench.engine.online import flags as F

SF = 1000.0
PERIOD = 700.3
ONSET = 300.2


def _feed(pipe: OnlinePipeline, x: np.ndarray, ts: np.ndarray, marks_t: np.ndarray, chunk: int = 25):
    outs, flags, msgs = [], [], []
    mi = 0
    for s in range(0, x.shape[1], chunk):
        e = min(s + chunk, x.shape[1])
        while mi < marks_t.size and marks_t[mi] <= ts[e - 1]:
            pipe.add_markers([marks_t[mi]], ["Response/R128"])
            mi += 1
        r = pipe.process(x[:, s:e], ts[s:e])
        outs.append(r.data)
        flags.append(r.flags)
        msgs += r.messages
    pipe.close()
    return np.concatenate(outs, axis=1), np.concatenate(flags), msgs


def _pipe(**kw) -> OnlinePipeline:
    return OnlinePipeline(["C3", "C4"], ["eeg", "eeg"], SF, OnlineParams(bcg=False, lowpass_hz=None, **kw),
                          threaded=False)


@pytest.fixture(scope="module")
def stream() -> dict:
    n = int(ONSET + 30 * PERIOD)
    art = S.gradient_artifact(2, n, PERIOD, ONSET, harmonics=40)
    eeg = S.eeg_noise(2, n, SF)
    marks = S.markers(PERIOD, ONSET, n)
    return {"x": art + eeg, "eeg": eeg, "marks": marks, "n": n}


def test_no_markers_passes_through_flagged_and_says_so(stream: dict) -> None:
    x = stream["x"]
    ts = np.arange(x.shape[1]) / SF
    out, fl, msgs = _feed(_pipe(), x, ts, np.array([]))
    assert out.shape == (3, x.shape[1])  # two channels + the flag row
    np.testing.assert_allclose(out[:2], x, atol=1e-9)
    assert np.all(fl == F.NO_VOLUME) and np.all(out[2] == F.NO_VOLUME)
    assert sum("no scanner volume markers" in m for m in msgs) == 1


def test_gap_pauses_until_next_marker_then_corrects(stream: dict) -> None:
    x, marks = stream["x"], stream["marks"]
    n = x.shape[1]
    cut = int(marks[15]) + 200  # the stream stops for 0.8 s (800 samples lost) and resumes
    keep = np.r_[0:cut, cut + 800 : n]
    ts = keep / SF
    lost = (marks >= cut) & (marks < cut + 800)  # the marker inside the gap is lost too
    assert lost.sum() == 1
    out, fl, msgs = _feed(_pipe(), x[:, keep], ts, marks[~lost] / SF)
    assert out.shape[1] == keep.size  # nothing invented, nothing stopped
    assert any("stream gap of 0.80" in m for m in msgs)
    after = np.searchsorted(keep, cut + 800)
    nxt = np.searchsorted(keep, marks[marks > cut + 800][0])
    assert np.all(fl[after : nxt - 25] & F.GAP)  # (to the chunk that brings the marker)
    assert np.all(fl[after:nxt] != 0)
    np.testing.assert_allclose(out[:2, after:nxt], x[:, keep[after:nxt]], atol=1e-6)
    # corrected again from the next marker on, without relearning
    m2 = np.searchsorted(keep, marks[18])
    assert np.all(fl[nxt:m2] == 0)


def test_sample_rate_not_matching_header_is_flagged_uncorrected(stream: dict) -> None:
    x, marks = stream["x"], stream["marks"]
    ts = np.arange(x.shape[1]) / (0.8 * SF)  # samples really arrive at 800 Hz
    out, fl, msgs = _feed(_pipe(), x, ts, marks / (0.8 * SF))
    assert any("arrive at 800.0 Hz but the stream header says 1000 Hz" in m for m in msgs)
    late = fl[-5000:]
    assert np.all(late & F.RATE_MISMATCH)
    np.testing.assert_allclose(out[:2, -5000:], x[:, -5000:], atol=1e-9)


def test_tr_change_restarts_templates_and_keeps_flowing() -> None:
    p1, p2 = 700.3, 520.7
    n1 = int(ONSET + 14 * p1)
    a1 = S.gradient_artifact(2, n1, p1, ONSET, harmonics=40)
    m1 = S.markers(p1, ONSET, n1)
    on2 = float(m1[-1]) + p1  # the new TR starts right after the last old volume
    n = int(on2 + 16 * p2)
    a2 = S.gradient_artifact(2, n, p2, on2, harmonics=40, seed=7)
    art = np.zeros((2, n))
    art[:, :n1] = a1
    art[:, int(np.ceil(on2)) :] = a2[:, int(np.ceil(on2)) :]
    eeg = S.eeg_noise(2, n, SF)
    marks = np.r_[m1, S.markers(p2, on2, n)]
    out, fl, msgs = _feed(_pipe(), art + eeg, np.arange(n) / SF, marks / SF)
    assert out.shape[1] == n
    assert any("TR changed from 0.7003 s to 0.52" in m for m in msgs)
    i2 = int(np.ceil(on2))
    assert np.any(fl[i2:] & F.TR_CHANGED)
    # corrected again once the new templates are in, well below the artifact
    tail = slice(int(marks[-4]), int(marks[-1]))
    assert np.all(fl[tail] == 0)
    err = np.sqrt(np.mean((out[:2, tail] - eeg[:, tail]) ** 2))
    assert err < 0.05 * np.sqrt(np.mean(art[:, tail] ** 2))


def test_a_spurious_marker_is_ignored(stream: dict) -> None:
    x, marks = stream["x"], stream["marks"]
    extra = (marks[12] + 250) / SF
    mt = np.sort(np.r_[marks / SF, extra])
    out, fl, msgs = _feed(_pipe(), x, np.arange(x.shape[1]) / SF, mt)
    assert any("ignored a volume marker off the TR rhythm" in m for m in msgs)
    a, b = int(marks[10]), int(marks[-1])
    assert np.all(fl[a:b] == 0)
    err = np.sqrt(np.mean((out[:2, a:b] - stream["eeg"][:, a:b]) ** 2))
    assert err < 0.05 * np.sqrt(np.mean((x[:, a:b] - stream["eeg"][:, a:b]) ** 2))
