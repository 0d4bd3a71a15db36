"""The templates' low band re-estimated across channels (the artifact's spatial subspace).

Why: by Faraday's law every channel's gradient artifact is ``-dG/dt . M_c``, the three
gradient axes' waveforms weighted by the channel's lead-loop moments. Whatever the
amplifier, sampling and coil do to the waveforms (anti-alias filter, point sampling,
eddy currents), each channel's artifact is a mix of the *same* few waveforms: across
channels it lies in a small subspace (3 dimensions, a few more when the loops drift or
the head moves). The EEG leaking into a template does not. Below ``lf_cutoff`` (the EEG
band) the artifact is weak and each channel's template there is mostly its EEG leak and,
when the artifact aliases (weak anti-alias filter, instantaneous sampling), the per-volume
alias terms that one channel alone cannot tell from its EEG. This pass splits each
template (and the alias fit) into the part inside the artifact's subspace (measured on
the strong bins above the band, where the artifact dwarfs the EEG) and the part outside,
and gives each its own Wiener gain. Inside, the leak is that of a few dimensions instead
of all channels, so the gain and the alias fit keep more artifact and less EEG; outside,
the gain drops whatever has no artifact power (and keeps what has: an artifact component
the strong bins do not show, e.g. a low-frequency vibration, keeps its own gain).

Written here, not taken from a library: MNE, FACETpy and the FASTR family correct each
channel alone (OBS is a PCA across volumes, not channels).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import fft as sfft

from .threads import ordered_map

if TYPE_CHECKING:  # annotations only (aas imports this module)
    from .aas import AASParams, _Plan
    from .residual import AliasModel


def channel_subspace(hi: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """The artifact's channel subspace from mean spectra above the EEG band.

    On the strongest bins (2 %, at least 64), each normalised, the smallest rank holding
    ``1 - tol`` of their energy. Used by the offline pass (:meth:`LowBand.subspace`) and
    the online one (:meth:`..online.gradient.CausalGradient._set_subspace`).

    Parameters
    ----------
    hi : ndarray of complex, shape (n_channels, n_bins)
        Mean spectra of the channels on the bins above the low band.
    tol : float
        Share of the strong bins' energy left outside the subspace.

    Returns
    -------
    U : ndarray of complex128, shape (n_channels, min(n_channels, n_strong))
        Left singular vectors, strongest first.
    rank : int
        Dimensions kept.
    """
    pw = np.sum(hi.real**2 + hi.imag**2, axis=0)
    n_bins = int(min(pw.size, max(64, 0.02 * pw.size)))
    strong = np.argpartition(pw, -n_bins)[-n_bins:]
    W = hi[:, strong].astype(np.complex128)
    # every strong bin counts alike (the strongest would otherwise hide an axis that
    # matters at other frequencies)
    W /= np.maximum(np.linalg.norm(W, axis=0, keepdims=True), 1e-300)
    U, s, _ = np.linalg.svd(W, full_matrices=False)
    e = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-300)
    return U, int(np.searchsorted(e, 1.0 - tol) + 1)


class LowBand:
    """Collects every channel group's low band, then re-estimates it across channels.

    Parameters
    ----------
    plan : _Plan
        The correction's index arithmetic.
    params : AASParams
        Its parameters (``spatial_*``, ``wiener``, ``lf_cutoff``).
    rows : ndarray of int
        The channels that will be stashed (all corrected rows).
    budget : float
        Bytes for the block temporaries (the low band of all channels is kept besides:
        ``spatial_cutoff`` of the spectrum, e.g. 1 % at 5 kHz, 10 % at 500 Hz).
    """

    def __init__(self, plan: _Plan, params: AASParams, rows: np.ndarray, budget: float = 16e6) -> None:
        self.plan = plan
        self.params = params
        nf = plan.nw // 2 + 1
        self.kb = int(min(nf, np.ceil(params.spatial_cutoff * plan.nw)))
        self.rows = np.asarray(rows, int)
        self.index = {int(r): i for i, r in enumerate(self.rows)}
        nv = plan.frac.size
        self.S = np.zeros((self.rows.size, nv, self.kb), np.complex64)
        self.M = np.zeros((self.rows.size, nf), np.complex64)
        self.budget = float(budget)
        self.info: dict[str, Any] = {}

    def stash(self, rows: np.ndarray, spec: np.ndarray, M: np.ndarray) -> None:
        """Keep a group's low-band spectra and its all-volume mean spectrum."""
        for i, r in enumerate(rows):
            j = self.index[int(r)]  # each row once, from one thread
            self.S[j] = spec[i, :, : self.kb]
            self.M[j] = M[i]

    def subspace(self) -> np.ndarray | None:
        """Orthonormal basis (n_ch, r) of the artifact's channel subspace, or None.

        From the all-volume mean spectra on the strongest bins above the low band (each
        bin normalised): the smallest rank holding ``1 - spatial_tol`` of their energy.
        None when it would not be smaller than all channels but two (nothing to gain).
        """
        M = self.M
        n = M.shape[0]
        if n < 5 or self.kb < 2:
            return None
        U, r = channel_subspace(M[:, self.kb:], self.params.spatial_tol)
        self.info = {"rank": r, "channels": n}
        if r > n - 2:
            return None
        return U[:, :r].astype(np.complex64)

    def _parts(self, S: np.ndarray, b0: int, P: np.ndarray, alias: AliasModel | None,
               n_avg: np.ndarray):
        """Per part (the per-channel templates as used, inside, outside the subspace):
        ``(sign, templates after the alias fit, mean power, noise, spread)`` of the bins
        ``b0 ..`` (``S``: their spectra, all channels)."""
        from .aas import wiener_spread

        plan = self.plan
        n, nv, _ = S.shape

        def inside(x: np.ndarray) -> np.ndarray:
            return (P @ x.reshape(n, -1)).reshape(x.shape)

        T0 = plan.templates(S, b0)
        S_in, T_in = inside(S), inside(T0)
        # the per-channel templates the correction used on these bins are recomputed (the
        # same bin-local steps on the same spectra; cheaper in memory than keeping them)
        for sign, Sx, Tx in ((-1.0, S, T0.copy()), (1.0, S_in, T_in), (1.0, S - S_in, T0 - T_in)):
            d = Sx - Tx
            energy = np.sum(d.real**2 + d.imag**2, axis=1)
            noise = energy / (nv * (1.0 + 1.0 / n_avg[None, :]))
            Mx = Sx.mean(axis=1)
            mean_p = np.maximum(Mx.real**2 + Mx.imag**2 - noise / nv, 0.0)
            if alias is not None:
                Tx = alias.refine(Sx, Tx, plan, resid=(d, energy), b0=b0)
            del d, Sx
            yield sign, Tx, mean_p, noise, wiener_spread(Tx, Mx, noise, n_avg, nv)

    def _band_residual_power(self, P: np.ndarray, k0: int, kc: int, step: int) -> np.ndarray:
        """Per part, row and volume (3, rows, volumes): the residual power (the spectra
        minus the plain templates, as in :meth:`_parts` before the alias fit) summed over
        the bins ``k0..kc``, ``step`` bins at a time (in order, on this thread: the same
        sums on any number of threads, and one block's working memory)."""
        S = self.S
        n, nv, _ = S.shape
        r = np.zeros((3, n, nv))
        for b0 in range(k0, kc, step):
            blk = S[..., b0 : min(kc, b0 + step)]
            d = blk - self.plan.templates(blk, b0)
            d_in = (P @ d.reshape(n, -1)).reshape(d.shape)
            for k, x in enumerate((d, d_in, d - d_in)):
                r[k] += np.sum(x.real**2 + x.imag**2, axis=-1, dtype=np.float64)
            del d, d_in
        return r

    def _robust(self, stats: list[list[np.ndarray]], P: np.ndarray, k0: int, kc: int, step: int) -> None:
        """Each part's all-volume mean power in the EEG band (bins ``k0..kc``) from a mean
        that down-weights the volumes with far more residual power there than the others
        (blinks), in place on ``stats``; only ever lowered (:func:`.aas.robust_band_power`,
        whose reasons hold here: the spatial pass's gains decided the 2-8 Hz error of the
        slow-EEG row's seed 3)."""
        from .aas import mean_power_of, volume_weights

        S = self.S
        n, nv, _ = S.shape
        kc = min(kc, S.shape[-1])
        if kc <= k0 or nv < 3:
            return
        rpow = self._band_residual_power(P, k0, kc, step)
        for k, r in enumerate(rpow):
            w = volume_weights(r, self.params.wiener_robust)
            rows = np.flatnonzero(np.any(w < 1.0, axis=1))
            if rows.size == 0:
                continue
            wr = w[rows].astype(np.float32)
            # each row's weighted sum over volumes, ``step`` bins at a time (one block's
            # memory). Inside the subspace a row of P S mixes all channels, so
            # sum_v w_v (P S_v) = P (sum_v w_v S_v) per row: every channel's sums with the
            # row's weights (rows x channels x bins), then P
            Sw = np.zeros((rows.size, kc - k0), np.complex128)
            for b0 in range(k0, kc, step):
                blk = S[:, :, b0 : min(kc, b0 + step)]
                if k != 1:  # the row's own channel
                    Sw[:, b0 - k0 : b0 - k0 + blk.shape[-1]] = np.einsum("gv,gvk->gk", wr, blk[rows])
                if k != 0:
                    mix = np.einsum("rj,rjk->rk", P[rows], np.einsum("rv,jvk->rjk", wr, blk, optimize=True))
                    Sw[:, b0 - k0 : b0 - k0 + blk.shape[-1]] += (1.0 if k == 1 else -1.0) * mix
            mean_p, noise = stats[k][0], stats[k][1]
            p = mean_power_of(Sw, wr, r[rows], noise[rows, k0:kc])
            mean_p[rows, k0:kc] = np.minimum(mean_p[rows, k0:kc], p)

    def apply(self, data: np.ndarray, alias: AliasModel | None, amps: dict[int, np.ndarray],
              segments: tuple[np.ndarray, np.ndarray], n_jobs: int = 1) -> None:
        """Re-estimate the low band of every stashed channel and correct ``data`` in place.

        Parameters
        ----------
        data : ndarray, shape (n_channels, n_times)
            The data after the per-channel subtraction.
        alias : AliasModel | None
            The alias model used by the correction.
        amps : dict[int, ndarray]
            Fitted amplitudes per channel and segment (empty: none).
        segments : (starts, lens)
            The amplitude segments of the flat core array.
        n_jobs : int
            Threads for the per-channel subtraction.
        """
        from .aas import wiener_gain

        Q = self.subspace()
        if Q is None:
            return
        plan, prm, kb, S = self.plan, self.params, self.kb, self.S
        n, nv, _ = S.shape
        P = Q @ Q.conj().T  # (n, n) projector onto the artifact's subspace
        n_avg = plan.n_averaged()[:kb]
        kc = int(np.ceil(prm.lf_cutoff * plan.nw))
        # blocks of bins keep the working memory near that of one channel group
        step = int(max(1, min(kb, self.budget // max(n * nv * 8 * 10, 1))))
        blocks = [(b0, min(kb, b0 + step)) for b0 in range(plan.k_min, kb, step)]
        if not blocks:
            return
        # blocks on n_jobs threads: each reads and writes its own bins only
        def each_block(fn: Any) -> None:
            ordered_map(lambda b: fn(*b), blocks, n_jobs)

        # pass 1: the small per-bin statistics of every part over the whole band (the
        # gain's smoothing looks across bins)
        stats = [[np.zeros((n, kb)) for _ in range(3)] for _ in range(3)]

        def block_stats(b0: int, b1: int) -> None:
            for k, (_, _, mean_p, noise, spread) in enumerate(self._parts(S[..., b0:b1], b0, P, alias,
                                                                          n_avg[b0:b1])):
                for st, x in zip(stats[k], (mean_p, noise, spread)):
                    st[:, b0:b1] = x

        each_block(block_stats)
        if prm.wiener and prm.wiener_robust > 0 and kc > plan.k_min:
            self._robust(stats, P, plan.k_min, kc, step)
        if prm.spatial_steady_outside and prm.wiener and kc > 0:
            # outside the subspace, a spread in an EEG-band bin where the channel's
            # all-volume mean (the per-channel part, stats[0]) holds no artifact is
            # physiology locked to the volumes for a while, e.g. a heart-rate harmonic
            # passing a multiple of 1/TR (variant table with a heart-rate BCG, NRMSE 1-40 Hz
            # 0.060 -> 0.049; phantom studies 0.024 -> 0.021 single band, 0.057 -> 0.035
            # multiband). Not inside, where the alias terms live (that doubled the point
            # sampling row's error), and not where the mean holds artifact (a movement
            # changes the slice harmonics outside the subspace too)
            channel_mean_p, channel_noise, _ = stats[0]
            outside_spread = stats[2][2]
            # the same test as wiener_gain's on the all-volume mean (beyond strict x leak)
            steady = channel_mean_p[:, :kc] - (prm.wiener_strict - 1.0) * channel_noise[:, :kc] / nv > 0
            outside_spread[:, :kc] *= steady
        gains = [np.ones((n, kb), np.float32) if not prm.wiener else
                 wiener_gain(None, None, mp, no, n_avg, nv, kc, prm.wiener_smooth, plan.k_min,
                             prm.wiener_strict, spread=sp, strong=prm.wiener_strong) for mp, no, sp in stats]

        # pass 2: the change of the templates, written over the spectra (S is not needed
        # again)
        def block_change(b0: int, b1: int) -> None:
            blk = S[..., b0:b1].copy()
            change = np.zeros_like(blk)
            for k, (sign, Tx, *_rest) in enumerate(self._parts(blk, b0, P, alias, n_avg[b0:b1])):
                Tx *= gains[k][:, None, b0:b1]
                change += np.float32(sign) * Tx
                del Tx
            S[..., b0:b1] = change

        each_block(block_change)
        delta = S
        delta[..., : plan.k_min] = 0.0  # the all-volume mean below 1/TR is left as it was
        self.S = None
        rows = self.rows
        ph = plan.phase(-1.0)[:, :kb]
        nf = plan.nw // 2 + 1
        starts, lens = segments
        core = plan.core_slice if plan.core_slice is not None else plan.core_abs

        per_volume = lens.size == len(plan.core_runs)
        buffers: dict[int, np.ndarray] = {}

        def subtract(i: int, r: int) -> None:
            # one zero-padded spectrum buffer per thread: only its first kb bins change
            full = buffers.get(threading.get_ident())
            if full is None:
                full = buffers[threading.get_ident()] = np.zeros((nv, nf), np.complex64)
            np.multiply(delta[i], ph, out=full[:, :kb])
            tau = sfft.irfft(full, n=plan.nw, axis=-1).astype(np.float32, copy=False).reshape(-1)
            a = amps.get(int(r))
            if a is not None and a.size != lens.size:
                a = None
            if per_volume:  # volume by volume, no full-length temporaries
                plan.subtract_core(data[r], tau, a)
                return
            ts = plan.core_of(tau)
            if a is not None:
                ts *= np.repeat(a, lens)
            data[r, core] -= ts

        # one channel per task: each writes its own row of ``data`` (the inverse FFTs
        # and the subtraction release the GIL; at 64 ch x 5 kHz x 10 min this pass took
        # 0.9 s serial, 0.6 s on two threads, with the same output)
        ordered_map(lambda i: subtract(i, rows[i]), range(len(rows)), n_jobs)
