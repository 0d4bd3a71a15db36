"""How far behind the offline correction a causal template must be: the EEG leak's bound.

Not run by pytest. The online correction's template for volume ``v`` can only average the
volumes before it; the offline one averages its neighbours on both sides (below 40 Hz, 60
of them). Both templates carry the EEG of the volumes they average (the leak), and a mean
of ``n`` volumes carries ``1/n`` of their EEG power: in volumes 10-30 the online template
averages 10-30 volumes where the offline one averages 60, whatever the method.

This measures that penalty on the variant table's rows (``bench_gradient_variants.py``,
120 s x 16 ch, seed 3) with everything else ideal: the epochs' spectra (one TR from each
recorded marker) of the true artifact and the true EEG; a template that is the plain mean
of the recording's epochs (artifact plus EEG, aligned on the markers' line) over a causal window (the ``window_lf``
volumes before) or the offline one (``window_lf`` neighbours, leave-one-out), each
multiplied per bin by the oracle Wiener gain ``P / (P + N / n)`` (``P``: the artifact's
all-volume mean power, ``N``: the EEG's power per epoch, from the truth). The error is
the artifact minus the weighted template in 1-40 Hz, summed after volume 10 (and 30).

Next to it, the measured online (``replay_raw``) and offline (``remove_gradient``) errors
as ``bench_online_variants.py`` scores them (causal 70 Hz low-pass and 1-40 Hz band-pass,
RMS against the EEG truth). Measured online minus offline, minus the bound, is what a
better online method could still win. The bound assumes a steady artifact (``P`` from the
all-volume mean): on drifting rows it is the leak's share only, not a bound on the whole.

Usage::

    python benchmarks/bench_online_bound.py [--only NAME ...] [--window-lf 60] [--no-measured]
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_gradient_variants import VARIANTS, make
from scipy.signal import butter, sosfilt

ROWS = ("default", "slow EEG (blinks, drift)", "eddy currents", "LF volume-locked 20 uV",
        "artifact x8 (40 mV)", "bore drift x3", "mb default", "mb eddy", "combined")


def leak_bound(eeg: np.ndarray, art: np.ndarray, starts: np.ndarray, sfreq: float, window: int,
               first: tuple[int, ...] = (10, 30)) -> tuple[dict[int, float], dict[int, float]]:
    """The causal template's error power over the offline one's, with oracle gains.

    Parameters
    ----------
    eeg, art : ndarray, shape (n_channels, n_times)
        The truth: EEG and gradient artifact (V).
    starts : ndarray of int
        The volumes' first samples (the recorded markers).
    sfreq : float
        Sampling rate (Hz).
    window : int
        Volumes averaged (the low band's window, both methods).
    first : tuple of int
        Volumes from which the error is summed.

    Returns
    -------
    ratio : dict
        For each of ``first``, the ratio of the summed 1-40 Hz error powers (causal over
        offline).
    rms : dict
        For each of ``first``, the oracle offline template's error as an RMS over channels
        and samples (V; Parseval): the bound is one where it lies below the measured
        offline error (the oracle template is then the better one), not where the
        artifact's own changes, which the oracle's plain mean does not follow, dominate it.
    """
    length = int(np.min(np.diff(starts)))
    nv = starts.size - 1
    f = np.fft.rfftfreq(length, 1.0 / sfreq)
    band = (f >= 1.0) & (f <= 40.0)
    # each epoch aligned on the line through the markers (they sit on whole samples: at
    # 40 mV, half a sample is ~20 uV of error at the 35 Hz harmonic), by its fraction
    v_all = np.arange(nv)
    onsets = np.polyval(np.polyfit(v_all, starts[:nv].astype(float), 1), v_all)
    first_s = np.floor(onsets).astype(int)
    shift = np.exp(2j * np.pi * np.outer(onsets - first_s, f[band]) / sfreq)  # (n_vol, n_bins)

    def spectra(x: np.ndarray) -> np.ndarray:
        return np.stack([np.fft.rfft(x[:, s : s + length], axis=-1)[:, band] for s in first_s], 1) * shift[None]

    fe, fa = spectra(eeg), spectra(art)
    x = fe + fa
    p_art = np.abs(fa.mean(axis=1)) ** 2
    p_eeg = (np.abs(fe) ** 2).mean(axis=1)
    err = {"causal": np.zeros(nv), "offline": np.zeros(nv)}
    for v in range(nv):
        lo = max(0, min(v - window // 2, nv - window - 1))
        windows = {"causal": np.arange(max(0, v - window), v),
                   "offline": np.array([j for j in range(lo, min(lo + window + 1, nv)) if j != v])}
        for kind, idx in windows.items():
            if idx.size == 0:
                err[kind][v] = np.nan
                continue
            gain = p_art / (p_art + p_eeg / idx.size)
            err[kind][v] = float(np.sum(np.abs(fa[:, v] - gain * x[:, idx].mean(axis=1)) ** 2))
    ratio = {v0: float(np.sum(err["causal"][v0:]) / np.sum(err["offline"][v0:])) for v0 in first}
    rms = {v0: float(np.sqrt(2.0 * np.mean(err["offline"][v0:]) / (length**2 * eeg.shape[0]))) for v0 in first}
    return ratio, rms


def measured(raw, eeg: np.ndarray, cfg, starts: np.ndarray, n_ch: int) -> tuple[list[float], list[float]]:
    """Offline and online 1-40 Hz RMS errors (µV) after volume 10 and 30, as
    ``bench_online_variants.py`` scores them."""
    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.online import OnlineParams, replay_raw

    sf = cfg.sfreq
    lp = butter(4, 70, fs=sf, output="sos")
    bp = butter(4, [1, 40], btype="band", fs=sf, output="sos")
    target = sosfilt(bp, sosfilt(lp, eeg, axis=1), axis=1)

    def err(y: np.ndarray) -> list[float]:
        e = sosfilt(bp, sosfilt(lp, y, axis=1), axis=1) - target
        return [float(np.sqrt(np.mean(e[:, starts[i] : starts[-1]] ** 2)) * 1e6) for i in (10, 30)]

    off = err(remove_gradient(raw, params=GradientParams(lowpass=None), tr=cfg.tr,
                              volume="Response/R128").raw.get_data())
    on = err(replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False),
                        chunk=int(round(0.01 * sf))).data[:n_ch])
    return off, on


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--window-lf", type=int, default=60)
    ap.add_argument("--no-measured", action="store_true", help="the bound only (no correction runs)")
    args = ap.parse_args()
    print("| row | leak bound, vol 10- (dB) | vol 30- | oracle offline (µV) | offline, vol 10- (µV) | online "
          "| measured (dB) | beyond the bound (dB) | measured, vol 30- (dB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.only or ROWS:
        base, over, kind = VARIANTS[name]
        raw, eeg, art, cfg, samples = make(base, over, kind, args.seconds, args.channels)
        starts = np.asarray(samples, int)
        b, rms = leak_bound(eeg, art, starts, cfg.sfreq, args.window_lf)
        db = {k: 10 * np.log10(r) for k, r in b.items()}
        if args.no_measured:
            print(f"| {name} | {db[10]:+.1f} | {db[30]:+.1f} | {rms[10] * 1e6:.2f} | | | | | |", flush=True)
            continue
        off, on = measured(raw, eeg, cfg, starts, args.channels)
        m10, m30 = (20 * np.log10(o / f) for o, f in zip(on, off))
        # the oracle's plain mean is a bound only where it beats the real offline template
        beyond = f"{m10 - db[10]:+.1f}" if rms[10] * 1e6 < off[0] else "– (oracle above offline: no bound)"
        print(f"| {name} | {db[10]:+.1f} | {db[30]:+.1f} | {rms[10] * 1e6:.2f} | {off[0]:.2f} | {on[0]:.2f} "
              f"| {m10:+.1f} | {beyond} | {m30:+.1f} |", flush=True)


if __name__ == "__main__":
    main()
