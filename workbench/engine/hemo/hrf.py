"""Haemodynamic response functions: SPM's canonical HRF (exact), its derivatives, Glover's.

SPM's ``spm_hrf.m`` is reproduced sample for sample (the difference of two gamma
densities evaluated on ``u = [0 : length/dt] - onset/dt`` samples, normalised to unit
sum), because nilearn's ``spm_hrf`` is not SPM-exact: it samples with ``linspace`` and
shifts the gammas by one sample (ANCHORS.md). Only scipy's ``gammaln`` is used.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ..errors import InputError

__all__ = [
    "spm_hrf",
    "spm_time_derivative",
    "spm_dispersion_derivative",
    "spm_canonical_basis",
    "glover_hrf",
    "hrf_times",
]


def _n_samples(length: float, dt: float) -> int:
    """Number of samples of MATLAB's ``0 : length/dt`` (colon with its rounding tolerance)."""
    ratio = length / dt
    n = math.floor(ratio)
    if ratio - n > 1 - 1e-9:  # MATLAB colon treats 319.99999999 as 320
        n += 1
    return n + 1


def _gpdf(u: np.ndarray, shape: float, rate: float) -> np.ndarray:
    """SPM's ``spm_Gpdf(u, h, l)``: gamma density with shape ``h`` and rate ``l``."""
    out = np.zeros_like(u, dtype=float)
    pos = u > 0
    x = u[pos]
    out[pos] = np.exp(shape * np.log(rate) + (shape - 1) * np.log(x) - rate * x - gammaln(shape))
    if shape == 1:  # the density is finite and non-zero at 0 only for shape 1
        out[u == 0] = rate
    return out


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not (dt > 0 and math.isfinite(dt)):
        raise InputError(
            None, f"HRF sampling interval dt must be a positive number of seconds, got {dt}"
        )
    return dt


def spm_hrf(
    dt: float,
    peak: float = 6.0,
    undershoot: float = 16.0,
    peak_disp: float = 1.0,
    under_disp: float = 1.0,
    ratio: float = 6.0,
    onset: float = 0.0,
    length: float = 32.0,
) -> np.ndarray:
    """SPM's canonical haemodynamic response function, equal to ``spm_hrf.m``.

    Parameters
    ----------
    dt : float
        Sampling interval (s).
    peak, undershoot : float
        Delays of the response and of the undershoot (s); SPM ``p(1)``, ``p(2)``.
    peak_disp, under_disp : float
        Dispersions of the response and of the undershoot; ``p(3)``, ``p(4)``.
    ratio : float
        Ratio of response to undershoot; ``p(5)``.
    onset : float
        Onset (s); ``p(6)``.
    length : float
        Length of the kernel (s); ``p(7)``.

    Returns
    -------
    hrf : ndarray, shape (floor(length / dt) + 1,)
        The HRF sampled at ``0, dt, 2 dt, ...``, normalised to unit sum (SPM's convention,
        so convolving a unit-height boxcar gives a unit-height plateau).

    Notes
    -----
    SPM12 evaluates the kernel at ``dt / 16`` and keeps every 16th sample; because the
    gamma densities are evaluated at the same time points and the sum normalisation is
    applied after subsampling, that gives exactly the values computed here.
    """
    dt = _check_dt(dt)
    u = np.arange(_n_samples(length, dt), dtype=float) - onset / dt
    hrf = (
        _gpdf(u, peak / peak_disp, dt / peak_disp)
        - _gpdf(u, undershoot / under_disp, dt / under_disp) / ratio
    )
    return hrf / hrf.sum()


def hrf_times(dt: float, length: float = 32.0) -> np.ndarray:
    """Times (s) at which :func:`spm_hrf` samples its kernel."""
    dt = _check_dt(dt)
    return np.arange(_n_samples(length, dt)) * dt


def spm_time_derivative(dt: float, **params: float) -> np.ndarray:
    """SPM's temporal derivative: ``(hrf - hrf(onset + 1 s)) / 1`` (``spm_get_bases``)."""
    base = spm_hrf(dt, **params)
    shifted = dict(params)
    shifted["onset"] = shifted.get("onset", 0.0) + 1.0
    return (base - spm_hrf(dt, **shifted)) / 1.0


def spm_dispersion_derivative(dt: float, **params: float) -> np.ndarray:
    """SPM's dispersion derivative: ``(hrf - hrf(peak_disp + 0.01)) / 0.01``."""
    base = spm_hrf(dt, **params)
    wider = dict(params)
    wider["peak_disp"] = wider.get("peak_disp", 1.0) + 0.01
    return (base - spm_hrf(dt, **wider)) / 0.01


def spm_canonical_basis(dt: float, derivatives: int = 2, **params: float) -> np.ndarray:
    """SPM's informed basis set: canonical HRF plus 0, 1 or 2 derivatives.

    Returns
    -------
    basis : ndarray, shape (n_samples, 1 + derivatives)
        Columns: HRF, temporal derivative, dispersion derivative (not orthogonalised).
    """
    if derivatives not in (0, 1, 2):
        raise InputError(None, f"derivatives must be 0, 1 or 2, got {derivatives}")
    cols = [spm_hrf(dt, **params)]
    if derivatives >= 1:
        cols.append(spm_time_derivative(dt, **params))
    if derivatives >= 2:
        cols.append(spm_dispersion_derivative(dt, **params))
    return np.column_stack(cols)


def glover_hrf(
    dt: float,
    length: float = 32.0,
    onset: float = 0.0,
    a1: float = 6.0,
    a2: float = 12.0,
    b1: float = 0.9,
    b2: float = 0.9,
    c: float = 0.35,
) -> np.ndarray:
    """Glover's (1999) auditory HRF, normalised to unit sum.

    ``h(t) = (t/d1)^a1 exp(-(t-d1)/b1) - c (t/d2)^a2 exp(-(t-d2)/b2)`` with
    ``d_i = a_i b_i`` (positive lobe peaking at 5.4 s, undershoot at 10.8 s; the sum
    peaks at 5.2 s). This is the published formula; nilearn's ``glover_hrf`` uses gamma
    densities with shape ``a/b`` shifted by one sample and peaks about 0.1 s earlier.
    """
    dt = _check_dt(dt)
    t = np.arange(_n_samples(length, dt)) * dt - onset
    tp = np.clip(t, 0, None)
    d1, d2 = a1 * b1, a2 * b2
    h = (tp / d1) ** a1 * np.exp(-(tp - d1) / b1) - c * (tp / d2) ** a2 * np.exp(-(tp - d2) / b2)
    h[t <= 0] = 0.0
    return h / h.sum()
