"""Design matrices: microtime convolution with SPM's HRF, modulators, cosine drifts.

Written here rather than with nilearn's ``make_first_level_design_matrix`` because we
need (1) SPM's exact HRF (nilearn's is shifted by a sample), (2) the regressors sampled
at each slice's own acquisition time, and (3) the modulator mean-centred and
orthogonalised to its main effect, which nilearn's ``modulation`` column does not do (it
only multiplies each event by its value, so the "modulated" regressor mixes the average
response with its trial-by-trial variation). Tests check these matrices against SPM's
(``spm_dmtx.npz``) and the GLM betas against nilearn's ``FirstLevelModel``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.engine.hemo import spm_hrf

__all__ = ["MICROTIME", "cosine_drift", "neural_regressor", "sample_regressor", "build_design"]

#: microtime bins per TR (SPM's fMRI_T)
MICROTIME = 16


def cosine_drift(frame_times: np.ndarray, high_pass: float) -> np.ndarray:
    """Discrete cosine drift basis (without the constant), SPM's ``spm_dctmtx`` columns.

    ``floor(2 n dt f) - 1`` cosines ``sqrt(2/n) cos(pi k (i + 1/2) / n)``, ``k >= 1`` (the
    order nilearn uses; equal to SPM's on ``spm_dmtx.npz``).
    """
    frame_times = np.asarray(frame_times, float)
    n = len(frame_times)
    if n < 2 or high_pass <= 0:
        return np.zeros((n, 0))
    dt = frame_times[1] - frame_times[0]
    order = min(n - 1, int(np.floor(2 * n * high_pass * dt)))
    i = np.arange(n)
    cols = [np.sqrt(2.0 / n) * np.cos(np.pi / n * (i + 0.5) * k) for k in range(1, order)]
    return np.column_stack(cols) if cols else np.zeros((n, 0))


def neural_regressor(
    onsets: np.ndarray, durations: np.ndarray, heights: np.ndarray, dt: float, n_fine: int
) -> np.ndarray:
    """Convolved regressor on the microtime grid ``k * dt`` (``k < n_fine``).

    Each event is a box of height ``heights[i]`` over ``[onset, onset + duration)`` (a
    unit-area stick when the duration is shorter than a microtime bin), convolved with
    the HRF as a density (``spm_hrf(dt) / dt``), as SPM's ``spm_get_ons`` +
    ``spm_Volterra`` do: a stick gives a response of unit area in seconds.
    """
    u = np.zeros(n_fine + 1)
    for on, dur, h in zip(onsets, durations, heights):
        k0 = int(round(on / dt))
        nk = int(round(dur / dt)) + 1  # SPM spm_get_ons: boxes span round(dur/dt) + 1 bins
        height = h if dur >= dt else h / dt  # a box of height h; a stick of area h
        if k0 < n_fine:
            u[k0] += height
            u[min(k0 + nk, n_fine)] -= height
    u = np.cumsum(u)[:n_fine]
    return np.convolve(u, spm_hrf(dt))[:n_fine]


def sample_regressor(fine: np.ndarray, dt: float, times: np.ndarray) -> np.ndarray:
    """Values of a microtime regressor at ``times`` (linear interpolation between bins)."""
    return np.interp(times, np.arange(len(fine)) * dt, fine)


def build_design(
    events: pd.DataFrame,
    n_scans: int,
    tr: float,
    sample_offset: float = 0.0,
    modulated: str | None = None,
    modulator: np.ndarray | None = None,
    center: bool = True,
    orthogonalize: bool = True,
    high_pass: float = 1 / 128,
    fine: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Design matrix with one main effect per trial type, an optional modulator, drifts.

    Parameters
    ----------
    events : DataFrame
        ``onset``, ``duration`` (s, fMRI clock) and ``trial_type`` (optional: one condition).
    n_scans, tr : int, float
    sample_offset : float
        Time (s) after each volume's start at which this slice was acquired.
    modulated : str | None
        Trial type carrying the modulator.
    modulator : array | None
        One value per event of ``modulated`` (in events order).
    center, orthogonalize : bool
        Mean-centre the modulator values; orthogonalise the (sampled) modulator regressor
        to the main effect of its condition.
    high_pass : float
        Cosine drift cut-off (Hz); 0 for none.
    fine : dict | None
        Cache of microtime regressors (reused across slices).

    Returns
    -------
    DataFrame
        Columns: trial types (sorted), ``<cond>_x_mod``, ``drift_01...``, ``constant``;
        index: the sample times (s).
    """
    dt = tr / MICROTIME
    n_fine = int(np.ceil((n_scans * tr + 32.0) / dt))
    types = (
        events["trial_type"].astype(str)
        if "trial_type" in events
        else pd.Series(["task"] * len(events))
    )
    onsets = events["onset"].to_numpy(float)
    durs = events["duration"].fillna(0).to_numpy(float)
    fine = fine if fine is not None else {}
    names = sorted(types.unique())
    for name in names:
        if name not in fine:
            sel = (types == name).to_numpy()
            fine[name] = neural_regressor(onsets[sel], durs[sel], np.ones(sel.sum()), dt, n_fine)
    mod_name = f"{modulated}_x_mod" if modulated is not None and modulator is not None else None
    if mod_name is not None and mod_name not in fine:
        sel = (types == modulated).to_numpy()
        vals = np.asarray(modulator, float)
        if center:
            vals = vals - vals.mean()
        fine[mod_name] = neural_regressor(onsets[sel], durs[sel], vals, dt, n_fine)
    times = np.arange(n_scans) * tr + sample_offset
    cols = {name: sample_regressor(fine[name], dt, times) for name in names}
    if mod_name is not None:
        reg = sample_regressor(fine[mod_name], dt, times)
        if orthogonalize:
            main = cols[modulated]
            reg = reg - (reg @ main) / (main @ main) * main
        cols[mod_name] = reg
    drift = cosine_drift(np.arange(n_scans) * tr, high_pass)
    for k in range(drift.shape[1]):
        cols[f"drift_{k + 1:02d}"] = drift[:, k]
    cols["constant"] = np.ones(n_scans)
    return pd.DataFrame(cols, index=pd.Index(times, name="time"))
