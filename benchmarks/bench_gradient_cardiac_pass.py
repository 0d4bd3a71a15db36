"""The gradient step's cardiac pass on phantoms with different hearts, TRs and rates.

Not run by pytest. Simulates 90 s, 32-channel phantom studies (``simulate_study``: EEG,
BCG from the phantom's heart, ECG, gradient) whose heart rate, variability, TR, slices,
multiband and sampling rate vary, corrects each with ``GradientParams(cardiac_pass=False)``
and with the default (on), and prints the NRMSE 1-40 Hz against the truth with its BCG
(what the gradient step should leave), the same for the ECG channel against its own truth
(its QRS and T wave are kept out of its templates too), the pass's rounds and the time. With ``--pipeline``
it also runs the cardiac step (R-peaks on the corrected ECG, OBS and AAS) and scores the
EEG against the truth without its BCG. With ``--online`` it also replays each study through
the online path (gradient only: ``OnlineParams(bcg=False, lowpass_hz=None)``, 100-sample
chunks) with its cardiac pass off, on with the causal estimate only
(``pulse_backfit=False``) and on with the trailing backfit (the default), scored the same
way after volume 10 and over the last 10 s but 2 (80-88 s of 90 s).

Usage::

    python benchmarks/bench_gradient_cardiac_pass.py [--root DIR] [--only NAME,...] [--pipeline] [--online]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

BASE = dict(duration_s=90, n_eeg=32, sfreq=5000, slices=35, tr=2.0)
CASES = {
    "65 bpm, TR 2 s": dict(BASE, seed=7),
    "65 bpm, TR 2 s, bore drift + movement": dict(BASE, seed=11, gradient_drift=1.0, motion_events=1),
    "65 bpm, TR 3 s, 40 slices": dict(BASE, tr=3.0, slices=40, seed=5),
    "65 bpm, TR 1.5 s, 30 slices": dict(BASE, tr=1.5, slices=30, seed=3),
    "65 bpm, TR 1 s, 20 slices": dict(BASE, tr=1.0, slices=20, seed=4),
    "50 bpm, 5 % variability": dict(BASE, seed=12, heart_rate_bpm=50.0, hrv=0.05),
    "85 bpm, 8 % variability": dict(BASE, seed=13, heart_rate_bpm=85.0, hrv=0.08),
    "72 bpm (5th harmonic = 12/TR), BCG 30 uV": dict(BASE, seed=15, bcg_uv=30.0, heart_rate_bpm=72.0),
    "60 bpm locked, 1 % variability": dict(BASE, seed=4, slices=30, heart_rate_bpm=60.0, hrv=0.01),
    "60 bpm locked, 3 % variability": dict(BASE, seed=4, slices=30, heart_rate_bpm=60.0, hrv=0.03),
    "90 bpm locked, 1 % variability": dict(BASE, seed=4, slices=30, heart_rate_bpm=90.0, hrv=0.01),
    "BCG 0.5 uV (none)": dict(BASE, seed=14, bcg_uv=0.5),
    "mb 3, 48 slices / 0.9 s": dict(BASE, tr=0.9, slices=48, multiband=3, seed=9),
    "mb 3, 60 slices / 2 s": dict(BASE, tr=2.0, slices=60, multiband=3, seed=6),
    "mb 2, 40 slices / 1.5 s": dict(BASE, tr=1.5, slices=40, multiband=2, seed=10),
    "mb 3, uneven slots, TR 1 s, 77 bpm": dict(BASE, seed=18, tr=1.0, slices=48, multiband=3, dead_time_s=0.12,
                                              heart_rate_bpm=77.0),
    "2.5 kHz, 58 bpm": dict(BASE, seed=17, sfreq=2500, heart_rate_bpm=58.0),
    "1 kHz, bore drift + movement": dict(BASE, seed=16, sfreq=1000, gradient_drift=1.0, motion_events=1),
    "1 kHz, 72 bpm, BCG 30 uV": dict(BASE, seed=19, sfreq=1000, bcg_uv=30.0, heart_rate_bpm=72.0),
    "1 kHz, 60 bpm locked, 1 % variability": dict(BASE, seed=20, sfreq=1000, slices=30, heart_rate_bpm=60.0,
                                                  hrv=0.01),
}


def main() -> None:
    import mne
    from bench_gradient_variants import load_phantom  # same folder (run as a script)
    from scipy.signal import butter, sosfiltfilt

    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=None, help="where the phantoms are kept (made once)")
    ap.add_argument("--only", default="", help="comma-separated case numbers (0-based)")
    ap.add_argument("--pipeline", action="store_true", help="also score after the cardiac step")
    ap.add_argument("--online", action="store_true", help="also replay online, pass off and on")
    args = ap.parse_args()
    mne.set_log_level("ERROR")
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_cardiac_pass_"))
    only = {int(i) for i in args.only.split(",") if i}
    print("| case | off | on | ECG off / on | rounds | time off / on (s) |"
          + (" after BCG step, off / on (OBS) |" if args.pipeline else "")
          + (" online off / causal / backfit, after volume 10 | online causal / backfit, last 10 s |"
             if args.online else ""))
    print("|---|---|---|---|---|---|" + ("---|" if args.pipeline else "") + ("---|---|" if args.online else ""))
    for i, (name, cfg) in enumerate(CASES.items()):
        if only and i not in only:
            continue
        p = root / f"case{i}"
        if not p.exists():
            simulate_study(p, PhantomConfig(**cfg))
        raw0, tr, names, gt, idx, truth = load_phantom(p)
        sf = raw0.info["sfreq"]
        ecg = [raw0.ch_names[j] for j in mne.pick_types(raw0.info, ecg=True)][0]
        bcg = np.asarray(gt.arrays["bcg"][idx, : raw0.n_times], float)
        j = gt.ch_names.index(ecg)
        ecg_truth = sum(np.asarray(a[j, : raw0.n_times], float) for k, a in gt.arrays.items()
                        if k not in ("gradient", "line"))
        sos = butter(4, [1.0, 40.0], "bandpass", fs=sf, output="sos")
        cells, ecg_cells, times, after, rounds = [], [], [], [], "–"
        for on in (False, True):
            t0 = time.perf_counter()
            res = remove_gradient(raw0.copy(), params=GradientParams(cardiac_pass=on), tr=tr)
            times.append(time.perf_counter() - t0)
            out = res.raw.get_data(picks=names)
            o, per = res.sync.volume_onsets() * sf, res.sync.period_eeg * sf
            s0, s1 = int(np.ceil(o[0])), int(np.ceil(o[-1] + per))
            tw = sosfiltfilt(sos, truth, axis=1)[:, s0:s1]
            e = sosfiltfilt(sos, out, axis=1)[:, s0:s1] - tw
            cells.append(np.sqrt((e**2).sum() / (tw**2).sum()))
            te = sosfiltfilt(sos, ecg_truth)[s0:s1]
            ee = sosfiltfilt(sos, res.raw.get_data(picks=[ecg])[0])[s0:s1] - te
            ecg_cells.append(np.sqrt((ee**2).sum() / (te**2).sum()))
            if on:
                info = res.qc["refinements"]["cardiac_pass"]
                rounds = str(info.get("rounds", info.get("reason")))
            if args.pipeline:
                from workbench.engine.cardiac.bcg import BCGParams, remove_bcg
                from workbench.engine.cardiac.rpeaks import detect_rpeaks

                rp = detect_rpeaks(res.raw.get_data(picks=[ecg])[0], sf)
                clean = out - remove_bcg(out, sf, rp.times, BCGParams(method="obs")).artifact
                tn = sosfiltfilt(sos, truth - bcg, axis=1)[:, s0:s1]
                en = sosfiltfilt(sos, clean, axis=1)[:, s0:s1] - tn
                after.append(np.sqrt((en**2).sum() / (tn**2).sum()))
        line = (f"| {name} | {cells[0]:.4f} | {cells[1]:.4f} | {ecg_cells[0]:.3f} / {ecg_cells[1]:.3f} | {rounds} | "
                f"{times[0]:.1f} / {times[1]:.1f} |")
        if args.pipeline:
            line += f" {after[0]:.3f} / {after[1]:.3f} |"
        if args.online:
            from workbench.engine.online import OnlineParams, replay_raw

            vol = sorted(a["onset"] for a in raw0.annotations if a["description"].endswith("R128"))
            s0, s1 = int(vol[10] * sf), int(min(vol[-1] * sf + tr * sf, raw0.n_times))
            l0, l1 = int(raw0.n_times - 10 * sf), int(raw0.n_times - 2 * sf)
            tf = sosfiltfilt(sos, truth, axis=1)
            pick = [raw0.ch_names.index(n) for n in names]
            online, last = [], []
            for on, bf in ((False, False), (True, False), (True, True)):
                r = replay_raw(raw0, params=OnlineParams(bcg=False, lowpass_hz=None, cardiac_pass=on,
                                                         pulse_backfit=bf), chunk=100)
                ef = sosfiltfilt(sos, r.data[pick].astype(float), axis=1) - tf
                for out, (a, b) in ((online, (s0, s1)), (last, (l0, l1))):
                    out.append(np.sqrt((ef[:, a:b] ** 2).sum() / (tf[:, a:b] ** 2).sum()))
            line += f" {online[0]:.4f} / {online[1]:.4f} / {online[2]:.4f} | {last[1]:.3f} / {last[2]:.3f} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
