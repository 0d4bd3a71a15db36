"""Residual models applied after the template subtraction (used by :mod:`.aas`).

* :class:`AliasModel`: the part of the artifact that depends on each volume's
  sub-sample phase (aliasing), fitted per frequency bin across volumes.
* :func:`obs_channel`: FASTR's optimal basis set (PCA of the high-passed residual).
* :func:`anc_row`: adaptive noise cancellation as guarded block least squares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import fft as sfft

if TYPE_CHECKING:  # annotations only (aas imports this module)
    from .aas import AASParams, _Plan


class AliasModel:
    """Per-bin regression of the aligned spectra on exp(-2 pi i m frac_v), m = ±1..±M."""

    #: mean |window mean of the basis| below which the bare basis is fitted
    bare_below = 0.1
    #: bins left without alias terms (steady signals to keep; see ``AASParams.keep``)
    keep: np.ndarray | None = None

    def __init__(self, frac: np.ndarray, orders: int, strict: float = 3.0,
                 bare_below: float | None = None) -> None:
        self.strict = float(strict)
        if bare_below is not None:
            self.bare_below = float(bare_below)
        # more than two orders only where the volumes allow three per coefficient (a short
        # run at 1 kHz keeps what it can rather than losing the model)
        while orders > 2 and len(frac) < 6 * orders:
            orders -= 1
        self.orders = int(orders)
        m = np.concatenate([np.arange(1, orders + 1), -np.arange(1, orders + 1)])
        self.B = np.exp(-2j * np.pi * np.outer(frac, m)).astype(np.complex64)  # (n_vol, 2M)
        n_vol, k = self.B.shape
        # the phases must spread enough for the basis to be identifiable
        self.ok = n_vol >= 3 * k and np.linalg.cond(self.B) < 1e3
        if self.ok:
            G = np.linalg.inv(self.B.conj().T @ self.B)
            self.P = (G @ self.B.conj().T).astype(np.complex64)  # least-squares operator
            self.var = np.real(np.diag(G)).astype(np.float32)  # coefficient variance / sigma^2

    def refine(
        self,
        spec: np.ndarray,
        tmpl: np.ndarray,
        plan: _Plan,
        sel: np.ndarray | None = None,
        tbins: np.ndarray | None = None,
        resid: tuple[np.ndarray, np.ndarray] | None = None,
        b0: int = 0,
        fit_rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """Template including each volume's fitted alias terms.

        One pass: the coefficients ``c`` are fitted to ``spec - tmpl``; the residual
        variance comes from the normal equations (no refit), and the leave-one-out
        windows' share of the alias terms is removed analytically with the window means
        of the basis (no second template pass): ``tmpl + (B - mean_window(B)) c``.
        With tracked templates (``sel``: chosen neighbours per row and volume, used on
        the bins ``tbins``) the mean is over the chosen neighbours there. ``resid``: the
        caller's ``spec - tmpl`` and its energy over volumes when it has them already.
        ``b0``: the arrays' first bin (a block of bins; not with ``sel``).
        ``fit_rows``: the volumes the coefficients are fitted on (None: all; not with
        ``sel``); the terms are added to every volume, so the others are predicted out
        of sample (for scoring a schedule, see ``aas._template_residual``).
        """
        if resid is None:
            d = spec - tmpl
        else:
            d, energy = resid
        if fit_rows is not None:
            d = d[:, fit_rows]
        if resid is None or fit_rows is not None:
            energy = np.sum(d.real**2 + d.imag**2, axis=1)  # (g, nf)
        n_vol, k = self.B.shape
        Bf = self.B if fit_rows is None else self.B[fit_rows]
        n_fit = Bf.shape[0]
        g = d.shape[0]
        nf_here = tmpl.shape[-1]  # the caller may pass a block of bins only
        # the residual's alias part is C (B_v - mean over v's window of B): fitted on that
        # basis, band by band (each band has its own window). Fitting on B alone, as
        # before, assumed the window mean of B to be ~0, i.e. windows spanning whole
        # cycles of the volumes' sub-sample phase: at 1 kHz and 20 ppm a cycle is 25
        # volumes, and a 20-volume window left the alias fit biased (10 dB less removed).
        c = np.zeros((g, k, d.shape[-1]), np.complex64)
        windows = self._window_means(plan)
        for (f0, f1), Bm in windows:
            f0, f1 = max(f0 - b0, 0), min(f1 - b0, nf_here)
            if f1 <= f0:
                continue
            D = (self.B - Bm).astype(np.complex128)
            if fit_rows is not None:
                D = D[fit_rows]
            if (not np.all(np.isfinite(D)) or np.linalg.cond(D) > 1e3
                    or float(np.mean(np.abs(Bm))) < self.bare_below):
                # windows spanning whole phase cycles (window mean of B ~ 0): the bare
                # basis, as before (on the 5 kHz phantom it kept slightly more EEG)
                D = Bf.astype(np.complex128)
                if fit_rows is not None and np.linalg.cond(D) > 1e3:
                    # the volumes fitted on do not identify the model (a phase stepping a
                    # rational fraction of a sample: 0.1 a volume leaves the even volumes
                    # five phases for eight coefficients): no terms in this band, so the
                    # candidate is scored without them (a 150 s, 2.5 kHz phantom raised
                    # numpy's "Singular matrix" here)
                    continue
            gram = D.conj().T @ D
            Gi = np.linalg.inv(gram)
            P = (Gi @ D.conj().T).astype(np.complex64)
            cb = np.matmul(P, d[..., f0:f1])  # (g, k, nb)
            explained = np.real(np.einsum("gkf,kl,glf->gf", cb.conj(), gram.astype(np.complex64), cb))
            s2 = np.maximum(energy[:, f0:f1] - explained, 0.0) / max(n_fit - k, 1)
            power = cb.real**2 + cb.imag**2
            var = np.real(np.diag(Gi)).astype(np.float32)
            # keep a coefficient only where it clearly stands above its estimation noise
            gain = 1.0 - self.strict * (s2[:, None, :] * var[None, :, None]) / np.maximum(power, 1e-30)
            c[..., f0:f1] = cb * np.clip(gain, 0.0, 1.0).astype(np.float32)
        if sel is not None and tbins is not None and tbins.size:
            # tracked bins: each row's basis minus the mean over its chosen neighbours
            Bs = self.B[sel].mean(axis=2)  # (g, n_vol, k)
            for i in range(g):
                D = (self.B - Bs[i]).astype(np.complex128)
                if not np.all(np.isfinite(D)) or np.linalg.cond(D) > 1e3:
                    continue
                gram = D.conj().T @ D
                Gi = np.linalg.inv(gram)
                cb = (Gi @ D.conj().T).astype(np.complex64) @ d[i][:, tbins]  # (k, nt)
                explained = np.real(np.einsum("kf,kl,lf->f", cb.conj(), gram.astype(np.complex64), cb))
                s2 = np.maximum(energy[i, tbins] - explained, 0.0) / max(n_vol - k, 1)
                var = np.real(np.diag(Gi)).astype(np.float32)
                gain = 1.0 - self.strict * (s2[None, :] * var[:, None]) / np.maximum(cb.real**2 + cb.imag**2, 1e-30)
                c[i][:, tbins] = cb * np.clip(gain, 0.0, 1.0).astype(np.float32)
        if self.keep is not None:
            # a steady signal (a steady-state evoked response) turns by a fixed angle from
            # volume to volume like an alias term of the order whose turn it matches, and the
            # two cannot be told apart in the sampled data: where the user keeps a frequency,
            # no term is fitted (the plain template stays)
            c[..., self.keep[b0 : b0 + c.shape[-1]]] = 0.0
        del d
        out = tmpl  # updated in place (the caller replaces its template by the result)
        for (f0, f1), Bm in windows:
            f0, f1 = max(f0 - b0, 0), min(f1 - b0, nf_here)
            if f1 > f0:
                # one 2-D BLAS product for all rows of the group: (n, k) @ (k, g * nf);
                # numpy's broadcast matmul over g with k = 4 inner terms was ~5x slower
                cb = np.ascontiguousarray(c[..., f0:f1].transpose(1, 0, 2)).reshape(k, -1)
                add = ((self.B - Bm) @ cb).reshape(n_vol, g, f1 - f0)
                out[..., f0:f1] += add.transpose(1, 0, 2)
                del cb, add
        if sel is not None and tbins is not None and tbins.size:
            Bsel = self.B[sel].mean(axis=2)  # (g, n_vol, k)
            A = self.B[None] - Bsel
            ct = c[..., tbins]
            acc = tmpl[..., tbins] - tmpl[..., tbins]  # zeros of the right shape and type
            for j in range(k):
                acc += A[..., j, None] * ct[:, None, j, :]
            # the band loop above added the window-mean version here; replace it
            cbt = np.ascontiguousarray(ct.transpose(1, 0, 2)).reshape(k, -1)
            for (f0, f1), Bm in self._window_means(plan):
                inb = (tbins >= f0) & (tbins < f1)
                if inb.any():
                    add = ((self.B - Bm) @ cbt).reshape(n_vol, g, tbins.size).transpose(1, 0, 2)
                    acc[..., inb] -= add[..., inb]
            out[..., tbins] += acc
        return out

    def _window_means(self, plan: _Plan) -> list[tuple[tuple[int, int], np.ndarray]]:
        """Leave-one-out window means of the basis for each band of bins."""
        B = self.B.astype(np.complex128)
        n = B.shape[0]
        cs = np.vstack([np.zeros((1, B.shape[1])), np.cumsum(B, axis=0)])

        def mean(lo: np.ndarray, hi: np.ndarray, w: Any) -> np.ndarray:
            return ((cs[hi] - cs[lo] - B) / w).astype(np.complex64)

        nf = plan.nw // 2 + 1
        k_min = min(plan.k_min, nf) if n > 1 else 0
        kc = min(plan.lf_bins, nf) if plan.lf is not None else 0
        def count(cnt: np.ndarray | None, w: int) -> Any:
            return w if cnt is None else np.maximum(cnt, 1.0)[:, None]

        bands = [((max(kc, k_min), nf), mean(plan.lo, plan.hi, count(plan.cnt, plan.n_nb)))]
        if plan.lf is not None:
            lo2, hi2, w2, _, cnt2 = plan.lf
            bands.append(((k_min, kc), mean(lo2, hi2, count(cnt2, w2))))
        if k_min:
            v = np.arange(n)
            bands.append(
                ((0, k_min), mean(np.zeros(n, int), np.full(n, n), n - 1) if n > 1 else B * 0)
            )
            del v
        return bands


def anc_row(
    resid: np.ndarray, ref: np.ndarray, params: AASParams, period: float, block: int = 0
) -> int:
    """Guarded block least-squares ANC of one channel's core residual, in place.

    Returns the number of blocks changed. The residual and the reference (the
    subtracted template) are high-passed (zero-phase Butterworth); only the predicted
    high-frequency part is removed, so the EEG below the cut-off is not touched.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import signal

    taps = int(params.anc_taps)
    if resid.size < 4 * taps or not np.all(np.isfinite(ref)) or np.ptp(ref) == 0:
        return 0
    sos = signal.butter(4, 2 * params.obs_highpass, "highpass", output="sos")
    r_hp = signal.sosfiltfilt(sos, ref.astype(np.float64))
    e_hp = signal.sosfiltfilt(sos, resid.astype(np.float64))
    lag = sliding_window_view(np.r_[np.zeros(taps - 1), r_hp], taps)  # (n, taps), no copy
    block = block or int(max(20 * period, 10_000))
    changed = 0
    for s0 in range(0, resid.size, block):
        s1 = min(s0 + block, resid.size)
        X, e = lag[s0:s1], e_hp[s0:s1]
        G = X.T @ X
        tr = np.trace(G)
        if not tr > 0:
            continue
        w = np.linalg.solve(G + 1e-6 * tr / taps * np.eye(taps), X.T @ e)
        if not np.all(np.isfinite(w)):
            continue
        pred = X @ w
        if (e - pred) @ (e - pred) < e @ e:  # never make a block worse
            resid[s0:s1] -= pred.astype(resid.dtype)
            changed += 1
    return changed


def obs_channel(data: np.ndarray, row: int, plan: _Plan, params: AASParams) -> int:
    """OBS on one corrected channel, in place; returns the rank used."""
    L = int(np.floor(plan.sched.period))
    idx = plan.gather[:, plan.pad : plan.pad + L]  # whole-sample epoch of every volume
    valid = (plan.starts + plan.pad >= 0) & (plan.starts + plan.pad + L <= plan.n_times)
    if valid.sum() < 10:
        return 0
    idx = idx[valid]
    R = data[row][idx].astype(np.float32)  # (n_vol, L) residual epochs
    F = sfft.rfft(R, axis=1)
    k0 = int(np.ceil(params.obs_highpass * L))
    F[:, :k0] = 0
    Rh = sfft.irfft(F, n=L, axis=1).astype(np.float32)
    del F
    C = Rh @ Rh.T
    lam, U = np.linalg.eigh(C)
    lam, U = lam[::-1], U[:, ::-1]
    cap = int(min(params.obs_max_rank, max(1, Rh.shape[0] // 10)))
    k = int(min(cap, np.sum(lam > 3.0 * np.median(lam))))
    if k == 0:
        return 0
    Uk = U[:, :k].astype(np.float32)
    fitted = Uk @ (Uk.T @ Rh)  # the high-passed residual explained by the k components
    data[row][idx] = R - fitted
    return k
