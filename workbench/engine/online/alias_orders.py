"""Choosing the online alias model's orders from the data, out of sample.

The offline correction tries more alias orders than two where the data ask for them
(:func:`..gradient.aas._choose_orders`: an artifact sampled without an anti-alias
filter folds in from many sampling rates up, and with the volumes' sub-sample phase
stepping 0.1 sample a volume the fifth order alternates from volume to volume, which
two orders leave whole). This is the same choice made causally: once the clock is
pinned, each candidate's alias model is fitted on the stored epochs' low bins, then
every new epoch is predicted by every candidate before it joins their fits; after
``volumes`` epochs the candidate with the least prediction error is taken when it beats
the base orders by ``gain`` (as offline, 20 %).

Only the bins below ``fmax_hz`` (the band a user keeps: 70 Hz) are scored, as offline,
so the shadow fits cost little (a few dozen bins per channel). Written here because no
library fits a per-bin regression on sub-sample phase across volumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def alias_basis(orders: int, frac: np.ndarray | float) -> np.ndarray:
    """``exp(-2 pi i m frac)`` for ``m = 1..orders, -1..-orders`` (rows: the phases)."""
    m = np.arange(1, orders + 1, dtype=float)
    m = np.concatenate([m, -m])
    return np.exp(-2j * np.pi * np.multiply.outer(np.asarray(frac, float), m))


def solve_shrunk(G: np.ndarray, r: np.ndarray, ad: np.ndarray, n_eff: int, cond: float,
                 shrink: float) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Least-squares alias coefficients from running normal equations, shrunk.

    Parameters
    ----------
    G : ndarray (k, k)
        Mean ``X^H X`` of the bases.
    r : ndarray (k, channels, bins)
        Mean ``X^H d`` of the residuals.
    ad : ndarray (channels, bins)
        Mean ``|d|^2``.
    n_eff : int
        Epochs the means hold.
    cond : float
        Eigenvalues below the largest over ``cond`` are left out (pseudo-inverse).
    shrink : float
        Each coefficient's gain is ``1 - shrink * s2 * var / |c|^2`` (0 to 1), ``s2`` the
        fit's own residual per degree of freedom, ``var`` the inverse's diagonal.

    Returns
    -------
    (c, null) or None
        The coefficients and the directions left out (None when none were); None when
        nothing is identified.
    """
    w, V = np.linalg.eigh(G)
    if not w[-1] > 0:
        return None
    keep = w > w[-1] / cond
    Vk, wk = V[:, keep], w[keep]
    z = np.tensordot(Vk.conj().T / wk[:, None], r, axes=(1, 0))
    c = np.tensordot(Vk, z, axes=(1, 0))
    explained = np.tensordot(wk, z.real**2 + z.imag**2, axes=(0, 0))
    s2 = np.maximum(ad - explained, 0.0) * n_eff / max(n_eff - wk.size, 1)
    var = np.sum(np.abs(Vk) ** 2 / wk[None], axis=1)
    g = 1.0 - shrink * s2[None] * var[:, None, None] / (n_eff * np.maximum(c.real**2 + c.imag**2, 1e-300))
    return c * np.clip(g, 0.0, 1.0), (None if keep.all() else V[:, ~keep])


class OrdersCheck:
    """Shadow alias fits of several orders on the low bins, scored out of sample.

    Parameters
    ----------
    base : int
        The orders in use.
    tries : sequence of int
        Larger orders to try.
    k_lf : int
        Bins below the long window's cut-off (their window means are over ``win_lf``).
    kb : int
        Bins scored (below ``fmax_hz``).
    volumes : int
        Epochs scored before the choice.
    gain : float
        Least relative drop of the error for a larger order to be taken.
    near : float
        Of the candidates whose error is within this fraction of the least, the fewest
        orders are taken.
    noise_volumes : int
        Memory of the running fits (as the main fit's).
    alias_min, cond, shrink, null_tol : float
        As :class:`.gradient.CausalGradient`'s ``_alias_min``, ``_alias_cond``,
        ``_alias_shrink``, ``_alias_null_tol``.
    """

    def __init__(self, base: int, tries: Sequence[int], k_lf: int, kb: int, *, volumes: int = 12,
                 gain: float = 0.2, noise_volumes: int = 60, alias_min: float = 1.5,
                 cond: float = 1e3, shrink: float = 3.0, null_tol: float = 0.01, near: float = 0.05) -> None:
        self.orders = [int(base)] + sorted({int(o) for o in tries if int(o) > int(base)})
        self.k_lf, self.kb = int(k_lf), int(kb)
        self.volumes, self.gain, self.near = int(volumes), float(gain), float(near)
        self.noise_volumes = int(noise_volumes)
        self.alias_min, self.cond, self.shrink, self.null_tol = alias_min, cond, shrink, null_tol
        self.fits: dict[int, dict[str, Any]] = {}
        self.err = {o: 0.0 for o in self.orders}
        self.n_scored = 0
        self.chosen: int | None = None  # set once decided
        self.info: dict[str, Any] = {}

    def _x(self, o: int, frac: float, win_hf: np.ndarray, win_lf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = alias_basis(o, frac)
        return b - alias_basis(o, win_hf).mean(axis=0), b - alias_basis(o, win_lf).mean(axis=0)

    def start(self, E: np.ndarray, F: np.ndarray, E_lf: np.ndarray, F_lf: np.ndarray) -> None:
        """Fit every candidate at once on stored epochs (in sample about the windows'
        means): ``E`` (n, channels, kb) with phases ``F`` for the bins from ``k_lf`` up,
        ``E_lf`` (n_lf, channels, k_lf) with ``F_lf`` below."""
        kl = min(self.k_lf, self.kb)
        for o in self.orders:
            G = np.zeros((2, 2 * o, 2 * o), np.complex128)
            r = np.zeros((2 * o, E.shape[1], self.kb), np.complex128)
            ad = np.zeros((E.shape[1], self.kb))
            for j, (EE, FF, sl) in enumerate(((E, F, slice(kl, self.kb)), (E_lf, F_lf, slice(0, kl)))):
                if sl.stop <= sl.start or not len(FF):
                    continue
                X = alias_basis(o, FF)
                X = X - X.mean(axis=0)
                D = EE[..., sl] - EE[..., sl].mean(axis=0)
                G[j] = X.conj().T @ X / len(FF)
                r[..., sl] = np.einsum("ni,ncb->icb", X.conj(), D) / len(FF)
                ad[:, sl] = np.mean(D.real**2 + D.imag**2, axis=0)
            self.fits[o] = {"G": G, "r": r, "ad": ad, "n": len(F)}  # as the main fit's count

    def add(self, d0: np.ndarray, frac: float, win_hf: np.ndarray, win_lf: np.ndarray) -> int | None:
        """Score one new epoch, then add it to the fits.

        Parameters
        ----------
        d0 : ndarray (channels, >= kb)
            What the window means leave of the epoch (the main fit's residual).
        frac : float
            Its sub-sample phase.
        win_hf, win_lf : ndarray
            The phases of the epochs in the two windows it was compared with.

        Returns
        -------
        int | None
            The orders chosen, once (then the check is done); None before.
        """
        if self.chosen is not None or not self.fits:
            return None
        d = d0[:, : self.kb]
        kl = min(self.k_lf, self.kb)
        ready = all(f["n"] >= self.alias_min * 2 * o for o, f in self.fits.items())
        for o, f in self.fits.items():
            x, x_lf = self._x(o, frac, win_hf, win_lf)
            if ready:
                pred = np.zeros(d.shape, np.complex128)
                n_eff = min(f["n"], self.noise_volumes)
                for j, (xx, sl) in enumerate(((x, slice(kl, self.kb)), (x_lf, slice(0, kl)))):
                    if sl.stop <= sl.start:
                        continue
                    sol = solve_shrunk(f["G"][j], f["r"][..., sl], f["ad"][:, sl], n_eff, self.cond, self.shrink)
                    if sol is None:
                        continue
                    c, null = sol
                    if null is not None and np.sum(np.abs(null.conj().T @ xx) ** 2) > self.null_tol * np.sum(np.abs(xx) ** 2):
                        continue  # this phase is outside what the fit identifies: no terms
                    pred[:, sl] = np.tensordot(xx, c, axes=(0, 0))
                e = d - pred
                self.err[o] += float(np.sum(e.real**2 + e.imag**2))
            f["n"] += 1
            ba = 1.0 / min(f["n"], self.noise_volumes)
            for j, (xx, sl) in enumerate(((x, slice(kl, self.kb)), (x_lf, slice(0, kl)))):
                if sl.stop <= sl.start:
                    continue
                f["G"][j] += ba * (np.outer(xx.conj(), xx) - f["G"][j])
                f["r"][..., sl] += ba * (xx.conj()[:, None, None] * d[None, :, sl] - f["r"][..., sl])
                f["ad"][:, sl] += ba * (d[:, sl].real ** 2 + d[:, sl].imag ** 2 - f["ad"][:, sl])
        if ready:
            self.n_scored += 1
        if self.n_scored < self.volumes:
            return None
        base = self.orders[0]
        e0 = max(self.err[base], 1e-300)
        # the fewest orders within `near` of the least error: on the multiband row without
        # a filter eight scored as six (0.142 of two orders' error both), but eight given
        # from the start left 18.8 uV after volume 30 against 8.1 with six (more orders
        # than the phases tell apart: more directions the fit cannot identify)
        least = min(self.err.values())
        best = min(o for o, e in self.err.items() if e <= (1.0 + self.near) * least)
        kept = best != base and self.err[best] < (1.0 - self.gain) * self.err[base]
        self.chosen = best if kept else base
        self.info = {"orders": int(self.chosen), "kept": bool(kept), "volumes_scored": int(self.n_scored),
                     "candidates": {str(o): round(float(e / e0), 4) for o, e in self.err.items()}}
        self.fits = {}
        return self.chosen
