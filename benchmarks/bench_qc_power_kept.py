"""Does the gradient QC's "1-40 Hz power kept" tell EEG lost from artifact removed?

Not run by pytest. On rows of the variant table (``bench_gradient_variants.py``: the
phantom's artifact physics plus a 1-40 Hz EEG truth, 120 s x 16 ch) it runs
``remove_gradient`` and prints the QC's plain ratio (``power_kept_1_40``, after/before
outside the slice harmonics) and the ratio between the volume comb's lines
(``power_kept_1_40_off_comb``, median over channels, and the channels' range). Then it
low-passes the same output at 20 Hz (EEG lost on purpose) and scores that against the
recording on a 20 s stretch from the scan's middle, as the QC does. A good figure reads
near 1 for the correction and clearly below 1 for the low-passed output, whatever
artifact lies below 40 Hz.

Usage::

    nice python benchmarks/bench_qc_power_kept.py [--seconds 120] [--only NAME ...]
"""

from __future__ import annotations

import argparse

from bench_gradient_variants import VARIANTS, make
from scipy.signal import butter, sosfiltfilt

ROWS = ("default", "LF volume-locked 20 uV", "combined", "slow EEG (blinks, drift)", "bore drift + 2 movements",
        "250 Hz amplifier, drift + 2 movements", "mb default", "mb combined", "1 kHz default",
        "1 kHz point, drift", "artifact x8 (40 mV)")


def main() -> None:
    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.gradient.qc import spectral_qc

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    print("| row | plain | between the lines (channels) | 20 Hz low-pass: plain / between |")
    print("|---|---|---|---|")
    for name in args.only or ROWS:
        base, over, kind = VARIANTS[name]
        raw, _eeg, _art, cfg, samples = make(base, over, kind, args.seconds, args.channels)
        res = remove_gradient(raw, params=GradientParams(), tr=cfg.tr, volume="Response/R128")
        q = res.qc
        out, before = res.raw.get_data(), raw.get_data()
        s0 = int(samples[0])
        s1 = int(min(samples[-1] + cfg.tr * cfg.sfreq, out.shape[1]))
        mid, n = (s0 + s1) // 2, int(20 * cfg.sfreq)
        a, b = mid - n // 2, mid + n // 2
        lost = sosfiltfilt(butter(4, 20, "lowpass", fs=cfg.sfreq, output="sos"), out[:, a:b], axis=1)
        qb = spectral_qc(before[:, a:b], lost, cfg.sfreq, q["f_slice_hz"], cfg.tr * res.sync.fit.alpha)
        ch = q["per_channel"]["power_kept_1_40_off_comb"]
        print(f"| {name} | {q['power_kept_1_40']:.3f} | {q['power_kept_1_40_off_comb']:.3f} "
              f"({min(ch):.3f}-{max(ch):.3f}) | {qb['power_kept_1_40']:.3f} / "
              f"{qb['power_kept_1_40_off_comb']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
