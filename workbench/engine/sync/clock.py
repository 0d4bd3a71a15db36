"""Robust EEG-clock vs scanner-clock fit, and correction of the EEG onto the scanner clock.

The scanner acquires volume ``i`` of a run at scanner time ``i * TR`` (exact: the
scanner's clock is the reference); the EEG amplifier's clock runs slightly fast or slow,
so the triggers arrive at ``t_EEG = alpha * t_MRI + beta``. We fit that line robustly
(iteratively reweighted least squares with Tukey's biweight on a MAD scale, then an
ordinary fit on the inliers for the confidence interval), because MNE's
``realign_raw`` uses plain OLS with no outlier handling and needs matched events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import stdtrit

from ..errors import InputError
from .triggers import TriggerTrain


@dataclass
class ClockFit:
    """Result of :func:`fit_clock`: ``t_EEG = alpha * t_MRI + beta`` (seconds).

    ``beta_s`` is the EEG time of the first trigger's scanner time zero; with several
    runs each run has its own offset (``run_beta_s``) and ``alpha`` is shared.
    """

    alpha: float
    beta_s: float
    alpha_ci: tuple[float, float]
    drift_ppm: float
    drift_ppm_ci: tuple[float, float]
    mismatch_ms: float
    jitter_us: float
    max_residual_us: float
    n_used: int
    n_outliers: int
    tr_s: float
    duration_s: float
    run_beta_s: list[float]
    tr_known: bool = True

    @property
    def drift_us_per_s(self) -> float:
        """Drift in µs per second (numerically equal to ppm)."""
        return self.drift_ppm

    def eeg_time(self, t_mri: np.ndarray, run: int = 0) -> np.ndarray:
        """EEG-clock time (s) of scanner time ``t_mri`` in run ``run``."""
        return self.alpha * np.asarray(t_mri, float) + self.run_beta_s[run]

    def qc(self) -> dict[str, Any]:
        """JSON-ready QC (DESIGN §6)."""
        d = asdict(self)
        d["drift_us_per_s"] = self.drift_us_per_s
        d["alpha_ci"] = list(self.alpha_ci)
        d["drift_ppm_ci"] = list(self.drift_ppm_ci)
        return d


def _robust_scale(r: np.ndarray, floor: float) -> float:
    """The residuals' robust scale (1.4826 MAD, never below ``floor``).

    A MAD of a nanosecond or less is the triggers sharing one grid line with the
    least-squares rounding left (0 or 1e-16 s depending on the machine's BLAS): never a
    timing scale, so the spread of all residuals stands in.
    """
    scale = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), floor)
    return scale if scale > 1e-9 else max(float(np.std(r)), 1e-9)


def slopes_within(x: np.ndarray, t: np.ndarray, run: np.ndarray, band: float,
                  most: int | None = 600) -> tuple[float, float] | None:
    """The slopes of the lines ``t = a x + b_run`` that pass within ``band`` of every
    pair of points (at most ``most`` evenly spaced per run, None: all; a subset only
    widens the interval): ``max (dt - band) / dx .. min (dt + band) / dx`` over the pairs
    of each run. None when no slope does (a point off by more than ``band``) or with
    fewer than three pairs. Used for the clock fit's interval (triggers rounded to
    samples) and by the online correction (whole-sample markers, band one sample)."""
    lo, hi, n_pairs = -np.inf, np.inf, 0
    for r in np.unique(run):
        sel = np.flatnonzero(run == r)
        if most is not None and sel.size > most:
            sel = sel[np.linspace(0, sel.size - 1, most).round().astype(int)]
        xs, ts = x[sel], t[sel]
        dx = xs[None, :] - xs[:, None]
        dt = ts[None, :] - ts[:, None]
        up = dx > 0
        if not up.any():
            continue
        lo = max(lo, float(np.max((dt[up] - band) / dx[up])))
        hi = min(hi, float(np.min((dt[up] + band) / dx[up])))
        n_pairs += int(up.sum())
    if n_pairs < 3 or not lo <= hi:
        return None
    return lo, hi


def fit_clock(
    train: TriggerTrain,
    tr: float | None = None,
    *,
    cutoff: float = 4.685,
    n_iter: int = 20,
    confidence: float = 0.95,
    resolution: float = 0.0,
) -> ClockFit:
    """Fit ``t_EEG = alpha * t_MRI + beta`` to a trigger train robustly.

    Parameters
    ----------
    train : TriggerTrain
        From :func:`~workbench.engine.sync.triggers.repair_triggers`; filled
        (repaired) onsets are not used in the fit.
    tr : float | None
        The nominal period on the scanner clock (TR for volume triggers). When None,
        the median spacing is used and the drift cannot be measured (``alpha = 1``
        by construction, ``tr_known = False``).
    cutoff : float
        Tukey biweight constant in units of the robust (MAD) scale.
    n_iter : int
        IRLS iterations.
    confidence : float
        Level of the reported confidence interval.
    resolution : float
        The onsets' time grid (s), e.g. ``1 / sfreq`` for markers on EEG samples (0:
        unknown). Rounding to that grid leaves every trigger an error of up to half a
        step (SD ``resolution / sqrt(12)``), which is the least the residual scale and
        the residual variance are taken to be. Without that floor, when the drift
        moves the triggers by less than a sample over the run (a short run at a low
        rate: 26 volumes of 2 s at 1 kHz and 20 ppm drift by one sample), more than
        half of them lie exactly on one line of the grid, the MAD scale is 0, the
        triggers past the drift's one-sample step were rejected as outliers and the
        fit returned ``alpha = 1`` exactly with a zero-width confidence interval.

    Returns
    -------
    ClockFit
    """
    real = ~train.filled
    t = train.onsets[real]
    idx = train.index[real].astype(float)
    run = train.run[real]
    n_runs = train.n_runs
    tr_known = tr is not None
    # without a nominal TR, the median spacing (to the microsecond: markers sit on samples)
    tr = float(tr) if tr_known else round(float(train.period), 6)
    if t.size < 3:
        raise InputError(None, f"only {t.size} triggers to fit the clock with; need at least 3")
    x = idx * tr
    # the residual scale is never below the rounding to the onsets' grid (see above)
    floor = max(float(resolution), 0.0) / np.sqrt(12.0)
    # design: [t_MRI, one intercept per run]
    X = np.zeros((t.size, 1 + n_runs))
    X[:, 0] = x
    X[np.arange(t.size), 1 + run] = 1.0
    coef = np.linalg.lstsq(X, t, rcond=None)[0]
    for _ in range(n_iter):
        r = t - X @ coef
        scale = _robust_scale(r, floor)
        u = r / (cutoff * scale)
        w_new = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        sw = np.sqrt(w_new)
        coef_new = np.linalg.lstsq(X * sw[:, None], t * sw, rcond=None)[0]
        done = np.allclose(coef_new, coef, rtol=0, atol=1e-12)
        coef = coef_new
        if done:
            break
    r = t - X @ coef
    inl = np.abs(r) <= cutoff * _robust_scale(r, floor)
    Xi, ti = X[inl], t[inl]
    coef, *_ = np.linalg.lstsq(Xi, ti, rcond=None)
    resid = ti - Xi @ coef
    dof = max(ti.size - X.shape[1], 1)
    s2 = max(float(resid @ resid) / dof, floor**2)
    cov = s2 * np.linalg.pinv(Xi.T @ Xi)
    se_a = float(np.sqrt(max(cov[0, 0], 0.0)))
    # Student's t quantile from scipy.special: importing scipy.stats for stats.t.ppf
    # (the same function) cost 0.3-0.6 s of every command's start-up
    q = float(stdtrit(dof, 0.5 + confidence / 2))
    alpha = float(coef[0])
    ci = (alpha - q * se_a, alpha + q * se_a)
    if tr_known and resolution > 0:
        # the interval above takes the rounding as independent errors; when the drift
        # moves the triggers by less than a few grid steps over the run they are not
        # (long stretches round the same way), and it excluded the truth: 120 s at 1 kHz,
        # 4 or 8 ppm, fitted 0.00 with [-2.39, 2.39]. The slopes a line can have that
        # stays within the rounding (and the jitter beyond it) of every trigger bound
        # the truth whatever the errors' pattern: the interval is never narrower. Two
        # triggers' errors differ by at most a grid step, or by twice the largest
        # residual when they jitter beyond the rounding (then the fitted line itself
        # always meets the band)
        band = max(float(resolution), 2.0 * float(np.max(np.abs(resid))) if resid.size else 0.0)
        feas = slopes_within(x[inl], t[inl], run[inl], band)
        if feas is not None:
            ci = (min(ci[0], feas[0]), max(ci[1], feas[1]))
    duration = float(np.ptp(train.onsets)) if train.onsets.size else 0.0
    drift = (alpha - 1.0) * 1e6 if tr_known else 0.0
    if not tr_known:  # the fitted period, not the (sample-quantised) median spacing
        tr = round(alpha * tr, 6)
    return ClockFit(
        alpha=alpha if tr_known else 1.0,
        beta_s=float(coef[1]),
        alpha_ci=ci if tr_known else (1.0, 1.0),
        drift_ppm=drift,
        drift_ppm_ci=((ci[0] - 1) * 1e6, (ci[1] - 1) * 1e6) if tr_known else (0.0, 0.0),
        mismatch_ms=(alpha - 1.0) * duration / alpha * 1e3 if tr_known else 0.0,
        jitter_us=float(np.std(resid)) * 1e6,
        max_residual_us=float(np.max(np.abs(resid))) * 1e6,
        n_used=int(inl.sum()),
        n_outliers=int((~inl).sum()),
        tr_s=tr,
        duration_s=duration,
        run_beta_s=[float(b) for b in coef[1:]],
        tr_known=tr_known,
    )


def realign_to_scanner(
    raw: Any, fit: ClockFit, *, resample: bool = False, copy: bool = True
) -> Any:
    """Put an EEG recording on the scanner clock.

    By default the sample grid is kept and the sampling rate is corrected exactly:
    the true rate in scanner seconds is ``sfreq * alpha``; annotation onsets are
    rescaled so every annotation stays on the same sample (MNE's ``realign_raw``
    resamples and crops, and moves annotations off their samples). With
    ``resample=True`` the data are additionally resampled back to the nominal rate on
    the scanner clock (MNE's polyphase/FFT resampler).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Preloaded recording (not modified when ``copy``).
    fit : ClockFit
        The clock fit.
    resample : bool
        Resample onto the nominal rate in scanner time.
    copy : bool
        Work on a copy (default).

    Returns
    -------
    mne.io.BaseRaw
    """
    import mne

    out = raw.copy() if copy else raw
    if not out.preload:
        out.load_data()
    sfreq = float(out.info["sfreq"])
    alpha = float(fit.alpha)
    if alpha == 1.0:
        return out
    ann = out.annotations
    # onsets relative to the first sample (MNE counts them from first_samp only when the
    # annotations carry an orig_time)
    with_first = ann.orig_time is not None
    first_time = out.first_samp / sfreq if with_first else 0.0
    rel = ann.onset - first_time
    new_sfreq = sfreq * alpha
    new_first = out.first_samp / new_sfreq if with_first else 0.0
    new_ann = mne.Annotations(
        onset=rel / alpha + new_first,
        duration=ann.duration / alpha,
        description=list(ann.description),
        orig_time=ann.orig_time,
        ch_names=[list(c) for c in ann.ch_names] if hasattr(ann, "ch_names") else None,
    )
    with out.info._unlock():
        out.info["sfreq"] = new_sfreq
        if out.info["lowpass"] is not None:
            out.info["lowpass"] = min(out.info["lowpass"] * alpha, new_sfreq / 2)
    out.set_annotations(new_ann)
    if resample:
        out.resample(sfreq, npad="auto")
    return out
