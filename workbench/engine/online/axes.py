"""Causal version of the offline slice-wise axis fit (:mod:`workbench.engine.gradient.axes`).

What the volume template leaves when the lead loops' coupling to the three gradient axes
changes within a volume (breathing, a drifting bore, a movement) is, per channel, a mix of
the axes' waveforms. Offline, each slice epoch's mix is fitted on that epoch. Online a
block's mix is known only once the block has passed, so each block is corrected with the
mix of the blocks before it (the couplings change over seconds, a block lasts ~50 ms):
no sample waits, nothing is added to the latency.

The waveforms come from each volume's own template (rank-``rank`` SVD across channels),
turned to match the previous volume's (orthogonal Procrustes), so the running mix carries
over from one volume to the next. Written here: NeuXus and EEG-LLAMAS have no such step.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy import fft as sfft


class OnlineAxes:
    """Per channel, the running mix of the gradient axes' waveforms left by the template.

    Parameters
    ----------
    n_channels : int
        Rows of the chunks.
    sfreq : float
        Sampling rate (Hz).
    rank : int
        Waveforms (3 gradient axes).
    block_s : float
        Length of the blocks whose mix is fitted (s).
    hp_hz : float
        The mix is fitted on the waveforms' part above this frequency, where the EEG is
        negligible against the artifact (as offline).
    history : int
        Past blocks whose mixes are averaged into the one applied. 6 (300 ms): at the
        sampling phases where what the template leaves is mostly aliasing, each block's
        fitted mix scatters, and the mix stepping from block to block puts low-frequency
        error into the EEG band; 3 blocks left 1.3 uV in those volumes of the multiband
        eddy-current phantom (mb eddy 1.08 / 1.00 uV after volume 10 / 30, 6 blocks 0.99 /
        0.87, 10 blocks 0.97 / 0.84 but bore drift x3 1.05 -> 1.06; no other variant row
        worse with 6: ``bench_gradient_results.md``, session 39).
    checks : int
        Blocks over which the mix's prediction is checked: it is applied only while the
        mix carried over from the blocks before has removed, above ``hp_hz``, at least
        ``1 - check_ratio`` of what the template left in the last ``checks`` blocks
        (out of sample, as the alias model's check), and has not raised what was left
        below ``hp_hz``. Where the template's residual is not a changing coupling (at
        2 kHz it is mostly aliasing that changes from volume to volume; a template
        placed at a predicted onset) the carried-over mix would add error: it is then
        not applied.
    check_ratio : float
        Largest ratio of residual power after / before the carried-over mix.
    """

    def __init__(self, n_channels: int, sfreq: float, *, rank: int = 3, block_s: float = 0.05,
                 hp_hz: float = 150.0, history: int = 6, checks: int = 20,
                 check_ratio: float = 0.75) -> None:
        self.n_channels = int(n_channels)
        self.sfreq = float(sfreq)
        self.rank = int(rank)
        self.B = max(16, int(round(block_s * sfreq)))
        f = np.fft.rfftfreq(self.B, 1.0 / sfreq)
        self.mask = f >= hp_hz
        self.history = max(1, int(history))
        self.G: np.ndarray | None = None  # (rank, L) waveforms of the current volume
        self.key: int | None = None  # the volume they belong to (its first sample)
        self.R: np.ndarray | None = None  # (n_ch, L) the volume's residual so far
        self.filled: np.ndarray | None = None  # samples of R written, per block
        self.done: set[int] = set()
        self.betas: deque[np.ndarray] = deque(maxlen=self.history)
        self.beta: np.ndarray | None = None  # (n_ch, rank) the mix applied now
        self.n_blocks_fitted = 0
        self.check_ratio = float(check_ratio)
        self.checked: deque[tuple[float, float, float, float]] = deque(maxlen=max(1, int(checks)))
        self.block_beta: dict[int, np.ndarray] = {}  # the mix in effect when a block started
        self.n_blocks_applied = 0

    @property
    def useful(self) -> bool:
        """Whether the carried-over mix has predicted the recent blocks (see ``checks``)."""
        if len(self.checked) < self.checked.maxlen:
            return False
        c = np.sum(np.asarray(self.checked), axis=0)
        # it must predict above hp_hz and do no harm below (where the EEG is)
        return bool(c[0] > 0 and c[1] < self.check_ratio * c[0] and c[3] <= c[2])

    # ------------------------------------------------------------ waveforms
    def basis(self, template: np.ndarray) -> np.ndarray | None:
        """(rank, L) orthonormal waveforms of a template (its rank-``rank`` SVD across
        channels), not yet turned onto the last volume's; None with too few channels.

        The costly part of :meth:`start_volume` (a channels x channels product over the
        whole template and its eigenvectors: 12-18 ms at 64 ch x 5 kHz, which made the
        chunk that starts each volume take over 20 ms). The online correction computes it
        with the template, in the template thread (``CausalGradient._job_template``), and
        hands it to :meth:`start_volume`; it depends on the template alone.

        Parameters
        ----------
        template : ndarray, shape (n_channels, L)
            The volume's template.
        """
        T = np.asarray(template, np.float64)
        if T.shape[0] <= self.rank:
            return None
        C = T @ T.T
        w, U = np.linalg.eigh(C)
        U = U[:, ::-1][:, : self.rank]
        s = np.sqrt(np.maximum(w[::-1][: self.rank], 1e-300))
        return (U.T @ T) / s[:, None]

    def _waveforms(self, template: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray | None:
        """(rank, L) orthonormal waveforms of a template, turned onto the last ones
        (``basis``: :meth:`basis` of the template, when the caller has it)."""
        G = self.basis(template) if basis is None else basis
        if G is None:
            return None
        if self.G is not None:
            n = min(G.shape[1], self.G.shape[1])
            # orthogonal Procrustes: the rotation of the new waveforms closest to the old
            u, _, vt = np.linalg.svd(G[:, :n] @ self.G[:, :n].T)
            G = (u @ vt).T @ G
        return G

    def start_volume(self, key: int, template: np.ndarray, basis: np.ndarray | None = None) -> None:
        """A volume starts being corrected with ``template`` (n_ch, L); ``key`` names it;
        ``basis``: :meth:`basis` of that template when it was computed ahead (None: here)."""
        if key == self.key:
            return
        G = self._waveforms(template, basis)
        self.key = key
        self.G = G
        L = template.shape[1]
        self.R = np.zeros((self.n_channels, L), np.float32)
        self.filled = np.zeros(L // self.B + 1, int)
        self.done = set()
        self.block_beta = {}
        # the mix starts again with each volume: what a template misses is partly its
        # own (its onset, its alias phase) and would be carried into the next volume
        # (markers 2.5 volumes late: 11.7 -> 22.9 uV when it was)
        self.betas.clear()
        self.beta = None

    def _fit_block(self, j: int) -> None:
        assert self.G is not None and self.R is not None
        a, b = j * self.B, (j + 1) * self.B
        g = self.G[:, a:b]
        gh = sfft.irfft(sfft.rfft(g, axis=1) * self.mask[None, :], n=self.B, axis=1)
        gram = gh @ gh.T
        if np.linalg.cond(gram) > 1e8:  # a quiet stretch of the volume: nothing to fit
            return
        rb = self.R[:, a:b].astype(np.float64)
        beta = np.linalg.solve(gram, gh @ rb.T).T  # (n_ch, rank)
        prev = self.block_beta.pop(j, None)
        if prev is not None:  # out of sample: what the carried-over mix did, above and below hp_hz
            rh = sfft.irfft(sfft.rfft(rb, axis=1) * self.mask[None, :], n=self.B, axis=1)
            rl, gl = rb - rh, g - gh
            self.checked.append((float(np.sum(rh**2)), float(np.sum((rh - prev @ gh) ** 2)),
                                 float(np.sum(rl**2)), float(np.sum((rl - prev @ gl) ** 2))))
        self.betas.append(beta)
        self.beta = np.mean(np.stack(self.betas), axis=0)
        self.n_blocks_fitted += 1

    def apply(self, y: np.ndarray, off: int) -> None:
        """Correct ``y`` (n_ch, k: samples ``off..off+k`` of the current volume, its
        template already subtracted) in place, and learn from it."""
        if self.G is None or self.R is None or self.filled is None:
            return
        k = y.shape[1]
        L = self.G.shape[1]
        k = min(k, L - off)
        if k <= 0:
            return
        # block by block, so the mix each sample gets does not depend on how the stream
        # was chunked: a block is corrected with the mix of the blocks completed before it
        pos = off
        while pos < off + k:
            j = pos // self.B
            end = min(off + k, (j + 1) * self.B)
            a, b = pos - off, end - off
            self.R[:, pos:end] = y[:, a:b]
            if self.beta is not None:
                if j not in self.block_beta:
                    self.block_beta[j] = self.beta
                    self.n_blocks_applied += int(self.useful)
                if self.useful:
                    y[:, a:b] -= (self.block_beta[j] @ self.G[:, pos:end]).astype(np.float32)
            self.filled[j] += end - pos
            if self.filled[j] >= self.B and (j + 1) * self.B <= L and j not in self.done:
                self.done.add(j)
                self._fit_block(j)
            pos = end

    def gap(self) -> None:
        """The stream broke: forget the running mix."""
        self.betas.clear()
        self.beta = None
        self.key = None
