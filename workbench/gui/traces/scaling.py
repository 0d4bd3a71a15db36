"""Initial per-type trace scale that shows the EEG, not the scanner artifact (Qt-free).

Inside the scanner the raw EEG is dominated by the gradient artifact (millivolts), so a
scale fitted to any stretch of the scan shows only the artifact (~17 mV per row). The
initial scale is therefore fitted to EEG that has no gradient artifact in it: the
cleaned recording when there is one, else the raw EEG before the first (or after the
last) scanner trigger. When neither exists, a fitted EEG/EOG amplitude that no brain
produces (> 1 mV) is taken as the artifact and the type's default scale is used.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: a fitted range above this (V) is an artifact, not EEG/EOG/EMG
PLAUSIBLE_MAX = {"eeg": 1e-3, "eog": 2e-3, "emg": 2e-3}
_SAMPLE_S = 10.0  # seconds read to fit the scale
_MIN_CLEAN_S = 0.5  # a pre/post-scan stretch shorter than this is not used


def display_types(raw: Any, picks: list[int] | None = None) -> list[str]:
    """Channel types for scaling: MNE's, except that an "eeg" channel named like an ECG
    (``ECG``, ``EKG``) or EOG (``VEOG``, ``HEOGR``...) gets that type. BrainVision files
    carry no types, so their ECG/EOG channels read as EEG and would share its scale."""
    if picks is None:
        picks = list(range(len(raw.ch_names)))
    out = []
    for i, t in zip(picks, raw.get_channel_types(picks=picks) if picks else []):
        if t == "eeg":
            u = raw.ch_names[i].upper()
            if u.startswith(("ECG", "EKG")):
                t = "ecg"
            elif "EOG" in u:
                t = "eog"
        out.append(t)
    return out


def nice_scale(v: float) -> float:
    """The 1, 2 or 5 x 10^k nearest to ``v`` on a log scale (a readable µV/row).

    Rounding down by at most a factor 1.6 clips only the rarest peaks (rows are clipped
    to +-half a row), and keeps the EEG large enough to read.
    """
    if not np.isfinite(v) or v <= 0:
        return float("nan")
    k = np.floor(np.log10(v))
    cands = np.array([1.0, 2.0, 5.0, 10.0]) * 10**k
    return float(cands[np.argmin(np.abs(np.log(cands / v)))])


def scan_span(raw: Any) -> tuple[float, float] | None:
    """(first, last + one period) scanner trigger in s from the first sample, or None."""
    if raw is None or len(getattr(raw, "annotations", [])) == 0:
        return None
    try:
        from workbench.engine.io.triggers import find_scanner_triggers

        info = find_scanner_triggers(raw)
    except Exception as e:  # noqa: BLE001 - a view must open whatever the markers are
        log.debug("no scanner triggers for the trace view: %s", e)
        return None
    if info.volume_onsets.size:
        on, period = info.volume_onsets, info.tr or info.volume_spacing
    elif info.slice_onsets.size:
        on, period = info.slice_onsets, info.slice_period or info.slice_spacing
    else:
        return None
    return float(on[0]), float(on[-1] + (period or 0.0))


def robust_range(data: np.ndarray, sfreq: float) -> float:
    """Median over 1-s chunks and channels of twice the larger 2.5 % / 97.5 % deviation from
    the chunk mean (drift-proof; the view draws each row around its mean, so a one-sided
    signal such as an ECG's R-peaks needs its larger side to fit in half a row). For
    Gaussian EEG this is ~4 SD per row: ~95 % of samples inside, the rest clipped."""
    data = np.atleast_2d(data)
    step = max(1, int(sfreq // 1000))  # ~1 kHz is plenty for percentiles
    d = data[:, ::step]
    per = max(8, int(round(sfreq / step)))  # one second
    n = d.shape[1] // per
    if n == 0:
        if d.shape[1] < 8:
            return float("nan")
        d = d[:, None, :]
    else:
        d = d[:, : n * per].reshape(d.shape[0], n, per)
    lo, hi = np.nanpercentile(d, [2.5, 97.5], axis=2)
    mean = np.nanmean(d, axis=2)
    return float(np.nanmedian(2.0 * np.maximum(hi - mean, mean - lo)))


def _clean_window(raw: Any, cleaned: Any) -> tuple[Any, float, float, bool]:
    """(source, t_start, t_stop, artifact_free) to fit the scale on."""
    sf = float(raw.info["sfreq"])
    dur = raw.n_times / sf
    span = scan_span(raw)
    if cleaned is not None:
        t0 = span[0] if span is not None else 0.0
        t0 = min(t0, max(0.0, cleaned.n_times / sf - _SAMPLE_S))
        return cleaned, t0, t0 + _SAMPLE_S, True
    if span is not None:
        first, last = span
        if first - 0.05 >= _MIN_CLEAN_S:  # before the scan (the lead-in)
            stop = first - 0.05
            return raw, max(0.0, stop - _SAMPLE_S), stop, True
        if dur - (last + 0.05) >= _MIN_CLEAN_S:  # after the scan
            start = last + 0.05
            return raw, start, min(dur, start + _SAMPLE_S), True
    return raw, 0.0, min(dur, _SAMPLE_S), span is None


def initial_scales(raw: Any, cleaned: Any, picks: list[int], defaults: dict[str, float],
                   fallback: float) -> dict[str, float]:
    """Volts per row for each channel type of ``picks`` (1-2-5 rounded)."""
    if raw is None or not picks:
        return {}
    source, t0, t1, artifact_free = _clean_window(raw, cleaned)
    sf = float(source.info["sfreq"])
    start = int(np.clip(round(t0 * sf), 0, max(0, source.n_times - 1)))
    stop = int(np.clip(round(t1 * sf), start + 1, source.n_times))
    types = display_types(raw, picks)
    data = source.get_data(picks=picks, start=start, stop=stop)
    out: dict[str, float] = {}
    for typ in dict.fromkeys(types):
        rows = data[[k for k, t in enumerate(types) if t == typ]]
        v = nice_scale(robust_range(rows, sf))
        limit = PLAUSIBLE_MAX.get(typ)
        if not np.isfinite(v) or (limit is not None and v > limit):
            # only artifact to fit on (scanning from the first sample): the type's default
            v = defaults.get(typ, fallback)
        elif not artifact_free and limit is not None:
            v = min(v, defaults.get(typ, fallback) * 2)
        out[typ] = float(v)
    return out
