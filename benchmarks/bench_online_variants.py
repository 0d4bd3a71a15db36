"""Online vs offline gradient correction on the variant table's artifacts.

Not run by pytest. ``bench_online_convergence.py`` measures the online correction on
150 s phantoms whose artifact drifts and moves, where the offline correction is itself
limited; this runs the rows of ``bench_gradient_variants.py`` (120 s x 16 ch; steady,
ringing, multiband, 1 kHz artifacts with a 1-40 Hz EEG truth). Both paths without their
low-pass (online: BCG off), then the same causal 70 Hz low-pass and 1-40 Hz band-pass;
RMS error against the EEG truth (µV) after volume 10 and after volume 30, and online vs
offline in dB. ``--no-spatial`` runs the online path without its causal spatial pass.

Usage::

    nice python benchmarks/bench_online_variants.py [--no-spatial] [--only NAME ...]
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_gradient_variants import VARIANTS, make
from scipy.signal import butter, sosfilt

ROWS = ("default", "LF volume-locked 20 uV", "combined", "bore drift + 2 movements", "eddy currents",
        "mb default", "slow EEG (blinks, drift)", "mb combined", "1 kHz default")


def main() -> None:
    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.online import OnlineParams, replay_raw

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--no-spatial", action="store_true")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    print("| row | offline, vol 10- | online | dB | offline, vol 30- | online | dB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.only or ROWS:
        base, over, kind = VARIANTS[name]
        raw, eeg, _art, cfg, samples = make(base, over, kind, args.seconds, args.channels)
        sf = cfg.sfreq
        lp = butter(4, 70, fs=sf, output="sos")
        bp = butter(4, [1, 40], btype="band", fs=sf, output="sos")

        def band(z: np.ndarray, lp=lp, bp=bp) -> np.ndarray:
            return sosfilt(bp, sosfilt(lp, z, axis=1), axis=1)

        target, st = band(eeg), np.asarray(samples, int)

        def err(y: np.ndarray, target=target, st=st, band=band) -> list[float]:
            e = band(y) - target
            return [float(np.sqrt(np.mean(e[:, st[i] : st[-1]] ** 2)) * 1e6) for i in (10, 30)]

        off = err(remove_gradient(raw, params=GradientParams(lowpass=None), tr=cfg.tr,
                                  volume="Response/R128").raw.get_data())
        r = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False, spatial=not args.no_spatial),
                       chunk=int(round(0.01 * sf)))
        on = err(r.data[: args.channels])
        print(f"| {name} | " + " | ".join(f"{o:.2f} | {x:.2f} | {20 * np.log10(x / o):+.1f}"
                                           for o, x in zip(off, on)) + " |", flush=True)


if __name__ == "__main__":
    main()
