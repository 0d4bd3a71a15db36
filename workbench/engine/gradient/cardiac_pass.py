"""The pulse artifact kept out of the gradient templates (the gradient step's cardiac pass).

Why: the gradient templates are means of volume epochs. A heartbeat whose harmonics fall
near the volume lines k/TR (72 bpm at TR 2 s: its 5th harmonic is 12/TR; 60 or 75 bpm
likewise) repeats with the volumes for dozens of them, so the low band's 60-volume
templates take much of the BCG for artifact and subtract it. The cardiac step later finds
a BCG with holes at those lines, and the gradient step's own 1-40 Hz error is mostly that
BCG (90 s phantoms with an 80 µV BCG: NRMSE 0.042-0.066 at TR 2-3 s with the heart near
a line, 0.18 with a 30 µV BCG at 72 bpm, 0.40-0.70 with a heart at 60 or 90 bpm; with
the true BCG taken out first, 0.02-0.04).

What: the gradient and the pulse artifact repeat with different clocks (the volumes, the
R-peaks), so they are separated by backfitting. On the recording low-passed at 40 Hz and
decimated to ~250 Hz (the BCG lies below ~20 Hz; 1/20 of the samples at 5 kHz), the
gradient templates (the same averaging and Wiener rule, without alignment or the spatial
pass) and the R-locked mean of 21 beats (the cardiac step's AAS,
:func:`..cardiac.bcg.remove_bcg`) take turns, each on the recording minus the other's
estimate, until the pulse estimate changes by less than 1 %. The R-peaks come from the
ECG after the first round. The full-rate correction then runs once on the recording minus
the pulse estimate, which is added back afterwards: the gradient step removes the
gradient and leaves the whole BCG to the cardiac step. The ECG channel's own beat (QRS and
T wave, R-locked too) is estimated and kept out of the ECG's templates the same way: on a
heart near the volume lines they took its QRS (90 s phantoms, ECG NRMSE 1-40 Hz: 72 bpm
0.225 -> 0.055, 60 bpm locked 0.348 -> 0.234). Written here (not MNE's or
FMRIB's): no peer separates the two by their different locking; the R-locked mean is the
standard BCG template (Allen et al. 1998).

Cost: 3 rounds for a heart not locked to the volumes, 15-17 for one locked at 1 %
variability, each ~1/20 of a full-rate pass, and one 40 Hz low-pass of every EEG channel.
Without an ECG channel, with fewer than 30 beats or untrustworthy R-peaks, the pass is
skipped and the QC says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: fewest beats for the estimate (the AAS window below needs 21; a short run keeps 1 pass)
MIN_BEATS = 30
#: the R-peak detector's quality (median QRS correlation) below which the pass is skipped
MIN_QUALITY = 0.5
#: the estimate's band (Hz) and the rate it is computed at (Hz, at least)
BAND_HZ = 40.0
WORK_RATE_HZ = 250.0
#: the ECG row's band (its QRS)
ECG_BAND_HZ = 70.0
#: beats in the R-locked mean
WINDOW_BEATS = 21
#: backfitting rounds at most, and the relative change of the estimate that ends them. A
#: heart locked to the volumes is taken into the templates in the first round, so its
#: R-locked mean misses that part; each round recovers more of it. 60 s phantoms, NRMSE
#: 1-40 Hz: 60 bpm at TR 2 s with 1 % beat-to-beat variability 0.70 (no pass) -> 0.60 /
#: 0.23 / 0.037 / 0.034 after 1 / 6 / 12 / 24 rounds (0.034-0.040 with the true BCG
#: taken out first); 90 bpm 0.68 -> 0.29 / 0.064 / 0.031 after 6 / 12 / 24. With 1 %
#: they stop after 15-17 rounds at the floor; an unlocked heart after 3
MAX_ROUNDS = 30
TOL = 0.01
#: outside the samples the volumes cover (``backfit``'s ``covered``), a row's data is
#: used when its RMS stays under this multiple of the corrected covered part's: a
#: trailing window's edges cut volumes no template covers. On the 90 bpm locked-heart
#: phantom (gradient energy mostly far above 40 Hz) those parts held 1.5-2.2x the
#: corrected RMS per row, and their beats help (taking them as zero on every row cost its
#: last 10 s 0.045 -> 0.058); with an artifact of 2 mV below 60 Hz
#: (tests/online/online_synth.py) 16x, and its raw artifact entered the R-peaks and the
#: R-locked means (online EEG error 7.4 -> 33 uV)
UNCOVERED_MAX = 4.0


@dataclass
class CardiacEstimate:
    """The pulse artifact estimated by :func:`estimate` (or none, and why).

    Attributes
    ----------
    coarse : ndarray | None
        (n_rows, n_coarse): the estimate every ``step`` samples from ``start`` (decimated:
        it lies below 40 Hz for the EEG, 70 Hz for the ECG); None when the pass was skipped.
    start, step : int
        Its first sample and spacing (samples of the recording).
    rows : ndarray of int | None
        The rows of the recording it belongs to: the EEG rows' pulse artifact, then the
        ECG row's own beat (QRS and T wave).
    info : dict
        ``used`` (bool), ``reason`` (why not, or ""), ``beats``, ``quality``, ``hr_bpm``,
        and when used ``rounds`` and ``last_change`` (the last round's relative change).
    """

    coarse: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    step: int = 1
    rows: np.ndarray | None = None

    def add_to(self, data: np.ndarray, sign: float = 1.0, n_jobs: int = 1) -> None:
        """``data[self.rows] += sign * estimate``, linearly interpolated to every sample
        (a < 40 Hz signal at >= 250 Hz: within 3 % at 40 Hz, 0.2 % at the BCG's 5-10 Hz).

        Parameters
        ----------
        data : ndarray, shape (n_channels, n_times)
            The recording, modified in place.
        sign : float
            +1 to add, -1 to subtract.
        n_jobs : int
            Threads (rows are shared among them).

        Notes
        -----
        No full-rate copy: each stretch between two coarse samples is a ramp, made for
        2048 stretches at a time in a buffer that stays in cache and added to the data's
        view of the same shape (np.interp took 8x longer; one ramp of the whole row, 1.6x).
        """
        if self.coarse is None or self.rows is None:
            return
        rows = self.rows
        n, q = self.coarse.shape[1], int(self.step)
        stop = min(self.start + (n - 1) * q, data.shape[1])
        m = (stop - self.start) // q  # whole stretches that fit in the data
        w = (np.arange(q, dtype=np.float32) / np.float32(q))[None, :]
        chunk = 2048

        def one(i: int) -> None:
            c = self.coarse[i].astype(np.float32) * np.float32(sign)
            row = data[int(rows[i])]
            ramp = np.empty((chunk, q), np.float32)
            dv = np.empty((chunk, 1), np.float32)
            for a in range(0, m, chunk):
                k = min(a + chunk, m) - a
                np.subtract(c[a + 1 : a + k + 1, None], c[a : a + k, None], out=dv[:k])
                np.multiply(dv[:k], w, out=ramp[:k])
                ramp[:k] += c[a : a + k, None]
                row[self.start + a * q : self.start + (a + k) * q].reshape(k, q)[...] += ramp[:k]
            end = self.start + m * q
            if end < data.shape[1] and m < n:  # the last coarse sample (and nothing past it)
                row[end] += data.dtype.type(c[m])

        if n_jobs > 1 and len(rows) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=n_jobs) as ex:
                list(ex.map(one, range(len(rows))))
        else:
            for i in range(len(rows)):
                one(i)


def ecg_row(types: list[str], picks: np.ndarray, data: np.ndarray,
            span: tuple[int, int]) -> int | None:
    """The first ECG channel among the corrected channels that is not flat over ``span``."""
    for i in picks:
        if types[int(i)] == "ecg" and np.ptp(data[int(i), span[0] : span[1]]) > 0:
            return int(i)
    return None


def estimate(data: np.ndarray, eeg: np.ndarray, ecg: int, sfreq: float, sched: Any,
             aas_params: Any, span: tuple[int, int], n_jobs: int = 2,
             rounds: int | None = None, tol: float | None = None,
             progress: Any = None) -> CardiacEstimate:
    """The pulse artifact of the EEG rows of ``data`` (the recording, gradient and all),
    estimated at ~250 Hz by backfitting: the gradient templates (the same averaging, on
    the low-passed, decimated rows) and the R-locked mean take turns, each on the
    recording minus the other's estimate.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording (not modified).
    eeg : ndarray of int
        EEG rows to estimate.
    ecg : int
        The ECG row.
    sfreq : float
        Sampling rate (Hz).
    sched : Schedule
        Volume onsets, period and slot offsets (samples).
    aas_params : AASParams
        The full-rate correction's parameters (window, low-band window, Wiener rule).
    span : tuple of int
        The scanning period (samples).
    n_jobs : int
        Threads.
    rounds : int | None
        Most template / R-locked mean rounds (None: :data:`MAX_ROUNDS`).
    tol : float | None
        Stop when a round changes the estimate by less than this fraction of its RMS
        (None: :data:`TOL`).
    progress : Progress | None
        Progress and cancellation, checked every round (a heart locked to the volumes can
        take 20 rounds: an estimated ~25 s on 64 channels x 10 min, from one round's cost).

    Returns
    -------
    CardiacEstimate
    """
    from concurrent.futures import ThreadPoolExecutor

    from .aas import Schedule
    from .correct import fir_decimate

    s0, s1 = int(span[0]), int(span[1])
    q = max(int(sfreq // WORK_RATE_HZ), 1)
    rows = [int(r) for r in eeg] + [int(ecg)]
    taps = decimation_taps(sfreq)

    def low(r: int) -> np.ndarray:
        h = taps[ECG_BAND_HZ if r == ecg else BAND_HZ]
        x = np.asarray(data[r], np.float32)
        return fir_decimate(x, h, q) if h is not None else x[::q]

    # each row decimated into its place (np.stack of the rows copied them all once more:
    # 0.2 s of 64 ch x 10 min at 5 kHz, most of it the first touch of the new array)
    dec = np.empty((len(rows), -(-data.shape[1] // q)), np.float32)

    def fill(i: int) -> None:
        dec[i] = low(rows[i])

    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as ex:
        list(ex.map(fill, range(len(rows))))
    sd = Schedule(np.asarray(sched.onsets, float) / q, float(sched.period) / q,
                  np.asarray(sched.slot_offsets, float) / q)
    est, info = backfit(dec, sfreq, q, sd, aas_params, (s0 / sfreq, s1 / sfreq), n_jobs=n_jobs,
                        rounds=rounds, tol=tol, progress=progress)
    if est is None:
        return CardiacEstimate(None, info)
    return CardiacEstimate(est, info, start=0, step=q, rows=np.asarray(rows, int))


def decimation_taps(sfreq: float) -> dict[float, np.ndarray | None]:
    """The FIR low-pass taps (float32) before the decimation by ``sfreq // WORK_RATE_HZ``,
    for the EEG rows (:data:`BAND_HZ`) and the ECG row (:data:`ECG_BAND_HZ`); None where
    the rate is already low enough to take every ``q``-th sample as it is."""
    from .correct import lowpass_taps

    q = max(int(sfreq // WORK_RATE_HZ), 1)
    fs = sfreq / q
    return {band: lowpass_taps(sfreq, band).astype(np.float32) if 2.2 * band < fs else None
            for band in (BAND_HZ, ECG_BAND_HZ)}


def backfit(dec: np.ndarray, sfreq: float, q: int, sd: Any, aas_params: Any,
            span_s: tuple[float, float], *, n_jobs: int = 2, rounds: int | None = None,
            tol: float | None = None, est0: np.ndarray | None = None,
            check_beats: Any = None, covered: tuple[int, int] | None = None,
            progress: Any = None) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The backfitting rounds of :func:`estimate` on rows already decimated.

    Parameters
    ----------
    dec : ndarray, shape (n_rows, n_low)
        The EEG rows, then the ECG row, low-passed and decimated by ``q`` (float32).
    sfreq : float
        The recording's rate (Hz); ``dec`` is at ``sfreq / q``.
    q : int
        Decimation factor.
    sd : Schedule
        Volume onsets, period and slot offsets in samples of ``dec``.
    aas_params : AASParams
        The full-rate correction's parameters.
    span_s : tuple of float
        The scanning period (s from ``dec``'s first sample): the beats counted.
    n_jobs : int
        Threads.
    rounds, tol : int | None, float | None
        As :func:`estimate`.
    est0 : ndarray | None
        A first estimate (the shape of ``dec``) to start from (the online pass's trailing
        window starts from the previous window's); None: zero.
    check_beats : callable | None
        Called with the R-peak times found (s from ``dec``'s first sample); a string it
        returns is a reason not to use them (the online pass compares them with its
        causal R-peaks).
    covered : tuple of int | None
        The samples of ``dec`` the volumes of ``sd`` cover (the online window, whose
        edges cut volumes). Outside, no gradient template corrects the rows: a row whose
        RMS before (or after) them exceeds :data:`UNCOVERED_MAX` times its corrected RMS
        inside is taken as zero there (its raw artifact would enter the R-peaks and the
        R-locked means); the others are used as they are. None: ``sd`` covers all of
        ``dec``.
    progress : Progress | None
        Progress and cancellation.

    Returns
    -------
    est : ndarray | None
        The EEG rows' pulse artifact, then the ECG's own beat (the shape of ``dec``);
        None when the pass cannot run (``info["reason"]`` says why).
    info : dict
        As :class:`CardiacEstimate`'s ``info``.
    """
    from dataclasses import replace

    from ..cardiac.bcg import BCGParams, remove_bcg
    from ..cardiac.rpeaks import HR_RANGE_BPM, detect_rpeaks
    from ..errors import InputError
    from ..progress import as_progress
    from .aas import correct_inplace
    from .correct import LOW_RATE_HZ

    prog = as_progress(progress)
    fs = sfreq / q
    # below LOW_RATE_HZ the readout's harmonics fold into the band from several rates up
    # and stay there after the 40 Hz low-pass, changing with each volume's sub-sample phase
    # on the recording's grid: the rounds keep the alias model, phased on that grid (without
    # it the estimate took that residual in: 1 kHz phantom 0.145 -> 0.171 with the pass,
    # 0.125 with the true BCG). Above, little folds and the rounds go without it.
    low_rate = 0 < sfreq < LOW_RATE_HZ
    pd = replace(aas_params, align=False, alias_orders=aas_params.alias_orders if low_rate else 0,
                 alias_phase_scale=float(q), obs=False, anc=False, drift_range=0.0,
                 track=False, lf_cutoff=min(aas_params.lf_cutoff * q, 0.45), pad=32,
                 segment_check_fmax=0.0, spatial=False, alias_orders_try=(),
                 # (frequencies in cycles per sample, as lf_cutoff: on the decimated grid)
                 keep=tuple(k * q for k in aas_params.keep if k * q < 0.5), keep_width=aas_params.keep_width * q)
    rounds = MAX_ROUNDS if rounds is None else int(rounds)
    tol = TOL if tol is None else float(tol)
    n_rows = dec.shape[0]
    n_e = n_rows - 1
    ne = np.arange(n_e)
    # the EEG rows' pulse artifact, then the ECG's own beat
    est = np.zeros(dec.shape, np.float32) if est0 is None else np.array(est0, np.float32)
    z = np.empty_like(dec)  # one working copy, reused (memory: the rows at ~250 Hz, 3 times)
    # channel groups as large as the full-rate correction of the recording these rows came
    # from may take (at most 64 MB a thread): by the rows' own size they were one channel
    # each at 5 kHz (64 ch x 10 min: 0.17 -> 0.10 s a round, the same output)
    group_floor = min(64e6, 0.3 * dec.nbytes * q / max(n_jobs, 1))
    info: dict[str, Any] = {}
    t = None
    dirty: np.ndarray | None = None
    change, done = 0.0, 0
    while done < max(rounds, 1):
        prog.check()
        prog(min(done, 10) / 10.0, f"pulse artifact from the ECG's R-peaks: round {done + 1}")
        done += 1
        np.subtract(dec, est, out=z)
        correct_inplace(z, sd, np.arange(n_rows), pd, ref_picks=ne, obs_picks=ne, n_jobs=n_jobs,
                        min_group_bytes=group_floor)
        if covered is not None:
            if dirty is None:
                dirty = _dirty_outside(z, covered)
            _zero_outside(z, covered, dirty)
        if t is None:
            try:  # on the ECG with its own beat (a first estimate holds it: put it back)
                rp = detect_rpeaks((z[-1] + est[-1]).astype(float) if est0 is not None else z[-1].astype(float), fs)
            except InputError as exc:
                return None, {"used": False, "reason": f"no R-peaks on the ECG: {exc.problem}"}
            t = np.asarray(rp.times, float)
            inside = t[(t >= span_s[0]) & (t < span_s[1])]
            info = {"beats": int(inside.size), "quality": float(rp.quality),
                    "hr_bpm": float(60.0 / np.median(np.diff(inside))) if inside.size > 1 else 0.0}
            if inside.size < MIN_BEATS:
                return None, {**info, "used": False,
                              "reason": f"{inside.size} R-peaks in the scanning period (< {MIN_BEATS})"}
            if not rp.quality >= MIN_QUALITY:
                return None, {**info, "used": False,
                              "reason": f"ECG R-peaks not trustworthy (QRS quality {rp.quality:.2f})"}
            if info["hr_bpm"] > HR_RANGE_BPM[1]:  # peaks on a gradient residual, not on QRS
                return None, {**info, "used": False,
                              "reason": f"ECG R-peaks at {info['hr_bpm']:.0f} bpm: faster than a heart"}
            why = check_beats(t) if check_beats is not None else None
            if why:
                return None, {**info, "used": False, "reason": why}
        z += est  # the recording without this round's gradient estimate
        if dirty is not None:
            _zero_outside(z, covered, dirty)
        try:
            new = remove_bcg(z[:n_e], fs, t, BCGParams(method="aas", window=WINDOW_BEATS), n_jobs=n_jobs).artifact
            # the ECG's own beat (QRS, T wave: mV, R-locked like the BCG) is kept out of the
            # ECG's templates the same way; its epochs start 0.2 s before the R-peak, not at
            # the pulse artifact's delay, and it does not count in the change below
            ecg_beat = remove_bcg(z[n_e:], fs, t, BCGParams(method="aas", window=WINDOW_BEATS, delay_s=0.0),
                                  n_jobs=1).artifact
        except InputError as exc:
            return None, {**info, "used": False, "reason": exc.problem}
        d2 = sum(float(np.sum((new[i] - est[i]) ** 2, dtype=np.float64)) for i in range(n_e))
        est[:n_e] = new
        est[n_e:] = ecg_beat
        del new, ecg_beat
        # row by row, as d2 (a float64 copy of all rows squared took ~0.25 s a round on
        # 64 ch x 10 min, most of it the first touch of two 77 MB temporaries)
        e2 = sum(float(np.sum(np.square(est[i], dtype=np.float64))) for i in range(n_e))
        change = float(np.sqrt(d2 / max(e2, 1e-60)))
        if change < tol:
            break
    return est, {**info, "used": True, "reason": "", "rounds": done, "last_change": change}


def _dirty_outside(z: np.ndarray, covered: tuple[int, int]) -> np.ndarray:
    """For each row of ``z`` (gradient-corrected inside ``covered``), whether its samples
    before and after ``covered`` (each side on its own: a window can start before the
    scan) exceed :data:`UNCOVERED_MAX` times its RMS inside; shape (n_rows, 2)."""
    c0, c1 = covered
    inner = np.sqrt(np.mean(np.square(z[:, c0:c1], dtype=np.float64), axis=1))
    out = np.zeros((z.shape[0], 2), bool)
    for k, part in enumerate((z[:, :c0], z[:, c1:])):
        if part.shape[1]:
            rms = np.sqrt(np.mean(np.square(part, dtype=np.float64), axis=1))
            out[:, k] = rms > UNCOVERED_MAX * np.maximum(inner, 1e-30)
    return out


def _zero_outside(z: np.ndarray, covered: tuple[int, int], dirty: np.ndarray) -> None:
    """Zero the rows' samples before / after ``covered`` where ``dirty`` says so."""
    z[dirty[:, 0], : covered[0]] = 0.0
    z[dirty[:, 1], covered[1] :] = 0.0
