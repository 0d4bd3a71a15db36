"""Butterworth filters as second-order sections, and their zero-phase application.

Written here rather than imported from :mod:`scipy.signal` (``butter``, ``sosfiltfilt``)
so that the command-line correction does not import scipy.signal (1-2 s of a process
that takes ~10 s). The design is the textbook one (analog prototype, pre-warped
frequency transform, bilinear transform); the recursion of each section is a banded
triangular solve in LAPACK (``?tbtrs``), which is exactly the section's difference
equation. Edges are handled as ``scipy.signal.sosfiltfilt`` does by default (odd
extension of ``3 * (2 * n_sections + 1 - n_first_order)`` samples, each pass started
from the steady state of a constant input), so the two agree to rounding
(``tests/engine/test_dsp.py``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.linalg import lapack

#: samples per block of the recursion (bounds the banded matrix's memory)
_BLOCK = 1 << 16


def butter_sos(order: int, cutoff: float | tuple[float, float], kind: Literal["lowpass", "highpass", "bandpass"],
               sfreq: float) -> np.ndarray:
    """A digital Butterworth filter as second-order sections.

    Parameters
    ----------
    order : int
        Order of the analog prototype (a band-pass has twice as many poles).
    cutoff : float | tuple of float
        -3 dB frequency (Hz), or the two edges of a band-pass.
    kind : {"lowpass", "highpass", "bandpass"}
        The filter's type.
    sfreq : float
        Sampling rate (Hz).

    Returns
    -------
    ndarray, shape (n_sections, 6)
        Rows ``b0 b1 b2 a0 a1 a2`` with ``a0 = 1``; a first-order section has
        ``b2 = a2 = 0``. Same transfer function as ``scipy.signal.butter(...,
        output="sos")`` (the sections may be grouped differently).
    """
    if order < 1:
        raise ValueError("the order must be at least 1")
    edges = np.atleast_1d(np.asarray(cutoff, float))
    nyq = sfreq / 2.0
    if kind == "bandpass":
        if edges.size != 2 or not 0 < edges[0] < edges[1] < nyq:
            raise ValueError(f"band-pass edges {cutoff} must satisfy 0 < low < high < {nyq:g} Hz")
    elif edges.size != 1 or not 0 < edges[0] < nyq:
        raise ValueError(f"cut-off {cutoff} must lie in (0, {nyq:g}) Hz")
    fs2 = 2.0 * sfreq
    warped = fs2 * np.tan(np.pi * edges / sfreq)  # pre-warped analog frequencies (rad/s)
    # analog prototype: poles on the left half of the unit circle, no zeros, unit gain
    m = np.arange(-order + 1, order, 2)
    p = -np.exp(1j * np.pi * m / (2 * order))
    if kind == "lowpass":
        z = np.zeros(0, complex)
        p = p * warped[0]
        k = warped[0] ** order
    elif kind == "highpass":
        z = np.zeros(order, complex)
        p = warped[0] / p
        k = float(np.real(1.0 / np.prod(-p / warped[0])))  # prod(-z)/prod(-p) of the prototype
    elif kind == "bandpass":
        bw = warped[1] - warped[0]
        w0 = np.sqrt(warped[0] * warped[1])
        p_lp = p * bw / 2.0
        root = np.sqrt(p_lp ** 2 - w0 ** 2)
        p = np.concatenate([p_lp + root, p_lp - root])
        z = np.zeros(order, complex)
        k = bw ** order
    else:
        raise ValueError(f"filter kind {kind!r} is not lowpass, highpass or bandpass")
    # bilinear transform; zeros at infinity go to z = -1
    zd = (fs2 + z) / (fs2 - z)
    pd = (fs2 + p) / (fs2 - p)
    zd = np.concatenate([zd, -np.ones(len(pd) - len(zd))])
    gain = float(np.real(k * np.prod(fs2 - z) / np.prod(fs2 - p)))
    return _zpk_to_sos(zd, pd, gain)


def _zpk_to_sos(z: np.ndarray, p: np.ndarray, gain: float) -> np.ndarray:
    """Sections from zeros and poles that all lie at z = +1 / -1 (real) or in conjugate
    pairs (poles): each section takes one conjugate pole pair (or the one real pole) and
    two of the zeros; the gain goes into the first section."""
    upper = p[p.imag > 1e-12]
    real_p = np.real(p[np.abs(p.imag) <= 1e-12])
    zr = np.sort(np.real(z))
    pairs: list[np.ndarray] = [np.array([q, np.conj(q)]) for q in upper]
    pairs += [real_p[i:i + 2] for i in range(0, len(real_p), 2)]
    sos = np.zeros((len(pairs), 6))
    zi = 0
    for s, pp in enumerate(pairs):
        nz = len(pp)
        zz = zr[zi:zi + nz]
        zi += nz
        b = np.real(np.poly(zz)) if nz else np.ones(1)
        a = np.real(np.poly(pp))
        sos[s, :len(b)] = b
        sos[s, 3:3 + len(a)] = a
    if zi != len(zr):
        raise ValueError("more zeros than poles")
    sos[0, :3] *= gain
    return sos


def _dc_gain(sec: np.ndarray) -> float:
    den = sec[3] + sec[4] + sec[5]
    return float((sec[0] + sec[1] + sec[2]) / den) if den != 0 else 0.0


def _banded(a1: float, a2: float, n: int) -> np.ndarray:
    """LAPACK's band storage of the lower-triangular Toeplitz matrix ``[1, a1, a2]``
    (Fortran order: f2py would otherwise copy it on every call)."""
    ab = np.zeros((3, n), order="F")
    ab[0] = 1.0
    ab[1, :-1] = a1
    ab[2, :-2] = a2
    return ab


def _section(sec: np.ndarray, u: np.ndarray, u0: np.ndarray) -> np.ndarray:
    """One section on ``u`` (samples x signals), started as if ``u`` had been ``u0``
    (per signal) forever: its steady state (scipy's ``sosfilt_zi`` scaled by ``u0``)."""
    b0, b1, b2, _, a1, a2 = sec
    n, m = u.shape
    y = np.empty_like(u)
    y0 = u0 * _dc_gain(sec)
    hist_u = np.stack([u0, u0])  # u[-2], u[-1]
    hist_y = np.stack([y0, y0])  # y[-2], y[-1]
    ab_full = _banded(a1, a2, min(_BLOCK, n))
    for s in range(0, n, _BLOCK):
        e = min(s + _BLOCK, n)
        L = e - s
        blk = u[s:e]
        v = b0 * blk
        if L > 1:
            v[1:] += b1 * blk[:-1]
        v[0] += b1 * hist_u[1]
        if L > 2:
            v[2:] += b2 * blk[:-2]
        v[0] += b2 * hist_u[0]
        if L > 1:
            v[1] += b2 * hist_u[1]
        # the past outputs enter the first two equations
        v[0] -= a1 * hist_y[1] + a2 * hist_y[0]
        if L > 1:
            v[1] -= a2 * hist_y[1]
        ab = ab_full if L == ab_full.shape[1] else _banded(a1, a2, L)
        out, info = lapack.dtbtrs(ab, v, uplo="L", trans="N", diag="U")
        if info != 0:  # cannot happen with a unit diagonal
            raise RuntimeError(f"LAPACK dtbtrs failed ({info})")
        y[s:e] = out
        if L >= 2:
            hist_u = blk[-2:].copy()
            hist_y = out[-2:].copy()
        else:
            hist_u = np.stack([hist_u[1], blk[0]])
            hist_y = np.stack([hist_y[1], out[0]])
    return y


def _cascade(sos: np.ndarray, u: np.ndarray) -> np.ndarray:
    x0 = u[0].copy()
    for sec in sos:
        u = _section(sec, u, x0)
        x0 = x0 * _dc_gain(sec)
    return u


def sosfiltfilt(sos: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Zero-phase filtering with second-order sections (forward, then backward).

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        From :func:`butter_sos` (``a0 = 1``).
    x : ndarray
        The signal(s); filtered along ``axis``.
    axis : int
        Time axis.

    Returns
    -------
    ndarray
        Float64, the shape of ``x``.
    """
    sos = np.asarray(sos, float)
    if sos.ndim != 2 or sos.shape[1] != 6 or not np.allclose(sos[:, 3], 1.0):
        raise ValueError("sos must be n_sections x 6 with a0 = 1")
    xt = np.moveaxis(np.asarray(x, float), axis, 0)
    shape = xt.shape
    u = xt.reshape(shape[0], -1)
    n_first = min(int(np.sum(sos[:, 2] == 0)), int(np.sum(sos[:, 5] == 0)))
    pad = 3 * (2 * len(sos) + 1 - n_first)
    n = u.shape[0]
    if n <= pad:
        raise ValueError(f"the signal ({n} samples) must be longer than the filter's padding ({pad})")
    ext = np.concatenate([2 * u[0] - u[pad:0:-1], u, 2 * u[-1] - u[-2:-pad - 2:-1]])
    y = _cascade(sos, ext)
    y = _cascade(sos, y[::-1].copy())[::-1]
    out = y[pad:pad + n]
    return np.moveaxis(np.ascontiguousarray(out).reshape(shape), 0, axis)
