"""Causal gradient-artifact subtraction from the templates of past volumes.

Why not the offline code (:mod:`workbench.engine.gradient`): it averages neighbours on
*both* sides of each volume and fits the clock on the whole run, so it needs the
future. Here each volume's template is the mean of the last ``window`` *complete*
volumes only, aligned to the volume's fractional onset by a running linear fit of
the volume markers (the same exact Fourier sub-sample shift as offline, see
:mod:`.shift`). Work per chunk is one subtraction; the two FFTs happen once per
volume (when a volume completes and when a new template is needed).

The offline step's refinements, made causal: each frequency bin is Wiener-weighted
with the noise measured as what the past templates failed to predict of each new
epoch; below 40 Hz a longer window is averaged; the part of the artifact that depends
on the volume's sub-sample phase (aliasing) is fitted across the past epochs and
added at the volume's own phase where it has been shown to predict new epochs.

Until ``min_volumes`` volumes are stored the volume is passed through uncorrected and
flagged (:data:`.flags.GRADIENT_LEARNING`). A marker that breaks the rhythm is held;
if the next marker follows the old rhythm it was spurious and is dropped, otherwise
the TR changed and the templates restart (:data:`.flags.TR_CHANGED`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as sfft

from . import flags as F
from .backfit import TrailingBackfit
from .lf_scale import CausalLowBand
from .pulse import CausalPulse
from .ring import SampleRing

#: mains frequencies and their harmonics below 150 Hz (Hz), left to the line-noise step
MAINS_HZ = np.array([50.0, 60.0, 100.0, 120.0])


@dataclass
class _EpochPulse:
    """How a stored epoch's pulse rows were cleaned: its marker, the phase shift its
    spectrum was given (samples, ``exp(2 pi i f shift)``), and the low bins of the pulse
    estimate taken out (before that shift; None: nothing was)."""

    marker: int
    shift: float
    spec: np.ndarray | None
    backfitted: bool


@dataclass
class _Volume:
    marker: int  # integer sample of the volume marker (global index)
    number: int  # volume number in the current run (missing markers skip numbers)
    stored: bool = False
    broken: bool = False  # a stream gap overlaps it: never used as a template
    provisional: bool = False  # placed at the onset the TR rhythm predicts; no marker yet
    start: int | None = None  # first sample corrected with this volume's template (marker if None)
    confirmed: bool = False  # a provisional volume the data have confirmed once
    predicted: bool = False  # its marker never came (a later marker did): predicted, not marked
    stopped: bool = False  # the data stopped matching its template (scanner stopped): no longer subtracted
    stop_only: bool = False  # broken by the stop gate alone (no stream gap): see _false_stop
    tpow: float | None = None  # its template's mean power per sample (summed over channels)
    gated: bool = False  # a predicted volume the data were asked about (a template was ready)
    # the marker fit right after this volume's own marker, and whether it was pinned:
    # what the previous volume's epoch and the template two volumes on are placed with
    fit: tuple[float, float] | None = None
    pinned: bool = False
    slopes: tuple[float, float] | None = None  # the slopes the markers allow then (_slope_interval)
    # the stop gate's carry: data and template power (below 2 kHz also the residual's) of
    # this volume's last samples (up to a window), so its sliding window spans chunk
    # boundaries (see _stop_at)
    stop_tail: tuple | None = None  # (the powers' last samples ..., next sample)
    # each row's electrode level before the volume (the raw data's mean over the TR before
    # its first sample): what the gates take off the data before comparing powers (see
    # CausalGradient._level)
    level: np.ndarray | None = None

    @property
    def first(self) -> int:
        return self.marker if self.start is None else self.start

    @property
    def unmarked(self) -> bool:
        """Placed from the TR rhythm, without a marker (yet)."""
        return self.provisional or self.predicted


def _behind_the_stream() -> None:
    """Lower this (worker) thread's scheduling priority by 10 (``nice``; on Linux a
    thread's own): where the workers and the stream thread all want a core, the stream's
    chunk goes first.

    Why: the template and pulse-backfit workers share the machine's cores with the stream
    thread (2 here). Side by side in ``bench_online.py --only latency`` (64 ch x 5 kHz, 10 ms
    chunks, 2 min, two runs each): p95 4.6-6.6 -> 3.2-3.5 ms, chunks of 12,000 over 20 ms
    10-14 -> 1-4 (README, "Wave thirty-three"). Raising a nice value needs no privilege; where it cannot be
    set (another system) the thread is left as it is.
    """
    import os

    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(own + 10, 19))
    except (AttributeError, OSError):  # not Linux, or not allowed: left as it is
        pass


def _worker_pool(name: str) -> Any:
    """A one-thread pool whose thread runs behind the stream (:func:`_behind_the_stream`).

    Parameters
    ----------
    name : str
        The thread's name prefix (shown in stack dumps and profilers).
    """
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(1, thread_name_prefix=name, initializer=_behind_the_stream)


def _mix(m: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``np.tensordot(m, c, axes=(1, 0))`` (``m``: (i, k), ``c``: (k, ...)) as one matrix
    product on ``c`` flattened: the same numbers (bit-identical: the same BLAS product on
    the same rows), without the stream thread waiting.

    Why: in the template thread, ``tensordot`` on a strided slice of the alias spectra
    (8 orders x 64 channels x 5 kHz bins) kept the stream thread from running for up to
    a few hundred ms (a micro-benchmark: a 2 ms sleep in another thread overshot by 218-364
    ms; with this product by 0.9-3.5 ms at most). In the online latency benchmark, every
    chunk that waited 70-155 ms fell inside such a call (``bench_gradient_results.md``,
    sessions 49-50).

    Parameters
    ----------
    m : ndarray, shape (i, k)
        The matrix.
    c : ndarray, shape (k, ...)
        What it mixes along its first axis.
    """
    k = c.shape[0]
    return np.matmul(m, c.reshape(k, -1)).reshape((m.shape[0], *c.shape[1:]))


class CausalGradient:
    """Volume-by-volume average artifact subtraction using past volumes only.

    Parameters
    ----------
    n_channels : int
        Rows of the chunks passed to :meth:`process` (the corrected channels).
    sfreq : float
        Nominal sample rate (Hz).
    window : int
        Past volumes averaged per template (NeuXus uses 7-30; shorter follows a
        drifting artifact faster, longer leaks less EEG into the template).
    min_volumes : int
        Volumes needed before subtracting (earlier volumes pass through, flagged).
    max_tr_s : float
        Longest TR handled (sets the memory held).
    tr_tolerance : float
        Relative change of a marker interval that counts as a TR change (at least
        two samples, so trigger quantisation never does).
    margin : int | None
        Samples on each side of an epoch (tapered; for the sub-sample shift and so that
        the artifact's spectrum stays at its harmonics). None: 0.1 s at or above 4 kHz,
        64 samples below (see :meth:`auto_margin`).
    fit_volumes : int
        Markers in the running linear fit of onsets (fractional alignment); long, so
        the markers' whole-sample quantisation averages out.
    window_lf : int | None
        Longer window for the template below ``lf_cutoff_hz`` (only the low bins of
        those older epochs are kept), where the artifact is weak and averaged-in EEG
        dominates (the offline step's ``window_lf``); None: off.
    lf_cutoff_hz : float
    wiener : bool
        Weight each frequency of the template by its artifact-to-EEG ratio.
    trend : bool
        Extrapolate each frequency's linear trend over the window to the volume being
        corrected (a causal template otherwise lags a drifting artifact by half a
        window); below ``lf_cutoff_hz`` the long plain mean is kept. Off by default:
        on the drifting phantom it raised the error against the truth (3.4 -> 4.0 uV,
        1-40 Hz) because the extrapolation amplifies the EEG averaged in.
    threaded : bool
        Prepare templates in one background thread (the output is the same either
        way: a chunk that needs a template not ready yet waits for it).
    noise_volumes : int
        Epochs over which the residual (the Wiener gain's noise) and the alias model
        are averaged.
    alias_orders : int
        Model the part of the artifact that depends on each volume's sub-sample phase
        (aliasing: artifact above Nyquist when the amplifier's anti-alias filter is
        weak, e.g. at 2.5 kHz), as the offline step does
        (:class:`workbench.engine.gradient.residual.AliasModel`): after alignment an
        alias of order ``m`` appears as ``C_m(f) exp(-2 pi i m frac_v)``. Here the
        ``C_m`` are fitted causally, per channel and bin, to what the past templates
        did not predict of each new epoch, shrunk by their estimation noise, and added
        to the template at the volume's own phase, on the channels and bins where they
        have predicted the new epochs clearly (by 25 %) better than the plain mean (an out-of-sample
        check; at 5 kHz, where nothing aliases, they are mostly left out). Until the
        markers pin the clock, the phases' slope is fitted on the epochs' alias part
        itself (:meth:`_fit_alias_line`). 0 disables; None (default): as offline
        (:meth:`workbench.engine.gradient.GradientParams.orders`), 4 from 900 Hz up to
        2 kHz and 2 otherwise (at 1 kHz two orders left 38 uV of a 4.8 uV offline
        residual after volume 30, four 20 uV; ``benchmarks/bench_online_variants.py``).
    align : bool | None
        Measure each stored epoch's sub-sample onset against the template (Newton on
        the cross-spectrum, as offline) and place the templates at onsets predicted
        from those measurements rather than from the markers, whose whole-sample
        quantisation limits a fit of a few dozen (on a stable synthetic artifact with
        content up to 800 Hz at 2 kHz: 32 -> 6 uV left). The alias model keeps the
        markers' phase. False: markers only. None (default): on from 2 kHz. Below,
        the aliased part pulls the measured onsets (at 1 kHz, 20 ppm, they ran away
        from the truth by 0.19 sample per volume, to 2 samples by volume 17; offline
        drops those shifts there too, :attr:`..gradient.aas.AASParams.align_check`).
    predict_onsets : bool
        Correct a volume from the onset the TR rhythm predicts when its marker has not
        arrived yet (markers travel on their own stream and can trail the samples by
        tens of ms). Those samples are corrected where subtracting the template placed
        there lowers their power, and for the rest of the volume once it has lowered
        it clearly (the data confirm the artifact), so a volume that never comes (the
        scan stopped) or comes elsewhere (the TR changed) is not subtracted; otherwise they
        pass through flagged :data:`.flags.MARKER_LATE`. When the marker arrives it
        confirms the volume (or, off the rhythm, replaces it; so does a marker several
        volumes late). While markers stay away (marker stream lost, or trailing by more
        than a TR), the next volume is predicted only once the data have confirmed the
        previous predicted one, for at most ``predict_volumes`` volumes past the last
        marker; samples corrected so are flagged :data:`.flags.PREDICTED`. Volumes
        that never got a marker are not used as templates.
    predict_volumes : int
        Largest number of volumes predicted past the last marker (then the samples
        pass through flagged :data:`.flags.MARKER_LATE` until a marker comes).
    quantised_fit : bool
        Fit the volume onsets as the line the markers' whole-sample rounding allows,
        once two level changes of the markers pin it (:meth:`_quantised_fit`); else
        least squares throughout.
    gate : float
        Largest ratio of residual to raw power (over the corrected channels, per
        stretch of a chunk) at which a predicted volume is subtracted. 1 (subtracting
        must lower the power): without the artifact the ratio is 1 + |t|^2/|x|^2, i.e.
        hundreds for a mV template on tens of uV of EEG; with it, 0.15-0.85 on the 2 kHz
        phantom before the 70 Hz low-pass (what aliases above it stays in the broadband
        residual), so a stricter gate rejects real volumes at low sample rates.
    gate_confirm : float
        A ratio at or below this confirms the predicted volume for the rest of it (a
        quiet stretch of the template, where the ratio is near 1 either way, then
        neither decides alone nor leaves samples flagged); about 0.15-0.2 at a volume's
        start on the phantoms, and a chance match of EEG with a mV template cannot reach it.
    gate_stop : float
        Every volume (marked or predicted, once confirmed) is checked block by block
        (``stop_block_s``): from the first block where the template is strong (a tenth
        of its mean power or more) and carries over ``gate_stop`` times the power of
        the data (an artifact that is not in the data: the scanner stopped mid-volume)
        the volume is no longer subtracted, flagged :data:`.flags.ARTIFACT_ENDED`, and
        no volume is predicted after it. Without the artifact that ratio is
        |t|^2/|EEG|^2 (over 100 for a 200 uV artifact on 20 uV of EEG; 123 on the 2 kHz
        phantom); with it, at most 2 on that phantom with every marker and 6 after
        three volumes without one (its templates err by ~1 mV broadband at 2 kHz,
        aliasing, which the 70 Hz low-pass removes: the residual-to-raw ratio reached
        5 there, so it cannot judge). None: off.
    stop_block_s : float
        Length of those blocks (s; 2 ms blocks let the template's errors reach
        ratios of 3.6 even in its strong stretches on that phantom). Below 2 kHz at
        least ``_stop_block_low`` samples: there each volume's samples fall at their own
        phase of the kHz readout, and in 5 samples at 1 kHz the data crossed zero where
        the template (their mean over phases) did not, over 16x: on 90 s 1 kHz phantoms
        35 of 43 volumes were taken for stopped, left uncorrected from there (62 s of
        90) and never stored, so the templates stayed those of the first four volumes
        (NRMSE 1-40 Hz 1.35; with 20-sample blocks no volume stops and 0.76).
    slice_axes : int
        After the template, subtract the mix of the gradient axes' waveforms that the
        previous blocks left (:class:`.axes.OnlineAxes`; the offline step's slice-wise
        axis fit, made causal). 0, or a rate below 2 kHz (as offline): off.
    spatial : bool
        The offline step's spatial pass made causal (:meth:`_set_subspace`): below
        1.25x ``lf_cutoff_hz`` each template is split into the part inside the
        artifact's channel subspace (measured once on the strong bins above, from
        ``_spatial_min`` epochs on) and the part outside, each with its own Wiener gain
        from its own running residual. Needs 5 channels or more.
    spatial_rows : sequence of int | None
        The rows (of the corrected channels) the spatial pass works on: the EEG only,
        as offline (an ECG or EOG channel's own large signal would enter every EEG
        channel's template through the projection); None: all. The low band's size
        is followed over the same rows.
    lf_scale : bool
        Follow the size of the artifact's low band (below ``lf_cutoff_hz``) from volume
        to volume, each volume's share predicted from the volumes before
        (:mod:`.lf_scale`; the offline step's ``lf_scale`` made causal). Only parts whose
        size wanders are followed (the log says when).
    keep_hz : sequence of float
        Steady-state stimulation frequencies (Hz) to keep: within
        ``gradient.correct.KEEP_WIDTH_HZ`` of them the template is the window mean alone
        (Wiener-weighted), without the alias terms, the short mean or the rotating
        template, which each follow a steady signal turning from volume to volume as they
        follow the folded artifact (``GradientParams.keep_hz``).
    """

    # alias model start-up (see _alias_coef and _job_template): epochs per coefficient
    # before a fit, ridge on its normal equations (share of their mean diagonal), largest
    # condition number, out-of-sample checks before use, and the prediction-error ratio
    # a term must beat. Starting this early pays only with the measured phases below
    # (benchmarks/bench_online_convergence.py; was 3 and 5: 2.5 kHz phantom, volumes
    # 10-20, 7.1 -> 5.8 uV with both, unchanged with either alone).
    _alias_min = 1.5
    _alias_ridge = 0.0
    _check_min = 2
    _check_ratio = 0.75
    _alias_cond = 1e3
    # the epochs' own means (kept out of the stored spectra) get alias terms of their own
    # (see _dc_terms); from 2 kHz up the terms are shrunk by the fit's own residual where
    # they have removed more than _noise_fit_ratio of the templates' error (see _alias_coef)
    _alias_dc = True
    _drift_line = True  # the drift's slope out of the stored epochs too (see _drift_slope) ...
    _drift_epochs = 6  # ... fitted over this many epochs' means
    _dc_detrend = True  # the means' alias fit about the window's line (see _dc_window_line)
    _drift_min = 2
    _dc_check_ratio = 0.1
    _alias_noise_fit = True
    _noise_fit_ratio = 0.5
    # from 2 kHz up with the orders left to us, larger alias orders are tried once the clock
    # is pinned, as offline (gradient.aas._choose_orders; .alias_orders): the candidates,
    # the epochs scored, the least relative gain, the band scored (Hz), and the share of a
    # new phase's basis outside what a candidate's fit identifies beyond which it adds no
    # terms (orders m and m - q, and m and -m at half a cycle, share one basis when the
    # phase steps 1/q sample a volume: multiband, 5 kHz, 20 ppm, TR 1 s, 0.1 sample)
    _orders_try = (4, 6, 8)
    _orders_volumes = 8
    _orders_gain = 0.2
    _orders_fmax_hz = 70.0
    _alias_null_tol = 0.01
    # shrinkage of the alias coefficients: gain 1 - _alias_shrink * noise / power, as the
    # offline step (kept where they stand 3x above their noise). 0.5 lets more of the early
    # aliasing in (150 s phantoms, 1-40 Hz after volume 10: 2.5 kHz 3.70 -> 3.36 uV and
    # 3.47 -> 3.27 uV, seeds 2 and 3; 2 kHz 6.67 -> 6.27; 5 kHz 2.44 -> 2.39 and 2.21 ->
    # 2.26, volumes 10-20 there 2.69 -> 2.90 and 2.58 -> 2.90) but on the 30 s 2 kHz
    # phantom of the tests it raised the volume-locked residual 11.8 -> 13.1 uV, so it
    # stays at 3 (benchmarks/bench_online_convergence.py, variant shrink05). Projecting
    # the coefficients on their leading spatial patterns gained as much as 1 at 2.5 kHz
    # (3.45 uV) and nothing on top of 0.5.
    _alias_shrink = 3.0
    # below 2.5 kHz, the mean of the last _short epochs where it has predicted better (see
    # _short_mean): the epochs checked (their running errors' memory), the share of the
    # long template's error the short mean must stay under, whether it replaces the
    # template only inside the artifact's channel subspace once that is measured, and the
    # rate from which it is off, and the highest frequency it is used at
    _short = 2
    _short_volumes = 10
    _short_ratio = 0.4
    _short_sub = True
    _short_below_hz = 2500.0
    _short_fmax_hz: float | None = 100.0
    # the rotating template (see _rotating): on or off, the bins it may replace (up to this
    # frequency), the share of the window mean's error it must stay under, the epochs its
    # running check remembers, and the fewest epochs it is made from
    _rot = True
    _rot_below_hz = 4500.0
    _rot_fmax_hz = 100.0
    _rot_ratio = 0.8
    _rot_volumes = 10
    _rot_min = 4
    _rot_checked = 2
    # the sampling-phase step's tolerance (samples per volume) about the markers' least-squares
    # slope when they jitter beyond their rounding, and the turn's for the angle's noise (rad)
    # (see _turns_allowed)
    _rot_step_tol = 0.05
    _rot_turn_tol = 0.05
    _rot_mains_hz = 1.0  # bins this close to the mains frequencies are left still
    # in the spatial split, each part's alias coefficients are shrunk by that part's own
    # noise (see _split_low_band)
    _alias_split = True
    _rephase_checks = False  # a rephase also restarts the out-of-sample checks
    _rephase_batch = True  # ... and refits the alias model on the stored epochs
    # alias phases from the epochs' measured onsets (``align``) until the rephase: right
    # to ~0.01 sample from the first volumes, where the marker fit is off by 0.1-0.3,
    # but later moved by head movements (after volume 40 at 2.5 kHz: 4.8 vs 3.3 uV with
    # them throughout), so the pinned marker fit takes over
    _early_measured_phase = True
    _rephase_pin = 0.3  # slope interval times the markers' span that triggers the rephase
    _wiener_strict = 3.0  # see _wiener_gain
    _wiener_strong = 0.0  # set in __init__ (see _gain_from)
    # blinks kept out of the gain (see _robust_weight); 0: off. 0.25 rather than the
    # offline 1: online 1-40 Hz error after volume 10 on the slow-EEG row 1.00 uV off,
    # 0.93 at 1, 0.85 at 0.25 (and 0.01, the same weights up to scale)
    _wiener_robust = 0.25
    _robust_min = 5  # epochs in the blink-robust mean before it is used
    # the causal spatial pass (see _set_subspace): epochs before the subspace is measured,
    # part residuals before its gains are used, and the share of the strong bins' energy
    # the subspace holds (as offline, AASParams.spatial_tol). 4 rather than 10: the split
    # then works from volume 7 instead of 13 (variant table, 1-40 Hz after volume 10:
    # default 1.14 -> 1.00 uV, mb default 1.13 -> 1.03, after volume 30 unchanged; 150 s
    # drifting phantoms, volumes 10-20: 5 kHz 2.17 -> 2.10 uV, 2.5 kHz 5.15 -> 5.22 and
    # 2 kHz 10.63 -> 10.65, the same rank 3 found either way; 3, 4 and 5 gave the same)
    _spatial_min = 4
    _spatial_noise_min = 3
    _spatial_tol = 1e-4
    # until then, the slope of the alias phases is fitted on the artifact's alias part
    # (_fit_alias_line; 150 s phantoms, 1-40 Hz after volume 10: 2.5 kHz 3.20 -> 2.99 uV,
    # 2 kHz 6.47 -> 6.11, 5 kHz unchanged; bench_online_convergence.py)
    _alias_phase_fit = True
    _alias_slope_range = 0.02  # samples per volume searched around the measured onsets' slope
    _alias_slope_peak = 0.01  # least relative prominence of the accepted slope's peak
    # epochs per alias coefficient before the slope is fitted (as offline, AliasModel; with
    # 6 epochs on a 2.5 kHz phantom a clear peak stood 0.09 sample per volume off)
    _alias_line_min = 3
    # the fit's nuisance includes a linear trend over the epochs, and each bin is weighted
    # by its residual noise (unweighted, the peak came one volume later and wandered
    # +-0.002 instead of +-0.001 sample per volume; 2.5 kHz phantom, volumes 15-16 4.9 -> 3.8 uV)
    _alias_line_detrend = True
    _alias_line_whiten = True
    # the fit runs in the template thread once per volume until the clock is pinned (for a
    # whole run when it never is): on the channels with most alias-band energy only (the
    # slope is common to all; 64 ch x 5 kHz took 0.2-0.35 s per volume and with the refit
    # and checks up to ~1 s of a 2 s TR), and only where the artifact aliases: below 4 kHz,
    # and above when it reaches the top of the band (see _folds; with an anti-alias filter
    # at 5 kHz it changed nothing: 1.97 vs 1.98 uV after volume 10)
    _alias_line_channels = 8
    # search the slope over the interval the markers allow (see _fit_alias_line), at most
    # this far (samples per volume) from the measured onsets' slope
    _alias_line_markers = True
    _alias_slope_max = 0.5
    # per-epoch alias phases (see _measure_alias_phase): grid, the least-squares quality
    # accepted, how many make a line and how many are kept
    _alias_phase_measure = True
    _aph_grid = 400
    _aph_quality = 0.5
    _aph_min = 6
    _aph_keep = 20
    _aph_start = True
    _alias_line_below_hz = 4000.0
    _alias_top_share = 1e-3  # ... and above it, see _folds
    # bins of the pulse estimate's spectrum kept for the Wiener noise (its 40 Hz Bessel
    # low-pass is 26 dB down at 125 Hz; above, the estimate holds nothing)
    _pulse_band_hz = 125.0
    # fewest samples in the stop gate's blocks below 2 kHz (see stop_block_s; 10 left 14
    # of 43 volumes stopped on a 1 kHz phantom with a locked heart, 20 none on three)
    _stop_block_low = 20
    _stop_recover = True  # see _false_stop
    # ... where a block's residual power over its data power above this also stops the
    # volume (see _stop_at; with 20-sample blocks alone, a TR change whose markers trail by
    # 30 ms left the first new volume 1.15x worse than raw at 1 kHz: the old-TR template
    # subtracted from the new artifact never carried 16x the data's power over 20 samples).
    # Between what the cases allow: that test needs 12 or less; 6 stopped 2 of 43 volumes
    # of a 1 kHz phantom with a locked heart (1 and 2: 17 and more), 8 none
    _stop_resid_low = 10.0

    def __init__(
        self,
        n_channels: int,
        sfreq: float,
        *,
        window: int = 20,
        min_volumes: int = 3,
        max_tr_s: float = 10.0,
        tr_tolerance: float = 0.005,
        margin: int | None = None,
        fit_volumes: int = 400,
        window_lf: int | None = 60,
        lf_cutoff_hz: float = 40.0,
        wiener: bool = True,
        trend: bool = False,
        threaded: bool = True,
        noise_volumes: int = 60,
        alias_orders: int | None = None,
        align: bool | None = None,
        predict_onsets: bool = True,
        quantised_fit: bool = True,
        gate: float = 1.0,
        gate_confirm: float = 0.5,
        predict_volumes: int = 10,
        gate_stop: float | None = 16.0,
        stop_block_s: float = 0.005,
        slice_axes: int = 3,
        spatial: bool = True,
        spatial_rows: Sequence[int] | None = None,
        lf_scale: bool = True,
        keep_hz: Sequence[float] = (),
    ) -> None:
        self.n_channels = int(n_channels)
        self.keep_hz = tuple(float(f) for f in keep_hz if 0 < float(f) < sfreq / 2)
        self.sfreq = float(sfreq)
        self.window = max(1, int(window))
        self.min_volumes = max(1, int(min_volumes))
        self.max_period = int(max_tr_s * sfreq)
        self.tr_tolerance = float(tr_tolerance)
        self.P = self.auto_margin(self.sfreq) if margin is None else int(margin)
        self.window_lf = int(window_lf) if window_lf else 0
        self.lf_cutoff_hz = float(lf_cutoff_hz)
        self.wiener = bool(wiener)
        self.noise_volumes = max(1, int(noise_volumes))
        from ..gradient.correct import LOW_RATE_HZ, WIENER_STRONG_LOW_RATE, GradientParams

        # None: as offline (4 from 900 Hz up to 2 kHz, else 2)
        self.alias_orders = max(0, GradientParams(alias_orders=alias_orders).orders(self.sfreq))
        self._orders_auto = alias_orders is None and self.sfreq >= LOW_RATE_HZ and self.alias_orders > 0
        self._alias_orders0 = self.alias_orders
        self.align = self.sfreq >= LOW_RATE_HZ if align is None else bool(align)
        self.predict_onsets = bool(predict_onsets)
        self.quantised_fit = bool(quantised_fit)
        self.gate = float(gate)
        self.gate_confirm = float(gate_confirm)
        self.predict_volumes = max(1, int(predict_volumes))
        self.gate_stop = None if gate_stop is None else float(gate_stop)
        self._block = max(4, int(round(stop_block_s * self.sfreq)))
        self._stop_resid: float | None = None
        if self.sfreq < LOW_RATE_HZ:
            self._block = max(self._block, self._stop_block_low)
            self._stop_resid = self._stop_resid_low
        # a lone strong line in the EEG band keeps its own power (as offline,
        # AASParams.wiener_strong)
        self._wiener_strong = WIENER_STRONG_LOW_RATE if self.sfreq < LOW_RATE_HZ else 0.0
        self._short_on = self._short > 0 and self.sfreq < self._short_below_hz  # see _short_mean
        self._rot_on = self._rot and self.sfreq < self._rot_below_hz  # see _rotating
        self._noise_fit_on = self._alias_noise_fit and self.sfreq >= LOW_RATE_HZ  # see _alias_coef
        m = np.arange(1, self.alias_orders + 1)
        self._alias_m = np.concatenate([m, -m]).astype(float)
        self.trend = bool(trend)
        self._sp_rows = (np.arange(int(n_channels)) if spatial_rows is None
                         else np.asarray(sorted(set(int(r) for r in spatial_rows)), int))
        self.spatial = bool(spatial) and self._sp_rows.size >= 5
        self._pool = None
        if threaded:
            self._pool = _worker_pool("online-gradient")
        self.fit_volumes = max(3, int(fit_volumes))
        self.ring = SampleRing(self.n_channels, 2 * self.max_period + 4 * self.P + 8192)
        self._gaps: deque[tuple[int, int]] = deque(maxlen=32)  # [start, stop) the ring holds as zeros
        self.messages: list[str] = []
        self.n_tr_changes = 0
        self.n_spurious = 0
        self.n_late = 0
        self.n_late_covered = 0  # late markers whose volume start was corrected from the prediction
        self.n_predicted = 0  # samples corrected from a predicted onset before their marker came
        self.n_unconfirmed = 0  # samples of a predicted volume the data did not confirm
        self.n_unmarked = 0  # volumes corrected from the prediction whose marker never came
        self.n_stopped = 0  # volumes whose artifact ended early by the data (gate_stop)
        self.n_false_stops = 0  # ... whose next marker then came on the TR rhythm (_false_stop)
        self.n_ended = 0  # samples of those volumes left unsubtracted
        self.n_lost = 0  # times the prediction gave up (predict_volumes without a marker)
        self._said_late: set[bool] = set()
        from .axes import OnlineAxes

        self.axes = (OnlineAxes(self.n_channels, self.sfreq, rank=int(slice_axes))
                     if slice_axes > 0 and self.sfreq >= LOW_RATE_HZ else None)
        # the pulse artifact kept out of the stored epochs (:mod:`.pulse`; set by the
        # pipeline when it has an ECG): its estimator, the rows it covers, and the stream
        # sample it has seen up to (an epoch is stored once its estimate is final)
        self.pulse: CausalPulse | None = None
        self.pulse_rows: np.ndarray | None = None
        # the offline backfitting on a trailing window (:mod:`.backfit`), used in place of
        # the causal estimate once it has enough beats; its AAS parameters (offline's)
        self.backfit: TrailingBackfit | None = None
        self.backfit_params: Any = None
        self.n_recleaned = 0  # stored epochs cleaned again with the backfit
        self._bf_pool: Any = None  # its own thread: a window takes 0.5-1 s on 64 rows
        self._bf_pending: deque[tuple[int, Any]] = deque()  # (store it is applied at, future)
        self._n_stores = 0  # epochs handed to the template thread so far
        self.pulse_through = 0
        self.n_pulse_cleaned = 0  # epochs stored with the pulse estimate taken out
        # the low band's size followed from volume to volume (:mod:`.lf_scale`)
        self.lowband: CausalLowBand | None = None
        if lf_scale and self._sp_rows.size >= 5 and self.lf_cutoff_hz > 0:
            self.lowband = CausalLowBand(self._sp_rows, self.sfreq, submit=self._run, raw=self.ring.get,
                                         say=self._say, f_hi=self.lf_cutoff_hz)
        self._reset_run()

    @staticmethod
    def auto_margin(sfreq: float) -> int:
        """Epoch margin (samples) for a sampling rate: 0.1 s at or above 4 kHz, else 64.

        The per-bin Wiener gains act on the epoch as a circular convolution; with short
        tapered margins their error lands in each volume's first ~50 ms. 0.1 s at 5 kHz
        (500 samples instead of 64), 1-40 Hz error after volume 10: in the first 50 ms
        of each volume 4.4-4.5 -> 2.5-3.1 uV on four drifting phantoms with their BCG;
        variant table: default 1.00 -> 0.82 uV (offline 0.59: +4.6 -> +2.9 dB), eddy
        0.99 -> 0.82, drift + 2 movements 1.07 -> 0.91, mb default 1.03 -> 0.95, an
        independent BCG 1.01 -> 0.83; worse: mb combined 3.51 -> 3.57 and a plain
        Fourier-series artifact (``online_synth``) 4.03 -> 4.22; blinks unchanged. Six
        60 s drifting phantoms: 2.14 -> 2.03 uV on average (4 better, 1 the same, 1
        worse by 0.06). The error moves erratically with the FFT length when a
        heart-rate harmonic locks to the volumes early in a run (the 40 s phantom of
        the tests: 64 samples 2.28, 40 ms 3.26, 0.1 s 2.00 uV; its BCG removed 2.13,
        1.99, 2.00), so the margin was compared across phantoms, not chosen on one.
        Below 4 kHz, where the artifact aliases and its per-volume change dominates,
        longer margins did not help (1 kHz 53.4 -> 55.5 uV; 2.5 and 2 kHz 2.98 -> 3.00
        and 6.08 -> 6.29).
        """
        return max(64, int(round(0.1 * sfreq))) if sfreq >= 4000.0 else 64

    # ------------------------------------------------------------------ state
    def _reset_run(self) -> None:
        for f in list(getattr(self, "_jobs", [])):
            f.result()  # let the background thread finish with the old run first
        self._jobs: list = []
        self.vols: list[_Volume] = []
        self._stop_quiet = 0  # the stop gate judges volumes from this number on (_false_stop)
        self._fit_pts: deque[tuple[int, int]] = deque()
        self.period: float | None = None  # samples per volume (fitted)
        self.L: int | None = None  # epoch length (samples)
        self.epochs: deque[np.ndarray] = deque()  # spectra of the last `window` epochs
        self.epochs_lf: deque[np.ndarray] = deque()  # their bins below lf_cutoff, longer
        self.sum: np.ndarray | None = None
        self.n_noise = 0
        self.n_check = 0
        self._P: np.ndarray | None = None  # projector on the artifact's channel subspace
        self._sp_todo = self.spatial  # the subspace is measured once per run
        self.n_part = 0  # residuals seen since (their running means: noise_in, noise_out)
        self._perr: np.ndarray | None = None  # the parts' alias checks (see _part_checks)
        self.spatial_info: dict[str, int] = {}
        self._meas: deque[tuple[int, float]] = deque()  # (volume number, measured onset)
        self._aline: tuple[float, float] | None = None  # alias phase line fitted on the artifact
        self._aph: deque[tuple[int, float]] = deque()  # (volume number, its measured alias phase)
        self._aline_start = False  # _aline is a start line (_start_alias_line), not yet measured
        # with the phases measured: per epoch of the running alias fit, what the window
        # means left of it and the volumes in those windows, so that a rephase replays
        # the running fit with the new phases (_replay_alias)
        self._ep_res: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self.fr: deque[np.ndarray] = deque()  # alias basis of the epochs in `epochs`
        self.fr_lf: deque[np.ndarray] = deque()  # ... and in `epochs_lf`
        self._fr_nums: deque[int] = deque()  # their volume numbers
        # per stored epoch (aligned with epochs_lf, the longer): how its pulse rows were
        # cleaned, to clean them again with the trailing backfit (see _reclean)
        self._ep_meta: deque[_EpochPulse] = deque()
        for _, fut in getattr(self, "_bf_pending", ()):
            fut.cancel()
        self._bf_pending = deque()  # a backfit of the old run does not apply to the new one
        self._rephased = False  # the alias phases were rephased (once per run)
        self._orders_check: Any = None  # the alias orders' check (.alias_orders.OrdersCheck)
        self.orders_info: dict[str, Any] = {}  # its outcome
        if self.alias_orders != self._alias_orders0:  # a new run starts from the orders given
            self.alias_orders = self._alias_orders0
            m = np.arange(1, self.alias_orders + 1)
            self._alias_m = np.concatenate([m, -m]).astype(float)
        self._dc_last: deque[tuple[int, int, np.ndarray]] = deque()  # (number, marker, mean) (_drift_slope)
        self._pin_now = False  # the last refit was pinned by quantisation (see _quantised_fit)
        self._pending: int | None = None
        self._fit: tuple[float, float] | None = None
        self._slopes: tuple[float, float] | None = None  # the slopes the markers allow (stream side)
        self._alias_slopes: tuple[float, float] | None = None  # ... as the worker last got them
        self._futures: dict[int, object] = {}
        # volume number -> (its template, OnlineAxes.basis of it), made in the template job
        self._axes_basis: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._after_gap = False
        self._tr_changed = False
        self._lost = False  # predict_volumes passed without a marker: due volumes are flagged
        if self.lowband is not None:
            self.lowband.reset()

    @property
    def spatial_rank(self) -> int:
        """Dimensions of the artifact's channel subspace the spatial pass uses (0: not in use)."""
        return int(self.spatial_info.get("rank", 0)) if self._P is not None else 0

    @property
    def n_templates(self) -> int:
        """Volumes currently averaged in the template."""
        return len(self.epochs)

    @property
    def predicts(self) -> bool:
        """Whether a late marker's volume would be started from its predicted onset."""
        return self.predict_onsets and self._fit is not None

    @property
    def tr_s(self) -> float | None:
        """The current TR on the EEG clock (s), once two markers were seen."""
        return None if self.period is None else self.period / self.sfreq

    def _say(self, msg: str) -> None:
        self.messages.append(msg)

    # ---------------------------------------------------------------- markers
    def _consistent(self, m: int, ref: _Volume) -> int | None:
        """Volume-number step from ``ref`` to a marker at ``m`` if it fits the rhythm."""
        assert self.period is not None
        q = (m - ref.marker) / self.period
        k = int(round(q))
        tol = max(2.0, self.tr_tolerance * self.period)
        if k >= 1 and abs(q - k) * self.period <= tol:
            return k
        return None

    def add_marker(self, sample: int, now: int) -> None:
        """Register a volume marker at global sample ``sample``.

        Parameters
        ----------
        sample : int
            Sample index of the volume onset.
        now : int
            Samples already sent (a marker for an earlier sample is late: the part of
            the volume already sent stayed uncorrected).
        """
        sample = int(sample)
        provs: list[_Volume] = []  # the volumes predicted past the last marker
        while self.vols and self.vols[-1].provisional:
            provs.insert(0, self.vols.pop())
        if self.vols and sample <= self.vols[-1].marker:
            self.vols.extend(provs)
            return  # duplicate or out of order
        match = next((p for p in provs if abs(sample - p.marker) <= 2), None)
        if sample < now:
            self.n_late += 1
            covered = match is not None
            self.n_late_covered += covered
            # said once per kind, and only once the gradient is subtracted (a learning
            # volume is passed through anyway)
            if covered not in self._said_late and len(self.epochs) >= self.min_volumes:
                self._said_late.add(covered)
                what = ("its start was corrected from the onset the TR rhythm predicted" if covered else
                        "the part already sent is uncorrected (flagged, counted in the QC)")
                self._say(f"a volume marker arrived {(now - sample) / self.sfreq * 1e3:.0f} ms after its "
                          f"volume started: {what}")
        if self._lost:
            self._lost = False
            self._say(f"volume markers back at {sample / self.sfreq:.3f} s: correcting again")
        if not self.vols:
            self.vols.append(_Volume(sample, 0))
            return
        last = self.vols[-1]
        if self.period is None:
            d = sample - last.marker
            if d > self.max_period:
                self._say(
                    f"volume markers {d / self.sfreq:.2f} s apart: longer than the "
                    f"{self.max_period / self.sfreq:.0f} s handled; restarting"
                )
                self.vols = [_Volume(sample, 0)]
                return
            self.period = float(d)
            self.L = self._epoch_len(d)
            self.vols.append(_Volume(sample, 1))
            return
        k = self._consistent(sample, last)
        if k is not None:
            if self._pending is not None:
                self.n_spurious += 1
                self._say(
                    f"ignored a volume marker off the TR rhythm at {self._pending / self.sfreq:.3f} s"
                )
                self._pending = None
            number = last.number + k
            for p in provs:  # predicted volumes before this one: their markers never came
                if p.number < number:
                    p.provisional, p.predicted, p.stored = False, True, True  # never a template
                    self.vols.append(p)
                    self.n_unmarked += 1
            new = _Volume(sample, number, start=self._start(number, sample))
            if k == 1 and last.stopped and new.start is not None and self._stop_recover:
                self._false_stop(last, number)
            if match is not None and match.number == number:
                # the predicted volume gets its marker: it keeps the samples it took over
                # (the same ones a marker on time gives, see _start), and is not gated
                new.start = match.start if new.start is None else new.start
                new.stopped = match.stopped and match.confirmed  # the data saw its artifact end
            self.vols.append(new)
            self._after_gap = False
            self._refit()
            new.fit, new.pinned, new.slopes = self._fit, self._pin_now, self._slopes
            self.vols.extend(p for p in provs if p.number > number)  # still awaiting theirs
            self._trim()
            return
        if provs:
            self._say(f"a volume marker off the predicted rhythm at {sample / self.sfreq:.3f} s: "
                      f"{len(provs)} predicted volume(s) dropped")
        if self._pending is None:
            self._pending = sample
            return
        # two markers in a row off the old rhythm: the TR (or the scan) changed
        old = self.tr_s
        start, new = self._pending, sample - self._pending
        self.n_tr_changes += 1
        self._reset_run()
        self._tr_changed = True
        self.vols = [_Volume(start, 0)]
        if new <= self.max_period:
            self.period = float(new)
            self.L = self._epoch_len(new)
            self.vols.append(_Volume(sample, 1))
        self._say(
            f"TR changed from {old:.4f} s to {new / self.sfreq:.4f} s: gradient templates restart "
            f"(uncorrected and flagged for {self.min_volumes} volumes)"
        )

    @staticmethod
    def _epoch_len(interval: float) -> int:
        """Epoch length: a little longer than a volume (the next marker takes over), so
        a non-integer period never leaves a sample between two volumes uncovered."""
        return int(np.ceil(interval)) + 2

    def _refit(self) -> None:
        """Line through the markers of the run (the last ``fit_volumes``): a long fit,
        because a short sliding one turns the markers' whole-sample quantisation into
        a sawtooth of the fitted fraction (about +-0.05 sample with 40 markers), which
        blurs the templates and the alias model's phases."""
        for v in self.vols:
            if v.unmarked:
                continue
            if not self._fit_pts or v.number > self._fit_pts[-1][0]:
                self._fit_pts.append((v.number, v.marker))
        while len(self._fit_pts) > self.fit_volumes:
            self._fit_pts.popleft()
        if len(self._fit_pts) >= 3:
            j = np.array([q[0] for q in self._fit_pts], float)
            m = np.array([q[1] for q in self._fit_pts], float)
            j0, m0 = j[-1], m[-1]
            b, a = np.polyfit(j - j0, m - m0, 1)
            self._slopes = self._slope_interval(j - j0, m - m0)
            pinned = self._quantised_fit(j - j0, m - m0) if self.quantised_fit else None
            if pinned is not None:
                a, b, width = pinned
                # the alias phases are rephased once per run, when the slope is known
                # to within _rephase_pin samples over the markers' span
                self._pin_now = width * float(j[-1] - j[0]) < self._rephase_pin
            else:
                self._pin_now = False
            self.period = float(b)
            self._fit = (m0 + a - b * j0, b)
        else:
            self._fit = None
            self._pin_now = False
            self._slopes = None

    @staticmethod
    def _slope_interval(j: np.ndarray, m: np.ndarray) -> tuple[float, float] | None:
        """The slopes (samples per volume) a line through whole-sample markers can have:
        every marker is its true onset rounded, so any two differ from the true line by
        less than a sample. None with fewer than three markers, or when no slope meets
        that (a marker off by more than the rounding: jitter)."""
        from ..sync.clock import slopes_within

        return slopes_within(np.asarray(j, float), np.asarray(m, float), np.zeros(np.size(j), int), 1.0,
                             most=None)

    @staticmethod
    def _quantised_fit(j: np.ndarray, m: np.ndarray, pin: float = 0.6) -> tuple[float, float, float] | None:
        """The line through whole-sample markers that quantisation allows, once it is
        pinned: every marker is its true onset rounded, so the true line's residuals
        ``m - b j`` span less than one sample. The slopes meeting that for every pair of
        markers form an interval; when it is narrow (its width times the markers' span
        under ``pin`` samples) the line is its midpoint, offset to the centre of the
        offsets it allows (returned with the interval's width). None otherwise (too few level changes of the markers yet, or
        a marker off by more than the rounding: jitter), and the least-squares line
        stays.

        Why not least squares alone: on quantised markers its error falls slowly and
        oscillates (+-0.1-0.2 sample after 10-30 volumes at 20 ppm on the 2.5 kHz
        phantom, against < 0.02 for this once two level changes were seen), and the
        alias model needs each volume's sub-sample phase.
        """
        iv = CausalGradient._slope_interval(j, m)
        if iv is None or (iv[1] - iv[0]) * float(j.max() - j.min()) >= pin:
            return None
        lo, hi = iv
        b = 0.5 * (lo + hi)
        r = m - b * j
        return 0.5 * (float(r.max()) + float(r.min())), b, hi - lo

    def _onset(self, v: _Volume, fit: tuple[float, float] | None = None) -> float:
        """Fractional onset of ``v`` from ``fit`` (default the running fit; the marker
        if there is none)."""
        fit = fit or self._fit
        if fit is None:
            return float(v.marker)
        f = fit[0] + fit[1] * v.number
        # the fit only refines the marker; never move by more than a sample
        return float(v.marker + np.clip(f - v.marker, -1.0, 1.0))

    def _trim(self) -> None:
        if len(self.vols) > 160:
            del self.vols[: len(self.vols) - 80]

    # ------------------------------------------------------------------- gaps
    def gap(self, n_missing: int) -> None:
        """``n_missing`` samples were lost before the next chunk."""
        start = self.ring.end
        self.ring.skip(n_missing)
        stop = self.ring.end
        if stop > start:
            self._gaps.append((start, stop))
        for v in self.vols:
            if self.L is not None and v.marker - self.P < stop and v.marker + self.L + self.P > start:
                v.broken = True
                v.stop_only = False
        self._after_gap = True
        if self.axes is not None:
            self.axes.gap()

    # -------------------------------------------------------------- templates
    # Everything heavy (one FFT to align a completed epoch, one to shift the template)
    # runs once per volume in one background thread, so a chunk never waits for it.
    # Volume v's template is the mean of the epochs up to v-2, prepared while v-1 is
    # being acquired, at v's *predicted* fractional onset; it is placed on the absolute
    # sample grid, so the marker of v only has to confirm where the volume starts.

    def _predict(self, number: int, fit: tuple[float, float] | None = None) -> float:
        """Onset of volume ``number`` from ``fit`` (default the running marker fit)."""
        fit = fit or self._fit
        if fit is not None:
            return float(fit[0] + fit[1] * number)
        assert self.period is not None
        last = self.vols[-1]
        return float(last.marker + (number - last.number) * self.period)

    def _predict_measured(self, number: int) -> float | None:
        """Onset of volume ``number`` from a line through the measured onsets of the
        past epochs (worker-side state; None with fewer than 3)."""
        if not self.align or len(self._meas) < 3:
            return None
        j, o = self._meas_arrays()
        b, a = np.polyfit(j - j[-1], o, 1)
        return float(a + b * (number - j[-1]))

    def _meas_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The measured onsets (worker side): volume numbers and onsets (samples)."""
        return (np.array([q[0] for q in self._meas], float), np.array([q[1] for q in self._meas], float))

    def _spectral_setup(self) -> None:
        assert self.L is not None
        n0 = self.L + 2 * self.P
        self._n0 = n0
        self._nfft = sfft.next_fast_len(n0 + 8, real=True)
        self._f = np.arange(self._nfft // 2 + 1) / self._nfft  # cycles per sample
        from ..gradient.aas import keep_bins
        from ..gradient.correct import KEEP_WIDTH_HZ

        self._keep = (keep_bins(self._f.size, self._nfft, tuple(f / self.sfreq for f in self.keep_hz),
                                KEEP_WIDTH_HZ / self.sfreq) if self.keep_hz else None)
        self._k_cut = int(np.searchsorted(self._f * self.sfreq, self.lf_cutoff_hz))
        # alignment on the bins below a quarter of the rate (the aliased part near
        # Nyquist would bias the delay)
        self._k_align = max(2, int(np.searchsorted(self._f, 0.25)))
        self._k_lf = self._k_cut if self.window_lf else 0
        w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(self.P) + 0.5) / self.P)
        self._taper = w.astype(np.float32)

    def _job_store(self, seg: np.ndarray, marker: int, onset: float, number: int,
                   rephase: tuple[float, float] | None = None, early: bool = False,
                   pulse: tuple[np.ndarray, np.ndarray] | None = None,
                   backfits: Sequence[Any] = (), slopes: tuple[float, float] | None = None) -> None:
        """Fourier transform a completed epoch (``seg`` starts ``P`` samples before
        ``marker``), aligned to its fractional onset.

        The onset is first guessed (from the onsets measured on the past epochs, else
        the marker fit's ``onset``), then measured on the epoch itself: the sub-sample
        delay that best matches the current template (Newton on the cross-spectrum,
        as the offline step's re-alignment). The measured onsets, free of the
        markers' whole-sample quantisation, predict where the next volumes start.

        ``rephase`` (the marker fit, once quantisation has pinned it): the alias phases
        of the stored epochs are recomputed from it and the alias model restarts,
        because the phases it learnt from (least squares on a few dozen quantised
        markers, off by 0.1-0.3 sample) would otherwise bias it for ``noise_volumes``
        epochs (on the 150 s 2 kHz phantom, the whole run).

        ``pulse``: a snapshot of the pulse artifact's estimate
        (:meth:`.pulse.CausalPulse.snapshot`), taken out of the epoch's pulse rows first;
        ``backfits``: trailing-window backfits (futures of
        :meth:`.backfit.TrailingBackfit.estimate`) due now: the stored epochs they cover
        are cleaned again with them first (:meth:`_reclean`; waits for them if need be).
        """
        self._alias_slopes = slopes
        for fut in backfits:
            est = fut.result()
            if est is not None and self.sum is not None:
                self._reclean(est)
        pul = None
        if pulse is not None and self.pulse is not None and self.pulse_rows is not None:
            pul = self.pulse.expand(pulse, marker - self.P, marker - self.P + seg.shape[1])
            seg[self.pulse_rows] -= pul
        if rephase is not None and self.sum is not None:
            self._rephase(*rephase)
            if self._aline is not None:  # the checks were made for the fitted line's phases
                self._loo_checks()
            self._start_orders_check()
        P, L = self.P, self.L
        assert L is not None
        if getattr(self, "_n0", None) != L + 2 * P:
            self._spectral_setup()
        # the alias terms' phase: the sampling phase of the scanner's timing (marker
        # fit), as offline; measured onsets also move with the artifact's own delay
        frac = onset - np.floor(onset)
        guess = self._predict_measured(number)
        if guess is not None and abs(guess - onset) < 2.0:
            onset = guess
            if early:
                frac = guess - np.floor(guess)
        if early and self._aline is not None:
            frac = (self._aline[0] + self._aline[1] * number) % 1.0
        dc = seg[:, P : P + L].mean(axis=1)  # the epoch's mean (its DC), kept out of S
        seg = seg - dc[:, None]
        slope = self._drift_slope(number, marker, dc, frac)
        if slope is not None:  # ... and the drift's slope (see _drift_slope)
            seg -= slope[:, None] * (np.arange(seg.shape[1]) - (P + 0.5 * (L - 1)))[None, :]
        seg[:, :P] *= self._taper
        seg[:, -P:] *= self._taper[::-1]
        S = sfft.rfft(seg, n=self._nfft, axis=-1, workers=2)
        S *= np.exp(2j * np.pi * self._f * (onset - marker)).astype(S.dtype)  # advance to the onset
        shift = onset - marker  # the phase S was given, in samples
        if self.align and self.sum is not None and len(self.epochs) >= 2:
            from ..gradient.aas import newton_shift

            ka, kb = 1, self._k_align
            X = np.sum(S[:, ka:kb] * np.conj(self.sum[:, ka:kb]), axis=0)
            tau = float(newton_shift(X[None], 2 * np.pi * self._f[ka:kb], 1.0)[0])
            if abs(tau) < 1.0:  # the artifact starts tau later than placed: advance S by tau
                S *= np.exp(2j * np.pi * self._f * tau).astype(S.dtype)
                onset += tau
                shift += tau
        self._meas.append((number, onset))
        if len(self._meas) > 40:
            self._meas.popleft()
        S = S.astype(np.complex64, copy=False)
        Sp = None  # the pulse estimate's spectrum, placed as the epoch's (low bins only)
        sp_raw = None
        if pul is not None:
            Sp = self._pulse_bins(pul)
            sp_raw = Sp.astype(np.complex64)
            Sp *= np.exp(2j * np.pi * self._f[: Sp.shape[1]] * (onset - marker))
        if self.sum is None or self.sum.shape != S.shape:
            self.sum = np.zeros(S.shape, np.complex128)
            self.sq = np.zeros(S.shape, np.float64)
            self.sum_lf = np.zeros((S.shape[0], self._k_lf), np.complex128)
            self.sq_lf = np.zeros((S.shape[0], self._k_lf), np.float64)
            self.noise = np.zeros(S.shape, np.float64)
            self.n_noise = 0
            self.ema = np.zeros(S.shape, np.complex128)  # mean of the last noise_volumes
            self.n_ema = 0
            self._robust_reset(S.shape[0])
            k = self._alias_m.size
            self.aG = np.zeros((2, k, k), np.complex128)  # normal equations: HF, LF window
            self.ar = np.zeros((k, *S.shape), np.complex128)
            self.ad = np.zeros(S.shape, np.float64)  # ... and the mean |residual|^2 they fit
            # the epochs' means: their window (as fr_lf) and their own alias fit (_dc_terms)
            self.dc_win: deque[np.ndarray] = deque()
            self.dc_G = np.zeros((k, k), np.complex128)
            self.dc_r = np.zeros((k, S.shape[0]), np.complex128)
            self.dc_d = np.zeros(S.shape[0], np.float64)
            self.dc_e = np.zeros((2, S.shape[0]), np.float64)  # out of sample: without, with
            self.n_dc = 0
            self.n_dc_check = 0
            self.n_alias = 0
            self.err0 = np.zeros(S.shape, np.float64)
            self.err1 = np.zeros(S.shape, np.float64)
            self.n_check = 0
            self.es_long = np.zeros(S.shape, np.float64)  # the short mean's check
            self.es_short = np.zeros(S.shape, np.float64)
            self.n_short = 0
            kr = self._k_rot()
            self.es_rot = np.zeros((S.shape[0], kr), np.float64)  # the rotating template's check
            self.es_mean = np.zeros((S.shape[0], kr), np.float64)
            self.n_rot = 0
            self._rot_said = False
            self.es_tmpl = np.zeros((S.shape[0], kr), np.float64)  # ... and the template's
            self.n_tmpl = 0
            self._tmpl_low: dict[int, np.ndarray] = {}  # low bins of the templates made
        b = np.exp(-2j * np.pi * self._alias_m * frac)  # this epoch's alias basis
        n = len(self.epochs)
        rob: tuple[np.ndarray, np.ndarray] | None = None  # this epoch's blink weights
        switch: int | None = None  # alias orders chosen by the check at this epoch
        if n >= 2:
            # what the template does not predict of this epoch (its EEG and the artifact
            # the template does not follow): E|S - mean_n|^2 = noise * (1 + 1/n), the
            # offline Wiener step's noise estimate made causal (a running mean over the
            # last noise_volumes epochs, exact while fewer have been seen)
            d = S - self.sum / n
            n_lf = n
            if self._k_lf and len(self.epochs_lf) > n:
                d[:, : self._k_lf] = S[:, : self._k_lf] - self.sum_lf / len(self.epochs_lf)
                n_lf = len(self.epochs_lf)
            n_used = self._n_used(S.shape[1], n, n_lf)
            if self._alias_m.size:
                X = b - np.mean(self.fr, axis=0)  # what the window mean left of the alias
                X_lf = b - np.mean(self.fr_lf, axis=0) if self._k_lf and len(self.epochs_lf) > n else X
                c = self._alias_coef()
                d0 = d
                if c is not None and early and self._measure_phases() and self._aline is not None:
                    phi = self._measure_alias_phase(d0, c)
                    if phi is not None:
                        self._aph.append((number, phi))
                        if len(self._aph) > self._aph_keep:
                            self._aph.popleft()
                if c is not None:  # the noise is what the alias model does not explain
                    d = d - self._alias_terms(c, X, X_lf)
                    # out-of-sample check (c was fitted before this epoch): the alias
                    # terms are used only where they predict new epochs better
                    self.n_check += 1
                    bc = 1.0 / min(self.n_check, self.noise_volumes)
                    self.err0 += bc * (d0.real**2 + d0.imag**2 - self.err0)
                    self.err1 += bc * (d.real**2 + d.imag**2 - self.err1)
                    self._part_checks(d0, X, X_lf, bc)
                if self._measure_phases():
                    nums = list(self._fr_nums)
                    n_lf_win = len(self.fr_lf) if self._k_lf and len(self.epochs_lf) > n else len(self.fr)
                    self._ep_res.append((number, d0.astype(np.complex64),
                                         np.array(nums[len(nums) - len(self.fr):], float),
                                         np.array(nums[len(nums) - n_lf_win:], float)))
                    if len(self._ep_res) > self.noise_volumes:
                        self._ep_res.popleft()
                self.n_alias += 1
                ba = 1.0 / min(self.n_alias, self.noise_volumes)
                for j, x in enumerate((X, X_lf)):
                    self.aG[j] += ba * (np.outer(x.conj(), x) - self.aG[j])
                xk = np.tile(X.conj()[:, None], (1, S.shape[1]))
                xk[:, : self._k_lf] = X_lf.conj()[:, None]
                self.ar += ba * (xk[:, None, :] * d0[None] - self.ar)
                if self._orders_check is not None:
                    win = self._fracs(self.fr)
                    chosen = self._orders_check.add(
                        d0, frac, win, self._fracs(self.fr_lf) if X_lf is not X else win)
                    if chosen is not None:
                        switch = chosen
                self.ad += ba * (d0.real**2 + d0.imag**2 - self.ad)
                if self._alias_dc and self.dc_win:
                    self._dc_update(dc, b, number)
                if self._P is not None:
                    for q, Q in enumerate(self._parts_Q()):
                        rq = Q @ d0[:, : self._k_sp]
                        self.adp[q] += ba * (rq.real**2 + rq.imag**2 - self.adp[q])
            if self._short_on and n > self._short + 1:
                # the short mean as it was two volumes back (a template is made two
                # volumes ahead: checked one ahead, the short mean looked better than it
                # was; 1 kHz point sampling after volume 30, 17.4 -> 23.7 uV)
                ds = S - sum(list(self.epochs)[-self._short - 1 : -1]) / self._short
                if self._short_sub and self._P is not None:  # as the template uses it
                    ds = d + self._P @ (ds - d)
                self.n_short += 1
                bs = 1.0 / min(self.n_short, self._short_volumes)
                self.es_long += bs * (d.real**2 + d.imag**2 - self.es_long)
                self.es_short += bs * (ds.real**2 + ds.imag**2 - self.es_short)
            if self._rot_on and n > self._rot_min:
                self._rot_check(S, number)
            rob = self._robust_weight(d)
            if Sp is not None:
                # the Wiener rule's noise as the epochs were recorded, pulse and all: the
                # pass changes what is averaged, not how hard the template is shrunk (with
                # the pulse out of the noise too, the low bins' gains rose and kept more of
                # the EEG the templates average in: 90 s phantoms, 65 bpm, even with the
                # true pulse taken out, 0.0265 -> 0.0298 at TR 2 s and 0.030 -> 0.039 at 3 s)
                d = d.copy()
                d[self.pulse_rows, : Sp.shape[1]] += Sp
            e = (d.real**2 + d.imag**2) / (1.0 + 1.0 / n_used)
            self.n_noise += 1
            beta = 1.0 / min(self.n_noise, self.noise_volumes)
            self.noise += beta * (e - self.noise)
            if self._P is not None:  # the same residual, inside and outside the subspace
                ks = self._k_sp
                d_in = self._P @ d[:, :ks]
                d_out = d[:, :ks] - d_in
                w = 1.0 + 1.0 / n_used[:ks]
                self.n_part += 1
                bp = 1.0 / min(self.n_part, self.noise_volumes)
                self.noise_in += bp * ((d_in.real**2 + d_in.imag**2) / w - self.noise_in)
                self.noise_out += bp * ((d_out.real**2 + d_out.imag**2) / w - self.noise_out)
        self.fr.append(b)
        self.fr_lf.append(b)
        self._fr_nums.append(number)
        if self._alias_m.size:
            self.dc_win.append(dc)
        if len(self.fr) > self.window:
            self.fr.popleft()
        if len(self.fr_lf) > max(self.window_lf, self.window):
            self.fr_lf.popleft()
            self._fr_nums.popleft()
            if self.dc_win:
                self.dc_win.popleft()
        self.n_ema += 1
        self.ema += (S - self.ema) / min(self.n_ema, self.noise_volumes)
        if rob is not None:
            self._robust_update(S, *rob)
        if self.pulse_rows is not None:
            self._ep_meta.append(_EpochPulse(marker, shift, sp_raw, False))
            if len(self._ep_meta) > max(self.window_lf, self.window):
                self._ep_meta.popleft()
        self.epochs.append(S)
        self.sum += S
        self.sq += np.abs(S) ** 2
        if len(self.epochs) > self.window:
            old = self.epochs.popleft()
            self.sum -= old
            self.sq -= np.abs(old) ** 2
        if self._k_lf:
            lf = S[:, : self._k_lf].copy()
            self.epochs_lf.append(lf)
            self.sum_lf += lf
            self.sq_lf += np.abs(lf) ** 2
            if len(self.epochs_lf) > self.window_lf:
                old = self.epochs_lf.popleft()
                self.sum_lf -= old
                self.sq_lf -= np.abs(old) ** 2
        if self._sp_todo and len(self.epochs) >= self._spatial_min and self._k_lf:
            self._set_subspace()
        if switch is not None:
            self._orders_chosen(switch, number)
        if early and self._alias_phase_fit and self._alias_m.size and self._folds():
            line = self._measured_alias_line() if self._measure_phases() else None
            if line is None:
                line = self._fit_alias_line()
            start = False
            if (line is None and (self._aline is None or self._aline_start) and not self._aph
                    and self._measure_phases() and self._aph_start):
                line = self._start_alias_line()  # (renewed as the markers' interval narrows)
                start = line is not None
            if line is not None:
                self._aline_start = start
                self._aline = line
                self._rephase(*line)
                self._loo_checks()

    def _drift_slope(self, number: int, marker: int, dc: np.ndarray, frac: float) -> np.ndarray | None:
        """The electrodes' drift over this epoch (per sample and channel; worker side):
        the slope of a line through the means of the last ``_drift_epochs`` epochs, this
        one's included, less what the alias fit of the means predicts of each; None for
        a run's first epoch.

        Why: the stored epochs have their own means taken out, but an electrode drifting
        steadily (a DC-coupled amplifier, tens of uV a second) gives every epoch the same
        slope, which the templates then held, and the output stepped by the drift over a
        TR at every volume boundary (a random sweep's run with DC ramps of up to 5 mV a
        minute, ``bench_gradient_sweep.py --faults``: 22.5 uV 1-40 Hz after volume 10,
        3.3 with this, 2.3 without the ramps). The artifact's own slope, the same in
        every volume and resetting at each, does not carry from one epoch's mean to the
        next and stays in the epochs. Offline does the same with the line through all
        the epochs' means (``gradient.aas._Plan._remove_drift``). Over several epochs,
        not from the last two: where the sampling phase steps a rational fraction of a
        sample a volume the artifact's own mean alternates from volume to volume by more
        than the alias fit of the means predicts early on, and the step between two
        means took that for a drift (multiband point sampling without an anti-alias
        filter, after volume 30: 12.8 -> 14.3 uV; over six, 12.8).
        """
        dev = dc
        if self._alias_m.size and self.sum is not None:  # (a new run's first epoch: none yet)
            p = self._dc_terms(np.exp(-2j * np.pi * self._alias_m * frac), number)
            if p is not None:  # the artifact's own mean, where it changes with the phase
                dev = dc - p
        if self._dc_last and marker <= self._dc_last[-1][1]:
            self._dc_last.clear()
        self._dc_last.append((number, marker, dev))
        if len(self._dc_last) > self._drift_epochs:
            self._dc_last.popleft()
        if not self._drift_line or len(self._dc_last) < self._drift_min:
            return None
        x = np.array([q[1] for q in self._dc_last], float)
        x -= x.mean()
        Y = np.stack([q[2] for q in self._dc_last])
        return (x @ Y) / float(x @ x)

    def _top_share(self) -> float:
        """The window mean's share of energy above 3/8 of the rate (worker side; 0 before
        the first epoch): how much of the artifact reaches the top of the band."""
        if self.sum is None or not len(self.epochs):
            return 0.0
        p = self.sum.real**2 + self.sum.imag**2
        return float(p[:, self._f > 0.375].sum() / max(float(p.sum()), 1e-300))

    def _folds(self) -> bool:
        """Whether the alias line is fitted (worker side): always below
        ``_alias_line_below_hz``; from there up only when the artifact folds, i.e. reaches
        the top of the band (sampled without an anti-alias filter that tames it there,
        so that what folds back changes with the sampling phase): the window mean's
        energy above 3/8 of the rate (:meth:`_top_share`) is at least
        ``_alias_top_share`` of its total.

        The shares on the variant table's 5 kHz phantoms (60 s x 8 ch, after 3 to 20
        volumes): anti-alias filter before sampling 2.7e-5 - 3.7e-5 (multiband alike),
        250 Hz amplifier 1.4e-6 - 2.1e-6, point sampling 5.4e-3 - 1.1e-2; the 150 s
        drifting phantoms: 5 kHz 4e-5, 2.5 kHz 7e-4, 2 kHz 0.3. With the point-sampled
        artifact the fit took what was left of it (120 s, no EEG) from 2.0 to 0.3 - 0.4 uV
        per volume (offline 0.2), and the "combined" row from 3.48 to 3.24 uV after
        volume 10 (``bench_online_variants.py``). Not always on: it costs the template
        thread up to ~0.35 s per volume at 64 ch, and with the filtered artifact it
        changed nothing.
        """
        return self.sfreq < self._alias_line_below_hz or self._top_share() >= self._alias_top_share

    def _pulse_kp(self) -> int:
        """Bins of a pulse estimate's spectrum kept (up to ``_pulse_band_hz``)."""
        return min(int(np.ceil(self._pulse_band_hz * self._nfft / self.sfreq)) + 1, self._nfft // 2 + 1)

    def _pulse_bins(self, pul: np.ndarray) -> np.ndarray:
        """The low bins of a pulse estimate over an epoch (rows x L + 2P), made as the
        epoch's own spectrum is (its mean over the volume out, the tapers), before the
        epoch's phase shift."""
        P, L = self.P, self.L
        pul = pul - pul[:, P : P + L].mean(axis=1, keepdims=True)
        pul[:, :P] *= self._taper
        pul[:, -P:] *= self._taper[::-1]
        return sfft.rfft(pul, n=self._nfft, axis=-1, workers=2)[:, : self._pulse_kp()]

    def _reclean(self, est: tuple[int, np.ndarray]) -> None:
        """Clean the stored epochs' pulse rows again with a trailing backfit's estimate
        ``est`` (worker side), in the templates' sums too: those it covers that were
        cleaned with the causal R-locked mean (or with nothing, in the first beats).

        Why: those keep the part of a locked heart the templates took, and the low band's
        templates hold them for ``window_lf`` volumes. The epochs are stored with the
        causal estimate as soon as they are complete and cleaned again when a backfit
        covering them is done (one every ~10 s, in its own thread): cleaning only the
        epochs stored after a backfit, the error fell only as the earlier ones left the
        templates (90 s phantom, 60 bpm at TR 2 s: 0.48 at 40-50 s to 0.16 at 80-90 s).
        Each epoch's spectrum gets the difference of the two estimates, placed as its own
        was (same mean, tapers and phase), on the bins the estimate has.
        """
        assert self.backfit is not None and self.pulse_rows is not None and self.L is not None
        P, L = self.P, self.L
        rows = self.pulse_rows
        kp = self._pulse_kp()
        n_hf, n_lf = len(self.epochs), len(self.epochs_lf)
        kl = min(kp, self._k_lf)
        for i in range(1, len(self._ep_meta) + 1):
            m = self._ep_meta[-i]
            if m.backfitted:
                continue
            pul = self.backfit.expand(est, m.marker - P, m.marker + L + P)
            if pul is None:
                continue  # outside the backfit's window
            new = self._pulse_bins(pul)
            d = (-new if m.spec is None else m.spec - new) * np.exp(2j * np.pi * self._f[:kp] * m.shift)
            d = d.astype(np.complex64)
            if i <= n_hf:
                e = self.epochs[-i]
                old = e[rows, :kp]
                upd = old + d
                self.sum[rows, :kp] += d
                self.sq[rows, :kp] += np.abs(upd) ** 2 - np.abs(old) ** 2
                e[rows, :kp] = upd
            if kl and i <= n_lf:
                e = self.epochs_lf[-i]
                old = e[rows, :kl]
                upd = old + d[:, :kl]
                self.sum_lf[rows, :kl] += d[:, :kl]
                self.sq_lf[rows, :kl] += np.abs(upd) ** 2 - np.abs(old) ** 2
                e[rows, :kl] = upd
            m.spec, m.backfitted = new.astype(np.complex64), True
            if not self.n_recleaned:
                self.messages.append("pulse artifact: the offline backfitting on the last "
                                     f"{self.backfit.window * self.backfit.q / self.sfreq:.0f} s now cleans "
                                     "the stored volumes (a heart that repeats with the volumes is separated)")
            self.n_recleaned += 1

    def _measure_phases(self) -> bool:
        """Whether each epoch's alias phase is measured (:meth:`_measure_alias_phase`):
        only where the onsets are not measured on the artifact (``align`` off, by default
        below 2 kHz)."""
        return self._alias_phase_measure and not self.align and self.sfreq < self._alias_line_below_hz

    def _measure_alias_phase(self, d: np.ndarray, c: np.ndarray) -> float | None:
        """The sampling phase (0-1) at which the alias model ``c`` (fitted on the past
        epochs) best predicts what the window mean leaves of a new epoch, ``d`` (worker
        side): weighted least squares over a grid of phases, above ``lf_cutoff_hz``.
        None when no phase explains it clearly (the best leaves more than
        ``_aph_quality`` of the grid's mean).

        Why: at 1 kHz the slope of the alias phases must be right to ~0.001 sample per
        volume (on the variant table's 1 kHz row, true phases 7.6 uV after volume 30, a
        slope 0.002 off 20 uV), and before the markers pin the clock neither they nor the
        fit over the window's epochs (:meth:`_fit_alias_line`, biased towards steeper
        slopes by the artifact's slow changes) get there. Measured per epoch against the
        model, the phases are right to ~0.01 and their line sharpens with every volume;
        the model is refitted with them (:meth:`_rephase`), so the two converge together.
        """
        ks = self._k_cut
        m = self._alias_m
        D = d[:, ks:] + np.tensordot(np.mean(self.fr, axis=0), c[..., ks:], axes=(0, 0))
        C = c[..., ks:]
        w = 1.0 / np.maximum(self.noise[:, ks:], 1e-300)
        A = np.einsum("kcb,cb->k", C.conj(), w * D)  # <c_m, D>_w
        G = np.einsum("kcb,jcb->kj", C.conj(), w[None] * C)  # <c_k, c_j>_w
        if not np.all(np.isfinite(A)) or np.real(np.trace(G)) <= 0:
            return None
        grid = np.arange(self._aph_grid) / self._aph_grid
        E = np.exp(-2j * np.pi * np.outer(grid, m))  # (grid, k)
        # |D - sum_m e_m c_m|^2_w without its constant |D|^2
        cost = -2.0 * np.real(E.conj() @ A) + np.real(np.einsum("gk,kj,gj->g", E.conj(), G, E))
        dd = float(np.sum(w * (D.real**2 + D.imag**2)))
        full = dd + cost
        i = int(np.argmin(full))
        if not full[i] <= self._aph_quality * float(np.mean(full)):
            return None
        y0, y1, y2 = full[i - 1], full[i], full[(i + 1) % grid.size]
        den = y0 - 2.0 * y1 + y2
        step = 1.0 / grid.size
        off = 0.5 * (y0 - y2) / den * step if den > 0 else 0.0
        return float((grid[i] + off) % 1.0)

    def _start_alias_line(self) -> tuple[float, float] | None:
        """A first line for the measured phases when the fit over the window finds none
        (worker side): the steepest slope the markers allow, once they have changed
        level (the interval no longer holds a whole sample per volume) and the epochs
        would allow a fit of two orders; the measured phases then correct it.

        Why the steepest: slow phases identify no alias model (over a 20-volume window
        at 0.02 sample per volume the fit's condition stays above 1e3 until ~40 epochs),
        and the mirror slope is the same model. Synthetic 1 kHz runs, 1-40 Hz after
        volume 30 (no start line -> this): 20 ppm seed 3 40.0 -> 10.6 uV, 16 ppm 22.2 ->
        21.3, 12 / 25 / 30 / 50 ppm unchanged, 35 ppm 15.1 -> 15.4 (volumes 10-30 worse),
        5 ppm 21.9 -> 26.5 (worse); the interval's middle instead cost 12 ppm 10.9 ->
        26.8 and before the first level change (constant phases) it did nothing.
        """
        iv = self._alias_slopes
        if iv is None or len(self.epochs) < 4 * self._alias_line_min or len(self._meas) < 3:
            return None
        k = float(np.round(0.5 * (iv[0] + iv[1])))
        if iv[0] < k < iv[1]:
            return None  # no level change yet: any slope from 0 up
        b = iv[1] if abs(iv[1] - k) >= abs(iv[0] - k) else iv[0]
        j, o = self._meas_arrays()
        a0 = float(np.mean(o - b * (j - j[-1])))
        return a0 - b * float(j[-1]), b

    def _measured_alias_line(self) -> tuple[float, float] | None:
        """The line ``a + b * number`` through the measured alias phases (worker side;
        None with fewer than ``_aph_min``): unwrapped along their mean step, a
        least-squares line; the slope's whole samples from the measured onsets' (only
        the fraction sets the phases)."""
        if len(self._aph) < self._aph_min or len(self._meas) < 3:
            return None
        num = np.array([q[0] for q in self._aph], float)
        phi = np.array([q[1] for q in self._aph], float)
        dn = np.diff(num)
        z = np.exp(2j * np.pi * np.diff(phi))[dn == 1]
        if z.size < self._aph_min // 2:
            return None
        inc = float(np.angle(np.mean(z)) / (2 * np.pi))
        u = phi.copy()
        for i in range(1, u.size):  # unwrapped against the mean step
            pred = u[i - 1] + inc * dn[i - 1]
            u[i] = pred + ((phi[i] - pred + 0.5) % 1.0 - 0.5)
        s, a = np.polyfit(num - num[-1], u, 1)
        j, o = self._meas_arrays()
        b0 = float(np.polyfit(j - j[-1], o, 1)[0])
        b = float(np.round(b0 - s) + s)
        iv = self._alias_slopes
        # (with orders +-m the model at slope b and at its mirror 2 round(b) - b are the
        # same model, the coefficients swapped: the track follows whichever it holds)
        if iv is not None and not any(iv[0] <= x <= iv[1] for x in (b, 2.0 * np.round(b) - b)):
            return None  # no slope the markers allow
        return float(a - b * num[-1]), b

    def _fit_alias_line(self) -> tuple[float, float] | None:
        """The line ``a + b * number`` of alias phases that the stored epochs' alias part
        fits best (worker side; None with too few epochs or no measured onsets).

        Why: before the markers' quantisation pins the clock (two level changes, ~20
        volumes at 20 ppm and 2.5 kHz) the alias phases come from the measured onsets,
        whose slope follows the artifact's own slowly changing timing and shape (on the
        2.5 kHz phantom 0.006-0.013 sample per volume off the sampling clock's, i.e. a
        tenth of a cycle over a window at 20 ppm), which blurs the alias fit. The alias
        terms carry the sampling phase themselves: the slope (around the measured one,
        ``_alias_slope_range``; over the whole interval the markers allow when it is
        known, its highest interior peak) whose basis explains most of the epochs'
        spread about their mean above ``lf_cutoff_hz`` is taken. Only the slope matters
        (a constant phase is absorbed by the coefficients). One n x n Gram matrix of the
        epochs, then each candidate is an n x k product. The score is biased towards
        steeper slopes when the window spans under a phase cycle (1 kHz, 20 ppm: 0.002
        sample per volume off); without alignment each epoch's measured phase then takes
        over (:meth:`_measure_alias_phase`).
        """
        n = len(self.epochs)
        # the slope is common to all orders: from as many epochs as two orders need
        # (_alias_line_min per coefficient), fitted with as many orders as they allow
        # (with four, eight coefficients, a 20-volume window never allowed a fit at all)
        if n < 2 * self._alias_line_min * min(self.alias_orders, 2) or len(self._meas) < 3:
            return None
        top = min(self.alias_orders, n // (2 * self._alias_line_min))
        ms = self._alias_m[np.abs(self._alias_m) <= top]
        nums = np.array(list(self._fr_nums)[-n:], float)
        # nuisance: each bin's mean and linear trend over the epochs (a drifting artifact;
        # without it, slow bases at a fraction of the slope fit the drift instead)
        cols = [np.ones(n), nums - nums.mean()] if self._alias_line_detrend else [np.ones(n)]
        Q = np.linalg.qr(np.stack(cols, axis=1))[0]
        E = np.stack([e[:, self._k_cut :] for e in self.epochs])
        noise = self.noise[:, self._k_cut :] if self._alias_line_whiten and self.n_noise else None
        if E.shape[1] > self._alias_line_channels:
            power = np.sum(E.real**2 + E.imag**2, axis=(0, 2))
            if noise is not None:
                power = power / np.maximum(np.sum(noise, axis=1), 1e-300)
            keep = np.sort(np.argsort(power)[-self._alias_line_channels :])
            E = E[:, keep]
            noise = noise[keep] if noise is not None else None
        if noise is not None:
            E = E / np.sqrt(np.maximum(noise, 1e-300))[None]
        E = E.reshape(n, -1)
        E = E - Q @ (Q.T @ E)
        N = (E @ E.conj().T).astype(np.complex128)  # N[v, w] = sum E_v conj(E_w)
        j, o = self._meas_arrays()
        b0, a0 = np.polyfit(j - j[-1], o, 1)
        r = self._alias_slope_range
        cand = b0 + np.linspace(-r, r, 161)
        iv = self._alias_slopes
        whole = False
        if self._alias_line_markers and iv is not None:
            # the slopes the markers allow hold the true one (each marker is its onset
            # rounded): searched whole, since the measured onsets' slope can be far off
            # at low rates (1 kHz, 20 ppm: their alignment ran away by -0.19 sample per
            # volume, pulled by the aliased part, and b0 +- 0.02 never held the truth)
            lo, hi = iv
            lo, hi = max(lo, b0 - self._alias_slope_max), min(hi, b0 + self._alias_slope_max)
            if hi > lo:
                cand = np.linspace(lo, hi, int(np.clip(np.ceil((hi - lo) / 2.5e-4), 161, 1601)))
                whole = True
        scores = np.empty(cand.size)
        for i, b in enumerate(cand):
            B = np.exp(-2j * np.pi * np.outer((b * (nums - j[-1])) % 1.0, ms))
            X = B - Q @ (Q.T @ B)
            G = X.conj().T @ X
            if np.linalg.cond(G) > self._alias_cond:
                scores[i] = -np.inf
                continue
            # explained energy: sum over bins of r^H G^-1 r, r = X^H e -> tr(G^-1 X^H N X)
            R = X.conj().T @ N @ X
            scores[i] = float(np.real(np.trace(np.linalg.solve(G, R))))
        # the interior local maximum nearest the measured slope: a drifting artifact
        # keeps raising the score towards slopes far off (a slow basis fits the drift),
        # and with few epochs the curve is flat (no maximum: no line yet)
        inner = np.flatnonzero((scores[1:-1] >= scores[:-2]) & (scores[1:-1] > scores[2:])
                               & np.isfinite(scores[:-2]) & np.isfinite(scores[2:])) + 1
        if inner.size == 0:
            return None
        # (over the markers' interval: its highest; the measured slope may be far off)
        i = int(inner[np.argmax(scores[inner])] if whole else inner[np.argmin(np.abs(cand[inner] - b0))])
        # ... and only a clear one: the explained energy half the search range away on
        # either side at least _alias_slope_peak lower (on the 150 s 2.5 kHz phantom the
        # broad curves of 12-13 epochs peaked 0.004-0.011 sample per volume off, 0.3-0.8 %
        # proud; from 14 epochs on the peak stood 2.7-15 % proud and within 0.0012)
        # (the same distance in slope over a markers' interval, however wide)
        h = max(1, int(round(0.5 * self._alias_slope_range / (cand[1] - cand[0]))))
        side = max(scores[max(i - h, 0)], scores[min(i + h, cand.size - 1)])
        if not side <= (1.0 - self._alias_slope_peak) * scores[i]:
            return None
        b = float(cand[i])
        y0, y1, y2 = scores[i - 1 : i + 2]
        den = y0 - 2 * y1 + y2
        if den < 0:  # parabolic refinement between grid points
            b += 0.5 * (y0 - y2) / den * (cand[1] - cand[0])
        return float(a0 - b * j[-1]), b

    def _loo_checks(self) -> None:
        """The out-of-sample checks (``err0``, ``err1``, ``n_check``) recomputed on the
        stored epochs with their current alias phases, leave-one-out (worker side).

        Why: the running checks judge the alias model as it was when each epoch came;
        after the phases change (:meth:`_fit_alias_line`) those verdicts are about
        another model, and the ones made with the measured onsets' phases kept the
        alias terms out for ~5 volumes after the phases were right (2.5 kHz phantom).
        Leave-one-out residuals of the window mean alone and of the mean plus the alias
        terms, from the hat matrix of the regression (no refit per epoch); the alias
        coefficients unshrunk, so the check is if anything stricter than the model used.
        """
        if getattr(self, "err0", None) is None or len(self.epochs) < self._alias_min * self._alias_m.size:
            return
        ks = self._k_lf
        # (epochs, their bases, bins): the window above lf_cutoff, the long window below
        # (epochs_lf holds those bins only)
        bands = [([e[:, ks:] for e in self.epochs], self.fr, slice(ks, None))]
        if ks:
            bands.append((list(self.epochs_lf), self.fr_lf, slice(0, ks)))
        for eps, fr, sl in bands:
            n = len(eps)
            E = np.stack(eps)
            B = np.stack(list(fr)[len(fr) - n :])
            A = np.concatenate([np.ones((n, 1)), B], axis=1)
            if n <= A.shape[1] or np.linalg.cond(A) > self._alias_cond:
                continue  # (the running checks stay for these bins)
            H = A @ np.linalg.pinv(A)
            h = np.real(np.diag(H))
            if np.any(h > 1.0 - 1e-6):
                continue  # an epoch the fit passes through: no leave-one-out residual
            r1 = np.tensordot(np.eye(n) - H, E, axes=(1, 0)) / (1.0 - h)[:, None, None]
            r0 = (E - E.mean(axis=0)) * (n / (n - 1.0))
            self.err0[:, sl] = np.mean(r0.real**2 + r0.imag**2, axis=0)
            self.err1[:, sl] = np.mean(r1.real**2 + r1.imag**2, axis=0)
            if self._perr is not None:  # the same inside and outside the subspace
                # the split's bins in this band (E's first column is the band's first bin)
                a = sl.start or 0
                b = self._k_sp if sl.stop is None else min(sl.stop, self._k_sp)
                for q, Q in enumerate(self._parts_Q() if b > a else ()):
                    for j, r in enumerate((r0, r1)):
                        rq = np.einsum("ij,njb->nib", Q, r[:, :, : b - a])
                        self._perr[q, j][:, a:b] = np.mean(rq.real**2 + rq.imag**2, axis=0)
        self.n_check = max(self.n_check, len(self.epochs))

    def _rephase(self, a: float, b: float) -> None:
        """Alias phases of the stored epochs from the line ``a + b * number``; the alias
        model's running sums restart (worker side)."""
        if not self._alias_m.size or not self._fr_nums:
            return
        bases = [np.exp(-2j * np.pi * self._alias_m * ((a + b * q) % 1.0)) for q in self._fr_nums]
        self.fr_lf = deque(bases)
        self.fr = deque(bases[len(bases) - len(self.fr):])
        if getattr(self, "aG", None) is None:
            return
        if self._rephase_checks:
            self.err0[:] = 0.0
            self.err1[:] = 0.0
            self.n_check = 0
            if self._perr is not None:
                self._perr[:] = 0.0
        if not self._rephase_batch or len(self.epochs) < 3:
            self.aG[:] = 0.0
            self.ar[:] = 0.0
            self.ad[:] = 0.0
            self.n_alias = 0
            self._dc_refit(batch=False)
            return
        # refit the alias model at once on the stored epochs with their new phases (the
        # in-sample residual about the window's mean, against the running fit's
        # out-of-sample one: (n - 1) / n of it), so it need not be learnt again
        self._dc_refit()
        if self._ep_res:
            self._replay_alias(a, b)
            return
        self._refit_stored()

    def _refit_stored(self) -> None:
        """The alias fit's sums (``aG``, ``ar``, ``ad``, ``adp``) from the stored epochs
        and their current bases, in sample about each window's mean (worker side)."""
        ks = self._k_lf
        for j, (eps, fr) in enumerate(((self.epochs, self.fr), (self.epochs_lf, self.fr_lf))):
            if j == 1 and not ks:
                self.aG[1] = self.aG[0]
                continue
            E = np.stack(list(eps))
            B = np.stack(list(fr)[len(fr) - len(eps):])
            X = B - B.mean(axis=0)
            self.aG[j] = np.einsum("ni,nj->ij", X.conj(), X) / len(eps)
            E = E - E.mean(axis=0)
            r = np.einsum("ni,ncb->icb", X.conj(), E) / len(eps)
            e2 = np.mean(E.real**2 + E.imag**2, axis=0)
            if j == 0:
                self.ar[..., ks:] = r[..., ks:]
                self.ad[..., ks:] = e2[..., ks:]
            else:
                self.ar[..., :ks] = r
                self.ad[..., :ks] = e2
            if self._P is not None:
                kp = self._k_sp
                sl = slice(min(ks, kp), kp) if j == 0 else slice(0, min(ks, kp))
                for q, Q in enumerate(self._parts_Q()):
                    rq = np.einsum("ij,njb->nib", Q, E[..., sl])
                    self.adp[q][:, sl] = np.mean(rq.real**2 + rq.imag**2, axis=0)
        self.n_alias = len(self.epochs)

    def _replay_alias(self, a: float, b: float) -> None:
        """The running alias fit (``aG``, ``ar``) as it would stand had the epochs it
        holds been given the phases of the line ``a + b * number`` (worker side; with the
        phases measured, :meth:`_measure_phases`).

        Why: the batch refit on the stored epochs (:meth:`_rephase`) regresses each on
        the mean of the same 20-volume window, under a cycle of phase at 1 kHz and 20
        ppm; with the line refined at every volume it kept restarting the model from
        that poorer fit (variant table's 1 kHz row: 19-20 uV after volume 30 with the
        phases right to 0.0003 sample per volume, against 7-8 with the true phases from
        the start and the running fit). Each stored residual (what its window means left
        of the epoch) and the volumes of those windows give the running fit exactly.
        """
        m = self._alias_m
        ks = self._k_lf

        def basis(q: np.ndarray) -> np.ndarray:
            return np.exp(-2j * np.pi * np.outer((a + b * q) % 1.0, m))

        ep = list(self._ep_res)
        n = len(ep)
        x = basis(np.array([e[0] for e in ep], float))
        X = x - np.stack([basis(e[2]).mean(axis=0) for e in ep])
        X_lf = x - np.stack([basis(e[3]).mean(axis=0) for e in ep]) if ks else X
        D = np.stack([e[1] for e in ep])  # (n, channels, bins)
        self.aG[0] = X.conj().T @ X / n
        self.aG[1] = X_lf.conj().T @ X_lf / n
        self.ar[..., ks:] = _mix(X.conj().T, D[..., ks:]) / n
        self.ad[:] = np.mean(D.real**2 + D.imag**2, axis=0)
        if self._P is not None:
            for q, Q in enumerate(self._parts_Q()):
                rq = np.einsum("ij,njb->nib", Q, D[..., : self._k_sp])
                self.adp[q] = np.mean(rq.real**2 + rq.imag**2, axis=0)
        if ks:
            self.ar[..., :ks] = _mix(X_lf.conj().T, D[..., :ks]) / n
        self.n_alias = n

    @staticmethod
    def _fracs(bases: Any) -> np.ndarray:
        """The sub-sample phases of stored alias bases (their first order's angle)."""
        return np.array([(-np.angle(b[0]) / (2 * np.pi)) % 1.0 for b in bases], float)

    def _start_orders_check(self) -> None:
        """Start the alias orders' check on the stored epochs (worker side, at the
        rephase: the phases are those of the pinned clock from here on)."""
        if not self._orders_auto or self.orders_info or self._orders_check is not None or not self.epochs:
            return
        from .alias_orders import OrdersCheck

        kb = min(int(np.searchsorted(self._f * self.sfreq, self._orders_fmax_hz)), self.sum.shape[1])
        self._orders_check = OrdersCheck(
            self.alias_orders, self._orders_try, self._k_lf, kb, volumes=self._orders_volumes,
            gain=self._orders_gain, noise_volumes=self.noise_volumes, alias_min=self._alias_min,
            cond=self._alias_cond, shrink=self._alias_shrink, null_tol=self._alias_null_tol)
        E = np.stack(list(self.epochs))[..., :kb]
        kl = min(self._k_lf, kb)
        E_lf = np.stack(list(self.epochs_lf))[..., :kl] if kl else E[..., :0]
        F_lf = self._fracs(list(self.fr_lf)[-len(self.epochs_lf):]) if kl else np.zeros(0)
        self._orders_check.start(E, self._fracs(list(self.fr)[-len(self.epochs):]), E_lf, F_lf)

    def _orders_chosen(self, orders: int, number: int) -> None:
        """The check is done (worker side, after volume ``number`` joined the windows):
        record it, and refit everything alias with ``orders`` when they are new."""
        chk = self._orders_check
        self._orders_check = None
        self.orders_info = {**chk.info, "at_volume": int(number)}
        if orders == self.alias_orders:
            return
        ratio = chk.info["candidates"][str(orders)]
        self._say(f"alias orders raised from {self.alias_orders} to {orders} at volume {number}: out of sample, "
                  f"below {self._orders_fmax_hz:.0f} Hz, their templates left {ratio:.2f} of the error "
                  "(the artifact was sampled without a filter that tames it above Nyquist)")
        fr_all = self._fracs(self.fr_lf)
        self.alias_orders = int(orders)
        m = np.arange(1, orders + 1)
        self._alias_m = np.concatenate([m, -m]).astype(float)
        bases = [np.exp(-2j * np.pi * self._alias_m * f) for f in fr_all]
        self.fr_lf = deque(bases)
        self.fr = deque(bases[len(bases) - len(self.fr):])
        k, C = self._alias_m.size, self.sum.shape[0]
        self.aG = np.zeros((2, k, k), np.complex128)
        self.ar = np.zeros((k, *self.sum.shape), np.complex128)
        self.dc_G = np.zeros((k, k), np.complex128)
        self.dc_r = np.zeros((k, C), np.complex128)
        self.err0[:] = 0.0
        self.err1[:] = 0.0
        self.n_check = 0
        # the templates change with the orders: the stop check (gate_stop) waits while
        # they settle, as after a false stop (on an 80 s multiband recording without a
        # filter it took volume 37, six after the switch, for the scanner stopping at the
        # 44 ms gap between slice groups where the data are quiet; one volume left
        # uncorrected). Written here, read on the stream side: one int, set once.
        self._stop_quiet = max(self._stop_quiet, number + self.window)
        self.dc_e[:] = 0.0
        self.n_dc_check = 0
        if self._perr is not None:
            self._perr[:] = 0.0
        self._ep_res.clear()
        self._refit_stored()
        self._dc_refit()
        # the residual noise as the new fit leaves the stored epochs: the running one
        # holds what the old orders left (the alternating fifth order, 40 uV on the
        # multiband row without a filter), and the Wiener gain and the terms' shrinkage
        # by it kept the new terms from working (1-40 Hz after volume 30 stuck at 20 uV)
        # (below the band the check scored only: above 40 Hz twelve coefficients fitted
        # on the 20 stored epochs leave eight degrees of freedom, too few to estimate it;
        # that row's numbers are the same either way)
        own = self._alias_coef(raw=True)
        kb = chk.kb
        if own is not None:
            self.noise[:, :kb] = self._fit_noise(own[0], self.ad, own[1])[:, :kb]
            if self._P is not None:
                ks = min(self._k_sp, kb)
                for q, Q in enumerate(self._parts_Q()):
                    cq = np.einsum("ij,mjb->mib", Q, own[0][..., : self._k_sp])
                    fit = self._fit_noise(cq, self.adp[q], own[1])
                    (self.noise_in if q == 0 else self.noise_out)[:, :ks] = fit[:, :ks]

    def _dc_window_line(self, Y: np.ndarray, number: int | None = None) -> np.ndarray:
        """The least-squares line through the window's rows ``Y`` (the last ``len(Y)``
        epochs, oldest first), at volume ``number``, or at each row's own when None.

        Why a line and not the window's mean: the alias fit of the epochs' means is fitted
        to each mean's departure from the window's, and an electrode drifting steadily
        gives every epoch the same departure (the drift over half the window), which a
        slowly travelling phase, whose basis departs alike, took in; its prediction then
        stepped the output by the drift over a TR at every volume boundary (the random
        sweep's DC ramps, 5 kHz, multiband 3, TR 0.98 s, 3 ppm: 19.0 uV 1-40 Hz after
        volume 10, 2.7 without the ramps)."""
        nums = np.asarray(list(self._fr_nums)[-len(Y):], float)
        mean = Y.mean(axis=0)
        if len(nums) < 3 or not self._dc_detrend:
            return mean if number is not None else np.broadcast_to(mean, Y.shape)
        t = nums - nums.mean()
        slope = np.tensordot(t, Y, axes=(0, 0)) / float(t @ t)
        if number is not None:
            return mean + slope * (float(number) - nums.mean())
        return mean[None] + t.reshape((-1,) + (1,) * (Y.ndim - 1)) * slope[None]

    def _dc_update(self, dc: np.ndarray, b: np.ndarray, number: int) -> None:
        """One epoch into the alias fit of the epochs' means (worker side, before the
        epoch joins the window): its out-of-sample check, then the running sums."""
        n = len(self.dc_win)
        x = b - self._dc_window_line(np.stack(list(self.fr_lf)[-n:]), number)
        d = dc - self._dc_window_line(np.stack(list(self.dc_win)), number)
        c = self._dc_coef()
        if c is not None:
            p = np.real(x @ c)
            self.n_dc_check += 1
            bc = 1.0 / min(self.n_dc_check, self.noise_volumes)
            self.dc_e[0] += bc * (d**2 - self.dc_e[0])
            self.dc_e[1] += bc * ((d - p) ** 2 - self.dc_e[1])
        self.n_dc += 1
        ba = 1.0 / min(self.n_dc, self.noise_volumes)
        self.dc_G += ba * (np.outer(x.conj(), x) - self.dc_G)
        self.dc_r += ba * (x.conj()[:, None] * d[None] - self.dc_r)
        self.dc_d += ba * (d**2 - self.dc_d)

    def _dc_refit(self, batch: bool = True) -> None:
        """The means' alias fit again from the window, with the stored epochs' (new)
        phases (``batch``), or restarted (worker side; with :meth:`_rephase`)."""
        if getattr(self, "dc_win", None) is None:
            return
        n = len(self.dc_win)
        if not batch or n < 3:
            self.dc_G[:] = 0.0
            self.dc_r[:] = 0.0
            self.dc_d[:] = 0.0
            self.n_dc = 0
            return
        B = np.stack(list(self.fr_lf)[-n:])
        X = B - self._dc_window_line(B)
        D = np.stack(list(self.dc_win))
        D = D - self._dc_window_line(D)
        self.dc_G = X.conj().T @ X / n
        self.dc_r = X.conj().T @ D / n
        self.dc_d = np.mean(D**2, axis=0)
        self.n_dc = n

    def _dc_coef(self) -> np.ndarray | None:
        """The alias coefficients of the epochs' means (k, channels), shrunk as
        :meth:`_alias_coef` shrinks the spectra's by their fit's own residual; None while
        the phases seen do not identify them."""
        k = self._alias_m.size
        if not k or self.n_dc < self._alias_min * k:
            return None
        w, V = np.linalg.eigh(self.dc_G)
        if not w[0] > 0 or w[-1] > self._alias_cond * w[0]:
            return None
        z = (V.conj().T @ self.dc_r) / w[:, None]  # (k, channels)
        c = V @ z
        n_eff = min(self.n_dc, self.noise_volumes)
        # the fit's own residual (w @ |z|^2: the energy it explains per channel); the
        # terms are used only where they predict (_dc_terms)
        noise = np.maximum(self.dc_d - w @ (z.real**2 + z.imag**2), 0.0) * n_eff / max(n_eff - w.size, 1)
        var = np.sum(np.abs(V) ** 2 / w[None], axis=1)
        g = 1.0 - self._alias_shrink * noise[None] * var[:, None] / (n_eff * np.maximum(c.real**2 + c.imag**2, 1e-300))
        return c * np.clip(g, 0.0, 1.0)

    def _dc_terms(self, b: np.ndarray, number: int) -> np.ndarray | None:
        """This volume's epoch mean as the alias fit of the past means predicts it
        (channels; ``b`` its alias basis), on the channels where that fit has removed
        more than ``1 - _dc_check_ratio`` of the new epochs' means' error out of sample
        (0.75, as the spectra's terms, let it fit EEG: 2.5 kHz drifting phantom 2.56 ->
        2.84 uV after volume 10; 0.1: 2.57); None when nothing is predicted.

        Why: the stored spectra have each epoch's mean over the volume taken out (the
        EEG's offset and drift would enter the templates: kept in, the slow-EEG row of
        the variant table went 1.01 -> 3.12 uV), but where the sampling phase steps a
        rational fraction of a sample the artifact's own mean alternates with the
        volumes, like its fifth alias order at 0.1 sample a volume: the output's error
        was 42.6 uV at 0-1 Hz on the multiband row without an anti-alias filter.
        """
        if not self._alias_dc or getattr(self, "dc_win", None) is None or not self.dc_win:
            return None
        if len(self.fr_lf) < len(self.dc_win):
            return None  # (the window of a run that has ended)
        if self.n_dc_check < self._check_min:
            return None
        c = self._dc_coef()
        if c is None:
            return None
        x = b - self._dc_window_line(np.stack(list(self.fr_lf)[-len(self.dc_win):]), number)
        use = self.dc_e[1] < self._dc_check_ratio * self.dc_e[0]
        if not use.any():
            return None
        return np.where(use, np.real(x @ c), 0.0)

    def _alias_coef(self, raw: bool = False, upto: int | None = None) -> Any:
        """Fitted alias coefficients (k, channels, bins), shrunk by their estimation
        noise (``_alias_shrink``; offline keeps them where they stand 3x above it); None
        while the phases seen do not identify them. ``raw``: the coefficients before the
        shrinkage and what :meth:`_shrink` needs to shrink them ``(c, eig)`` (the
        spatial split shrinks each part by its own noise), on the first ``upto`` bins
        only when given.

        Each coefficient's variance is the diagonal of the normal equations' inverse
        times the noise. From 2 kHz up, where the terms have removed more than half the
        templates' error out of sample (``_noise_fit_ratio``), that noise is the fit's
        own residual (what the terms leave of the residuals they were fitted to, as
        offline, ``residual.AliasModel.refine``), elsewhere the templates' running
        residual (``noise``). Why: the running residual holds the epochs from before
        the terms worked, 60 volumes of them, and shrinking by it kept them from working
        (multiband point sampling without a filter, six orders: 1-40 Hz after volume 30
        20.5 -> 8.1 uV; on the variant table's 5 kHz rows with two orders the same or
        better, e.g. point sampling without a filter 3.94 -> 2.74). Ungated it
        shrank too little early on (single band default after volume 10: 0.81 -> 0.89
        uV), and below 2 kHz even gated (1 kHz default after volume 30: 5.7 -> 10.8).
        """
        k = self._alias_m.size
        if not k or getattr(self, "n_alias", 0) < self._alias_min * k:
            return None
        ks = self._k_lf
        ar = self.ar if upto is None else self.ar[..., :upto]
        c = np.empty_like(ar)
        eig: list[tuple[np.ndarray, np.ndarray]] = []
        for j, sl in enumerate((slice(ks, None), slice(0, ks))):
            G = self.aG[j]
            if self._alias_ridge:
                G = G + self._alias_ridge * np.real(np.trace(G)) / k * np.eye(k)
            w, V = np.linalg.eigh(G)  # (G^-1 = V diag(1/w) V^H; the shrinkage needs both)
            if not w[0] > 0 or w[-1] > self._alias_cond * w[0]:
                return None
            c[..., sl] = _mix(V, _mix(V.conj().T / w[:, None], ar[..., sl]))
            eig.append((V, w))
        n_eff = min(self.n_alias, self.noise_volumes)
        if raw:
            return c, (eig, n_eff)
        noise = self.noise
        if self._noise_fit_on and self.n_check >= self._check_min:
            fit = self._fit_noise(c, self.ad, (eig, n_eff))
            noise = np.where(self.err1 < self._noise_fit_ratio * self.err0, fit, self.noise)
        return self._shrink(c, noise, (eig, n_eff))

    def _fit_noise(self, c: np.ndarray, ad: np.ndarray, eig: Any) -> np.ndarray:
        """The alias fit's own residual per channel and bin: the mean |residual|^2 it
        was fitted to (``ad``) less the energy the unshrunk coefficients ``c`` explain
        (``c^H G c``), per degree of freedom left."""
        bands, n_eff = eig
        ks = min(self._k_lf, c.shape[-1])
        out = np.empty(c.shape[1:])
        for (V, w), sl in zip(bands, (slice(ks, c.shape[-1]), slice(0, ks))):
            z = _mix(V.conj().T, c[..., sl])
            explained = np.tensordot(w, z.real**2 + z.imag**2, axes=(0, 0))
            out[:, sl] = np.maximum(ad[:, sl] - explained, 0.0) * n_eff / max(n_eff - len(w), 1)
        return out

    def _shrink(self, c: np.ndarray, noise: np.ndarray, eig: Any) -> np.ndarray:
        """Alias coefficients ``c`` (k, channels, bins) shrunk by their estimation noise
        (``noise``: the residual's, per channel and bin; ``eig`` from
        :meth:`_alias_coef`): gain ``1 - _alias_shrink * noise * var / (n_eff * |c|^2)``
        at 0 to 1, ``var`` the diagonal of the band's inverse normal equations."""
        bands, n_eff = eig
        ks = self._k_lf
        nb = c.shape[-1]
        out = np.zeros_like(c)
        for (V, w), sl in zip(bands, (slice(min(ks, nb), nb), slice(0, min(ks, nb)))):
            if sl.stop <= sl.start:
                continue
            var = np.sum(np.abs(V) ** 2 / w[None], axis=1)  # (k,): the diagonal of the inverse
            pw = c[..., sl].real ** 2 + c[..., sl].imag ** 2
            g = 1.0 - self._alias_shrink * noise[None, :, sl] * var[:, None, None] / (n_eff * np.maximum(pw, 1e-300))
            out[..., sl] = c[..., sl] * np.clip(g, 0.0, 1.0)
        return out

    def _short_mean(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The mean of the last ``_short`` epochs and where (per channel and bin) it is
        used in place of the template where it has predicted the epochs two volumes on
        with less than ``_short_ratio`` times the template's error (a running check over
        ``_short_volumes`` epochs); None where it is off or nowhere better.

        Why: at low rates the artifact aliases and its aliased part changes with each
        volume's sub-sample phase. When that phase travels less than a sample over the
        window (a few ppm of clock drift at 1 kHz: 0.008 sample per volume at 4 ppm)
        the alias model cannot be fitted (its basis needs the phases to cover a cycle,
        and over such a span its phase line is a linear trend), and the window means lag
        the artifact by half their length (30 volumes below ``lf_cutoff_hz``). On the
        variant table's 1 kHz row at 4 ppm consecutive volumes differ by 4 uV in 1-40
        Hz, volumes 10 apart by 33 uV; the online error stayed at 36 uV all run
        (offline 2.7). A short mean follows the change at the cost of 10-30 times the
        EEG of the long windows (20 volumes, 60 below ``lf_cutoff_hz``), so it is used
        only in the bins and channels where it has predicted far better, and once the
        artifact's channel subspace is measured (``_P``, after 4 volumes) only inside
        it, which holds a few of the channels' dimensions of EEG (120 s x 16 ch, 1-40
        Hz after volume 30: 4 ppm 15.7 -> 13.3 uV with two volumes inside the subspace
        against three everywhere; 2 ppm 9.7 -> 8.4; point sampling at 20 ppm 17.35
        either way).

        Used below ``_short_below_hz`` (2.5 kHz): it was below 2 kHz only until a sweep
        of random acquisitions (``benchmarks/bench_gradient_sweep.py``) found online runs
        at 2 kHz with a few ppm whose error grew over the run with the long windows' lag
        (2 kHz, multiband 2, 3 ppm, 20 mV: 27 -> 76 uV per 2 s block, offline 8-24; with
        it 12-18 from volume 13). On the sweep's 17 runs at 2000-2048 Hz (seeds 3 and
        4), after volume 30: 63.1 -> 27.5 uV (3 ppm), 20.0 -> 13.8 and 21.2 -> 19.4 (7
        ppm), 3.28 -> 2.96, 1521 -> 177 (no anti-alias filter, 20 mV), the worst cost
        3.97 -> 3.98, nine unchanged (after volume 10 one went 71.6 -> 72.6); the 150 s
        drifting phantom (20 ppm) at 2 kHz 5.87 -> 5.86 uV after volume 10. There the
        artifact folds: its top-band share (:meth:`_top_share`) is 0.3-0.43 on 2 kHz
        phantoms and ~8e-4 at 2.5 kHz. From 2.5 kHz it also helped a slowly drifting
        run (14-39 -> 11-14 uV per block at 2.5 kHz) but cost the low band's size pass
        its gain on a wandering table ringing (``tests/online/test_lf_scale.py``, 2.5
        kHz: 5.52 -> 5.90 uV with the pass; the pass and the short mean both follow the
        volume-to-volume change there); at 5 kHz it cost the multiband LF row 2.65 ->
        2.79 uV (and once 0.6 dB on ``bore drift x3``).

        Only in bins up to ``_short_fmax_hz`` (100 Hz, above the 70 Hz low-pass): chosen
        bin by bin over the whole band, the template mixed two estimates that no longer
        cancelled where the artifact is quiet, and after a head movement the 2 kHz test
        phantom's template held ~1 mV in a 10 ms stretch where the data held 45 uV: the
        stop gate took the scanner for stopped (a volume left uncorrected). The 1-40 Hz
        errors moved little with that limit: the 4 ppm tests' to 0.01 uV, the sweep
        runs' by under 3 %, the 1 kHz variant rows 20.0 / 5.74 -> 19.98 / 5.69 (default)
        and 35.0 / 17.34 -> 34.94 / 17.32 (point sampling).

        Tried and not kept: a per-bin linear trend
        of the window means' lag, fitted over 60 epochs (4 ppm 36 -> 27 uV, but 20 ppm
        after volume 30 5.8 -> 10.4 uV).
        """
        if not self._short_on or n <= self._short or self.n_short < self._check_min:
            return None
        use = self.es_short < self._short_ratio * self.es_long
        if self._short_fmax_hz is not None:
            use[:, self._f * self.sfreq > self._short_fmax_hz] = False
        if not use.any():
            return None
        return sum(list(self.epochs)[-self._short:]) / self._short, use

    def _k_rot(self) -> int:
        """Bins the rotating template may replace (up to ``_rot_fmax_hz``)."""
        return int(np.searchsorted(self._f * self.sfreq, self._rot_fmax_hz, side="right"))

    def _window_nums(self) -> list[int]:
        """The volume numbers of the stored epochs (``epochs``), oldest first."""
        nums = list(self._fr_nums)
        return nums[len(nums) - len(self.epochs):]

    def _rotating(self, epochs: list[np.ndarray], nums: list[int], target: int) -> np.ndarray:
        """The rotating template: the epochs' mean with each bin turned on to volume
        ``target`` (channels, bins up to ``_rot_fmax_hz``).

        Why: below a few kHz the artifact folds in from the rates above (aliasing), and
        each folded part's phase turns by ``2 pi m`` times the volumes' sampling-phase step
        (order ``m``, a fraction of a sample per volume with a clock drift). With a few ppm
        that phase travels too little over a window for the alias model (``alias_orders``)
        to tell its orders apart, and the window mean lags the artifact by half its
        length: online at 1 kHz and 4 ppm the error stayed 5x offline's (14.7 against 2.7
        uV after volume 10, with the short mean). But in a bin one order dominates (with
        evenly spaced slices, the bin's position between the slice harmonics sets the order
        modulo the slice phases' period), so the bin's content turns by a fixed angle from
        volume to volume. That angle is measured here on the epochs themselves (the
        phase of consecutive epochs' cross-spectrum summed over channels and the window,
        where the artifact dominates the EEG; no slice timing needed, the markers only bound
        which turns are taken, :meth:`_turns_allowed`), and each
        epoch is turned by it times its distance to ``target`` before they are averaged: the
        template follows the turning part as the plain mean follows a still one, with the
        same window's EEG. Written here: the alias model (offline and online) needs the
        phases to cover a cycle, the short mean takes the EEG of two volumes.

        Measured (1 kHz, 120 s x 16 ch, 1-40 Hz after volume 10 / 30, before -> with it):
        4 ppm 14.7 / 13.3 -> 9.2 / 8.9 uV, 8 ppm 24.4 / 23.4 -> 12.7 / 12.6, 20 ppm 20.0 /
        5.7 -> 11.6 / 5.7, 0 ppm unchanged (1.46 / 1.21); the sweep's 43 runs below 2.5 kHz
        (faults on): geometric mean 0.86 / 0.92, none worse by 3 %; its 29 runs from 2.5 up
        to 4 kHz: 0.87 / 0.89, the worst 4.10 -> 4.33 after volume 30; its 9 runs at 4096 Hz:
        four better (6 #26 58.3 -> 19.0), none worse by 1 % (``bench_gradient_results.md``,
        sessions 47-48). Used below ``_rot_below_hz`` (4.5 kHz): on the 39 runs at 5 kHz it
        was mixed (geometric mean 0.997 / 0.975; 7 #26 3.07 -> 3.61 after volume 10, 5 #20
        297 -> 223). Bins where two orders beat (m and m - 7) are not followed: a two-turn
        fit per bin did not help there in a prototype.
        """
        kr = self._k_rot()
        E = np.stack([e[:, :kr] for e in epochs])  # (w, ch, bins)
        num = np.asarray(nums, float)
        if num.size != len(epochs):  # (numbers not known for every epoch: no turn)
            return E.mean(axis=0)
        nxt = np.flatnonzero(np.diff(num) == 1)  # consecutive volumes only
        if nxt.size == 0:
            return E.mean(axis=0)
        R = np.einsum("wcb,wcb->b", E[nxt + 1], np.conj(E[nxt]))
        ang = np.angle(R)  # turn per volume, per bin
        # only turns the alias orders can make at the sampling-phase step the markers allow,
        # and none at the mains frequencies (the hum turns by its frequency times the TR and
        # is no scanner artifact: the line-noise step's to remove; at 1 kHz with four alias
        # orders nearly every turn is one they can make, and a 50 Hz hum turning 0.31 rad a
        # volume was taken: sweep seed 8 #26, 5.76 -> 7.14 uV with the hum part of the truth)
        f = self._f[:kr] * self.sfreq
        mains = np.any(np.abs(f[:, None] - MAINS_HZ[None, :]) <= self._rot_mains_hz, axis=1)
        ang = np.where(self._turns_allowed(ang) & ~mains, ang, 0.0)
        turn = np.exp(1j * np.outer(float(target) - num, ang))  # (w, bins)
        return np.einsum("wcb,wb->cb", E, turn) / len(epochs)

    def _turns_allowed(self, ang: np.ndarray) -> np.ndarray:
        """Which turns per volume (rad, per bin) an alias order can make: ``2 pi m s`` (wrapped)
        for ``|m|`` up to the largest alias order in use (2 without the alias model) and a
        sampling-phase step ``s`` (samples per volume, less its whole samples) within the
        slope interval the markers allow (``_slope_interval``; at most ``_rot_step_tol``
        either side of its middle), or within ``_rot_step_tol`` of the least-squares slope
        when the markers jitter beyond their rounding; each with ``_rot_turn_tol`` for the
        angle's noise.

        Why: mains hum (or a steady-state evoked response) also turns by a fixed angle, its
        frequency times the TR; at 0 ppm, 2 kHz, TR 1.197 s the 50 Hz hum was taken for a
        turning artifact (sweep seed 5 #21: 2.55 -> 5.47 uV, the hum part of the truth).
        """
        M = int(np.max(np.abs(self._alias_m))) if self._alias_m.size else 2
        iv = getattr(self, "_alias_slopes", None)
        if iv is not None:
            lo, hi = float(iv[0]), float(iv[1])
        elif getattr(self, "period", None):
            lo, hi = float(self.period) - self._rot_step_tol, float(self.period) + self._rot_step_tol
        else:
            return np.ones(ang.shape, bool)
        k = np.round(0.5 * (lo + hi))
        # (early on the interval is wide; its middle is within a few hundredths of a sample)
        mid, half = 0.5 * (lo + hi) - k, min(0.5 * (hi - lo), self._rot_step_tol)
        ok = np.abs(ang) <= self._rot_turn_tol  # order 0: a still part
        for m in range(1, M + 1):
            width = 2.0 * np.pi * m * half + self._rot_turn_tol
            if width >= np.pi:
                return np.ones(ang.shape, bool)
            for sgn in (1, -1):
                c = 2.0 * np.pi * sgn * m * mid
                ok |= np.abs(np.angle(np.exp(1j * (ang - c)))) <= width
        return ok

    def _rot_check(self, S: np.ndarray, number: int) -> None:
        """Update the rotating template's running check with the new epoch ``S``: its
        error and the window mean's, both as made two volumes back (as templates are)."""
        kr = self.es_rot.shape[1]
        eps = list(self.epochs)[:-1]
        nums = self._window_nums()[:-1]
        mean = sum(e[:, :kr] for e in eps) / len(eps)
        if self._k_lf and len(self.epochs_lf) > len(self.epochs):  # the template's long low band
            lf = list(self.epochs_lf)[:-1]
            k = min(self._k_lf, kr)
            mean[:, :k] = sum(e[:, :k] for e in lf) / len(lf)
        dr = S[:, :kr] - self._rotating(eps, nums, number)
        dm = S[:, :kr] - mean
        self.n_rot += 1
        b = 1.0 / min(self.n_rot, self._rot_volumes)
        self.es_rot += b * (dr.real**2 + dr.imag**2 - self.es_rot)
        self.es_mean += b * (dm.real**2 + dm.imag**2 - self.es_mean)
        made = self._tmpl_low.pop(number, None)
        if made is not None:  # the template this volume got (without the rotating template)
            dt = S[:, :kr] - made
            self.n_tmpl += 1
            bt = 1.0 / min(self.n_tmpl, self._rot_volumes)
            self.es_tmpl += bt * (dt.real**2 + dt.imag**2 - self.es_tmpl)

    def _rot_use(self, n: int, short: tuple[np.ndarray, np.ndarray] | None,
                 alias: bool = False) -> np.ndarray | None:
        """Where (channels, bins) the rotating template replaces the template: in the
        bins where its running error summed over the channels is under ``_rot_ratio``
        times the template's, and there on the channels where it is under the template's
        (and under the short mean's where that is used); None where it is off or nowhere
        better.

        The template's error is the least of the one it had as made (``es_tmpl``) and the
        window mean's times what the alias terms leave of it where they are used
        (``alias``; at 20 ppm they follow the turning parts once the phases have covered a
        cycle, and judged against the window mean alone the rotating template replaced
        them there: 1 kHz after volume 30 5.7 -> 11.8 uV)."""
        if not self._rot_on or n < self._rot_min or getattr(self, "n_rot", 0) < self._rot_checked:
            return None
        ref = self.es_mean
        if alias:
            kr = ref.shape[1]
            e0, e1 = self.err0[:, :kr], self.err1[:, :kr]
            used = e1 < self._check_ratio * e0
            ref = ref * np.where(used, e1 / np.maximum(e0, 1e-300), 1.0)
        if self.n_tmpl >= self._rot_checked:
            # the template's own error as it was made (Wiener gains, alias terms, the spatial
            # split, the short mean): judged against the window mean alone, the rotating
            # template replaced a spatial split that kept half its EEG (2.5 kHz synthetic,
            # tests/online/test_spatial.py: 2.06 -> 4.14 uV)
            ref = np.minimum(self.es_tmpl, ref)
        # stricter while few epochs have been checked (a chance win of a template made
        # from the EEG's own turns is likelier then)
        ratio = self._rot_ratio * min(1.0, self.n_rot / self._rot_volumes)
        # decided per bin over all channels (the turn is one per bin): per channel and bin,
        # over ten epochs, chance wins replaced a few % of the bins with a 20-volume mean
        # where the template averages 60 below lf_cutoff (2.5 kHz synthetic: 2.06 -> 3.94 uV)
        # (and per channel no worse than the template)
        use = np.sum(self.es_rot, axis=0) < ratio * np.sum(ref, axis=0)
        use[0] = False  # (the epochs' means are kept out of the stored spectra)
        use = use[None, :] & (self.es_rot < ref)
        if short is not None:
            kr = use.shape[1]
            use &= ~short[1][:, :kr] | (self.es_rot < self.es_short[:, :kr])
        return use if use.any() else None

    def _alias_terms(self, c: np.ndarray, x: np.ndarray, x_lf: np.ndarray) -> np.ndarray:
        """sum_m x_m c_m per channel and bin (``x_lf`` below lf_cutoff)."""
        out = np.tensordot(x, c, axes=(0, 0))
        if self._k_lf:
            out[:, : self._k_lf] = np.tensordot(x_lf, c[..., : self._k_lf], axes=(0, 0))
        return out

    def _set_subspace(self) -> None:
        """Measure the artifact's channel subspace on the current template (worker side).

        As offline (:meth:`..gradient.spatial.LowBand.subspace`): the mean spectrum's
        strongest bins above 1.25x ``lf_cutoff_hz`` (each normalised, so that no axis
        hides behind a stronger one), the smallest rank holding ``1 - _spatial_tol`` of
        their energy; nothing when that rank would not be below all channels but two.
        Measured once per run (after ``_spatial_min`` epochs: the artifact dwarfs the
        EEG in those bins by ~1000x, so a mean of a few already holds its directions);
        the part residuals start from there.
        """
        from ..gradient.spatial import channel_subspace

        n = len(self.epochs)
        C = self.sum.shape[0]
        R = self._sp_rows
        ks = int(min(self.sum.shape[1] - 1, np.ceil(1.25 * self._k_lf)))
        n_hi = self.sum.shape[1] - ks
        self._sp_todo = False  # measured (or not measurable): not again this run
        if ks < 2 or min(n_hi, max(64, 0.02 * n_hi)) < R.size:  # fewer strong bins than channels
            return
        U, r = channel_subspace(self.sum[R, ks:] / n, self._spatial_tol)
        self.spatial_info = {"rank": r, "channels": int(R.size), "from_volumes": n}
        if r > R.size - 2:
            return
        Ur = U[:, :r]
        self._k_sp = ks
        self.noise_in = np.zeros((C, ks))
        self.noise_out = np.zeros((C, ks))
        self.n_part = 0
        # the alias terms' out-of-sample checks inside / outside (before, after)
        self._perr = np.zeros((2, 2, C, ks))
        # the mean |residual|^2 the alias fit sees inside / outside (as ``ad``)
        self.adp = np.zeros((2, C, ks))
        P = np.zeros((C, C), np.complex128)  # rows outside R: nothing inside, all outside,
        P[np.ix_(R, R)] = Ur @ Ur.conj().T  # so their gain is the plain one
        self._P = P

    def _robust_reset(self, n_ch: int) -> None:
        """Start the long mean that keeps blinks out of the gain (see :meth:`_robust_weight`)."""
        self.rob_sum = np.zeros((n_ch, self._k_cut), np.complex128)  # running mean of w S
        self.rob_w = np.zeros(n_ch)  # ... of the weights w
        self.rob_r = np.zeros(n_ch)  # ... of the residual powers r
        self.rob_a2 = np.zeros(n_ch)  # sum over epochs of (running-mean coefficient * w)^2 r
        self.rob_a1 = 0.0  # ... of the coefficients^2 (the plain mean's leak share)
        self.rob_hist: deque[np.ndarray] = deque(maxlen=self.noise_volumes)
        self.n_rob = 0

    def _robust_weight(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """This epoch's weight per channel in the blink-robust long mean, from its residual
        ``d`` (channels, bins): ``(w, r)``, or None when the weighting is off.

        Why: the Wiener gain takes the long mean's power beyond its leak for artifact, and
        in the EEG band (bin 1, 1 / the epoch's length, to ``lf_cutoff_hz``) a few large
        blinks whose phases happen to line up put that power far above the leak, so the
        gain keeps their mean as artifact and subtracts it. On the slow-EEG variant row (seed 3, 16 ch x 120 s,
        5 kHz) the online 2-8 Hz error after volume 10 was 0.58 uV against 0.13 without
        the blinks. This is the offline rule (:func:`..gradient.aas.robust_band_power`,
        ``GradientParams.wiener_robust``) made causal: ``r``, the residual's power summed
        over the band, is compared with the median of the last ``noise_volumes`` epochs'
        (this one included) and an epoch above ``c`` times it is weighted by ``c *
        median / r`` (inverse-variance weights capped at 1; ``c`` is ``_wiener_robust``).
        A volume at or below the limit keeps weight 1, so a flat channel (median 0) is
        never weighted to 0. With ``c`` below 1 nearly every epoch is above the limit and
        the weights are ``1 / r`` up to scale: plain inverse-variance weights. Those are
        what worked online (a causal median of a few dozen epochs, and a long mean that
        reaches back as far as the template's, so the blinks of the mean's own epochs are
        in both); see the class attribute for the figures.

        Measured (online 1-40 Hz error after volume 10, 120 s x 16 ch variant rows, off ->
        on): slow EEG seed 3 1.00 -> 0.85 uV (2-8 Hz 0.58 -> 0.29, 0.13 without the
        blinks), seeds 1, 2, 4 0.687 -> 0.677, 0.776 -> 0.772, 0.784 -> 0.773; the LF
        volume-locked rows slightly worse (20 uV 2.846 -> 2.876, multiband 2.646 -> 2.659:
        a real low-band artifact whose volumes differ is weighted too); combined 2.785 ->
        2.761; the other 23 rows within 0.012 uV (most 0.002-0.010 better); the 150 s
        drifting phantoms at 5 and 2.5 kHz unchanged (1.72 and 2.39 uV).
        """
        from ..gradient.aas import volume_weights

        kc = self._k_cut
        if self._wiener_robust <= 0 or kc < 2:
            return None
        r = np.sum(d[:, 1:kc].real ** 2 + d[:, 1:kc].imag ** 2, axis=1)
        self.rob_hist.append(r)
        # the offline weights over the remembered epochs; this epoch's is the last
        return volume_weights(np.asarray(self.rob_hist).T, self._wiener_robust)[:, -1], r

    def _robust_update(self, S: np.ndarray, w: np.ndarray, r: np.ndarray) -> None:
        """Add epoch ``S`` with weights ``w`` and residual powers ``r`` to the blink-robust
        long mean, a running mean over the last ``noise_volumes`` epochs as ``ema`` is
        (exact while fewer have been seen)."""
        self.n_rob += 1
        beta = 1.0 / min(self.n_rob, self.noise_volumes)
        a = 1.0 - beta
        kc = self.rob_sum.shape[1]
        self.rob_sum *= a
        self.rob_sum += (beta * w)[:, None] * S[:, :kc]
        self.rob_w = a * self.rob_w + beta * w
        self.rob_r = a * self.rob_r + beta * r
        self.rob_a2 = a * a * self.rob_a2 + (beta * w) ** 2 * r
        self.rob_a1 = a * a * self.rob_a1 + beta * beta

    def _robust_mean(self, Q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The blink-robust long mean (channels, bins below ``lf_cutoff_hz``) and its leak
        over the plain long mean's per channel, ``sum (a w)^2 r / (sum a w)^2 / mean(r) /
        sum a^2`` (``a``: the running mean's coefficients; 1 with every weight 1), or None
        before ``_robust_min`` epochs; with ``Q``, both for the part ``Q`` projects on (the
        ratio then the channels' mean weighted by ``|Q|^2``)."""
        if self._wiener_robust <= 0 or getattr(self, "n_rob", 0) < self._robust_min:
            return None
        sw = self.rob_w
        ok = (sw > 0) & (self.rob_r > 0)
        safe = np.where(ok, sw, 1.0)
        M = np.where(ok[:, None], self.rob_sum / safe[:, None], self.ema[:, : self.rob_sum.shape[1]])
        ratio = np.where(ok, self.rob_a2 / (safe**2 * np.where(ok, self.rob_r, 1.0) * self.rob_a1), 1.0)
        if Q is not None:
            q2 = np.abs(Q) ** 2
            tot = q2.sum(axis=1)
            ratio = np.where(tot > 0, q2 @ ratio / np.maximum(tot, 1e-300), 1.0)
            M = Q @ M
        return M, ratio

    def _gain_from(self, mean: np.ndarray, leak: np.ndarray, ema: np.ndarray, noise: np.ndarray,
                   alias_power: np.ndarray | None,
                   robust: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Wiener gain per channel and bin (see :meth:`_wiener_gain`) of a template
        ``mean`` with leak ``leak``, its long mean ``ema`` and residual ``noise``; with
        ``robust`` (:meth:`_robust_mean`), the artifact power in the EEG band (from either
        mean) is at most that of the blink-robust mean."""
        n_long = min(self.n_ema, self.noise_volumes)
        p_long = ema.real**2 + ema.imag**2 - noise / n_long
        kc = min(self._k_cut, mean.shape[1])
        if kc > 0 and self._wiener_strict != 1.0:
            p_long[:, :kc] -= (self._wiener_strict - 1.0) * noise[:, :kc] / n_long
        p_own = mean.real**2 + mean.imag**2 - 3.0 * leak
        power = np.maximum(np.maximum(p_long, p_own), 0.0)
        if robust is not None and kc > 1:
            # in the EEG band both the long mean and the template's (the low band's window
            # is as long) carry the blinks: neither stands above the robust mean's power
            Mw, ratio = robust
            kb = min(kc, Mw.shape[1])
            pw = Mw[:, 1:kb].real ** 2 + Mw[:, 1:kb].imag ** 2
            pw -= self._wiener_strict * noise[:, 1:kb] * (ratio[:, None] / n_long)
            np.minimum(power[:, 1:kb], np.maximum(pw, 0.0), out=power[:, 1:kb])
        if alias_power is not None:
            power += alias_power
        from ..gradient.aas import eeg_band_power

        # the EEG band's rule, as offline (the neighbours' mean over 9 bins; a lone
        # strong line keeps its own estimate below 2 kHz)
        eeg_band_power(power, leak, kc, 9, self._wiener_strong)
        return np.clip(power / np.maximum(power + leak, 1e-300), 0.0, 1.0)

    def _wiener_gain(self, mean: np.ndarray, n: int, n_lf: int, alias: np.ndarray | None = None) -> np.ndarray:
        """Per channel and bin: the artifact's power over artifact + leaked EEG, the
        offline step's Wiener gain made causal.

        The leak of a mean of ``n`` epochs is ``noise / n`` (``noise`` from the running
        residual, see :meth:`_job_store`); the artifact's power is a mean's power
        minus its own leak (see the code); below ``lf_cutoff_hz`` only what stands
        ``_wiener_strict`` times above that leak counts (as offline), and one bin's
        estimate being noisy, the smaller of it and its 9-bin average is used there. Before the
        noise is known (fewer than 3 epochs) the gain is 1. The power of the fitted
        alias terms (``alias``) counts as artifact: offline, the templates' spread
        around their mean does the same.
        """
        if getattr(self, "n_noise", 0) < 1:
            return np.ones(mean.shape, np.float64)
        # the artifact's power (in _gain_from): from the long mean (small leak), or from
        # the template's own mean where that stands clearly (3x) above its leak (a
        # drifting harmonic the long mean blurs). The template's mean alone is a poor
        # estimate: in a bin of EEG only, |mean|^2 is its leak times an exponential
        # draw, which leaves gains well above 0 in a third of such bins. In the EEG band
        # only beyond _wiener_strict times its leak, as offline (GradientParams.
        # wiener_strict): with EEG alone |ema|^2 is its leak times an exponential draw,
        # above 1x in 37 % of the bins, above 3x in 5 %. 3 rather than 1: 1-40 Hz error
        # after volume 10 on the 150 s drifting phantoms 2.40 -> 1.98 uV at 5 kHz, 3.56
        # -> 3.20 at 2.5 kHz (bench_online_convergence.py). The alias terms' power (the
        # artifact's phase-dependent part) is artifact too.
        leak = self.noise / self._n_used(mean.shape[1], n, n_lf)
        ap = None if alias is None else np.sum(alias.real**2 + alias.imag**2, axis=0)
        return self._gain_from(mean, leak, self.ema, self.noise, ap, self._robust_mean())

    def _n_used(self, n_bins: int, n: int, n_lf: int) -> np.ndarray:
        """Epochs averaged per bin (``n_lf`` below ``lf_cutoff_hz``)."""
        n_used = np.full(n_bins, float(n))
        if self._k_lf:
            n_used[: self._k_lf] = n_lf
        return n_used

    def _parts_Q(self) -> tuple[np.ndarray, np.ndarray]:
        """The projectors inside and outside the artifact's channel subspace."""
        return self._P, np.eye(self._P.shape[0]) - self._P

    def _part_coef(self, Q: np.ndarray, noise: np.ndarray, own: tuple[np.ndarray, Any],
                   ks: int, q: int | None = None) -> np.ndarray:
        """One part's alias coefficients on the first ``ks`` bins, shrunk by that part's
        own noise (``own``: :meth:`_alias_coef` ``raw``): with ``q`` (0 inside, 1
        outside) and ``_alias_noise_fit``, the part's fit residual (as
        :meth:`_alias_coef`), else ``noise``."""
        c_raw, eig = own
        cq = np.einsum("ij,mjb->mib", Q, c_raw[..., :ks])
        if q is not None and self._noise_fit_on and self._perr is not None:
            fit = self._fit_noise(cq, self.adp[q], eig)
            noise = np.where(self._perr[q, 1] < self._noise_fit_ratio * self._perr[q, 0], fit, noise)
        return self._shrink(cq, noise, eig)

    def _part_checks(self, d0: np.ndarray, X: np.ndarray, X_lf: np.ndarray, bc: float) -> None:
        """The alias terms' out-of-sample check of each part of the spatial split: the
        new epoch's residual (``d0``, before any alias term) inside / outside the
        subspace, without and with that part's own alias terms (worker side)."""
        if self._perr is None or not self._alias_split or self.n_part < 1:
            return
        ks = self._k_sp
        own = self._alias_coef(raw=True, upto=ks)
        if own is None:
            return
        for q, (Q, noise) in enumerate(zip(self._parts_Q(), (self.noise_in, self.noise_out))):
            r0 = Q @ d0[:, :ks]
            r1 = r0 - self._alias_terms_low(self._part_coef(Q, noise, own, ks, q), X, X_lf, ks)
            self._perr[q, 0] += bc * (r0.real**2 + r0.imag**2 - self._perr[q, 0])
            self._perr[q, 1] += bc * (r1.real**2 + r1.imag**2 - self._perr[q, 1])

    def _split_low_band(self, spec: np.ndarray, mean: np.ndarray, n: int, n_lf: int,
                        alias: np.ndarray | None,
                        basis: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The template's bins below 1.25x ``lf_cutoff_hz``, inside and outside the
        artifact's channel subspace, each with its own Wiener gain (the offline step's
        spatial pass, :mod:`..gradient.spatial`, made causal).

        Inside, the leak is that of a few dimensions instead of all channels, so the
        gain keeps more artifact and less EEG; outside, the gain drops what has no
        artifact power (and keeps what has: an artifact the strong bins do not show).
        Each part's leak is its own running residual (``noise_in``/``noise_out``), so
        EEG correlated across channels is counted where it lies. With ``basis`` (and
        ``_alias_split``), each part also has its own alias terms: the per-channel
        coefficients before their shrinkage, projected, shrunk by that part's noise and
        kept where that part's own out-of-sample check says they predict
        (:meth:`_part_checks`), as offline refits the alias model inside and outside.
        Fitted per channel, they carry the channel's whole EEG and most of them were
        shrunk away: on the variant table's 40 mV row online left 1.90 uV (1-40 Hz,
        after volume 10), 2.22 without alias terms, offline 1.11.

        Parameters
        ----------
        spec : ndarray (channels, bins)
            The template before its gain, alias terms included.
        mean : ndarray (channels, bins)
            The window mean (no alias terms).
        n, n_lf : int
            Epochs averaged above and below ``lf_cutoff_hz``.
        alias : ndarray (orders, channels, bins) | None
            The alias coefficients in use.
        basis : (ndarray, ndarray) | None
            This volume's alias basis minus the window means' (above and below
            ``lf_cutoff_hz``); None: the parts share ``alias``.

        Returns
        -------
        ndarray (channels, k) : the gained low band (``k`` = ``_k_sp``).
        """
        ks = self._k_sp
        leak_n = self._n_used(ks, n, n_lf)
        out = np.zeros((spec.shape[0], ks), spec.dtype)
        own = None
        if alias is not None and basis is not None and self._alias_split:
            own = self._alias_coef(raw=True, upto=ks)
        for q, (Q, noise) in enumerate(zip(self._parts_Q(), (self.noise_in, self.noise_out))):
            ap = None
            part = Q @ spec[:, :ks]
            if own is not None:
                # the part's own alias coefficients, shrunk by the part's own noise:
                # inside the subspace the EEG that enters them is that of a few
                # dimensions, so more of them stand above it (as offline, where the
                # alias fit is redone inside and outside), kept where they predict
                cq = self._part_coef(Q, noise, own, ks, q)
                cq = cq * (self._perr[q, 1] < self._check_ratio * self._perr[q, 0])
                part = Q @ mean[:, :ks] + self._alias_terms_low(cq, *basis, ks)
                alias_q = cq
            else:
                alias_q = None if alias is None else np.einsum("ij,mjb->mib", Q, alias[..., :ks])
            if alias_q is not None:  # the part's share of the alias terms is its artifact too
                ap = np.sum(alias_q.real**2 + alias_q.imag**2, axis=0)
            gain = self._gain_from(Q @ mean[:, :ks], noise / leak_n, Q @ self.ema[:, :ks], noise, ap,
                                   self._robust_mean(Q))
            out += part * gain
        return out

    def _alias_terms_low(self, c: np.ndarray, x: np.ndarray, x_lf: np.ndarray, ks: int) -> np.ndarray:
        """:meth:`_alias_terms` on the first ``ks`` bins (``c``: (k, channels, ks))."""
        out = np.tensordot(x, c, axes=(0, 0))
        kl = min(self._k_lf, ks)
        if kl:
            out[:, :kl] = np.tensordot(x_lf, c[..., :kl], axes=(0, 0))
        return out

    def _job_template(self, number: int, onset: float, early: bool = False) -> tuple[int, int, np.ndarray | None]:
        """Template for volume ``number`` starting at fractional sample ``onset``:
        (epochs averaged, first integer sample, samples from there)."""
        n = len(self.epochs)
        if n == 0 or self.sum is None:
            return 0, 0, None
        frac = onset - np.floor(onset)  # the alias phase (see _job_store)
        pm = self._predict_measured(number)
        if pm is not None and abs(pm - onset) < 2.0:
            onset = pm
            if early:
                frac = pm - np.floor(pm)
        if early and self._aline is not None:
            frac = (self._aline[0] + self._aline[1] * number) % 1.0
        spec = self.sum / n
        use_lf = bool(self._k_lf and len(self.epochs_lf) > n)
        if use_lf:  # below lf_cutoff the artifact is weak against the EEG: average longer
            spec[:, : self._k_lf] = self.sum_lf / len(self.epochs_lf)
        c = self._alias_coef()
        if c is not None:
            if self.n_check < self._check_min:
                c = None
            else:
                # a real alias term removes a clear share of the prediction error; terms
                # fitted to EEG only break even (a plain "<" let those in at 5 kHz:
                # 2.14 -> 2.33 uV, 1-40 Hz, on the still phantom)
                c = c * (self.err1 < self._check_ratio * self.err0)
        n_lf = len(self.epochs_lf) if use_lf else n
        gain = self._wiener_gain(spec, n, n_lf, c) if self.wiener else None
        mean = spec
        plain = None
        if self._keep is not None:  # the kept frequencies' template: the window mean alone
            plain = mean[:, self._keep] * (gain[..., self._keep] if gain is not None else 1.0)
        if c is not None:  # this volume's alias terms, minus the window mean's share
            b = np.exp(-2j * np.pi * self._alias_m * frac)
            x = b - np.mean(self.fr, axis=0)
            x_lf = b - np.mean(list(self.fr_lf)[-len(self.epochs_lf):], axis=0) if use_lf else x
            spec = spec + self._alias_terms(c, x, x_lf)
        if gain is not None:
            low = None
            if self._P is not None and self.n_part >= self._spatial_noise_min:
                low = self._split_low_band(spec, mean, n, n_lf, c,
                                           (x, x_lf) if c is not None else None)
            spec = spec * gain
            if low is not None:
                spec[:, : low.shape[1]] = low
        short = self._short_mean(n)
        if short is not None:  # below 2.5 kHz, where it predicts far better (phase drift)
            cand = short[0]
            if self._short_sub and self._P is not None:  # inside the subspace only
                cand = spec + self._P @ (cand - spec)
            spec = np.where(short[1], cand, spec)
        if self._rot_on and hasattr(self, "_tmpl_low"):
            # what the template predicts of this volume without the rotating template, for
            # its check (see _rot_check); kept for the last few volumes only
            self._tmpl_low[number] = spec[:, : self._k_rot()].copy()
            for old in [k for k in self._tmpl_low if k < number - 8]:
                del self._tmpl_low[old]
        rot = self._rot_use(n, short, c is not None)
        if rot is not None:  # where each bin's artifact turns from volume to volume
            kr = rot.shape[1]
            if not self._rot_said:
                self._rot_said = True
                self._say(f"volume {number}: the artifact's folded part turns from volume to volume "
                          f"(the sampling phase steps with the clock); the template follows it in "
                          f"{100.0 * rot.mean():.0f} % of the bins below {self._rot_fmax_hz:.0f} Hz")
            spec[:, :kr] = np.where(rot, self._rotating(list(self.epochs), self._window_nums(), number),
                                    spec[:, :kr])
        if plain is not None:
            spec[:, self._keep] = plain
        if self.trend and n >= 6:
            # follow a drifting artifact: per-bin linear trend over the window,
            # extrapolated to this volume (two after the newest complete one)
            k = np.arange(n, dtype=float) - (n - 1) / 2.0
            slope = np.tensordot(k, np.stack(self.epochs), axes=(0, 0)) / float((k**2).sum())
            gain = np.abs(spec) / np.maximum(np.abs(self.sum / n), 1e-30)  # the Wiener weights
            spec = spec + gain * slope * ((n - 1) / 2.0 + 2.0)
        M = int(np.floor(onset))
        spec = spec * np.exp(-2j * np.pi * self._f * (onset - M))  # delay by the fraction
        t = sfft.irfft(spec, n=self._nfft, axis=-1, workers=2)[:, : self._n0].astype(np.float32)
        if self._alias_m.size:
            dcp = self._dc_terms(np.exp(-2j * np.pi * self._alias_m * frac), number)
            if dcp is not None:  # the volume's own mean, where it changes with the phase
                t[:, self.P : self.P + self.L] += dcp[:, None].astype(np.float32)
        if self.axes is not None:
            # the axis pass's waveforms of this template, here rather than in the chunk that
            # starts the volume (see OnlineAxes.basis); matched to it by identity in _subtract
            self._axes_basis[number] = (t, self.axes.basis(t))
        return n, M - self.P, t  # t[:, i] is the artifact at sample M - P + i

    def _submit_templates(self) -> None:
        """Queue the store of every completed volume and the template two volumes on."""
        if self.L is None:
            return
        L, P = self.L, self.P
        for i, v in enumerate(self.vols):
            if v.provisional:
                break  # stored once its marker confirms it
            if v.stored or v.broken:
                continue
            if v.marker + L + P > self.ring.end:
                break
            if self.pulse is not None and v.marker + L + P + self.pulse.lag > self.pulse_through:
                break  # its pulse estimate is not final yet (next chunk)
            # placed with the fit right after the next volume's marker, which a marker
            # arriving on time gives when the epoch completes: a late one is waited for
            # (half a TR at most: a missing marker must not hold the templates back), so
            # that it changes nothing
            after = self.vols[i + 1] if i + 1 < len(self.vols) else None
            if after is None or after.provisional:
                if self.ring.end < v.marker + L + P + L // 2:
                    break
                after = None
            v.stored = True
            if v.marker - P < self.ring.start:
                continue
            seg = self.ring.get(v.marker - P, v.marker + L + P)
            snap = self.pulse.snapshot(v.marker + L + P + self.pulse.lag) if self.pulse is not None else None
            if snap is not None:
                self.n_pulse_cleaned += 1
            fit = (after.fit if after is not None else None) or self._fit
            rephase = None
            if after is not None and after.pinned and not self._rephased:
                rephase, self._rephased = after.fit, True
            early = self._early_measured_phase and not self._rephased
            due = self._backfits_due(v, snap)
            slopes = after.slopes if after is not None and after.fit is not None else self._slopes
            self._run(self._job_store, seg, v.marker, self._onset(v, fit), v.number, rephase, early, snap, due,
                      slopes)
            nxt = v.number + 2
            self._futures[nxt] = self._run(self._job_template, nxt, self._predict(nxt, fit), early)
        for k in [k for k in self._futures if k < self.vols[-1].number - 2]:
            del self._futures[k]
        # (the template thread adds to it meanwhile: its keys are taken in one step)
        for k in [k for k in list(self._axes_basis) if k < self.vols[-1].number - 2]:
            self._axes_basis.pop(k, None)

    #: a trailing backfit every this many seconds of volumes (in the first minute, when
    #: the window first holds 30 beats, more often), applied this many later (it takes
    #: 0.5-1 s on 64 rows x 60 s, a first one from scratch up to 3 s; so it is done by
    #: then in real time)
    _backfit_every_s = 10.0
    _backfit_first_every_s = 4.0
    _backfit_first_s = 60.0
    _backfit_delay_s = 4.0

    def _backfits_due(self, v: _Volume, snap: Any) -> list[Any]:
        """(Stream side, as volume ``v``'s epoch is handed over.) Start a trailing backfit
        every ``_backfit_every_s`` of volumes while the causal estimate is trusted, and
        return those started ``_backfit_delay_s`` of volumes ago: the epoch's store applies
        them. Counted in epochs, so which backfit applies where does not depend on timing."""
        if self.backfit is None or self.pulse is None or self.L is None or not self.period:
            return []
        tr = self.period / self.sfreq
        first = self._n_stores * tr < self._backfit_first_s
        every = max(1, int(np.ceil((self._backfit_first_every_s if first else self._backfit_every_s) / tr)))
        delay = max(1, int(np.ceil(self._backfit_delay_s / tr)))
        due = []
        while self._bf_pending and self._bf_pending[0][0] <= self._n_stores:
            due.append(self._bf_pending.popleft()[1])
        as_of = v.marker + self.L + self.P + self.pulse.lag
        win = self.backfit.window_for(as_of) if snap is not None and self._n_stores % every == 0 else None
        if win is not None:
            j0, j1 = win[0] * self.backfit.q, (win[0] + win[1].shape[1]) * self.backfit.q
            # each volume placed with its own fit (the running one would depend on how far
            # the stream has come, i.e. on the chunks); the marker without one
            ons = [self._onset(w, w.fit) if w.fit is not None else float(w.marker) for w in self.vols
                   if not (w.provisional or w.broken or w.predicted) and j0 <= w.marker < j1]
            causal = [r for r, a in self.pulse.beats if a <= as_of and r >= j0]
            fut = self._backfit_pool().submit(self.backfit.estimate, win, np.asarray(ons, float), self.backfit_params,
                                       causal=np.asarray(causal, float))
            self._bf_pending.append((self._n_stores + delay, fut))
        self._n_stores += 1
        return due

    def _run(self, fn, *args):  # noqa: ANN001, ANN202
        if self._pool is None:
            from concurrent.futures import Future

            f: Future = Future()
            f.set_result(fn(*args))
            return f
        fut = self._pool.submit(fn, *args)
        self._jobs = [f for f in self._jobs if not f.done()]
        self._jobs.append(fut)
        if fn == self._job_store:  # nobody waits on a store: its failure would go unseen
            fut.add_done_callback(self._store_failed)
        return fut

    def _store_failed(self, fut: Any) -> None:
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None:
            import logging

            logging.getLogger(__name__).error("storing a volume epoch failed", exc_info=exc)
            self.messages.append(f"internal error: a volume epoch was not added to the templates ({exc!r})")

    def _template_for(self, v: _Volume) -> tuple[int, int, np.ndarray | None]:
        fut = self._futures.get(v.number)
        if fut is None:  # not prepared ahead (first volumes, after a gap or missing markers): now
            early = self._early_measured_phase and not self._rephased
            fut = self._futures[v.number] = self._run(self._job_template, v.number, self._onset(v), early)
        return fut.result()

    def _backfit_pool(self) -> Any:
        """The pulse backfit's worker (made on first use; behind the stream like the
        template worker)."""
        if self._bf_pool is None:
            self._bf_pool = _worker_pool("online-backfit")
        return self._bf_pool

    def close(self) -> None:
        """Stop the background threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._bf_pool is not None:
            self._bf_pool.shutdown(wait=True, cancel_futures=True)
            self._bf_pool = None

    # ------------------------------------------------------- predicted onsets
    def _predict_next(self, n1: int) -> None:
        """Add provisional volumes at the onsets the TR rhythm predicts when they fall
        before ``n1`` (the end of this chunk) and their markers have not arrived: the
        next one once the data confirmed the last predicted one (else the scanner is
        taken for stopped), all those due when markers trail by more than a volume, at
        most ``predict_volumes`` past the last marker.

        Why not hold the output back until the marker comes: a marker stream can trail
        the samples by tens of ms, more than the 20 ms of latency the neurofeedback
        budget allows; the scanner is periodic and the running fit of the markers
        predicts each onset to a fraction of a sample.
        """
        if not self.predict_onsets or self._fit is None or self.L is None or not self.vols:
            return
        last = self.vols[-1]
        if self._pending is not None or self._after_gap or last.stopped or self._lost:
            return
        marked = next((v for v in reversed(self.vols) if not v.unmarked), last)
        due: list[tuple[int, int]] = []  # (number, onset) of the volumes due by n1
        number = last.number + 1
        while number - marked.number <= self.predict_volumes + 1:
            pm = int(round(self._predict(number)))
            if pm >= n1:
                break
            if pm > last.marker:
                due.append((number, pm))
            number += 1
        if not due:
            return
        if last.provisional and not last.confirmed and last.gated:
            # the data did not show the artifact where the last predicted volume was due:
            # the scanner stopped (or the TR changed); judged from the data, not the clock
            last.stopped = True
            self.n_stopped += 1
            self._say(f"no volume marker and no gradient artifact at the predicted onset "
                      f"({last.marker / self.sfreq:.3f} s): scanner stopped? not predicting volumes "
                      "until the next marker")
            return
        # several due at once (markers more than a volume late): the earlier ones have
        # passed (kept, to match their markers when they come), the last has begun
        for number, pm in due:
            if number - marked.number > self.predict_volumes:
                self._lost = True
                self.n_lost += 1
                self._say(f"no volume marker for {self.predict_volumes} volumes while the artifact goes on: "
                          "stopped predicting them; uncorrected (flagged) until a marker comes")
                return
            self.vols.append(_Volume(pm, number, provisional=True, start=pm))

    def _stop_at(self, x: np.ndarray, t: np.ndarray, tpow: float, v: _Volume | None = None,
                 g0: int = 0) -> int:
        """Samples of ``x`` to subtract ``t`` from: all of them (``x.shape[1]``) unless a
        window of ``stop_block_s`` (sliding over this volume's samples, across chunk
        boundaries) has the template strong (a tenth of ``tpow``, its mean power per
        sample, or more) and carrying over ``gate_stop`` times the data's power. Then up
        to the sample, in that window or the one before it (within this chunk), from
        which leaving the data alone fits them better than subtracting (where the
        artifact ended).

        The window always spans ``stop_block_s``: the power of the volume's last samples
        is carried over in ``v.stop_tail`` (when ``x`` starts at sample ``g0``, right
        after the carried samples). Why: judged on the chunk alone, a chunk of
        one or two samples (LSL hands those over when the pull catches up with the
        outlet) was a window of one sample, where the data crossing zero while the
        template did not carried it over 16x: the gate took the scanner for stopped
        (the 2 kHz phantom replayed in 1-sample chunks: a volume at 6 s dropped)."""
        n = x.shape[1]
        if self.gate_stop is None or n == 0 or (v is not None and v.number < self._stop_quiet):
            return n
        x64 = x.astype(np.float64)
        # per sample: the data's and the template's power, and below 2 kHz the residual's
        powers = [np.sum(x64**2, axis=0), np.sum(np.square(t, dtype=np.float64), axis=0)]
        if self._stop_resid is not None:
            powers.append(np.sum((x64 - t) ** 2, axis=0))
        w = self._block
        if v is not None and v.stop_tail is not None and v.stop_tail[-1] == g0:
            full = [np.r_[tail, p] for tail, p in zip(v.stop_tail[:-1], powers)]
        else:
            full = powers
        m = full[0].size - n  # samples carried over, before this chunk
        if v is not None:
            v.stop_tail = (*(p[-(w - 1):].copy() for p in full), g0 + n) if w > 1 else None
        if full[0].size < w:
            return n

        def window_sums(p: np.ndarray) -> np.ndarray:  # window i covers [i, i + w)
            c = np.r_[0.0, np.cumsum(p)]
            return c[w:] - c[:-w]

        sx, st = window_sums(full[0]), window_sums(full[1])
        first = max(0, m - w + 1)  # windows ending in this chunk (the others were judged)
        gone = st[first:] > self.gate_stop * np.maximum(sx[first:], 1e-300)
        if self._stop_resid is not None:
            # below 2 kHz (longer blocks): also where subtracting leaves far more than the
            # data had, i.e. a template that is not the artifact in the data (a TR change
            # whose markers trail; see _stop_resid_low)
            gone |= window_sums(full[2])[first:] > self._stop_resid * np.maximum(sx[first:], 1e-300)
        bad = np.flatnonzero((st[first:] >= 0.1 * tpow * w) & gone) + first
        if bad.size == 0:
            return n
        i = int(bad[0])
        a = max(0, i - w - m)  # this chunk's part of the window before and of the bad one
        b = i + w - m
        res = powers[2][a:b] if len(powers) > 2 else np.sum((x64[:, a:b] - t[:, a:b]) ** 2, axis=0)
        cxa = np.r_[0.0, np.cumsum(powers[0][a:b])]
        cost = np.r_[0.0, np.cumsum(res)] + cxa[-1] - cxa
        return a + int(np.argmin(cost))

    def _false_stop(self, v: _Volume, number: int) -> None:
        """Volume ``v`` was stopped (its data no longer matched its template) but the
        next volume's marker, ``number``, came on the TR rhythm: a scanner that stopped
        mid-volume sends no marker on time, so the artifact was there and the template
        was what did not match. ``v`` is learnt from after all (unless a stream gap
        broke it), and the stop gate waits ``window`` volumes before judging again, so
        that the templates can learn what they missed.

        Why: an artifact sampled without an anti-alias filter changes from volume to
        volume with the sampling phase; the first templates, from a few volumes, miss
        it by more than the gate allows, and with every stopped volume left out of the
        templates they never learnt it (5 kHz point-sampled phantom with no anti-alias
        filter, 120 s: 52 of 56 volumes stopped, 74 % of the samples uncorrected).
        """
        if v.stop_only:
            v.broken = False
            v.stop_only = False
        self.n_false_stops += 1
        self._stop_quiet = number + self.window
        if self.n_false_stops == 1:
            self._say(f"the volume at {v.first / self.sfreq:.3f} s was not stopped after all (the next "
                      "marker came on the TR rhythm): its template did not match the data, so the "
                      f"stop check waits {self.window} volumes while the templates learn")

    def _start(self, number: int, marker: int) -> int | None:
        """Where volume ``number`` takes over from the previous one: the predicted onset
        (rounded) once the rhythm is known and the marker agrees with it to a sample,
        else the marker. The same sample whether the marker came on time or late (a
        provisional volume starts there too), so a late marker changes nothing."""
        if self._fit is None:
            return None
        pm = int(round(self._predict(number)))
        return pm if abs(pm - marker) <= 1 else None

    def _level(self, v: _Volume) -> np.ndarray:
        """Each row's electrode level before volume ``v`` (V, float64; computed once per
        volume): the raw data's mean over the TR before its first sample, zeros while
        less than half a TR of them is held.

        Why: the gates compare the data's power with the template's and the residual's,
        and the templates hold no offset (the epochs' means are taken out). A DC-coupled
        amplifier's offsets of tens of mV then swamped a 20 mV artifact's power: a
        predicted volume's residual over the data stayed near 1 with the artifact there,
        the gate took the scanner for stopped and the volumes after three missing markers
        went uncorrected (a random sweep's 5 kHz run with +-30 mV offsets, 1-40 Hz after
        volume 10 / 30: 9.79 / 15.86 uV, 2.48 / 2.26 without the offsets). Over a whole
        TR the artifact's own mean is small beside the EEG. Samples a stream gap left as
        zeros are not counted (they would pull the level towards 0).
        """
        if v.level is None:
            per = int(round(self.period)) if self.period else 0
            a, b = max(v.first - per, self.ring.start), min(v.first, self.ring.end)
            held = np.ones(max(b - a, 0), bool)
            for g0, g1 in self._gaps:
                held[max(g0 - a, 0) : max(min(g1, b) - a, 0)] = False
            if per > 0 and int(held.sum()) >= max(per // 2, 1):
                x = self.ring.get(a, b)
                v.level = (x.mean(axis=1, dtype=np.float64) if held.all()
                           else x[:, held].mean(axis=1, dtype=np.float64))
            else:
                v.level = np.zeros(self.n_channels)
        return v.level

    @staticmethod
    def _power_ratio(x: np.ndarray, t: np.ndarray) -> float:
        """Power of ``x - t`` over that of ``x`` (the template ``t`` placed at a predicted
        onset, the data ``x``): about 1 + |t|^2/|x|^2 where a volume never came."""
        x64 = x.astype(np.float64)
        return float(np.sum((x64 - t) ** 2)) / max(float(np.sum(x64**2)), 1e-300)

    # ---------------------------------------------------------------- process
    def process(self, x: np.ndarray, *, subtract: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Correct one chunk (the samples right after the previous one).

        Parameters
        ----------
        x : ndarray, shape (n_channels, n)
            Raw samples (V).
        subtract : bool
            False passes the chunk through (the caller flags why) while the templates
            keep learning.

        Returns
        -------
        y : ndarray (n_channels, n), float32
            Corrected chunk.
        flags : ndarray (n,), int16
            Per-sample flags (:mod:`.flags`).
        """
        n0 = self.ring.end
        n = x.shape[1]
        n1 = n0 + n
        self.ring.push(x)
        self._submit_templates()
        if self.lowband is not None:
            self.lowband.flush(n0, self.pulse, self.pulse_through, self.pulse_rows)
        self._predict_next(n1)
        y = np.array(x, np.float32, copy=True)
        fl = np.zeros(n, np.int16)
        markers = [v.first for v in self.vols]
        pos = n0
        while pos < n1:
            i = int(np.searchsorted(markers, pos, side="right")) - 1
            nxt = markers[i + 1] if i + 1 < len(markers) else n1
            if i < 0 or self.L is None:
                end = min(nxt, n1)
                fl[pos - n0 : end - n0] = F.NO_VOLUME if i < 0 else F.GRADIENT_LEARNING
                pos = end
                continue
            v = self.vols[i]
            vend = v.marker + self.L
            if pos >= vend:
                end = min(nxt, n1)
                # a volume due by the rhythm, its marker missing for too long: flagged
                fl[pos - n0 : end - n0] = F.NO_VOLUME | (F.MARKER_LATE if self._lost else 0)
                pos = end
                continue
            end = min(vend, nxt, n1)
            a, b = pos - n0, end - n0
            if self._after_gap:
                fl[a:b] = F.GAP
            else:
                n_used, first, t = self._template_for(v)
                if v.tpow is None and t is not None:
                    v.tpow = float(np.mean(np.sum(np.square(t, dtype=np.float64), axis=0)))
                if n_used < self.min_volumes or t is None:
                    fl[a:b] = F.TR_CHANGED if self._tr_changed else F.GRADIENT_LEARNING
                else:
                    if self._tr_changed:
                        self._tr_changed = False
                    if subtract:
                        self._subtract(v, y, fl, a, b, t, pos - first)
            pos = end
        if self._after_gap:
            fl |= F.GAP
        return y, fl

    def _subtract(self, v: _Volume, y: np.ndarray, fl: np.ndarray, a: int, b: int, t: np.ndarray,
                  off: int) -> None:
        """Subtract volume ``v``'s template ``t`` (from its sample ``off`` on) from
        ``y[:, a:b]`` where the data allow it, flagging the rest (see ``gate``,
        ``gate_confirm``, ``gate_stop``); then the slice-wise axis fit."""
        seg = t[:, off : off + b - a]
        if v.stopped:
            if v.unmarked and not v.confirmed:  # a predicted volume the data never confirmed
                fl[a:b] = F.MARKER_LATE
                self.n_unconfirmed += b - a
            else:
                fl[a:b] = F.ARTIFACT_ENDED
                self.n_ended += b - a
            return
        lev = self._level(v)[:, None]
        if v.unmarked and not v.confirmed:
            v.gated = True
            ratio = self._power_ratio(y[:, a:b] - lev, seg)
            if ratio > self.gate:
                fl[a:b] = F.MARKER_LATE
                self.n_unconfirmed += b - a
                return
            v.confirmed = ratio <= self.gate_confirm
            k = b - a
        else:
            k = self._stop_at(y[:, a:b] - lev, seg, v.tpow or 0.0, v, self.ring.end - y.shape[1] + a)
        y[:, a : a + k] -= seg[:, :k]
        if self.axes is not None and k > 0:
            pre = self._axes_basis.get(v.number)
            self.axes.start_volume(v.first, t, pre[1] if pre is not None and pre[0] is t else None)
            self.axes.apply(y[:, a : a + k], off)
        if self.lowband is not None and k > 0 and self.period is not None:
            self.lowband.apply(v.number, v.first, self.period, y, a, k, self.ring.end - y.shape[1] + a)
        if v.unmarked:
            fl[a : a + k] |= F.PREDICTED
            self.n_predicted += k
        if k < b - a:  # the artifact is no longer in the data
            v.stop_only = not v.broken
            v.stopped = v.broken = True
            self.n_stopped += 1
            fl[a + k : b] = F.ARTIFACT_ENDED
            self.n_ended += b - a - k
            if self.n_stopped <= 3:  # (a template gone wrong would say it every volume)
                at = self.ring.end - y.shape[1] + a + k
                self._say(f"the gradient artifact stopped {(at - v.first) / self.sfreq:.3f} s into the volume "
                          f"at {v.first / self.sfreq:.3f} s (the data no longer match its template: scanner "
                          "stopped?): not subtracted (flagged) until the next volume marker")
