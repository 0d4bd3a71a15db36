"""QC of the cardiac stage: beat matching (F1), pulse-locked residual RMS, residual-ECG correlation."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["match_beats", "pulse_locked_rms", "ecg_correlation", "pulse_qc", "epoch_matrix"]


def match_beats(detected: np.ndarray, reference: np.ndarray, tol_s: float = 0.01) -> dict[str, Any]:
    """One-to-one matching of detected beats to reference beats within ``±tol_s``.

    Greedy by distance (closest pairs first), so each beat is used once.

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn``, ``sensitivity``, ``precision``, ``f1``, ``mean_abs_error_ms``
        (of the matched pairs) and ``lag_ms`` (median detected − reference).
    """
    d = np.sort(np.asarray(detected, float))
    r = np.sort(np.asarray(reference, float))
    pairs = []
    if len(d) and len(r):
        j = np.searchsorted(d, r)
        for k, t in enumerate(r):
            for i in (j[k] - 1, j[k]):
                if 0 <= i < len(d) and abs(d[i] - t) <= tol_s:
                    pairs.append((abs(d[i] - t), i, k))
    pairs.sort()
    used_d, used_r, err = set(), set(), []
    for _dist, i, k in pairs:
        if i in used_d or k in used_r:
            continue
        used_d.add(i)
        used_r.add(k)
        err.append(d[i] - r[k])
    tp = len(err)
    fp, fn = len(d) - tp, len(r) - tp
    sens = tp / len(r) if len(r) else float("nan")
    prec = tp / len(d) if len(d) else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else float("nan")
    e = np.asarray(err)
    return {"tp": tp, "fp": fp, "fn": fn, "sensitivity": sens, "precision": prec, "f1": f1,
            "mean_abs_error_ms": float(1e3 * np.abs(e).mean()) if tp else float("nan"),
            "lag_ms": float(1e3 * np.median(e)) if tp else float("nan")}


def epoch_matrix(x: np.ndarray, onsets: np.ndarray, length: int) -> np.ndarray:
    """Epochs ``x[..., o:o+length]`` for the onsets (samples) fully inside ``x``: (n_epochs, ..., length)."""
    onsets = np.asarray(onsets, int)
    ok = onsets[(onsets >= 0) & (onsets + length <= x.shape[-1])]
    idx = ok[:, None] + np.arange(length)[None, :]
    if x.ndim == 1:
        return x[idx]
    return np.moveaxis(x[:, idx], 1, 0)


def pulse_locked_rms(data: np.ndarray, sfreq: float, rpeaks: np.ndarray, span: tuple[float, float] = (0.0, 0.7)) -> np.ndarray:
    """RMS over ``span`` s after each R-peak of the beat-averaged signal, per channel (same unit as data).

    The average over beats keeps what is locked to the heartbeat (the BCG and what is left
    of it) and averages the EEG out; each epoch is baseline-corrected by its own mean.
    """
    a = int(round(span[0] * sfreq))
    n = int(round((span[1] - span[0]) * sfreq))
    ep = epoch_matrix(np.atleast_2d(data), np.round(np.asarray(rpeaks) * sfreq).astype(int) + a, n)
    return _rms_of_epochs(ep, np.atleast_2d(data).shape[0])


def _rms_of_epochs(ep: np.ndarray, n_ch: int) -> np.ndarray:
    if len(ep) == 0:
        return np.full(n_ch, np.nan)
    avg = ep.mean(axis=0)
    avg = avg - avg.mean(axis=-1, keepdims=True)
    return np.sqrt((avg ** 2).mean(axis=-1))


def ecg_correlation(data: np.ndarray, ecg: np.ndarray, sfreq: float, rpeaks: np.ndarray,
                    span: tuple[float, float] = (0.0, 0.7)) -> np.ndarray:
    """Per channel: |correlation| of the beat-averaged signal with the beat-averaged ECG envelope.

    The BCG is not shaped like the ECG, so we correlate each channel's pulse-locked
    average with the ECG's pulse-locked average over the same span: a clean channel has
    nothing locked to the beat and a correlation near 0.
    """
    a = int(round(span[0] * sfreq))
    n = int(round((span[1] - span[0]) * sfreq))
    on = np.round(np.asarray(rpeaks) * sfreq).astype(int) + a
    ep = epoch_matrix(np.atleast_2d(data), on, n)
    ee = epoch_matrix(np.asarray(ecg, float), on, n)
    return _corr_of_epochs(ep, ee, np.atleast_2d(data).shape[0])


def _corr_of_epochs(ep: np.ndarray, ee: np.ndarray, n_ch: int) -> np.ndarray:
    if len(ep) < 2:
        return np.full(n_ch, np.nan)
    # correlation over epochs x time of each channel with the ECG (single-trial, so EEG lowers it)
    x = ep - ep.mean(axis=-1, keepdims=True)
    y = ee - ee.mean(axis=-1, keepdims=True)
    num = np.einsum("ect,et->c", x, y)
    den = np.sqrt(np.einsum("ect,ect->c", x, x) * np.einsum("et,et->", y, y))
    return np.abs(num / np.maximum(den, 1e-300))


def pulse_qc(data: np.ndarray, sfreq: float, rpeaks: np.ndarray, ecg: np.ndarray | None = None,
             span: tuple[float, float] = (0.0, 0.7)) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`pulse_locked_rms` and (with ``ecg``) :func:`ecg_correlation` from one set of epochs.

    Returns ``(rms, corr)`` with the same values as the two functions called apart; the
    beat epochs of ``data`` are cut once.
    """
    a = int(round(span[0] * sfreq))
    n = int(round((span[1] - span[0]) * sfreq))
    x = np.atleast_2d(data)
    on = np.round(np.asarray(rpeaks) * sfreq).astype(int) + a
    ep = epoch_matrix(x, on, n)
    rms = _rms_of_epochs(ep, x.shape[0])
    if ecg is None:
        return rms, None
    return rms, _corr_of_epochs(ep, epoch_matrix(np.asarray(ecg, float), on, n), x.shape[0])
