"""Single-trial EEG features and the mapping of fMRI-clock events onto the EEG clock."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import signal

from workbench.engine.errors import InputError
from workbench.engine.progress import as_progress

__all__ = ["align_events", "erp_feature", "bandpower_feature"]

_NON_EEG_RE = re.compile(
    r"^(ecg|ekg|eog|veog|heog|emg|resp)|(ecg|ekg|eog)[a-z0-9]*$", re.IGNORECASE
)
_VOLUME_RE = re.compile(r"(^|/)(r128|scan start|volume|tr|v)$|r128$", re.IGNORECASE)


def _source(raw: Any) -> str:
    fn = raw.filenames[0] if getattr(raw, "filenames", None) and raw.filenames[0] else None
    return str(fn) if fn else "EEG"


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    if len(x) >= 2:
        a, b = np.polyfit(x, y, 1)
    else:
        a, b = 1.0, float(y[0] - x[0])
    resid = float(np.max(np.abs(y - (a * x + b))))
    return float(a), float(b), resid


def _from_markers(raw: Any, onsets: np.ndarray, all_onsets: np.ndarray, idx: np.ndarray):
    ann = raw.annotations
    if len(ann) == 0:
        return None
    desc = np.asarray(ann.description)
    times = np.asarray(ann.onset) - (raw.first_time if ann.orig_time is not None else 0.0)
    best = None
    for name in sorted(set(desc)):
        t = np.sort(times[desc == name])
        for candidate, sel in ((onsets, slice(None)), (all_onsets, idx)):
            if len(t) != len(candidate) or len(t) < 2:
                continue
            a, b, resid = _fit_line(candidate, t)
            if abs(a - 1) < 2e-3 and resid < 0.05 and (best is None or resid < best[3]):
                best = (name, a, b, resid, t[sel])
    return best


def _volume_offset(raw: Any) -> tuple[str, float] | None:
    try:  # the io helper's trigger discovery, when present
        from workbench.engine.io.triggers import find_scanner_triggers

        info = find_scanner_triggers(raw)
        onsets = getattr(info, "volume_onsets", None)
        name = getattr(info, "volume_name", None) or "volume trigger"
        if onsets is not None and len(onsets):
            return str(name), float(np.min(onsets))
    except Exception:  # fall back to a simple name match below
        pass
    ann = raw.annotations
    if len(ann) == 0:
        return None
    desc = np.asarray(ann.description)
    times = np.asarray(ann.onset) - (raw.first_time if ann.orig_time is not None else 0.0)
    names = [d for d in sorted(set(desc)) if _VOLUME_RE.search(d.strip())]
    if not names:
        return None
    name = max(names, key=lambda d: int(np.sum(desc == d)))
    return name, float(np.min(times[desc == name]))


def align_events(
    raw: Any,
    onsets: np.ndarray,
    all_onsets: np.ndarray,
    idx: np.ndarray,
    how: str = "auto",
    offset: float | None = None,
) -> tuple[np.ndarray, str]:
    """Times on the EEG clock (s from the EEG's first sample) of events given on the fMRI clock.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    onsets : array
        Onsets (fMRI clock, s) of the events to measure.
    all_onsets, idx : array
        All events' onsets and the indices of ``onsets`` among them (markers may code all
        conditions with one description).
    how : {"auto", "markers", "volume-trigger", "none"}
    offset : float | None
        Known EEG time of the first volume (overrides ``volume-trigger``).

    Returns
    -------
    times : ndarray
    description : str
        How they were found (for the QC/messages).
    """
    if how in ("auto", "markers"):
        hit = _from_markers(raw, onsets, all_onsets, idx)
        if hit is not None:
            name, a, b, resid, times = hit
            drift_ppm = (a - 1) * 1e6
            return np.asarray(times, float), (
                f"matched to EEG markers {name!r} (offset {b:.3f} s, drift {drift_ppm:.1f} ppm, "
                f"max residual {resid * 1e3:.1f} ms)"
            )
        if how == "markers":
            raise InputError(
                _source(raw),
                "no EEG marker matches the events' timing; try eeg_alignment = volume-trigger",
            )
    if how in ("auto", "volume-trigger"):
        if offset is not None and offset != 0.0:
            return onsets + offset, f"first volume at {offset:.3f} s on the EEG clock (given)"
        vo = _volume_offset(raw)
        if vo is not None:
            return onsets + vo[
                1
            ], f"first volume trigger {vo[0]!r} at {vo[1]:.3f} s on the EEG clock"
        if how == "volume-trigger":
            raise InputError(_source(raw), "no volume trigger found in the EEG markers")
    return onsets + (
        offset or 0.0
    ), "EEG assumed to start with the first volume (no markers matched)"


def _check_window(raw: Any, times: np.ndarray, t0: float, t1: float) -> tuple[int, int]:
    sf = raw.info["sfreq"]
    i0 = int(np.floor(t0 * sf))
    i1 = int(np.ceil(t1 * sf))
    if times.min() + t0 < 0 or times.max() + t1 > raw.times[-1]:
        raise InputError(
            _source(raw),
            f"EEG ({raw.times[-1]:.1f} s) does not cover every trial's feature window "
            f"(events on the EEG clock span {times.min():.1f}-{times.max():.1f} s); "
            "are the EEG and fMRI from the same run?",
        )
    return i0, i1


def _segments(
    raw: Any, picks: list[int], times: np.ndarray, t0: float, t1: float, progress
) -> np.ndarray:
    """(n_trials, n_channels, n_samples) segments ``[t + t0, t + t1)`` read trial by trial.

    Reading per trial keeps memory small for long 5 kHz recordings that are not preloaded.
    """
    progress = as_progress(progress)
    sf = raw.info["sfreq"]
    n = int(round((t1 - t0) * sf))
    out = np.empty((len(times), len(picks), n))
    for i, t in enumerate(times):
        start = int(round((t + t0) * sf))
        out[i] = raw.get_data(picks=picks, start=start, stop=start + n)
        if i % 10 == 0:
            progress(i / len(times), "reading EEG trials")
    return out


def _eeg_picks(raw: Any) -> list[int]:
    import mne

    picks = [
        k
        for k in mne.pick_types(raw.info, eeg=True, exclude="bads")
        if not _NON_EEG_RE.search(raw.ch_names[k])  # ECG/EOG recorded as "EEG" (BrainVision)
    ]
    if not picks:
        raise InputError(_source(raw), "no good EEG channels")
    return picks


def _pick_channel(raw: Any, name: str) -> int:
    if name not in raw.ch_names:
        some = ", ".join(raw.ch_names[:8])
        raise InputError(_source(raw), f"no channel {name!r} (channels: {some}, ...)")
    return raw.ch_names.index(name)


def erp_feature(
    raw: Any,
    times: np.ndarray,
    tmin: float,
    tmax: float,
    baseline: float,
    channel: str = "auto",
    spatial_filter: str = "channel",
    progress=None,
    seed: int = 0,
    n_noise: int = 1000,
) -> tuple[np.ndarray, str]:
    """Mean ERP amplitude in ``[tmin, tmax]`` minus the ``baseline`` s before each event.

    ``spatial_filter``: ``"channel"`` (one channel, V), ``"topography"`` (projection on
    the average ERP topography, relative units, mean 1) or ``"whitened"`` (the maximum-SNR
    spatial filter ``w = C^-1 m / (m' C^-1 m)``, with ``m`` the average ERP topography and
    ``C`` the Ledoit-Wolf covariance of the same feature measured in ``n_noise`` windows at
    random times (seeded): it suppresses spatially structured background such as alpha;
    relative units, mean 1); or ``"spatiotemporal"`` (the same filter in space and time:
    the window is cut into bins of at least 10 ms, at most :data:`MAX_BINS` of them, and
    the average ERP's bin-by-channel pattern is whitened by the covariance of the same
    vector in the random windows: it also cancels background that oscillates within the
    window, such as alpha and the pulse artifact's residue; relative units, mean 1).

    Returns the per-trial feature and a description of the channel/filter used.
    """
    picks = _eeg_picks(raw)
    t0 = -baseline if baseline > 0 else tmin
    _check_window(raw, times, t0, tmax)
    seg = _segments(raw, picks, times, t0, tmax, progress)
    sf = raw.info["sfreq"]
    w0 = int(round((tmin - t0) * sf))
    win = seg[:, :, w0:].mean(axis=2)
    if baseline > 0:
        win = win - seg[:, :, : max(1, int(round(baseline * sf)))].mean(axis=2)
    mean_topo = win.mean(axis=0)
    if not np.any(win):  # flat EEG: a feature without variance (reported by the caller)
        return np.zeros(len(times)), "flat EEG in the window"
    if channel != "auto":
        idx = _pick_channel(raw, channel)
        if idx not in picks:
            raise InputError(_source(raw), f"channel {channel!r} is not a good EEG channel")
        return win[:, picks.index(idx)], f"channel {channel}"
    if spatial_filter == "whitened":
        return _whitened(raw, picks, win, mean_topo, t0, tmin, tmax, baseline, seed, n_noise)
    if spatial_filter == "spatiotemporal":
        return _spatiotemporal(raw, picks, seg, t0, tmin, tmax, baseline, seed, n_noise)
    if spatial_filter == "topography":
        norm = float(mean_topo @ mean_topo)
        if norm == 0:
            raise InputError(_source(raw), "the average ERP in the window is zero; no topography")
        return (
            win @ mean_topo / norm,
            f"projection on the average ERP topography ({len(picks)} channels)",
        )
    k = int(np.argmax(np.abs(mean_topo)))
    return win[:, k], f"channel {raw.ch_names[picks[k]]} (largest average ERP)"


def _whitened(raw, picks, win, m, t0, tmin, tmax, baseline, seed, n_noise):
    """Max-SNR spatial filter from a noise covariance of random windows (see erp_feature)."""
    from sklearn.covariance import ledoit_wolf

    sf = raw.info["sfreq"]
    n = int(round((tmax - t0) * sf))
    w0 = int(round((tmin - t0) * sf))
    nb = max(1, int(round(baseline * sf)))
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.integers(0, raw.n_times - n, n_noise))
    noise = np.empty((n_noise, len(picks)))
    for i, start in enumerate(starts):
        seg = raw.get_data(picks=picks, start=int(start), stop=int(start) + n)
        noise[i] = seg[:, w0:].mean(axis=1) - (seg[:, :nb].mean(axis=1) if baseline > 0 else 0.0)
    cov = ledoit_wolf(noise)[0]
    w = np.linalg.pinv(cov) @ m  # pinv: a rank-deficient montage (average reference) is fine
    gain = float(w @ m)
    if not gain > 0:
        raise InputError(_source(raw), "the average ERP in the window is zero; no spatial filter")
    return win @ (w / gain), f"max-SNR (noise-whitened) spatial filter ({len(picks)} channels)"


#: most time bins of the spatio-temporal filter (keeps its covariance well estimated)
MAX_BINS = 12


def _st_vectors(seg: np.ndarray, w0: int, nb: int, n_bins: int, k: int) -> np.ndarray:
    """Bin means (channels x bins, flattened) of the window minus the baseline mean."""
    win = seg[..., w0:w0 + n_bins * k]
    binned = win.reshape(*win.shape[:-1], n_bins, k).mean(axis=-1)
    if nb > 0:
        binned = binned - seg[..., :nb].mean(axis=-1, keepdims=True)
    return binned.reshape(*binned.shape[:-2], -1)


def _spatiotemporal(raw, picks, seg, t0, tmin, tmax, baseline, seed, n_noise):
    """Max-SNR spatio-temporal filter from random background windows (see erp_feature)."""
    from sklearn.covariance import ledoit_wolf

    sf = raw.info["sfreq"]
    w0 = int(round((tmin - t0) * sf))
    n_win = seg.shape[-1] - w0
    n_bins = int(min(MAX_BINS, max(1, int((tmax - tmin) / 0.01 + 1e-9))))
    k = max(1, n_win // n_bins)
    nb = max(1, int(round(baseline * sf))) if baseline > 0 else 0
    X = _st_vectors(seg, w0, nb, n_bins, k)
    m = X.mean(axis=0)
    n = seg.shape[-1]
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.integers(0, raw.n_times - n, n_noise))
    noise = np.empty((n_noise, X.shape[1]))
    for i, start in enumerate(starts):
        noise[i] = _st_vectors(raw.get_data(picks=picks, start=int(start), stop=int(start) + n),
                               w0, nb, n_bins, k)
    cov = ledoit_wolf(noise)[0]
    w = np.linalg.pinv(cov) @ m
    gain = float(w @ m)
    if not gain > 0:
        raise InputError(_source(raw), "the average ERP in the window is zero; no spatial filter")
    return X @ (w / gain), (
        f"max-SNR spatio-temporal filter ({len(picks)} channels x {n_bins} bins of "
        f"{k / sf * 1e3:.0f} ms)"
    )


def bandpower_feature(
    raw: Any,
    times: np.ndarray,
    tmin: float,
    tmax: float,
    fmin: float,
    fmax: float,
    channel: str = "auto",
    progress=None,
) -> tuple[np.ndarray, str]:
    """log10 of the mean power in ``[fmin, fmax]`` Hz during ``[tmin, tmax]`` after each event.

    Each trial's segment is read with 1 s padding on both sides, band-passed with a
    4th-order zero-phase Butterworth filter (the padding absorbs the edge transients),
    and squared over the window.
    """
    sf = raw.info["sfreq"]
    if not fmin < fmax < sf / 2:
        raise InputError(
            None, f"band [{fmin}, {fmax}] Hz must satisfy fmin < fmax < Nyquist ({sf / 2} Hz)"
        )
    if tmax <= tmin:
        raise InputError(None, f"feature window tmax ({tmax}) must be after tmin ({tmin})")
    picks = _eeg_picks(raw) if channel == "auto" else [_pick_channel(raw, channel)]
    pad = 1.0
    _check_window(raw, times, tmin - pad, tmax + pad)
    seg = _segments(raw, picks, times, tmin - pad, tmax + pad, progress)
    sos = signal.butter(4, [fmin, fmax], btype="bandpass", fs=sf, output="sos")
    filt = signal.sosfiltfilt(sos, seg, axis=-1)
    p0 = int(round(pad * sf))
    power = (filt[:, :, p0 : filt.shape[-1] - p0] ** 2).mean(axis=(1, 2))
    where = "mean of all EEG channels" if channel == "auto" else f"channel {channel}"
    return np.log10(np.maximum(power, 1e-30)), where
