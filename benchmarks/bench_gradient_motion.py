"""Motion-informed templates (realignment parameters) on the phantom's moving bore (issue 17).

Not run by pytest. The phantom's own artifact generator with bore drift (breathing,
heating, wandering loops) and head movements (each changes every loop's coupling per
gradient axis within 0.3 s), 15 µV band-limited EEG, volume triggers only (as
``bench_gradient_variants.py``). The phantom's true head motion per volume
(``GradientGenerator.head_motion``) is written as an SPM ``rp_*.txt`` and given to
``remove_gradient(..., GradientParams(motion_params=...))``.

Scores: NRMSE 1-40 Hz (filter, then cut to the scan), the artifact left at the slice
harmonics below 70 Hz over the whole scan and over the 8 volumes around each movement
(µV), harmonic power removed (dB), and whether the correction kept the segments.

Usage::

    nice python benchmarks/bench_gradient_motion.py [--seconds 90] [--channels 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

sys.path.insert(0, str(Path(__file__).parent))
import bench_gradient_variants as V  # noqa: E402

#: name -> (base, PhantomConfig overrides, seed)
CASES = {
    "5 kHz, drift + 2 movements (variant table's)": ("sb", {"gradient_drift": 1.0, "motion_events": 2}, 3),
    "5 kHz, drift + 3 movements x2 size": ("sb", {"gradient_drift": 1.0, "motion_events": 3, "motion_size": 0.1}, 5),
    "5 kHz, 3 movements x2 size, no drift": ("sb", {"motion_events": 3, "motion_size": 0.1}, 5),
    "2.5 kHz, 20 slices / 2 s, drift + 3 movements x2": ("2k5", {"gradient_drift": 1.0, "motion_events": 3,
                                                                "motion_size": 0.1}, 5),
    "1 kHz, drift + 3 movements x2": ("1k", {"gradient_drift": 1.0, "motion_events": 3, "motion_size": 0.1}, 5),
}
BASES = {**V.BASES, "2k5": dict(sfreq=2500.0, tr=2.0, slices=20)}


def make(base: str, over: dict, seconds: float, n_ch: int, seed: int, rp: Path):
    """As ``bench_gradient_variants.make``, plus the true head motion written to ``rp`` (SPM
    columns) and the movements' onsets."""
    raw, eeg, art, cfg, trig, tl, gen = V.simulate(base, over, "plain", seconds, n_ch, seed)
    tra, rot = gen.head_motion(tl.to_eeg(tl.volume_onsets + 0.5 * cfg.tr))
    np.savetxt(rp, np.hstack([tra, rot]))
    return raw, eeg, art, cfg, trig.recorded_sample, gen.motion_onsets


def near_jumps(out: np.ndarray, eeg: np.ndarray, cfg, onsets: np.ndarray) -> float:
    """Artifact left at the slice harmonics < 70 Hz over the 8 volumes around each movement (µV)."""
    lp = butter(4, 70.0, "lowpass", fs=cfg.sfreq, output="sos")
    err = sosfiltfilt(lp, out - eeg, axis=1)
    n = int(8 * cfg.tr * cfg.sfreq)
    f = np.fft.rfftfreq(n, 1 / cfg.sfreq)
    f_sl = cfg.excitations_per_volume / cfg.tr
    harm = np.zeros(f.size, bool)
    for k in range(1, int(70 / f_sl) + 1):
        harm |= np.abs(f - k * f_sl) <= 1.5 / cfg.tr
    vals = []
    for t in onsets:
        s0 = int(np.clip((t - 4 * cfg.tr) * cfg.sfreq, 0, err.shape[1] - n))
        E = np.abs(np.fft.rfft(err[:, s0:s0 + n], axis=1)) ** 2
        vals.append(np.sqrt(2 * E[:, harm].sum(axis=1).mean()) / n * 1e6)
    return float(np.sqrt(np.mean(np.square(vals))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    from workbench.engine.gradient import GradientParams, remove_gradient

    print("| case | templates | NRMSE 1-40 | left < 70 Hz µV | left near movements µV | removed dB | segments kept | s |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (base, over, seed) in CASES.items():
            if args.only and not any(o in name for o in args.only):
                continue
            rp = Path(tmp) / "rp_run.txt"
            raw, eeg, art, cfg, samples, onsets = make(base, over, args.seconds, args.channels, seed, rp)
            for label, kw in (("plain", {}), ("motion, offset", {"motion_params": str(rp)}),
                              ("motion, restrict", {"motion_params": str(rp), "motion_mode": "restrict"})):
                t0 = time.perf_counter()
                res = remove_gradient(raw, params=GradientParams(**kw), tr=cfg.tr, volume="Response/R128")
                dt = time.perf_counter() - t0
                out = res.raw.get_data()
                sc = V.scores(out, eeg, art, cfg, samples)
                kept = res.qc.get("motion_kept", "")
                ratio = res.qc.get("refinements", {}).get("motion", {}).get("residual_ratio")
                kept_s = f"{kept} ({ratio:.3f})" if ratio is not None else ""
                print(f"| {name} | {label} | {sc['fc']:.4f} | {sc['left_uv']:.3f} | "
                      f"{near_jumps(out, eeg, cfg, onsets):.3f} | {sc['removed_db']:.1f} | {kept_s} | {dt:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
