"""Slot-matched average artifact subtraction with exact sub-sample alignment.

The core of the gradient correction, on a plain 2-D array (channels x samples),
in place, channel group by channel group so the working memory stays small.

How it works (and why it is written here rather than taken from MNE, whose
``GradientRemover`` rounds every epoch to whole samples and averages whole TRs
without alignment):

* Every volume ``v`` starts at a *fractional* sample ``t_v`` (from the robust clock fit
  of :mod:`workbench.engine.sync`, which averages out trigger quantisation). One epoch
  covers one whole TR, so every slice slot of volume ``v`` is compared with *the same
  slot* of the neighbouring volumes (slot-matched neighbours: multiband, uneven slot
  spacing and dead time need no special case).
* Each epoch (with a tapered margin) is Fourier transformed and moved by ``-frac(t_v)``
  (a phase ramp: exact band-limited sub-sample shift; the amplifier's anti-alias filter
  makes the artifact band-limited). This is the "upsample x10 and align" of FASTR done
  exactly, at the cost of one FFT per epoch instead of a x10 larger signal.
* The template of ``v`` is the mean of its ``window`` nearest aligned neighbours
  (``v`` itself excluded, so the epoch's own EEG is not subtracted; shifted at the ends
  of the run so the first and last volumes get full templates), moved back to
  ``frac(t_v)`` and transformed back.
* Optional per-volume sub-sample re-alignment (cross-spectrum peak, Newton steps on a
  few high-artifact reference channels) for scanners whose artifact jitters against
  the trigger, and a least-squares amplitude per slot and channel.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import fft as sfft

from ..errors import InputError
from ..progress import Progress, as_progress
from .residual import AliasModel, anc_row, obs_channel
from .spatial import LowBand
from .threads import ordered_map, single_blas


@dataclass
class Schedule:
    """Where the artifacts are, in samples of the array being corrected.

    Attributes
    ----------
    onsets : ndarray of float
        Fractional sample index of each volume start.
    period : float
        Samples per volume (TR on the EEG clock x sfreq).
    slot_offsets : ndarray of float
        Start of each slice slot within the volume (samples); ``[0.]`` for one slot.
    """

    onsets: np.ndarray
    period: float
    slot_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1))

    @property
    def n_volumes(self) -> int:
        return int(self.onsets.size)

    @property
    def n_slots(self) -> int:
        return int(self.slot_offsets.size)


@dataclass
class AASParams:
    """Parameters of the average artifact subtraction.

    Attributes
    ----------
    window : int
        Neighbouring volumes averaged into each template (same slot, adjacent volumes).
    obs : bool
        Optimal basis set (FASTR's OBS): PCA across volumes of the high-passed residual
        epochs, rank chosen automatically (eigenvalues above 3x the median, at most
        ``obs_max_rank`` and a tenth of the volumes); the fitted components are removed
        from the *high-passed* residual only, so the EEG below the cut-off is untouched.
        It matters when no low-pass follows. Applied to the rows in ``obs_picks``.
    obs_highpass : float
        OBS (and ANC) high-pass as a fraction of the sampling rate (0.014 = 70 Hz at 5 kHz).
    anc : bool
        Adaptive noise cancellation of the high-passed residual from the high-passed
        template (FASTR's ANC) as a block-wise least-squares FIR filter (``anc_taps``
        taps, 10 s blocks, ridge-regularised). Unlike an LMS filter it cannot diverge: a
        block is only changed when the fit is finite and lowers the residual power.
        EEG rows only (``obs_picks``).
    align : bool
        Re-align every volume to its template by sub-sample cross-correlation.
    max_shift : float
        Largest re-alignment accepted (samples). The first pass starts each volume from
        its best whole-sample lag within this range (:func:`coarse_shift`).
    align_passes : int
        Re-alignment passes (templates re-made from the aligned volumes in between).
    amplitude_fit : bool
        Least-squares amplitude of the template per channel and volume (or slot).
    amplitude_per : str
        ``"volume"`` (default: one amplitude per volume, robust to the EEG) or ``"slot"``.
    wiener : bool
        Weight every frequency bin of the template by its estimated artifact-to-
        (artifact + leaked EEG) power ratio (a Wiener gain estimated over the whole
        run). Plain averaging leaves ``1/sqrt(window)`` of the EEG in the template at
        *every* frequency; bins where the artifact is weak (most of the EEG band
        between the slice harmonics) then subtract mostly EEG. The gain removes that
        leak and keeps the full template where the artifact is strong.
    wiener_smooth : int
        Bins over which the artifact power is also averaged for the Wiener gain below
        ``lf_cutoff`` (the EEG band); the smaller of the bin's own and the averaged
        estimate is used there (1: off).
    wiener_robust : float
        In the EEG band, take the all-volume mean's power (the Wiener gain's artifact
        estimate) from a mean that down-weights the volumes whose residual power there
        exceeds ``wiener_robust`` times the median (0: off; see
        :func:`robust_band_power`): blinks whose phases line up no longer count as
        artifact.
    wiener_strong : float
        Where the bin's own estimate exceeds ``wiener_strong`` times its leak, that
        estimate is used instead (0: never; see :func:`eeg_band_power`). At 1 kHz the
        readout's harmonics fold into the EEG band as lone lines (962.5 Hz, the 55th
        slice harmonic at 35 slices / 2 s, onto 37.5 Hz),
        which the neighbours' mean shrank to a third of their power, so that their
        templates were kept only in part: the 37.5 Hz line was half of the 1 kHz
        variant row's 1-40 Hz error. The correction sets 20 below 2 kHz; at 5 kHz the
        EEG band's strong lines are slice harmonics with volume sidebands and the rule
        changed the variant rows by -4 % to +4 % (mb combined, whose 2 Hz line holds
        slow EEG too), so it stays off there.
    window_lf : int | None
        Longer window for the bins below ``lf_cutoff`` (in cycles per sample x sfreq,
        i.e. Hz once the caller converts): the artifact's low-frequency part is weak and
        stable, so a long window averages the EEG leak down (1/sqrt(window_lf)) there
        while the strong high-frequency harmonics follow drift with ``window``.
    lf_cutoff : float
        Frequency (as a fraction of the sampling rate) below which ``window_lf`` is used.
    alias_orders : int
        Model the part of the artifact that depends on each volume's sub-sample phase
        (aliasing: the artifact has energy above Nyquist when the amplifier's
        anti-alias filter is weak). After the phase-ramp alignment an alias of order
        ``m`` appears as ``C_m(f) exp(-2 pi i m frac_v)``; the ``C_m`` are fitted per
        channel and bin across all volumes (m = ±1..±alias_orders), shrunk by their
        estimation SNR (so EEG-only bins are left alone) and added to each volume's
        template. 0 disables. Written here: OBS (PCA) would remove this too, but it
        has to discover the subspace and takes EEG with it; the phase is known.
    alias_bare_below : float
        Where a band's window means of the alias basis average below this (mean
        modulus; windows spanning near-whole cycles of the phase) the bare basis is
        fitted instead of the basis minus its window means (see
        :class:`.residual.AliasModel`). 0.1 by default (at 5 kHz the bare basis kept a
        little more EEG: point sampling 0.961 -> 0.948 uV, without anti-alias filter
        3.37 -> 3.20). The correction sets 0 below 2 kHz: at 1 kHz and 20 ppm the low
        band's 60 volumes span 2.4 cycles of the phase, the window means are ~0.1 of the
        basis, and the bare fit took ~13 % less of each alias term than the residual
        holds; on a 17 min run the 37.5 Hz folded line kept a third of the 1-40 Hz
        error (4.53 -> 3.65 uV).
    alias_phase_scale : float
        The alias terms' phase is the volumes' sub-sample phase on a grid this many
        times finer than the data's: the recording's own samples when the data are that
        recording decimated (the cardiac pass's rounds, :mod:`.cardiac_pass`). 1: the
        data's grid.
    amplitude_range : tuple of float
        Fitted amplitudes are clipped to this range.
    pad : int
        Tapered margin either side of each epoch (samples).
    track : bool
        Choose each volume's neighbours by similarity instead of by distance in time
        (FACET's idea of a correlation gate, done as nearest neighbours): per channel,
        among the ``track_pool`` volumes around ``v``, the ``window`` whose artifact shape
        is closest to ``v``'s (distance of the unit-norm spectra over the channel's
        strongest artifact bins, i.e. highest correlation) make its template. A drifting artifact (breathing, heating, movement) is then
        followed by neighbours in the same state, with as many averages (the same EEG
        leak) as the fixed window. Applied to the bins where the artifact is strong
        (at most ``track_max_bins`` of them); elsewhere the leak dominates and the fixed
        window is kept.
    track_pool : int
        Candidate volumes for the similarity choice (around ``v``, ``v`` excluded).
    track_features : int
        Strongest artifact bins per channel used to measure similarity.
    track_max_bins : float
        Largest fraction of the frequency bins given tracked templates.
    track_dealias : bool
        Remove each volume's fitted alias part (see ``alias_orders``) from the features
        before judging similarity.
    lf_auto : bool
        Choose the low band's window (``window_lf``, twice ``window`` or ``window``) from
        the data: the smallest leave-one-out prediction error of the epochs there.
    align_check : bool
        Keep the re-alignment only when it lowers the reference channels' residual
        (after the alias model, above the volume rate) by at least ``align_gain``.
    align_gain : float
        Relative residual drop the re-alignment must bring.
    align_check_fmax : float
        When > 0, that residual is scored as the drift ramp's is (``drift_score_fmax``):
        below this frequency (fraction of the sampling rate), with the alias terms
        fitted out of sample. The correction sets it below 2 kHz, to its low-pass (70 Hz
        without one): judged on all bins, the check kept shifts on a 120 s run at 1 kHz
        and 4 ppm that left 8.1 uV in 1-40 Hz (2.7 without them).
    spatial : bool
        Re-estimate the templates below ``spatial_cutoff`` across channels (see
        :mod:`.spatial`): the artifact of all channels lies in a few-dimensional
        subspace (three gradient axes), the EEG leaking into the templates does not;
        the part inside and the part outside that subspace get their own Wiener gain
        and alias fit. Needs ``lf_cutoff`` > 0 and at least 5 corrected channels (of
        ``obs_picks``, the EEG, when given).
    spatial_cutoff : float
        Upper edge of that band (fraction of the sampling rate; 0: ``1.25 x lf_cutoff``).
    spatial_tol : float
        The subspace holds ``1 - spatial_tol`` of the artifact's energy on its strongest
        bins.
    spatial_steady_outside : bool
        In the EEG band, the part outside the subspace counts the templates' spread as
        artifact only in the bins where the channel's all-volume mean holds artifact
        (beyond ``wiener_strict`` times its leak): elsewhere a spread is physiology that
        stayed locked to the volumes for a while (a heart-rate harmonic passing a
        multiple of 1/TR: its templates swing for a few dozen volumes, its all-volume
        mean stays small), not gradient artifact.
    window_auto : bool
        Choose ``window`` among itself, half of it and 8 by the reference channels'
        leave-one-out template residual between ``lf_cutoff / 2`` and
        ``segment_check_fmax`` (``window_lf`` scaled alike); QC ``refinements["window"]``.
        Experimental, off: on the variant benchmark's 1 kHz rows it chose 8-10 volumes and
        removed 4-5 dB more, but it worsened the multiband "combined" row, and on the
        synthetic 1 kHz artifact of the tests it kept 20 although 8 removed 5 dB more (the
        leave-one-out residual before the Wiener gain is not the final error).
    segments : ndarray of int | None
        Motion segment of every volume (from realignment parameters, see
        :mod:`.motion`), so that a head movement, which changes the artifact's size and
        shape at once, is not averaged across (RAPAC, Moosmann et al. 2009); how, see
        ``segment_mode``. Tracked candidates (``track``) come from the volume's own
        segment first. None: off.
    segment_mode : str
        ``"offset"`` (default): the windows stay as they are, and a neighbour on the
        other side of a movement is moved by the artifact's step there, measured per
        channel and bin as the difference of the means of ``segment_k`` volumes after
        and before it (the two volumes around the movement left out) and shrunk by its
        estimation noise (``|d|^2 - var`` over ``|d|^2``), so the EEG leak does not grow.
        ``"restrict"``: neighbours from the volume's own segment only (a segment shorter
        than the window gives all its other volumes: fewer averages, more EEG leak). On
        the phantom it never beat ``"offset"``, and at 1 kHz the check kept it although
        the corrected output was worse (benchmarks/bench_gradient_motion.py).
    segment_min : int
        Shortest segment (volumes) that is given its own templates (``"restrict"``) or
        whose step is measured (``"offset"``, at least 2 volumes each side are needed).
    segment_k : int
        Volumes each side of a movement over which its step is measured (``"offset"``).
    segment_check : bool
        Keep the segments only when they lower the reference channels' leave-one-out
        template residual (alias model included, above the volume rate) against the
        ordinary templates (QC ``refinements["motion"]``).
    drift_range : float
        Refine the volumes' onsets by a linear ramp (a correction of the clock fit's drift)
        searched within ``± drift_range`` samples over the whole run (0: off), on
        ``drift_steps`` points, by the reference channels' template residual (alias model
        included and fitted out of sample, from 0.75 x the volume rate up to
        ``drift_score_fmax``); kept only when it lowers that residual by at least
        ``align_gain`` (QC ``refinements["drift"]``). Why: the onsets come from triggers
        on EEG samples, and with a few dozen volumes at 1 kHz the fitted drift is off by
        up to ±1 sample over the run (20 ppm, 26 volumes: 0 or 12 ppm fitted); an aliased
        artifact needs each volume's sub-sample phase to ~0.1 sample (the alias model
        fits across those phases), the artifact itself tells it. When the phase travels
        less than a sample over the run (a short run with a few ppm) the truth is not
        identified: the ramp chosen is then the spread of phases on which the alias
        model best predicts the artifact, not the clock's drift.
    drift_steps : int
        Ramps tried, evenly spaced (0, the clock fit's own, is always among them).
    alias_orders_try : tuple of int
        Larger orders of the alias model tried on the reference channels, after the
        re-alignment (:func:`_choose_orders`); one is used when its template residual
        below ``drift_score_fmax``, with the alias terms fitted out of sample, is lower
        than that of ``alias_orders`` by at least ``orders_gain`` (QC
        ``refinements["alias_orders"]``). Empty: ``alias_orders`` as given.
    orders_gain : float
        See ``alias_orders_try``.
    drift_score_fmax : float
        Upper edge of the bins the drift refinement scores (fraction of the sampling
        rate; 0: all bins). The correction sets it to its low-pass (70 Hz without one):
        the band the user keeps. On all bins the slice harmonics near the Nyquist
        frequency decided (at 1 kHz 10^4 x the EEG band), where the alias model absorbs
        much of a wrong ramp. 29 phantom runs at 1 kHz (two generators; 56-120 s with
        -5 to 20 ppm, synced 64 s runs, 17 min with 0.5-2 ppm), 1-40 Hz error left by
        the ramp chosen over the least on a 0.1-sample grid, geometric mean (worst):
        all bins 1.43x (2.6x); below 70 Hz 1.03x (1.53x: on synced 64 s runs the alias
        model fitted EEG on a spread basis and a ramp was kept, 1.8 -> 2.8 uV); below
        70 Hz out of sample 1.015x (1.18x).
    segment_check_fmax : float
        Upper edge of that residual (fraction of the sampling rate; 0: all bins); the
        correction sets it to its low-pass, the band the user keeps.
    segment_strict : float
        A step counts only beyond this many times its estimation noise: the gain is
        ``1 - segment_strict var / |d|^2`` (clipped to 0..1), so bins where the step
        is EEG (its power is then the noise times an exponential variable) stay put.
    own_means : bool
        Take each epoch's own drift out of what the templates average: the line through
        the epochs' own offsets (their means less what all epochs share and what the
        alias model predicts of them, :func:`epoch_offsets`; :meth:`_Plan._remove_drift`).
        Why: an electrode's drift gives every epoch an offset and a slope of its own;
        averaged over a window of neighbours (or, below the volume rate, over all
        volumes), they made templates that stepped at every volume boundary, which the
        Wiener rule cannot tell from artifact (the taper spreads a constant over many
        bins). Found replaying the variant table's rows for 600 s (16 ch, 1-40 Hz error
        after volume 10): the slow-EEG row (blinks and a random-walk drift) 1.72 uV
        offline against 0.64 online (which took the epochs' means out); the single-band
        row with a 0.5 Hz random-walk drift of 165 uV SD 2.44 uV (0.54 without it). With
        it: 0.54 and 0.54. On the 120 s rows: multiband combined 2.51 -> 1.70, combined
        1.97 -> 1.92, multiband point sampling without a filter 4.55 -> 4.52, but slow
        EEG 0.60 -> 0.68 (the Wiener rule's noise no longer holds the drift, and the
        blinks' leak is shrunk less); the five 1 kHz rows +0.01, the other 18 within
        0.003. Where the phases travel too slowly to tell a drift from the artifact's own
        mean, only the means' smooth part is taken out (:func:`epoch_offsets`), and
        nothing without ``slow_drift``.
    slow_drift : bool
        With ``own_means``, where the phases travel too slowly to tell a drift from the
        artifact's own mean, take the means' smooth part out all the same (see
        :func:`epoch_offsets`); False: nothing there. The correction turns it off below
        900 Hz, where nearly everything folds and the artifact's own mean changes far
        more than an electrode drifts: on the fMRI-informed source phantom study (500 Hz,
        240 s) the smooth part left in the output moved the soft prior's dSPM peak from
        10 to 127 mm off the visual source (a line alone: 138).
    """

    window: int = 20
    align: bool = True
    max_shift: float = 4.0
    align_passes: int = 3
    amplitude_fit: bool = True
    amplitude_range: tuple[float, float] = (0.5, 1.5)
    amplitude_per: str = "volume"
    wiener: bool = False
    window_lf: int | None = None
    lf_cutoff: float = 0.0
    alias_orders: int = 2
    alias_phase_scale: float = 1.0
    alias_bare_below: float = AliasModel.bare_below
    obs: bool = False
    anc: bool = False
    anc_taps: int = 8
    obs_max_rank: int = 8
    obs_highpass: float = 0.014
    pad: int = 32
    wiener_smooth: int = 9
    wiener_strong: float = 0.0
    wiener_strict: float = 1.0
    wiener_robust: float = 0.0
    track: bool = False
    track_pool: int = 60
    track_features: int = 48
    track_max_bins: float = 0.15
    track_dealias: bool = True
    spatial: bool = False
    spatial_cutoff: float = 0.0
    align_check: bool = True
    lf_auto: bool = False
    align_gain: float = 0.01
    align_check_fmax: float = 0.0
    spatial_tol: float = 1e-4
    spatial_steady_outside: bool = True
    window_auto: bool = False
    segments: np.ndarray | None = None
    segment_mode: str = "offset"
    segment_min: int = 4
    segment_k: int = 10
    segment_strict: float = 10.0
    segment_check: bool = True
    segment_check_fmax: float = 0.0
    drift_range: float = 0.0
    drift_steps: int = 81
    drift_score_fmax: float = 0.0
    alias_orders_try: tuple[int, ...] = ()
    orders_gain: float = 0.2
    own_means: bool = True
    slow_drift: bool = True
    keep: tuple[float, ...] = ()
    keep_width: float = 0.0


#: (epoch_offsets) the largest share of the alias basis's energy (about its mean) that a slow
#: drift (a line and cosines over the run) may hold for the two to be told apart
_DRIFT_SHARE_MAX = 0.5


def epoch_offsets(means: np.ndarray, basis: np.ndarray | None = None, ratio: float = 0.5,
                  slow: bool = True) -> np.ndarray:
    """Each epoch's own offset: its mean less the part all epochs share and, per row,
    the part the alias basis predicts where it predicts.

    The mean of an epoch is the artifact's (the same in every volume, or changing with
    the volume's sub-sample phase where the artifact folds) plus the EEG's offset and
    drift (the electrode's, different in every volume). Only the second must stay out
    of the templates. Where the sampling phase steps a rational fraction of a sample a
    volume, the artifact's own mean alternates with the volumes (multiband point
    sampling without an anti-alias filter: taking the plain mean out raised that row's
    1-40 Hz error 4.5 -> 14.5 uV). The basis is fitted together with a slow drift (a
    line and the first ``n / 10``, at most 8, cosines over the run) and kept for a row
    when that fit's leave-one-out error is under ``ratio`` times the drift's alone; only
    its own part is then left in the epochs (without the line, cosines alone left ~1 %
    of a steady ramp, which went into the basis: NRMSE 0.012 -> 0.70 on
    ``tests/gradient/test_electrode_drift.py``'s ramp). Where the phases travel so slowly
    that the drift holds more than ``_DRIFT_SHARE_MAX`` of the basis's energy (about a
    sample or less over the run), a mean changing with the phase and a drift cannot be
    told apart, and reading either as the other cost: the means taken whole for a drift
    at 1 kHz and 4 ppm (3.0 -> 11.4 uV, ``tests/gradient/test_short_runs.py``), a DC
    ramp taken for the artifact's mean on a 2 kHz sweep run (8.4 -> 58 uV fitted without
    the drift, 28 with it). There only the means' smooth part (the fit of the line and
    cosines) is taken out, whichever it is: with so slow a phase the artifact's mean
    changes as slowly, a few cycles over the run, and left in the output it stays below
    the EEG band, while each epoch's own offset (the EEG's) and what changes faster stay
    in. Taking nothing out there left the DC ramps of three sweep runs (2-3 kHz, 1-40
    Hz after volume 10) at 59.0 / 8.41 / 18.6 uV, now 4.51 / 3.89 / 9.40, as without
    the ramps; a random-walk drift (165 uV SD) on the first 12.7 -> 4.52 uV (a line
    alone: 9.10). The 1 kHz rows at 0-8 ppm are unchanged.

    Parameters
    ----------
    means : ndarray, shape (n_rows, n_volumes)
        The epochs' means.
    basis : ndarray, shape (n_volumes, k) | None
        The alias basis ``exp(-2 pi i m frac_v)`` with ``m = +-1..+-M`` (None: none).
    ratio : float
        The largest leave-one-out error with the basis, as a share of the error without
        it, at which a row keeps it.
    slow : bool
        Where the phases travel too slowly, take the smooth part out (True) or nothing.

    Returns
    -------
    ndarray, shape (n_rows, n_volumes)
        What to take out of each epoch (float64; only the smooth part where the phases
        travel too slowly).
    """
    means = np.asarray(means, float)
    g, n = means.shape
    out = means - means.mean(axis=1, keepdims=True)
    if basis is None or n <= 3:
        return out
    t = (np.arange(n) + 0.5) / n
    drift = np.cos(np.pi * np.outer(t, np.arange(1, int(np.clip(n // 10, 1, 8)) + 1)))
    B = np.asarray(basis, complex)
    X0 = np.concatenate([np.ones((n, 1)), (t - 0.5)[:, None], drift], axis=1).astype(complex)
    Bc = B - B.mean(axis=0)
    Q0 = np.linalg.qr(X0)[0]
    inside = float(np.sum(np.abs(Q0.conj().T @ Bc) ** 2) / max(float(np.sum(np.abs(Bc) ** 2)), 1e-300))
    if inside > _DRIFT_SHARE_MAX:
        if not slow:
            return np.zeros_like(means)
        # too slow to tell a drift from the artifact's own mean: only the smooth part is
        # taken out (see the docstring), whichever it is
        coef = np.linalg.lstsq(X0.real, means.T, rcond=None)[0]
        smooth = (X0.real @ coef).T
        return smooth - smooth.mean(axis=1, keepdims=True)
    X1 = np.concatenate([X0, B], axis=1)

    def loo(X: np.ndarray) -> tuple[np.ndarray, int]:
        # the column space only (where the phase steps 1/q sample a volume, orders m
        # and m - q share one basis: the fit is defined where the coefficients are not)
        U, sv, _ = np.linalg.svd(X, full_matrices=False)
        U = U[:, sv > 1e-6 * sv[0]]
        fit = np.real(U @ (U.conj().T @ means.T)).T
        lev = np.clip(np.sum(np.abs(U) ** 2, axis=1), 0.0, 1.0 - 1e-6)
        return np.sum(((means - fit) / (1.0 - lev)) ** 2, axis=1), U.shape[1]

    e1, r1 = loo(X1)
    if r1 >= n / 2:
        return out
    use = e1 < ratio * loo(X0)[0]
    if use.any():
        coef = np.linalg.lstsq(X1, means[use].T.astype(complex), rcond=1e-6)[0]
        out[use] -= np.real(B @ coef[X0.shape[1] :]).T
    return out


@dataclass
class AASResult:
    """What the correction did, for QC and the views.

    Attributes
    ----------
    onsets : ndarray
        Volume onsets actually used (after re-alignment), fractional samples.
    shifts : ndarray
        Re-alignment of each volume (samples; 0 when ``align`` is off).
    amplitudes : dict[int, ndarray]
        Channel index -> fitted amplitude per (volume, slot).
    ref_channels : list[int]
        Channels used for the re-alignment.
    evolution : dict[str, ndarray]
        How the artifact changed over the run, one value per volume (median over the
        corrected channels): ``"shape_r"`` correlation of the volume's artifact with
        the run's mean artifact (over the strongest bins), ``"size"`` its size relative
        to the run's mean, and with ``track`` ``"reach"`` the mean distance (volumes)
        of the neighbours chosen.
    neighbours : dict[int, ndarray]
        With ``track``: channel index -> (n_vol, window) the volumes whose average made
        each volume's template on the tracked bins (for the views); empty otherwise.
    """

    onsets: np.ndarray
    shifts: np.ndarray
    amplitudes: dict[int, np.ndarray] = field(default_factory=dict)
    ref_channels: list[int] = field(default_factory=list)
    segments: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    obs_rank: dict[int, int] = field(default_factory=dict)
    evolution: dict[str, np.ndarray] = field(default_factory=dict)
    neighbours: dict[int, np.ndarray] = field(default_factory=dict)
    spatial: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


class _Plan:
    """Index arithmetic shared by every channel group."""

    def __init__(self, sched: Schedule, n_times: int, params: AASParams) -> None:
        self.pad = int(params.pad)
        self.n_times = n_times
        self.update(sched)
        n = sched.n_volumes
        w = int(min(params.window, n - 1))
        if w < 1:
            raise InputError(None, f"{n} volume(s) in the recording; the template needs at least 2")
        self.labels = None  # motion segment of each volume (-1: the ordinary window)
        self.steps = None  # movements whose artifact step moves the neighbours ("offset")
        restrict = None
        if params.segments is not None:
            lab = np.asarray(params.segments, int).ravel()
            if lab.size != n:
                raise InputError(None, f"{lab.size} motion segment labels for {n} volumes")
            if params.segment_mode not in ("offset", "restrict"):
                raise InputError(None, f"segment_mode must be 'offset' or 'restrict', got {params.segment_mode!r}")
            self.labels = _usable_segments(lab, int(params.segment_min))
            if params.segment_mode == "restrict":
                restrict = self.labels
            else:
                self.steps = _movement_steps(lab, int(params.segment_k))
                self.step_strict = float(params.segment_strict)
                self.step_alias = int(params.alias_orders)
        # window bounds [lo, hi) including v itself; shifted at the ends of the run (and
        # of each motion segment with "restrict")
        self.lo, self.hi, self.cnt = _windows(n, w, restrict)
        self._restrict = restrict
        self.n_nb = w
        self.lf = None
        self.lf_cutoff = float(params.lf_cutoff)
        if params.window_lf and params.lf_cutoff > 0 and min(params.window_lf, n - 1) > w:
            self.set_lf_window(int(params.window_lf))

    def set_lf_window(self, w2: int) -> None:
        """Use ``w2`` volumes for the bins below the low-frequency cut-off (the main
        window's length: the main window there too)."""
        n = self.sched.n_volumes
        w2 = int(max(1, min(w2, n - 1)))
        self.lf = None
        if self.lf_cutoff > 0 and w2 != self.n_nb:
            lo2, hi2, cnt2 = _windows(n, w2, self._restrict)
            self.lf = (lo2, hi2, w2, self.lf_cutoff, cnt2)

    def update(self, sched: Schedule) -> None:
        self.sched = sched
        P = float(sched.period)
        pad = self.pad
        self.core_len = int(math.ceil(P)) + 1
        self.nw = sfft.next_fast_len(self.core_len + 2 * pad + 2, real=True)
        on = np.asarray(sched.onsets, float)
        fl = np.floor(on)
        self.frac = on - fl
        self.starts = fl.astype(np.int64) - pad
        k = np.arange(self.nw // 2 + 1)
        self.omega = 2 * np.pi * k / self.nw
        self.k_min = int(np.ceil(0.75 * self.nw / P))  # bins below 0.75 x the volume rate
        # taper: 1 over the core (+1 sample), raised-cosine ramps in the margins
        taper = np.ones(self.nw, np.float32)
        r = max(pad - 2, 1)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
        taper[:r] = ramp
        right0 = pad + self.core_len + 2
        rr = max(self.nw - right0, 1)
        ramp_r = 0.5 + 0.5 * np.cos(np.pi * (np.arange(rr) + 0.5) / rr)
        taper[right0:] = ramp_r[: self.nw - right0]
        taper[:r] = ramp
        self.taper = taper
        # core samples of each volume: [ceil(t_v), ceil(t_v + P)), never past the next core.
        # A sample between ceil(t_v + P) and ceil(t_v+1) (a volume that came late) is in no
        # core and left as it is: giving it the previous volume's template (whose end holds
        # the next volume's start at the nominal spacing) raised the NRMSE of the phantom
        # with 100-300 us of volume jitter from 0.086 / 0.123 to 0.124 / 0.177 (session 25)
        c0 = np.ceil(on).astype(np.int64)
        c1 = np.ceil(on + P).astype(np.int64)
        c1[:-1] = np.minimum(c1[:-1], c0[1:])
        c0 = np.clip(c0, 0, self.n_times)
        c1 = np.clip(c1, c0, self.n_times)
        self.c0, self.c1 = c0, c1
        lens = c1 - c0
        total = int(lens.sum())
        flat0 = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(
            np.int64
        )  # core start in the flat array
        self.core_flat0, self.core_len_v = flat0, lens
        # absolute sample of each core sample, and its position in the flattened
        # (volume, window) grid; int32, filled volume by volume (no n_times-long temps)
        self.core_abs = np.empty(total, np.int32)
        self.core_win = np.empty(total, np.int32)
        for v in range(on.size):
            f0, n = int(flat0[v]), int(lens[v])
            if n:
                self.core_abs[f0 : f0 + n] = np.arange(c0[v], c1[v], dtype=np.int32)
                w0 = v * self.nw + int(c0[v] - self.starts[v])
                self.core_win[f0 : f0 + n] = np.arange(w0, w0 + n, dtype=np.int32)
        # slot segments of the flat core array (for the per-slot amplitude fit)
        so = np.asarray(sched.slot_offsets, float)
        bnd = np.ceil(on[:, None] + so[None, :]).astype(np.int64)
        bnd = np.clip(bnd, c0[:, None], c1[:, None])
        bnd[:, 0] = c0
        starts = (flat0[:, None] + (bnd - c0[:, None])).ravel()
        ids = np.arange(starts.size)
        ends = np.r_[starts[1:], total]
        keep = ends > starts
        self.seg_starts, self.seg_ids, self.seg_lens = (
            starts[keep],
            ids[keep],
            (ends - starts)[keep],
        )
        # one contiguous stretch (no pause in scanning): plain slices instead of fancy indexing
        contiguous = total > 0 and int(self.core_abs[-1]) - int(self.core_abs[0]) + 1 == total
        self.core_slice = (
            slice(int(self.core_abs[0]), int(self.core_abs[-1]) + 1) if contiguous else None
        )
        nz = lens > 0
        self.vseg_starts, self.vseg_ids, self.vseg_lens = flat0[nz], np.flatnonzero(nz), lens[nz]
        # (start in the flattened window grid, start in the flat core array, length, first
        # sample) of every volume's core (the runs of ``core_win`` and ``core_abs``), for
        # :meth:`core_of` and :meth:`subtract_core`
        self.core_runs = [(int(v * self.nw + c0[v] - self.starts[v]), int(flat0[v]), int(lens[v]), int(c0[v]))
                          for v in np.flatnonzero(nz)]
        idx = self.starts[:, None] + np.arange(self.nw)[None, :]
        self.gather = np.clip(idx, 0, max(self.n_times - 1, 0)).astype(np.int32)

    def edge_samples(self) -> tuple[np.ndarray, ...]:
        """The boundary samples at the edges of continuous scanning.

        Returns ``(v_pre, n_pre, win_pre, v_end, n_end, win_end)``: for each volume
        that starts a stretch of scanning, the sample just before its core (absolute
        index and index in the flattened template grid); for each volume that ends
        one, its core's last sample. Only samples inside the data and, before a core,
        outside every other core.
        """
        first, last = scan_edges(self.sched.onsets, self.sched.period)
        v = np.flatnonzero(first & (self.c1 - self.c0 > 2))
        n = self.c0[v] - 1
        taken = np.zeros(n.size, bool)
        for j, (vv, nn) in enumerate(zip(v, n)):
            taken[j] = nn < 0 or (vv > 0 and nn < self.c1[vv - 1])
        v_pre, n_pre = v[~taken], n[~taken]
        w_pre = v_pre * self.nw + (n_pre - self.starts[v_pre])
        v_end = np.flatnonzero(last & (self.c1 - self.c0 > 2))
        n_end = self.c1[v_end] - 1
        w_end = v_end * self.nw + (n_end - self.starts[v_end])
        ok = (w_pre >= v_pre * self.nw) & (w_pre < (v_pre + 1) * self.nw)
        return (v_pre[ok], n_pre[ok], w_pre[ok].astype(np.int64), v_end, n_end,
                w_end.astype(np.int64))

    def core_of(self, tau: np.ndarray) -> np.ndarray:
        """``tau[..., core_win]`` (``tau``: (..., n_vol * nw), the flattened window grid)
        by one slice copy per volume: the fancy-index gather converted the int32 indices
        to intp and copied sample by sample (3 M samples: 5.7 -> 0.5 ms per channel)."""
        out = np.empty(tau.shape[:-1] + (self.core_win.size,), tau.dtype)
        for src, dst, n, _ in self.core_runs:
            out[..., dst : dst + n] = tau[..., src : src + n]
        return out

    def subtract_core(self, x: np.ndarray, tau: np.ndarray, amp: np.ndarray | None = None) -> None:
        """``x[core_abs] -= core_of(tau) * repeat(amp, vseg_lens)`` (one row ``x``, ``tau``
        flat; ``amp``: one amplitude per volume with a core, or None), volume by volume:
        the same float32 products and differences without three full-length temporaries."""
        for j, (src, _, n, t0) in enumerate(self.core_runs):
            seg = tau[src : src + n]
            x[t0 : t0 + n] -= seg if amp is None else seg * amp[j]

    def phase(self, sign: float) -> np.ndarray:
        """exp(sign * i * omega * frac_v): shape (n_vol, n_freq), complex64 (cached)."""
        key = (sign, self.frac.tobytes())
        cache = self.__dict__.setdefault("_phase_cache", {})
        val = cache.get(key)  # (threads share the cache: never look the key up twice)
        if val is None:
            val = np.exp(1j * sign * np.outer(self.frac, self.omega)).astype(np.complex64)
            cache.clear() if len(cache) > 2 else None
            cache[key] = val
        return val

    def aligned_spectra(
        self, data: np.ndarray, rows: Any = None, mu: np.ndarray | None = None,
        own_means: bool = False, basis: np.ndarray | None = None, slow_drift: bool = True,
    ) -> np.ndarray:
        """Aligned epoch spectra of ``data[rows]`` (minus ``mu``) -> (g, n_vol, n_freq).

        The epochs are gathered straight from ``data`` (no copy of whole rows).
        ``own_means``: each epoch's own offset (:func:`epoch_offsets`, with the alias
        ``basis`` when given; ``slow_drift``: its ``slow``) is taken out first.
        """
        from numpy.lib.stride_tricks import sliding_window_view

        rows = np.arange(data.shape[0]) if rows is None else np.asarray(rows)
        ep = np.empty((rows.size, self.frac.size, self.nw), np.float32)
        inside = (self.starts >= 0) & (self.starts + self.nw <= data.shape[1])
        for i, r in enumerate(rows):
            # whole epochs copied from a strided view of the row (a memcpy per epoch);
            # the sample-by-sample gather only where an epoch's margin leaves the data
            if inside.all():
                ep[i] = sliding_window_view(data[r], self.nw)[self.starts]
            else:
                ep[i, inside] = sliding_window_view(data[r], self.nw)[self.starts[inside]]
                ep[i, ~inside] = data[r, self.gather[~inside]]
        if mu is not None:
            ep -= mu[:, :, None]
        if own_means and self.frac.size >= 3:
            self._remove_drift(ep, epoch_offsets(ep.mean(axis=2), basis, slow=slow_drift))
        ep *= self.taper
        spec = sfft.rfft(ep, axis=-1)
        del ep
        spec *= self.phase(+1.0)[None]
        return spec

    def _remove_drift(self, ep: np.ndarray, dev: np.ndarray) -> None:
        """Take out of the epochs ``ep`` (rows, volumes, samples; in place) the drift
        through their own offsets ``dev`` (rows, volumes; :func:`epoch_offsets`): the
        line between successive epochs' centres, i.e. in each epoch its offset plus a
        slope towards each neighbour's on that side.

        Why a line and not the offset alone: an electrode drifting steadily (a DC-coupled
        amplifier, tens of uV a second) gives every epoch the same slope, which the
        offsets miss; the templates then held that slope, the output a staircase with a
        step of the drift over one TR at every volume boundary (two runs of the random
        sweep, ``bench_gradient_sweep.py --faults``, with DC offsets and ramps of up to
        5 mV over a minute, 1-40 Hz: 22.3 and 13.8 uV with the offsets alone, 7.2 and
        8.2 before either, 2.08 and 2.90 with the line, 2.07 and 2.89 without the
        ramps). The artifact's own slope, the same in every volume and resetting at
        each, is not continuous across volumes and stays in the epochs.
        """
        n = dev.shape[1]
        c = self.starts.astype(float) + 0.5 * (self.nw - 1)  # the epochs' centres
        step = np.diff(dev, axis=1) / np.maximum(np.diff(c), 1.0)[None]  # (rows, n - 1)
        left = np.concatenate([step[:, :1], step], axis=1) if n > 1 else np.zeros_like(dev)
        right = np.concatenate([step, step[:, -1:]], axis=1) if n > 1 else np.zeros_like(dev)
        h = self.nw // 2
        jj = (np.arange(self.nw) - 0.5 * (self.nw - 1)).astype(np.float32)
        d32, l32, r32 = (a.astype(np.float32) for a in (dev, left, right))
        for i in range(ep.shape[0]):
            ep[i, :, :h] -= d32[i, :, None] + l32[i, :, None] * jj[None, :h]
            ep[i, :, h:] -= d32[i, :, None] + r32[i, :, None] * jj[None, h:]

    def templates(self, spec: np.ndarray, b0: int = 0) -> np.ndarray:
        """Leave-one-out window means of aligned spectra, same shape (``spec``'s first
        bin is bin ``b0``)."""
        g, n, nf = spec.shape
        cs = _cumsum_volumes(spec)
        tmpl = _window_sums(cs, self.lo, self.hi)
        tmpl -= spec
        tmpl *= _inverse(self.cnt, self.n_nb)
        if self.lf is not None:
            lo2, hi2, w2, _, cnt2 = self.lf
            kc = max(self.lf_bins - b0, 0)
            tmpl[..., :kc] = (cs[:, hi2, :kc] - cs[:, lo2, :kc] - spec[..., :kc]) * _inverse(cnt2, w2)
        if self.steps is not None and self.steps[0].size:
            self._move_across_steps(spec, tmpl, b0)
        # below the volume rate the artifact is constant (its lowest line is 1/TR) while
        # slow EEG and electrode drift are not: a local mean there would high-pass the
        # drift and step it at every volume boundary, so these bins use all volumes
        k = max(self.k_min - b0, 0)
        if k and n > 1:
            tmpl[..., :k] = (cs[:, n, None, :k] - spec[..., :k]) * np.float32(1.0 / (n - 1))
        return tmpl

    def _move_across_steps(self, spec: np.ndarray, tmpl: np.ndarray, b0: int) -> None:
        """Add to every template the artifact steps (head movements) between the volume
        and its neighbours, as the neighbours' share on the other side (``"offset"``)."""
        b, k_b = self.steps
        g, n, nf = spec.shape
        delta = np.empty((g, b.size, nf), np.complex64)
        # the noise of one volume per channel and bin over the whole run (half the mean
        # power of successive differences): a local fit over a few volumes has too few
        # degrees of freedom to say which bins' steps are EEG
        dd = np.diff(spec, axis=1)
        s2_run = 0.5 * np.mean(dd.real**2 + dd.imag**2, axis=1)
        del dd
        own: list[tuple[np.ndarray, int, np.ndarray]] = []
        for j, (bb, kk) in enumerate(zip(b, k_b)):
            # per channel and bin, least squares over the kk volumes each side: a level,
            # the step, and (when the run has an alias model) each volume's sub-sample-
            # phase terms, which otherwise differ between the two sides by chance
            idx = np.r_[bb - 1 - kk : bb - 1, bb + 1 : bb + 1 + kk]
            cols = [np.ones(idx.size), (idx > bb).astype(float)]
            if self.step_alias and 2 * kk >= 2 * self.step_alias + 5:
                m = np.r_[np.arange(1, self.step_alias + 1), -np.arange(1, self.step_alias + 1)]
                cols += list(np.exp(-2j * np.pi * np.outer(self.frac[idx], m)).T)
            X = np.stack(cols, axis=1).astype(np.complex128)
            if np.linalg.cond(X) > 1e3:
                X = X[:, :2]
            G = np.linalg.inv(X.conj().T @ X)
            Pm = (G @ X.conj().T).astype(np.complex64)  # (p, 2kk)
            Y = spec[:, idx]  # (g, 2kk, nf)
            coef = np.matmul(Pm, Y)  # (g, p, nf)
            r = Y - np.matmul(X.astype(np.complex64), coef)
            s2 = np.maximum(np.sum(r.real**2 + r.imag**2, axis=1) / max(idx.size - X.shape[1], 1), s2_run)
            # the step = a change of size (one factor per channel, from all bins; the
            # per-volume amplitude fit follows it, so it is left out) + a change of
            # shape, which is added, shrunk per bin by its estimation noise
            a, d = coef[:, 0], coef[:, 1]
            k0 = max(self.k_min - b0, 0)
            aa = a[:, k0:]
            alpha = (np.sum((aa.conj() * d[:, k0:]).real, axis=-1)
                     / np.maximum(np.sum(aa.real**2 + aa.imag**2, axis=-1), 1e-30)).astype(np.float32)
            shape = d - alpha[:, None] * a
            p = shape.real**2 + shape.imag**2
            var = s2 * float(np.real(G[1, 1]))
            gain = np.clip(1.0 - self.step_strict * var / np.maximum(p, 1e-30), 0.0, 1.0).astype(np.float32)
            delta[:, j] = shape * gain
            # the volumes of the fit must not see their own EEG in the step: their
            # leave-one-out step (the exact downdate of the least squares)
            Xc = X.astype(np.complex64)
            lev = np.real(np.einsum("ip,pq,iq->i", Xc, G.astype(np.complex64), Xc.conj()))
            gx = (G.astype(np.complex64) @ Xc.conj().T)[1]  # (2kk,)
            loo = -(gx / np.maximum(1.0 - lev, 1e-3).astype(np.float32))[None, :, None] * r  # (g, 2kk, nf)
            own.append((idx, j, loo * gain[:, None, :]))
        bands = [(self.lo, self.hi, self.cnt, self.n_nb, max(self.lf_bins - b0, 0), nf)]
        if self.lf is not None:
            lo2, hi2, w2, _, cnt2 = self.lf
            bands.append((lo2, hi2, cnt2, w2, 0, max(self.lf_bins - b0, 0)))
        k0 = max(self.k_min - b0, 0)
        for lo, hi, cnt, w, f0, f1 in bands:
            f0, f1 = max(f0, k0), min(f1, nf)
            if f1 <= f0:
                continue
            C = _step_coefficients(lo, hi, cnt, w, b)
            add = (C.astype(np.complex64) @ delta[..., f0:f1].transpose(1, 0, 2).reshape(b.size, -1))
            tmpl[..., f0:f1] += add.reshape(n, g, f1 - f0).transpose(1, 0, 2)
            for idx, j, loo in own:
                tmpl[:, idx, f0:f1] += C[idx, j].astype(np.float32)[None, :, None] * loo[..., f0:f1]

    @property
    def lf_bins(self) -> int:
        """Number of low-frequency bins that use the long window."""
        return int(np.ceil(self.lf[3] * self.nw)) if self.lf is not None else 0

    def n_averaged(self) -> np.ndarray:
        """Epochs averaged per frequency bin (for the leak estimate)."""
        n = np.full(self.nw // 2 + 1, _effective(self.cnt, self.n_nb))
        if self.lf is not None:
            n[: self.lf_bins] = _effective(self.lf[4], self.lf[2])
        return n


def _movement_steps(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Volumes that start a motion segment and the volumes each side over which the
    artifact's step there is measured (at most ``k``, within the neighbouring segments,
    the volumes ``b - 1`` and ``b`` left out; movements with fewer than 2 are dropped)."""
    n = labels.size
    b = np.flatnonzero(np.r_[False, labels[1:] != labels[:-1]])
    edges = np.r_[0, b, n]
    kk = np.minimum(np.minimum(b - 1 - edges[:-2], edges[2:] - (b + 1)), max(int(k), 2))
    ok = kk >= 2
    return b[ok], kk[ok].astype(int)


def _step_coefficients(lo: np.ndarray, hi: np.ndarray, cnt: np.ndarray | None, w: int,
                       b: np.ndarray) -> np.ndarray:
    """(n_vol, n_steps): the share of each volume's neighbours on the other side of each
    movement ``b`` (a volume after it: +share of neighbours before; before it: -share of
    neighbours after), i.e. how much of each step its template must be moved by."""
    n = lo.size
    v = np.arange(n)[:, None]
    c = np.full(n, float(w)) if cnt is None else np.maximum(cnt, 1.0)
    before = np.clip(b[None, :] - lo[:, None], 0, None) - np.clip(b[None, :] - hi[:, None], 0, None)
    after = (hi - lo)[:, None] - before
    # v itself is no neighbour; it is on its own side, so only the other side is counted
    C = np.where(v >= b[None, :], before, -after) / c[:, None]
    return C


def _usable_segments(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Segment labels (consecutive runs of equal labels numbered 0, 1, ...), with -1 for
    the volumes of runs shorter than ``min_len`` (they keep the ordinary window)."""
    n = labels.size
    new = np.r_[True, labels[1:] != labels[:-1]]
    runs = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    lens = np.diff(np.r_[starts, n])
    out = runs.copy()
    out[np.repeat(lens < max(int(min_len), 2), lens)] = -1
    return out


def _windows(n: int, w: int, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Window bounds ``[lo, hi)`` (volume ``v`` included) of ``w`` neighbours per volume,
    shifted at the run's ends, and with motion ``labels`` kept inside each volume's
    segment (all its other volumes when it is shorter than ``w + 1``); the neighbour
    count per volume (None: ``w`` everywhere)."""
    v = np.arange(n)
    lo = np.clip(v - w // 2, 0, n - (w + 1))
    hi = lo + w + 1
    if labels is None:
        return lo, hi, None
    cnt = np.full(n, float(w))
    new = np.r_[True, labels[1:] != labels[:-1]]
    starts = np.flatnonzero(new)
    for a, b in zip(starts, np.r_[starts[1:], n]):
        if labels[a] < 0:
            continue
        ww = int(min(w, b - a - 1))
        vv = v[a:b]
        lo[a:b] = np.clip(vv - ww // 2, a, b - (ww + 1))
        hi[a:b] = lo[a:b] + ww + 1
        cnt[a:b] = ww
    return lo, hi, cnt


def _inverse(cnt: np.ndarray | None, w: int) -> Any:
    """1 / neighbours per volume, broadcastable over (g, n_vol, n_freq)."""
    if cnt is None:
        return np.float32(1.0 / w)
    return (1.0 / np.maximum(cnt, 1.0)).astype(np.float32)[None, :, None]


def _effective(cnt: np.ndarray | None, w: int) -> float:
    """Neighbours averaged, as one number for the leak estimates (the harmonic mean)."""
    if cnt is None:
        return float(w)
    return float(1.0 / np.mean(1.0 / np.maximum(cnt, 1.0)))


def scan_edges(onsets: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Volumes that start and end a stretch of continuous scanning.

    Parameters
    ----------
    onsets : ndarray
        Volume onsets (fractional samples), ascending.
    period : float
        Volume period (samples).

    Returns
    -------
    first, last : ndarray of bool
        ``first[v]``: no volume ends where ``v`` starts (the scan's first volume, or
        the first after a pause); ``last[v]``: no volume starts where ``v`` ends.
    """
    on = np.asarray(onsets, float)
    gap = np.diff(on) > 1.5 * float(period)
    first = np.r_[True, gap]
    last = np.r_[gap, True]
    return first, last


def _scan_edge_samples(
    data: np.ndarray,
    rows: np.ndarray,
    n_pre: np.ndarray,
    t_pre: np.ndarray | None,
    n_end: np.ndarray,
    t_end: np.ndarray | None,
) -> None:
    """Decide, per channel, whether the template belongs on a scan edge's boundary sample.

    A volume's template is the mean of its neighbours, and on the sample at either end
    of its core a neighbour carries part of the *adjacent* volume's artifact (the
    leading edge of the next volume reaches the sample before its aligned onset: the
    sample integrates the interval before it, and triggers have latency). Inside the
    scan the data has that adjacent volume too, so the template fits; at the scan's
    start and end it does not: the last volume's last sample would get the missing
    next volume's leading edge subtracted (a ~400 uV spike on a phantom), and the
    sample before the first volume keeps that volume's leading edge uncorrected. Which
    holds depends on the scanner (its gap after the last slice, its trigger latency),
    so it is decided from the data: on each such sample the template is subtracted when
    that leaves the sample closer to the corrected samples beside it (the artifact
    there is hundreds of uV; the EEG moves little in one or two samples).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The data after the core subtraction, changed in place.
    rows : ndarray of int
        Rows of this channel group (the template arrays' first axis).
    n_pre : ndarray of int
        Samples just before a first volume's core (uncorrected so far).
    t_pre : ndarray, shape (len(rows), len(n_pre)) | None
        The first volumes' (scaled) templates on those samples.
    n_end : ndarray of int
        Last core samples of last volumes (corrected so far).
    t_end : ndarray, shape (len(rows), len(n_end)) | None
        The last volumes' (scaled) templates on those samples.
    """
    r = np.asarray(rows)
    if t_pre is not None and n_pre.size:
        raw = data[np.ix_(r, n_pre)]
        ref = 0.5 * (data[np.ix_(r, n_pre + 1)] + data[np.ix_(r, n_pre + 2)])
        sub = raw - t_pre
        data[np.ix_(r, n_pre)] = np.where(np.abs(sub - ref) < np.abs(raw - ref), sub, raw)
    if t_end is not None and n_end.size:
        cor = data[np.ix_(r, n_end)]
        ref = 0.5 * (data[np.ix_(r, n_end - 1)] + data[np.ix_(r, n_end - 2)])
        raw = cor + t_end
        data[np.ix_(r, n_end)] = np.where(np.abs(raw - ref) < np.abs(cor - ref), raw, cor)


def _feature_bins(power: np.ndarray, k_min: int, n_feat: int) -> np.ndarray:
    """Per row, the ``n_feat`` bins (>= ``k_min``) where the artifact ``power`` (g, n_freq)
    is strongest: (g, n_feat)."""
    power = power[:, k_min:]
    n_feat = int(min(n_feat, power.shape[-1]))
    idx = np.argpartition(power, -n_feat, axis=-1)[:, -n_feat:]
    return np.sort(idx, axis=-1) + k_min


def _evolution(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape correlation and relative size of every volume's artifact (features ``F``,
    (g, n_vol, n_feat)) against the run's mean artifact: two (g, n_vol) arrays."""
    m = F.mean(axis=1, keepdims=True)
    num = np.real(np.sum(F * np.conj(m), axis=-1))
    nf = np.sqrt(np.sum(F.real**2 + F.imag**2, axis=-1))
    nm = np.sqrt(np.sum(m.real**2 + m.imag**2, axis=-1))
    r = num / np.maximum(nf * nm, 1e-30)
    size = nf / np.maximum(nm, 1e-30)
    return r.astype(np.float32), size.astype(np.float32)


def similar_neighbours(F: np.ndarray, window: int, pool: int,
                       labels: np.ndarray | None = None) -> np.ndarray:
    """The ``window`` most similar volumes of every volume, per row.

    Parameters
    ----------
    F : ndarray, shape (g, n_vol, n_feat)
        Aligned artifact features (complex spectra at the strongest bins) per row.
    window : int
        Neighbours chosen.
    pool : int
        Candidates: the ``pool`` volumes nearest in time (shifted at the ends of the
        run), the volume itself excluded.
    labels : ndarray of int | None
        Motion segment of every volume (-1: unrestricted): candidates of another
        segment are taken only when the volume's own segment has too few.

    Returns
    -------
    ndarray of int, shape (g, n_vol, window)
        Chosen volume indices (never the volume itself).
    """
    g, n, _ = F.shape
    # shape, not size, decides (FACET's correlation): the amplitude fit follows the size
    F = F / np.maximum(np.sqrt(np.sum(F.real**2 + F.imag**2, axis=-1, keepdims=True)), 1e-30)
    P = int(min(max(pool, window), n - 1))
    w = int(min(window, P))
    v = np.arange(n)
    lo = np.clip(v - P // 2, 0, n - (P + 1))
    cand = lo[:, None] + np.arange(P + 1)[None, :]
    cand = cand[cand != v[:, None]].reshape(n, P)
    D = np.empty((g, n, P), np.float32)
    for k in range(P):
        diff = F - F[:, cand[:, k]]
        D[:, :, k] = np.sum(diff.real**2 + diff.imag**2, axis=-1)
    if labels is not None:
        other = (labels[:, None] >= 0) & (labels[cand] != labels[:, None])
        D[:, other] += np.float32(1e30)
    part = np.argpartition(D, w - 1, axis=-1)[..., :w] if w < P else np.broadcast_to(
        np.arange(P), (g, n, P))
    return cand[v[None, :, None], part]


def _tracked_bins(ratio: np.ndarray, k_min: int, max_frac: float) -> np.ndarray:
    """Bins (>= ``k_min``) where the artifact is strong: its power at least 100x the EEG
    leak of a template in every row of the group (``ratio``: (g, n_freq)), at most
    ``max_frac`` of the bins (the strongest). Elsewhere following the artifact matters
    less than the leak, and a similarity choice there would pick the EEG itself."""
    r = ratio.min(axis=0).copy()
    r[:k_min] = 0
    strong = np.flatnonzero(r > 100.0)
    cap = int(max_frac * r.size)
    if strong.size > cap:
        strong = strong[np.argsort(r[strong])[::-1][:cap]]
    return np.sort(strong)


def wiener_spread(tmpl: np.ndarray, M: np.ndarray, noise: np.ndarray, n_avg: np.ndarray,
                  nv: int) -> np.ndarray:
    """The templates' spread around the all-volume mean beyond what their leak explains,
    per channel and bin (g, n_freq): the changing part of the artifact's power."""
    n_nb = n_avg[None, :]
    # np.mean(|tmpl - M|^2, axis=1) exactly as numpy computes it: the float32 sum over the
    # volumes divided by their count (an intp, so in float64, cast back)
    spread = _power_sum(tmpl, M)
    np.true_divide(spread, np.intp(tmpl.shape[1]), out=spread, casting="unsafe")
    return np.maximum(spread - noise * np.maximum(1.0 / n_nb - 1.0 / nv, 0.0), 0.0)


def _power_sum(x: np.ndarray, minus: np.ndarray | None = None, block: int = 32) -> np.ndarray:
    """``np.sum(|x - minus[:, None]|^2, axis=1)`` for complex ``x`` (g, n, nf), float32.

    Bit identical to numpy's (which adds the float32 squares volume after volume, in
    order), a block of volumes at a time: the difference and the squares stay small
    (in cache) instead of three full-size temporaries.
    """
    g, n, nf = x.shape
    acc = np.zeros((g, nf), np.float32)
    for a in range(0, n, block):
        d = x[:, a : a + block]
        if minus is not None:
            d = d - minus[:, None, :]
        p = d.real**2 + d.imag**2
        for j in range(p.shape[1]):
            acc += p[:, j]
    return acc


def eeg_band_power(power: np.ndarray, leak: np.ndarray, kc: int, smooth: int, strong: float = 0.0) -> None:
    """The artifact power a Wiener gain uses in the EEG band, in place on ``power``.

    Parameters
    ----------
    power : ndarray, shape (g, n_freq)
        Per row and bin, the artifact's estimated power; its first ``kc`` bins are
        replaced.
    leak : ndarray, shape (g, n_freq) or broadcastable
        The template's EEG leak per bin.
    kc : int
        Bins of the EEG band (below ``lf_cutoff``).
    smooth : int
        Bins of the neighbours' mean (1: the rule is off).
    strong : float
        Multiple of the leak above which a bin keeps its own estimate (0: never).

    In the EEG band the estimate of one bin is noisy (with W close to the number of
    volumes it is the template's own leak, exponentially distributed); the mean over
    neighbouring bins is not, and between the artifact's lines it is small: the smaller
    of the two only lowers gains where the artifact is weak. Above the band the artifact
    matters more than the leak and the bin's own estimate is kept. A lone strong line (a
    harmonic folded in at 1 kHz) is artifact beyond doubt when its own estimate exceeds
    ``strong`` x its leak (an EEG-only bin gets there with probability exp(-strong));
    the neighbours' mean would take most of it away. Shared by the offline correction
    (:func:`wiener_gain`) and the online one.
    """
    if smooth <= 1 or kc <= 0:
        return
    from scipy.ndimage import uniform_filter1d

    own = power[:, :kc]
    low = np.minimum(own, uniform_filter1d(power[:, : kc + smooth], int(smooth), axis=-1)[:, :kc])
    if strong > 0:
        low = np.where(own > strong * np.broadcast_to(leak, power.shape)[:, :kc], own, low)
    power[:, :kc] = low


def volume_weights(r: np.ndarray, c: float) -> np.ndarray:
    """Per row and volume, ``min(1, c * median(r) / r)``: the weights of a mean that
    down-weights the volumes whose residual power ``r`` (rows, volumes) stands more than
    ``c`` times the row's median (see :func:`robust_band_power`)."""
    lim = c * np.median(r, axis=1, keepdims=True)
    # (where the median is 0, a flat channel, the volumes at 0 keep weight 1: never all 0)
    return np.where(r > lim, lim / np.maximum(r, 1e-300), 1.0)


def weighted_mean_power(S: np.ndarray, w: np.ndarray, r: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The power of the weighted mean of ``S`` (rows, volumes, bins) over volumes, its
    leak removed (clipped at 0): ``|sum w S / sum w|^2 - noise * sum(w^2 r) / (mean(r) *
    sum(w)^2)``, each volume's noise taken as proportional to its residual power ``r``
    (rows, volumes); with every weight 1 the leak is ``noise / n_volumes``."""
    return mean_power_of(np.einsum("gv,gvk->gk", w, S), w, r, noise)


def mean_power_of(Sw: np.ndarray, w: np.ndarray, r: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """:func:`weighted_mean_power` from the weighted sums ``Sw = sum_v w S`` (rows, bins)."""
    sw = w.sum(axis=1)
    Mw = Sw / sw[:, None]
    share = np.sum(w**2 * r, axis=1) / (r.mean(axis=1) * sw**2)
    return np.maximum(Mw.real**2 + Mw.imag**2 - noise * share[:, None], 0.0)


def robust_band_power(mean_p: np.ndarray, spec: np.ndarray, d: np.ndarray, noise: np.ndarray,
                      k0: int, kc: int, c: float) -> None:
    """The all-volume mean's artifact power in the EEG band (bins ``k0..kc``) from a mean
    that down-weights the volumes carrying far more than the others there (blinks), in
    place on ``mean_p`` where any volume does; only ever lowered.

    Why: the Wiener gain takes the all-volume mean's power beyond its leak for artifact.
    A few large blinks whose phases happen to line up over neighbouring bins put that
    power at 2-4x the leak over 2-8 Hz on a few channels (slow-EEG variant row, seed 3, 16
    ch x 120 s at 5 kHz: 2-8 Hz error 0.37 uV against 0.15 without the blinks; the same
    pattern subtracted from every volume), and the 9-bin smoothing does not break it up,
    since a blink's spectrum is smooth across bins. The artifact repeats in every volume
    and holds up in a mean that down-weights a few; a blink does not.

    Each volume's weight per row is :func:`volume_weights` of ``r_v``, its residual power
    (``d``: the volume minus its template) summed over the band; the power is
    :func:`weighted_mean_power`. With the default ``c = 1`` the volumes above the median
    are weighted by ``median / r_v`` (inverse-variance weights, capped at 1). Without
    blinks ``r_v`` (a sum over some 160 bins' real and imaginary parts) stays within ~20 %
    of its median, so the weights stay near 1 and the power barely moves (on the artifact
    bins by < 1 %, ``tests/gradient/test_wiener_robust.py``). Blinks at ~15/min sit in
    half the volumes, so a cut-off well above the median (``c = 2``) missed most of them:
    seed 3's 2-8 Hz error 0.37 -> 0.26 uV at ``c = 2``, 0.17 at 1. The spatial pass does the
    same on its parts (:class:`.spatial.LowBand`).

    Parameters
    ----------
    mean_p : ndarray, shape (g, n_freq)
        The all-volume mean's power, its leak removed; bins ``k0..kc`` may be lowered.
    spec : ndarray, shape (g, n_vol, n_freq)
        The aligned spectra.
    d : ndarray, shape (g, n_vol, n_freq)
        The spectra minus their templates.
    noise : ndarray, shape (g, n_freq)
        Per-volume noise power (as :func:`wiener_gain`).
    k0, kc : int
        The band's first bin and one past its last.
    c : float
        Multiple of the median residual power above which a volume is down-weighted.
    """
    kc = min(kc, spec.shape[-1])
    if kc <= k0 or spec.shape[1] < 3:
        return
    dd = d[..., k0:kc]
    r = np.sum(dd.real**2 + dd.imag**2, axis=-1, dtype=np.float64)  # (g, n_vol)
    w = volume_weights(r, c)
    rows = np.flatnonzero(np.any(w < 1.0, axis=1))
    if rows.size == 0:
        return
    p = weighted_mean_power(spec[rows, :, k0:kc], w[rows], r[rows], noise[rows, k0:kc])
    mean_p[rows, k0:kc] = np.minimum(mean_p[rows, k0:kc], p)


def wiener_gain(
    tmpl: np.ndarray,
    M: np.ndarray,
    mean_p: np.ndarray,
    noise: np.ndarray,
    n_avg: np.ndarray,
    nv: int,
    kc: int,
    smooth: int,
    k_min: int,
    strict: float = 1.0,
    spread: np.ndarray | None = None,
    strong: float = 0.0,
) -> np.ndarray:
    """Per channel and bin, the Wiener gain of the templates: artifact / (artifact + leak).

    Per channel and bin: noise = E|A - T|^2 / (1 + 1/W); leak = noise / W. The artifact's
    power is estimated from the *all-volume* mean (its own leak, noise / n, removed:
    ``mean_p``) plus the templates' spread around it beyond what the leak explains: the
    mean of |T|^2 over volumes alone is a poor estimate, because overlapping windows make
    the templates of a run nearly the same draw of EEG (an exponential-like estimate that
    kept ~1/7 of EEG-only bins at gain > 0.5).

    Parameters
    ----------
    tmpl : ndarray, shape (g, n_vol, n_freq) | None
        Templates (aligned spectra); not needed when ``spread`` is given.
    M : ndarray, shape (g, n_freq) | None
        All-volume mean spectrum (idem).
    mean_p : ndarray, shape (g, n_freq)
        Artifact power of the all-volume mean, its leak removed.
    noise : ndarray, shape (g, n_freq)
        Per-volume noise power (EEG and what the template does not follow).
    n_avg : ndarray, shape (n_freq,)
        Epochs averaged per bin.
    nv : int
        Volumes.
    kc : int
        Bins of the EEG band (below ``lf_cutoff``), where the estimate is smoothed.
    smooth : int
        Bins of that smoothing (1: off).
    k_min : int
        Bins below 0.75 x the volume rate (the all-volume mean; gain 1).
    strict : float
        In the EEG band, the all-volume mean's power counts as artifact only beyond
        ``strict`` times its leak (noise / n): with EEG alone that power is the leak
        times an exponential variable, above 1x on 37 % of the bins, above 3x on 5 %.
    spread : ndarray, shape (g, n_freq) | None
        :func:`wiener_spread` of the templates, when the caller has it.
    strong : float
        In the EEG band, a bin whose own power estimate exceeds ``strong`` times its
        leak keeps it, rather than the smaller of it and its neighbours' mean (0: off;
        see :attr:`AASParams.wiener_strong`).

    Returns
    -------
    ndarray, shape (g, n_freq), float32
    """
    n_nb = n_avg[None, :]
    if spread is None:
        spread = wiener_spread(tmpl, M, noise, n_avg, nv)
    if strict != 1.0 and kc > 0:
        mean_p = mean_p.copy()
        mean_p[:, :kc] = np.maximum(mean_p[:, :kc] - (strict - 1.0) * noise[:, :kc] / nv, 0.0)
    power = mean_p + spread
    leak = noise / n_nb
    eeg_band_power(power, leak, kc, smooth, strong)
    gain = power / np.maximum(power + leak, 1e-30)
    gain = np.clip(gain, 0.0, 1.0).astype(np.float32)
    gain[:, :k_min] = 1.0  # the all-volume mean below 1/TR is not leak-limited
    return gain


def coarse_shift(S: np.ndarray, omega: np.ndarray, max_lag: float, step: float = 0.25) -> np.ndarray:
    """The lag on a ``step`` grid in ``-max_lag..max_lag`` maximising each row's
    cross-correlation ``Re sum_k S_k e^{i omega_k l}``: the start for :func:`newton_shift`
    when volumes may be more than a sample off their trigger. Newton steps from 0 stop at
    the nearest local maximum, and the artifact's strong readout harmonic (~1 kHz, a period
    of ~5 samples at 5 kHz) puts side lobes there; on whole samples a side lobe could beat
    a true peak half a sample off the grid (seen: 2 of 26 volumes 5.6 samples off at
    300 µs per-volume jitter), on a quarter-sample grid it does not.
    """
    wgt = np.full(omega.size, 2.0)
    wgt[0] = 1.0
    n = int(np.floor(max_lag / step))
    lags = step * np.arange(-n, n + 1)
    c = np.real((S * wgt) @ np.exp(1j * np.outer(omega, lags)))
    return lags[np.argmax(c, axis=1)].astype(float)


def newton_shift(
    S: np.ndarray, omega: np.ndarray, max_shift: float, n_iter: int = 4, start: np.ndarray | None = None
) -> np.ndarray:
    """Sub-sample lag maximising the cross-correlation ``Re sum_k S_k e^{i omega_k d}``.

    Newton steps on the cross-spectrum (no upsampling): the lag of each row's
    correlation peak, found near 0.

    Parameters
    ----------
    S : ndarray, shape (n_rows, n_freq)
        Cross-spectra (epoch times the conjugate template) of a real signal's rfft
        bins; bins other than 0 count twice (their negative-frequency mirror).
    omega : ndarray, shape (n_freq,)
        Angular frequency of each bin (radians per sample).
    max_shift : float
        Largest lag returned (samples); the steps are clipped to it.
    n_iter : int
        Newton iterations (each step at most half a sample).
    start : ndarray, optional
        Lag of each row to start from (e.g. :func:`coarse_shift`); default 0.

    Returns
    -------
    ndarray, shape (n_rows,)
        Lag ``d`` (samples) of each row.
    """
    wgt = np.full(omega.size, 2.0)
    wgt[0] = 1.0
    S = S * wgt
    d = np.zeros(S.shape[0]) if start is None else np.clip(np.asarray(start, float), -max_shift, max_shift)
    for _ in range(n_iter):
        z = S * np.exp(1j * np.outer(d, omega))
        g1 = np.real((1j * omega * z).sum(axis=1))
        g2 = np.real((-(omega**2) * z).sum(axis=1))
        step = np.where(g2 < 0, -g1 / np.where(g2 < 0, g2, -1.0), 0.0)
        d = np.clip(d + np.clip(step, -0.5, 0.5), -max_shift, max_shift)
    return d


def _strongest_rows(data: np.ndarray, cand: np.ndarray, plan: _Plan, n: int) -> np.ndarray:
    """The ``n`` rows of ``cand`` with the most power over the first five epochs (the
    artifact's strongest channels: where the data decide the alignment, the windows and
    the motion cuts)."""
    sl = slice(int(plan.c0[0]), int(plan.c1[min(4, plan.c1.size - 1)]))
    power = np.array([np.var(data[c, sl]) for c in cand])
    return cand[np.argsort(power)[::-1][:n]]


def _choose_lf_window(data: np.ndarray, cand: np.ndarray, plan: _Plan, params: AASParams) -> dict[str, Any]:
    """Set ``plan``'s low-band window to the candidate with the smallest leave-one-out
    prediction error of the epochs in that band (``1/TR .. lf_cutoff``), summed over the
    2 channels with the most power. The error is EEG (the same for every
    window) + the template's EEG leak (falls with the window) + what it does not follow
    (grows with it): its minimum is the best trade-off for this recording.

    Returns ``{"chosen": w, "candidates": {w: relative error}}``.
    """
    w_main = plan.n_nb
    w_long = plan.lf[2]
    cands = sorted({w_long, max(w_main, min(w_long, 2 * w_main)), w_main, max(4, w_main // 2)})
    # from ~4 Hz (a tenth of the cut-off) up: below, slow EEG (drifts, blinks) is itself
    # correlated across neighbouring volumes, and a short window "predicts" it
    k0, k1 = max(plan.k_min, int(np.ceil(0.1 * plan.lf_bins))), plan.lf_bins
    if k1 <= k0:
        return {"chosen": int(w_long), "candidates": {}}
    # channels with the most power in the low band (artifact there, or EEG)
    rows = _strongest_rows(data, cand, plan, 2)
    errs = {int(w): 0.0 for w in cands}
    inner = _inner_volumes(plan.sched)
    alias = _alias_model(plan, params)
    # slow EEG (drifts, blinks) leaks into the epochs' low bins through their ends and is
    # correlated across neighbouring volumes, so a short window "predicts" it: the
    # criterion runs on the channels high-passed at a quarter of the band's lower edge
    from scipy.signal import butter, sosfiltfilt

    k_hp = 0.25 * k0 / plan.nw  # cycles per sample
    sos = butter(2, min(max(k_hp, 1e-6), 0.45), "highpass", fs=1.0, output="sos")
    for c in rows:  # one channel at a time, its spectra once
        x = sosfiltfilt(sos, data[c]).astype(np.float32)[None]
        spec = np.ascontiguousarray(plan.aligned_spectra(x, [0])[..., :k1])
        for w in cands:
            plan.set_lf_window(w)
            tmpl = plan.templates(spec)
            if alias is not None:  # as the correction will use it (an aliased artifact's
                tmpl = alias.refine(spec, tmpl, plan)  # phase terms need no short window)
            d = (spec - tmpl)[:, inner, k0:k1]
            errs[int(w)] += float(np.sum(d.real**2 + d.imag**2))
    best = min(errs, key=errs.get)
    plan.set_lf_window(best)
    ref = max(errs[int(w_long)], 1e-300)
    return {"chosen": int(best), "candidates": {str(w): e / ref for w, e in errs.items()}}


def _inner_volumes(sched: Schedule) -> np.ndarray:
    """Volumes whose epochs lie inside the scan: not the first or last volume of a run
    (an epoch's margins reach the silence before the first volume and after the last,
    where their neighbours' margins hold the next volume's artifact; on a synced 1 kHz
    run those two volumes were 97 % of the template residual, and a drift "found" by
    letting the alias model absorb part of their mismatch made the correction 4x worse).
    All volumes when that leaves fewer than three."""
    n = np.asarray(sched.onsets).size
    if n == 0:
        return np.arange(0)
    first, last = scan_edges(sched.onsets, sched.period)
    keep = np.flatnonzero(~(first | last))
    return keep if keep.size >= 3 else np.arange(n)


def _template_residual(data: np.ndarray, rows: np.ndarray, plan: _Plan, params: AASParams,
                       f_max: float = 0.0, f_min: float = 0.0, n_jobs: int = 1,
                       out_of_sample: bool = False, halves: list[np.ndarray] | None = None) -> float:
    """Residual energy of ``rows`` after their templates (alias model included), above
    0.75 x the volume rate and ``f_min`` (and below ``f_max``; fractions of the sampling
    rate, 0: no bound), for the schedule ``plan`` holds now.
    ``out_of_sample``: the alias terms of the even volumes fitted on the odd ones and
    vice versa (the templates are leave-one-out already), so that a schedule on which
    the alias model merely fits more (EEG included) does not score better; ``halves``:
    the volumes' two halves for that (None: :func:`_score_halves` of this model)."""
    return float(_template_residuals(data, rows, plan, [_alias_model(plan, params)], f_max, f_min,
                                     n_jobs, out_of_sample, halves)[0])


def _identified(alias: AliasModel | None, rows: np.ndarray) -> bool:
    """Whether the volumes ``rows`` alone identify the alias model's basis (None: no
    model, nothing to identify)."""
    return alias is None or bool(np.linalg.cond(alias.B[rows]) <= 1e3)


#: the worst condition number of an alias basis on the even or the odd volumes above which
#: out-of-sample scoring may fit on contiguous halves instead (:func:`_score_halves`). Not
#: the point where a fit fails: at 0.15 sample a volume (a 1 s TR, 30 ppm at 5 kHz) six
#: orders read 3.6 on even and odd (1.4 on contiguous halves), yet their terms were shrunk
#: to nothing there (scored 1.09x two orders; on contiguous halves 0.34x)
_HALVES_COND = 2.0


def _score_halves(n_vol: int, aliases: list[AliasModel | None]) -> list[np.ndarray]:
    """The two halves of the volumes that out-of-sample scoring fits on in turn: the even
    and the odd volumes, or the run's first and second half where those condition the
    ``aliases``' bases clearly better (their worst condition number over
    :data:`_HALVES_COND` on even and odd, and less than half that on contiguous halves).

    Why the second choice: a phase stepping about a rational fraction of a sample a
    volume leaves each interleaved half fewer phases than it does the run (0.15 sample a
    volume, a 15 ppm clock at 5 kHz and TR 2 s: 20 phases in the run, 10 in the even
    volumes), and a model with more coefficients than that is fitted on a near-singular
    basis there: its terms are shrunk to nothing (:meth:`.residual.AliasModel.refine`)
    and it is scored as if it had none. Six orders scored 1.02x two orders on even and
    odd, 0.18x on contiguous halves, and took that run's 1-40 Hz error from 70.9 to
    16.0 uV (point sampling, no anti-alias filter). Contiguous halves keep the run's
    phase step. Even and odd otherwise: on a slowly changing artifact they are the
    fairer split, and every earlier choice was made on them.
    """
    splits = [[np.arange(i, n_vol, 2) for i in (0, 1)], [np.arange(n_vol // 2), np.arange(n_vol // 2, n_vol)]]

    def worst(split: list[np.ndarray]) -> float:
        conds = [np.linalg.cond(a.B[h]) for a in aliases if a is not None for h in split]
        return float(max(conds, default=1.0))

    even_odd, contiguous = (worst(s) for s in splits)
    return splits[1] if even_odd > _HALVES_COND and 2.0 * contiguous < even_odd else splits[0]


def _template_residuals(data: np.ndarray, rows: np.ndarray, plan: _Plan, aliases: list[AliasModel | None],
                        f_max: float = 0.0, f_min: float = 0.0, n_jobs: int = 1,
                        out_of_sample: bool = False, halves: list[np.ndarray] | None = None) -> np.ndarray:
    """:func:`_template_residual` with each of the alias models ``aliases`` (None: none),
    on the same spectra and templates (computed once per row); only the bins scored
    are refined (the alias fit is per bin: the same values there). ``halves``: the two
    halves of the volumes the out-of-sample fit uses in turn (None: :func:`_score_halves`
    of ``aliases``); a caller comparing several calls' residuals passes one split to all."""
    k_max = int(np.ceil(f_max * plan.nw)) + 1 if f_max > 0 else None
    k_lo = max(plan.k_min, int(np.ceil(f_min * plan.nw)))
    inner = _inner_volumes(plan.sched)
    n_vol = np.asarray(plan.sched.onsets).size
    # (volumes fitted on, volumes scored): one half on the other and back
    if halves is None:
        halves = _score_halves(n_vol, aliases)
    folds = [(halves[1 - i], np.intersect1d(halves[i], inner)) for i in (0, 1)]

    def one(c: int) -> np.ndarray:
        spec = plan.aligned_spectra(data, [c])
        tmpl = plan.templates(spec)[..., :k_max]  # (on all bins: the Wiener gain smooths across them)
        spec = spec[..., :k_max]
        out = np.zeros(len(aliases))
        for j, alias in enumerate(aliases):
            if alias is None or not out_of_sample:
                t = alias.refine(spec, tmpl.copy(), plan) if alias is not None else tmpl
                d = (spec - t)[:, inner, k_lo:]
                out[j] = float(np.sum(d.real**2 + d.imag**2))
                continue
            for fit, scored in folds:
                t = alias.refine(spec, tmpl.copy(), plan, fit_rows=fit)  # (refine works in place)
                d = (spec - t)[:, scored, k_lo:]
                out[j] += float(np.sum(d.real**2 + d.imag**2))
        return out

    e = np.zeros(len(aliases))
    for x in ordered_map(one, rows, n_jobs):  # one channel per thread, summed in order
        e += x
    return e


def _refine_drift(data: np.ndarray, rows: np.ndarray, plan: _Plan,
                  params: AASParams, n_jobs: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """The linear ramp (in time) of the volumes' onsets (``± params.drift_range`` samples
    over the run) with the smallest template residual of ``rows`` (see :func:`_template_residual`)
    from the volume rate up to ``params.drift_score_fmax``, the band the user keeps, with
    the alias terms fitted out of sample. Returns the ramp (samples per volume, centred
    on the run's middle) and the QC entry; ``plan`` is left on its schedule.

    Below a sample of travel over the run the sign of the ramp is not identified (the
    alias orders come in ± pairs; the phantom's 8 ppm run was corrected alike with the
    true ramp and its mirror, 3.1 and 3.0 uV) and nor is its size: the alias model's
    basis over less than a cycle of phase is ill-conditioned, and a wider ramp spreads
    it (120 s at 4 ppm, 0.44 sample of travel: 12.5 uV with the true phases, 2.9 with
    a 0.9-sample ramp). The ramp is then a model choice, judged by the residual.

    One parameter for the whole run, unlike the per-volume re-alignment (whose
    cross-correlation an aliased artifact pulls towards each volume's own phase): a
    clock drift moves the volumes along a line, and the triggers, rounded to samples,
    fix that line only to about a sample over a short run.
    """
    sched = plan.sched
    on = np.asarray(sched.onsets, float)
    # volumes from the run's middle, in periods (by time: a pause between runs counts)
    v = (on - 0.5 * (on[0] + on[-1])) / float(sched.period)
    span = max(float(v[-1] - v[0]), 1.0)
    per_volume = np.linspace(-1.0, 1.0, max(int(params.drift_steps), 3)) * float(params.drift_range) / span
    per_volume = np.union1d(per_volume, [0.0])
    schedules = [Schedule(sched.onsets + d * v, sched.period, sched.slot_offsets) for d in per_volume]
    # one split of the volumes for every candidate ramp, chosen over all their alias models,
    # so that their residuals compare (each ramp moves the phases, and with them the split
    # _score_halves would pick for it alone)
    models = []
    for s in schedules:
        plan.update(s)
        models.append(_alias_model(plan, params))
    halves = _score_halves(on.size, models)
    errs = np.empty(per_volume.size)
    for i, s in enumerate(schedules):
        plan.update(s)
        errs[i] = _template_residual(data, rows, plan, params, params.drift_score_fmax, n_jobs=n_jobs,
                                     out_of_sample=True, halves=halves)
    plan.update(sched)
    e0 = float(errs[per_volume == 0.0][0])
    i = int(np.argmin(errs))
    kept = bool(errs[i] < (1.0 - params.align_gain) * e0)
    d = float(per_volume[i]) if kept else 0.0
    return d * v, {"kept": kept, "residual_ratio": float(errs[i] / max(e0, 1e-300)),
                   "ramp_samples": float(per_volume[i] * span),
                   "drift_ppm_change": float(per_volume[i] / sched.period * 1e6)}


def _choose_orders(data: np.ndarray, rows: np.ndarray, plan: _Plan, params: AASParams,
                   n_jobs: int = 1) -> tuple[AASParams, dict[str, Any]]:
    """The alias model's orders with the smallest template residual of ``rows`` below
    ``params.drift_score_fmax`` (the alias terms fitted out of sample, as for the drift
    ramp), among ``params.alias_orders`` and the larger ``params.alias_orders_try``;
    a larger one only when it lowers that residual by ``params.orders_gain``. Returns
    the parameters with those orders and the QC entry.

    Why: an artifact sampled without an anti-alias filter (the amplifier's point
    samples of the EMF) folds in from many sampling rates up. Order ``m`` turns ``m``
    times faster with the volumes' sub-sample phase; with a clock drift of 20 ppm at 5
    kHz and a TR of 1 s the phase steps 0.1 sample per volume, so the fifth order
    alternates from volume to volume, which two orders leave whole (the variant table's
    multiband row without an anti-alias filter: 41.9 uV, 1-40 Hz; six orders 4.6). The
    same six orders on the rows that need two fitted EEG (single band, TR 2 s: 0.59 ->
    0.88 uV; there the fifth order turns once per volume, like the template itself), so
    the data decide, out of sample: a term that fits EEG does not predict the other
    volumes.
    """
    base = int(params.alias_orders)
    # only orders whose model the volumes' phases identify (None: no alias model at all,
    # which would be scored in sample and then reported as orders it never used)
    models = {o: _alias_model(plan, replace(params, alias_orders=o))
              for o in [base] + sorted({int(o) for o in params.alias_orders_try if int(o) > base})}
    # ... on both halves the check fits on (see _score_halves): a phase stepping a rational
    # fraction of a sample can leave a half fewer phases than coefficients, and such a
    # candidate would be scored with no terms at all (see AliasModel.refine)
    n_vol = np.asarray(plan.sched.onsets).size
    halves = _score_halves(n_vol, [m for m in models.values() if m is not None])
    cands = [o for o, m in models.items()
             if o == base or (m is not None and all(_identified(m, h) for h in halves))]
    res = _template_residuals(data, rows, plan, [models[o] for o in cands], params.drift_score_fmax,
                              n_jobs=n_jobs, out_of_sample=True, halves=halves)
    errs = dict(zip(cands, res.tolist()))
    best = min(errs, key=errs.get)
    kept = best != base and errs[best] < (1.0 - params.orders_gain) * errs[base]
    chosen = best if kept else base
    info = {"kept": bool(kept), "orders": int(chosen),
            "candidates": {str(o): float(e / max(errs[base], 1e-300)) for o, e in errs.items()}}
    return (replace(params, alias_orders=chosen) if kept else params), info


def _cumsum_volumes(spec: np.ndarray) -> np.ndarray:
    """Running sums over the volumes (axis 1) of ``spec`` (g, n, nf), with a leading 0:
    shape (g, n + 1, nf), complex64.

    One vectorised add per volume rather than ``np.cumsum(axis=1)``, whose accumulation
    along a middle axis runs element by element: the same sums in the same order (bit
    identical), ~5x faster on (4, 300, 5201) complex64 (0.027 -> 0.006 s; 0.5 s of the
    64 ch x 5 kHz x 10 min correction).
    """
    g, n, nf = spec.shape
    cs = np.empty((g, n + 1, nf), np.complex64)
    cs[:, 0] = 0
    for v in range(n):
        np.add(cs[:, v], spec[:, v], out=cs[:, v + 1])
    return cs


def _window_sums(cs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``cs[:, hi] - cs[:, lo]`` (running sums ``cs``: (g, n + 1, nf)): the window sums.

    Over the runs of volumes whose ``lo`` and ``hi`` both step by one (the whole run but
    its ends) one subtraction of two slices, instead of two gathers (``np.take``) and a
    subtraction: the same differences (bit identical), two full passes less.
    """
    g, _, nf = cs.shape
    out = np.empty((g, lo.size, nf), cs.dtype)
    brk = np.flatnonzero((np.diff(lo) != 1) | (np.diff(hi) != 1)) + 1
    for a, b in zip(np.r_[0, brk], np.r_[brk, lo.size]):
        a, b = int(a), int(b)
        np.subtract(cs[:, hi[a] : hi[a] + b - a], cs[:, lo[a] : lo[a] + b - a], out=out[:, a:b])
    return out


def _alias_phase(plan: Any, params: AASParams) -> np.ndarray:
    """The volumes' sub-sample phase for the alias model (see ``alias_phase_scale``)."""
    scale = float(params.alias_phase_scale)
    if scale == 1.0:
        return plan.frac
    on = np.asarray(plan.sched.onsets, float) * scale
    return on - np.floor(on)


def _alias_model(plan: Any, params: AASParams) -> AliasModel | None:
    """The alias model for the schedule ``plan`` holds now, or None (no orders asked, or
    the volumes' phases do not spread enough to identify it)."""
    if not params.alias_orders:
        return None
    alias = AliasModel(_alias_phase(plan, params), params.alias_orders, bare_below=params.alias_bare_below)
    if params.keep:
        alias.keep = keep_bins(plan.nw // 2 + 1, plan.nw, params.keep, params.keep_width)
    return alias if alias.ok else None


def keep_bins(n_bins: int, n_fft: int, keep: tuple[float, ...], width: float) -> np.ndarray | None:
    """Which of an ``n_fft``-point spectrum's first ``n_bins`` bins lie within ``width`` of
    a frequency in ``keep`` (all in cycles per sample); None when none do.

    Parameters
    ----------
    n_bins : int
        Bins of the spectrum (``n_fft // 2 + 1`` for a real one).
    n_fft : int
        Its length in samples.
    keep : tuple of float
        Frequencies to keep (cycles per sample).
    width : float
        Half-width around each (cycles per sample).
    """
    f = np.arange(n_bins) / float(n_fft)
    mask = np.any(np.abs(f[:, None] - np.asarray(keep, float)[None, :]) <= width, axis=1)
    return mask if mask.any() else None


def correct_inplace(*args: Any, **kwargs: Any) -> AASResult:
    """Subtract the gradient artifact in place (see :func:`_correct_inplace`).

    The work is spread over channel groups in ``n_jobs`` threads; the BLAS library's own
    threads are limited to one meanwhile. Its small complex products (alias model,
    4 x n_volumes) otherwise ran each on all cores, and with our threads on top the
    oversubscription made them ~6x slower on a 2-core machine.
    """
    return single_blas(_correct_inplace, *args, **kwargs)


def _correct_inplace(
    data: np.ndarray,
    schedule: Schedule,
    picks: np.ndarray | list[int],
    params: AASParams | None = None,
    *,
    ref_picks: np.ndarray | list[int] | None = None,
    obs_picks: np.ndarray | list[int] | None = None,
    n_jobs: int = 2,
    max_group_bytes: float = 96e6,
    min_group_bytes: float = 0.0,
    group_size: int | None = None,
    progress: Progress | None = None,
) -> AASResult:
    """Subtract the gradient artifact from ``data[picks]`` in place.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Float array, changed in place on the rows ``picks``.
    schedule : Schedule
        Volume onsets (fractional samples), period and slot offsets.
    picks : array of int
        Rows to correct.
    params : AASParams | None
        Algorithm parameters.
    ref_picks : array of int | None
        Candidate rows for the re-alignment (EEG); the 4 with the largest artifact are used.
    obs_picks : array of int | None
        Rows that get OBS when ``params.obs`` (EEG only; default all ``picks``).
    n_jobs : int
        Threads (numpy/scipy release the GIL in the FFTs and array arithmetic).
    max_group_bytes : float
        Working-memory budget per thread; sets how many channels go in one group.
    min_group_bytes : float
        A budget per thread allowed however small ``data`` is (0: none). The cardiac
        pass's rows at 250 Hz are a twentieth of the recording the caller holds, and
        the 30 % rule made one-channel groups there, whose per-group work cost ~40 %
        more time than groups of ~8 (same output, byte for byte).
    group_size : int | None
        Channels per group, overriding the budget.
    progress : Progress | None
        Progress and cancellation.

    Returns
    -------
    AASResult
    """
    p = as_progress(progress)
    params = params or AASParams()
    picks = np.asarray(picks, int)
    n_times = data.shape[1]
    if schedule.n_volumes < 2:
        raise InputError(
            None, f"{schedule.n_volumes} volume(s) found; the template needs at least 2"
        )
    if schedule.onsets.min() >= n_times or schedule.onsets.max() >= n_times:
        raise InputError(None, "volume triggers lie beyond the end of the data")
    if n_times < schedule.period + 2 * params.pad:
        raise InputError(None, "the recording is shorter than one template window (one TR)")
    plan = _Plan(schedule, n_times, params)
    shifts = np.zeros(schedule.n_volumes)
    result = AASResult(onsets=np.asarray(schedule.onsets, float).copy(), shifts=shifts)
    # the reference rows every data-decided refinement below is judged on (an empty
    # ``ref_picks`` turns the re-alignment off; the other checks then use all ``picks``)
    cand = np.asarray(ref_picks if ref_picks is not None and len(ref_picks) else picks, int)
    ref = _strongest_rows(data, cand, plan, 4) if cand.size else cand
    # 0. the volumes' sub-sample phase over the run (the clock fit's drift) from the data
    if params.drift_range > 0 and ref.size and schedule.n_volumes >= 3:
        ramp, result.checks["drift"] = _refine_drift(data, ref, plan, params, n_jobs)
        if result.checks["drift"]["kept"]:
            schedule = Schedule(schedule.onsets + ramp, schedule.period, schedule.slot_offsets)
            plan.update(schedule)
            result.onsets = np.asarray(schedule.onsets, float).copy()
    # 0a. the main window from the data (an aliased artifact, 1 kHz, changes with each
    # volume's sub-sample phase faster than a 20-volume window follows)
    if params.window_auto and len(picks) and schedule.n_volumes > 8:
        ws = sorted({int(params.window), max(4, int(params.window) // 2), 8} - {0})
        errs: dict[int, float] = {}
        plans: dict[int, _Plan] = {}
        for w in ws:
            pw = replace(params, window=w, window_lf=None if params.window_lf is None
                         else max(int(params.window_lf) * w // max(int(params.window), 1), w))
            plans[w] = _Plan(schedule, n_times, pw)
            # above half the low band's cut-off (20 Hz): slow EEG (blinks, drifts) reaches
            # neighbouring epochs through their shared margins and a short window
            # "predicts" it (it chose 8 volumes on the blink variant and doubled its error)
            errs[w] = _template_residual(data, ref, plans[w], pw, params.segment_check_fmax,
                                         0.5 * params.lf_cutoff, n_jobs=n_jobs)
        best = min(errs, key=errs.get)
        result.checks["window"] = {"chosen": int(best), "candidates": {
            str(w): e / max(errs[int(params.window)], 1e-300) for w, e in errs.items()}}
        if best != int(params.window):
            params = replace(params, window=best, window_lf=None if params.window_lf is None
                             else max(int(params.window_lf) * best // max(int(params.window), 1), best))
            plan = plans[best]
    # 0. motion segments: kept only when they lower the reference channels' template
    # residual (on an aliased artifact, 2.5 kHz on the phantom, they raised it)
    if plan.labels is not None and params.segment_check and len(picks):
        plain = _Plan(plan.sched, n_times, replace(params, segments=None))
        e_seg = _template_residual(data, ref, plan, params, params.segment_check_fmax, n_jobs=n_jobs)
        e_plain = _template_residual(data, ref, plain, params, params.segment_check_fmax, n_jobs=n_jobs)
        kept = e_seg < e_plain
        result.checks["motion"] = {"kept": bool(kept), "residual_ratio": float(e_seg / max(e_plain, 1e-300)),
                                   "mode": params.segment_mode}
        if not kept:
            plan = plain
    # 1. re-alignment on a few high-artifact channels
    choose_orders = bool(params.alias_orders and params.alias_orders_try and ref.size
                         and schedule.n_volumes >= 8)
    pre_orders: tuple[AASParams, dict[str, Any]] | None = None
    if params.align and len(picks):
        if ref_picks is None or len(ref_picks):
            result.ref_channels = [int(c) for c in ref]
            before = 0.0
            # the shifts are judged with the alias orders the schedule as it is wants (see
            # 1a below): judged with fewer, shifts that an aliased artifact pulls towards
            # each volume's sampling phase can score better than none while, with the
            # orders then chosen, they leave far more (sweep seed 8 #1, 2 kHz, an anti-alias
            # filter, -15 ppm: two orders scored the shifts 0.62x no shifts, four orders
            # then left 19.9 uV in 1-40 Hz where without the shifts they leave 6.6)
            check = params
            if choose_orders and params.align_check:
                pre_orders = _choose_orders(data, ref, plan, params, n_jobs)
                check = pre_orders[0]
            alias0 = _alias_model(plan, check)
            # before and after the shifts scored on one split of the volumes (that of the
            # schedule as it is), so that the two residuals compare
            halves0 = _score_halves(np.asarray(plan.sched.onsets).size, [alias0])
            if params.align_check and params.align_check_fmax > 0:
                # judged as the drift ramp is (see align_check_fmax), on the schedule as it is
                before = _template_residual(data, ref, plan, check, params.align_check_fmax,
                                            n_jobs=n_jobs, out_of_sample=True, halves=halves0)
            inner = _inner_volumes(plan.sched)  # scored as _template_residual scores them
            for it in range(params.align_passes):

                def cross(c: int, it: int = it) -> tuple[np.ndarray, float]:
                    spec = plan.aligned_spectra(data, [c])
                    tmpl = plan.templates(spec)
                    s_c = np.einsum("gvk,gvk->vk", spec, np.conj(tmpl))
                    e_c = 0.0
                    if it == 0 and params.align_check and not params.align_check_fmax:
                        # the residual before any shift (see _template_residual)
                        if alias0 is not None:
                            tmpl = alias0.refine(spec, tmpl, plan)
                        dd = (spec - tmpl)[:, inner, plan.k_min:]
                        e_c = float(np.sum(dd.real**2 + dd.imag**2))
                    return s_c, e_c

                S = 0
                # one channel per thread (small working memory), summed in channel order
                for s_c, e_c in ordered_map(cross, ref, n_jobs):
                    S = S + s_c
                    before += e_c
                start = coarse_shift(S, plan.omega, params.max_shift)
                # each volume's lag is its own Newton iteration: the volumes split over threads
                parts = np.array_split(np.arange(S.shape[0]), max(1, min(n_jobs, S.shape[0])))
                d = np.concatenate(ordered_map(
                    lambda v, S=S, start=start: newton_shift(S[v], plan.omega, params.max_shift, start=start[v]),
                    parts, n_jobs))
                d -= np.median(d)  # a common shift is meaningless (templates follow it)
                shifts += d
                plan.update(
                    Schedule(schedule.onsets + shifts, schedule.period, schedule.slot_offsets)
                )
                p(0.1 * (it + 1) / params.align_passes, "aligning artifacts")  # 0-0.1, see p0 below
                if np.max(np.abs(d)) < 1e-3:
                    break
            if params.align_check and np.any(shifts):
                # keep the shifts only when the data say they help: the cross-correlation
                # assumes a band-limited artifact, and an aliased one (1 kHz, a weak
                # anti-alias filter) pulls the lags towards each volume's sub-sample phase
                # (at 1 kHz on the phantom: shifts of 0.4-0.6 samples SD that tripled the
                # EEG-band error)
                after = _template_residual(data, ref, plan, check, params.align_check_fmax,
                                           n_jobs=n_jobs, out_of_sample=params.align_check_fmax > 0,
                                           halves=halves0)
                kept = after < (1.0 - params.align_gain) * before
                result.checks["align"] = {"kept": bool(kept), "residual_ratio": float(after / max(before, 1e-300)),
                                          "shift_sd": float(np.std(shifts))}
                if not kept:
                    shifts[:] = 0.0
                    plan.update(schedule)
            result.onsets = np.asarray(schedule.onsets, float) + shifts
    # 1a. the alias model's orders from the data (an artifact sampled without an
    # anti-alias filter folds in from many rates up), chosen again on the shifted schedule
    # when shifts were kept
    if choose_orders:
        params, result.checks["alias_orders"] = (
            pre_orders if pre_orders is not None and not np.any(shifts)
            else _choose_orders(data, ref, plan, params, n_jobs))
    # 1b. the low band's window from the data (a slowly changing low-frequency artifact,
    # e.g. vibration, wants a shorter window than the EEG leak alone would)
    if params.lf_auto and plan.lf is not None and len(picks):
        result.checks["window_lf"] = _choose_lf_window(data, cand, plan, params)
    # 2. channel groups
    # float32 epochs + complex spectra, template, Wiener temporaries, core copies
    per_ch = schedule.n_volumes * plan.nw * (64 if params.alias_orders else 40)
    # working memory of all threads together stays below ~30 % of the data (or the
    # caller's floor: see ``min_group_bytes``)
    budget = min(max_group_bytes, max(0.3 * data.nbytes / max(n_jobs, 1), float(min_group_bytes)))
    g = int(max(1, min(len(picks), budget // max(per_ch, 1))))
    if group_size:
        g = int(group_size)
    groups = [picks[i : i + g] for i in range(0, len(picks), g)]
    lo_a, hi_a = params.amplitude_range
    obs_set = None if obs_picks is None else {int(i) for i in obs_picks}
    rank_of: dict[int, int] = {}

    alias = _alias_model(plan, params)

    low = None
    if params.spatial and params.lf_cutoff > 0 and len(picks) >= 5:
        if not params.spatial_cutoff:
            params = replace(params, spatial_cutoff=1.25 * params.lf_cutoff)
        # EEG rows only (obs_picks): an ECG or EOG channel's own large signal would enter
        # every EEG channel's template through the projection
        sp_rows = picks if obs_picks is None else np.asarray([r for r in picks if int(r) in set(map(int, obs_picks))], int)
        low = LowBand(plan, params, sp_rows, budget) if sp_rows.size >= 5 else None
    s0, s1 = int(plan.c0[0]), int(plan.c1[-1])
    edge_pre_v, edge_pre, edge_pre_win, edge_end_v, edge_end, edge_end_win = plan.edge_samples()

    def run_group(rows: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, dict[str, np.ndarray]], dict[int, np.ndarray]]:
        p.check()
        # work on the channels minus their mean over the scan: the template's all-volume
        # part below 1/TR then holds the artifact, not the electrode offset (which the
        # amplitude fit would otherwise scale into steps at volume boundaries)
        mu = np.array([[data[r, s0:s1].mean()] for r in rows], np.float32)
        spec = plan.aligned_spectra(data, rows, mu, own_means=params.own_means, slow_drift=params.slow_drift,
                                    basis=alias.B if alias is not None else None)
        tmpl = plan.templates(spec)
        n_avg = plan.n_averaged()
        sel = tbins = d = None
        chosen: dict[int, np.ndarray] = {}
        nv = spec.shape[1]
        M = spec.mean(axis=1)
        mean_p = M.real**2 + M.imag**2
        if params.wiener or params.track:
            # per channel and bin: noise = E|A - T|^2 / (1 + 1/W) (EEG and what the
            # template does not follow); the artifact's mean power from the all-volume
            # mean, its own leak (noise / n) removed
            d = spec - tmpl
            energy = _power_sum(d)
            noise = energy / (nv * (1.0 + 1.0 / n_avg[None, :]))
            mean_p = np.maximum(mean_p - noise / nv, 0.0)
            if params.wiener and params.wiener_robust > 0:
                robust_band_power(mean_p, spec, d, noise, plan.k_min,
                                  int(np.ceil(params.lf_cutoff * plan.nw)), params.wiener_robust)
        # the strongest artifact bins of each row (from the all-volume mean): similarity
        # and the per-volume evolution are measured there
        feat = _feature_bins(mean_p, plan.k_min, params.track_features)
        F = np.take_along_axis(spec, feat[:, None, :], axis=2)
        evo = dict(zip(("shape_r", "size"), _evolution(F)))
        if params.track and plan.n_nb < nv - 1:
            # below the long window's cut-off the artifact is weak and stable and the
            # EEG leak matters more: those bins keep the long window (with a 25 % margin
            # for a harmonic on the band edge, e.g. 40 Hz at 20 slices/s). Similarity is
            # judged on the strongest bins of all.
            k_track = max(plan.k_min, int(np.ceil(1.25 * plan.lf_bins)))
            Fs = F
            if alias is not None and params.track_dealias:
                # judge similarity without each volume's sub-sample-phase (alias) part: at
                # 2.5 kHz it dominated the features, so "similar" meant "same phase", i.e.
                # volumes far away in time whenever the artifact drifted
                dF = F - np.take_along_axis(tmpl, feat[:, None, :], axis=2)
                Fs = F - np.matmul(alias.B, np.matmul(alias.P, dF))
                del dF
            sel = similar_neighbours(Fs, plan.n_nb, params.track_pool, plan.labels)
            del Fs
            tbins = _tracked_bins(mean_p / np.maximum(noise / n_avg[None, :], 1e-30),
                                  k_track, params.track_max_bins)
            if tbins.size:
                St = spec[..., tbins]
                acc = np.zeros_like(St)
                gi = np.arange(len(rows))[:, None]
                for j in range(sel.shape[-1]):
                    acc += St[gi, sel[..., j]]
                acc *= np.float32(1.0 / sel.shape[-1])
                tmpl[..., tbins] = acc
                del St, acc
                n_avg = n_avg.copy()
                n_avg[tbins] = sel.shape[-1]
            evo["reach"] = np.mean(np.abs(sel - np.arange(spec.shape[1])[None, :, None]), axis=-1)
            if tbins is not None and tbins.size:
                small = np.int16 if nv < 2**15 else np.int32
                chosen = {int(r): np.sort(sel[i], axis=-1).astype(small) for i, r in enumerate(rows)}
        del F
        if alias is not None:
            # the residual spectra of the plain templates are reused when tracking did
            # not change the templates (one pass over the spectra less)
            same = d is not None and (tbins is None or not tbins.size)
            tmpl = alias.refine(spec, tmpl, plan, sel=sel, tbins=tbins,
                                resid=(d, energy) if same else None)
        d = None
        if params.wiener:
            tmpl *= wiener_gain(tmpl, M, mean_p, noise, n_avg, nv,
                                int(np.ceil(params.lf_cutoff * plan.nw)), params.wiener_smooth,
                                plan.k_min, params.wiener_strict, strong=params.wiener_strong)[:, None, :]
        if low is not None:
            # the low band's spectra and templates, for the spatial pass over all channels
            keep = [i for i, r in enumerate(rows) if int(r) in low.index]
            if keep:
                low.stash(rows[keep], spec[keep], M[keep])
        del spec
        tmpl *= plan.phase(-1.0)[None]
        tau = sfft.irfft(tmpl, n=plan.nw, axis=-1).astype(np.float32, copy=False)
        del tmpl
        tau = tau.reshape(len(rows), -1)
        ts = plan.core_of(tau)
        # the template on the scan edges' boundary samples (see _scan_edge_samples)
        t_pre = tau[:, edge_pre_win] if edge_pre.size else None
        t_end = tau[:, edge_end_win] if edge_end.size else None
        del tau
        core = plan.core_slice if plan.core_slice is not None else plan.core_abs
        if plan.core_slice is not None:
            # rows x slice, the mean removed on the way (one pass, no copy of the core first)
            xs = np.empty((len(rows), ts.shape[1]), np.result_type(data.dtype, mu.dtype))
            for i, r in enumerate(rows):
                np.subtract(data[r, core], mu[i], out=xs[i])
        else:
            xs = data[np.ix_(rows, core)] - mu
        amps: dict[int, np.ndarray] = {}
        if params.amplitude_fit:
            per_slot = params.amplitude_per == "slot"
            starts = plan.seg_starts if per_slot else plan.vseg_starts
            lens = plan.seg_lens if per_slot else plan.vseg_lens
            num = np.add.reduceat(xs * ts, starts, axis=1)
            den = np.add.reduceat(ts * ts, starts, axis=1)
            a = np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)
            a = np.clip(a, lo_a, hi_a).astype(np.float32)
            for i, r in enumerate(rows):
                amps[int(r)] = a[i]
            rep = np.repeat(a, lens, axis=1)
            ts *= rep
            if t_pre is not None:
                t_pre *= rep[:, plan.core_flat0[edge_pre_v]]
            if t_end is not None:
                t_end *= rep[:, plan.core_flat0[edge_end_v] + plan.core_len_v[edge_end_v] - 1]
            del rep
            if not per_slot:
                evo["amplitude"] = a
        xs -= ts
        if params.anc:
            for i, r in enumerate(rows):
                if obs_set is None or int(r) in obs_set:
                    anc_row(xs[i], ts[i], params, plan.sched.period)
        if plan.core_slice is not None:
            for i, r in enumerate(rows):
                np.add(xs[i], mu[i], out=data[r, plan.core_slice])
        else:
            data[np.ix_(rows, plan.core_abs)] = xs + mu
        del xs, ts
        _scan_edge_samples(data, rows, edge_pre, t_pre, edge_end, t_end)
        if params.obs:
            for r in rows:
                if obs_set is None or int(r) in obs_set:
                    rank_of[int(r)] = obs_channel(data, int(r), plan, params)
        return amps, {int(r): {k: np.asarray(v[i]) for k, v in evo.items()} for i, r in enumerate(rows)}, chosen

    done = 0
    p0 = 0.1 if params.align else 0.0
    evolution: dict[int, dict[str, np.ndarray]] = {}

    def collect(out: tuple[dict[int, np.ndarray], dict[int, dict[str, np.ndarray]], dict[int, np.ndarray]]) -> None:
        result.amplitudes.update(out[0])
        evolution.update(out[1])
        result.neighbours.update(out[2])

    if n_jobs > 1 and len(groups) > 1:
        with ThreadPoolExecutor(max_workers=n_jobs) as ex:
            futs = [ex.submit(run_group, rows) for rows in groups]
            try:
                for f in futs:
                    collect(f.result())
                    done += 1
                    p(p0 + (1 - p0) * done / len(groups), "subtracting templates")
            except BaseException:
                for f in futs:  # stop the groups not started yet
                    f.cancel()
                raise
    else:
        for rows in groups:
            collect(run_group(rows))
            done += 1
            p(p0 + (1 - p0) * done / len(groups), "subtracting templates")
    if low is not None:
        per_slot = params.amplitude_per == "slot"
        low.apply(data, alias, result.amplitudes if params.amplitude_fit else {},
                  (plan.seg_starts, plan.seg_lens) if per_slot else (plan.vseg_starts, plan.vseg_lens),
                  n_jobs=n_jobs)
        result.spatial = dict(low.info)
    result.obs_rank = rank_of
    rows_evo = [evolution[int(r)] for r in picks if int(r) in evolution]
    if rows_evo:
        result.evolution = {k: np.median(np.stack([e[k] for e in rows_evo]), axis=0).astype(float)
                            for k in rows_evo[0]}
    result.segments = plan.seg_ids if params.amplitude_per == "slot" else plan.vseg_ids
    return result


def volume_template(
    x: np.ndarray, schedule: Schedule, v: int, params: AASParams | None = None,
    neighbours: np.ndarray | list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned epochs and template of volume ``v`` for one channel (for the views).

    Parameters
    ----------
    x : ndarray, shape (n_times,)
        One channel, uncorrected.
    schedule : Schedule
        As used for the correction.
    v : int
        Volume index.
    neighbours : array of int | None
        The volumes averaged (default: the fixed window around ``v``, as the correction
        uses without tracking; tracking's choice is in :attr:`AASResult.neighbours`).

    Returns
    -------
    epochs : ndarray, shape (n_neighbours, core_len)
        The neighbouring epochs, shifted onto volume ``v``'s sample phase.
    template : ndarray, shape (core_len,)
        Their mean (what is subtracted before the amplitude fit).
    """
    params = params or AASParams()
    plan = _Plan(schedule, x.size, params)
    if neighbours is None:
        lo, hi = int(plan.lo[v]), int(plan.hi[v])
        nb = [j for j in range(lo, hi) if j != v]
    else:
        nb = [int(j) for j in neighbours]
    sub = Schedule(schedule.onsets[nb], schedule.period, schedule.slot_offsets)
    sp = _Plan.__new__(_Plan)
    sp.pad, sp.n_times = plan.pad, plan.n_times
    sp.update(sub)
    spec = sp.aligned_spectra(x[None, :])[0]
    ph = np.exp(-1j * plan.frac[v] * plan.omega)
    ep = sfft.irfft(spec * ph[None, :], n=plan.nw, axis=-1)
    off = int(plan.c0[v] - plan.starts[v])
    n = int(plan.c1[v] - plan.c0[v])
    ep = ep[:, off : off + n]
    return ep, ep.mean(axis=0)
