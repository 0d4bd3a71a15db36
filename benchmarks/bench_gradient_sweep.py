"""Random acquisitions through the offline and online gradient correction (issue 17).

Not run by pytest. The variant table (``bench_gradient_variants.py``) holds 27 chosen rows;
held-out material is built differently. This draws acquisitions at random and runs both
paths on each, to find the crashes, NaN and diverging runs no chosen row shows:

* rate 1000 / 1024 / 2000 / 2048 / 2500 / 3000 / 4096 / 5000 Hz; TR 0.6-3 s; 8-44
  excitations a volume, multiband 1-4, a dead time on 40 % of runs; clock drift -15 to
  35 ppm (0, 1, 3 and 7 ppm among them); 40-100 s;
* the phantom's artifact physics: point or mean sampling, an anti-alias filter on 80 %
  of runs, eddy currents, amplitude/shape drift, head movements, a volume-locked LF
  component, 20 µs volume jitter, 2 / 5 / 20 mV;
* volume markers: 0-3 missing, 0-2 extra, 0 / 0.1 / 0.4 ms of jitter;
* EEG truth as in the variant table: plain, slow (blinks, drift) or with a BCG;
* with ``--faults``, what real recordings add, drawn from a generator of their own (the
  acquisitions stay those of the same seed without it): DC offsets of up to ±30 mV per
  channel with a ramp of up to ±5 mV over the run (DC-coupled amplifiers), 5 or 20 µV of
  50 or 60 Hz line noise (in the truth: the gradient step does not remove it), a flat
  channel, a channel with 300 µV of broadband noise; the faulty channels are left out of
  the error.

Per run (8 channels, volume markers and TR only): 1-40 Hz RMS error against the EEG truth
(µV) after volume 10 and after volume 30, offline (``remove_gradient``, no low-pass),
MNE (``remove_fmri_gradient_artifact``, window (4, 4); nan where it refuses the markers)
and online (``replay_raw``, BCG and low-pass off, 10 ms chunks). Flags: ``OFFLINE EXC`` /
``ONLINE EXC`` (an exception, traceback printed), ``NaN``, ``OFF>MNE`` (ours offline worse
than MNE after volume 10), ``ON>>OFF`` (online after volume 30 more than twice offline +
1 µV).

Usage::

    nice python benchmarks/bench_gradient_sweep.py --seed 3 --runs 30 [--offline-only] [--faults]
"""

from __future__ import annotations

import argparse
import json
import time
import traceback

import numpy as np
from bench_gradient_variants import eeg_truth
from scipy.signal import butter, sosfilt


def draw(rng: np.random.Generator) -> tuple[dict, str]:
    """One random acquisition: PhantomConfig fields and the EEG kind."""
    sf = float(rng.choice([1000, 1024, 2000, 2048, 2500, 3000, 4096, 5000, 5000, 5000]))
    mb = int(rng.choice([1, 1, 1, 2, 3, 4]))
    tr = float(np.round(rng.uniform(0.6, 3.0), 3))
    exc = int(rng.integers(8, 45))
    dead = float(np.round(rng.uniform(0, 0.25 * tr), 3)) if rng.random() < 0.4 else 0.0
    if (tr - dead) / exc < 0.012:
        exc = max(4, int((tr - dead) / 0.02))
    cfg = dict(sfreq=sf, tr=tr, slices=exc * mb, multiband=mb, dead_time_s=dead,
               drift_ppm=float(rng.choice([0.0, 1.0, 3.0, 7.0, 20.0, -15.0, 35.0])),
               duration_s=float(rng.uniform(40, 100)),
               gradient_sampling=str(rng.choice(["mean", "point"])),
               gradient_antialias=bool(rng.random() < 0.8),
               gradient_eddy=float(rng.choice([0, 0, 1.0])),
               gradient_drift=float(rng.choice([0, 0, 1.0, 2.0])),
               motion_events=int(rng.choice([0, 0, 1, 2])),
               gradient_lf_uv=float(rng.choice([0, 0, 10.0])),
               gradient_volume_jitter_s=float(rng.choice([0, 0, 2e-5])),
               gradient_mv=float(rng.choice([2.0, 5.0, 20.0])),
               missing_triggers=int(rng.choice([0, 0, 1, 3])), extra_triggers=int(rng.choice([0, 0, 1, 2])),
               trigger_jitter_s=float(rng.choice([0, 0, 1e-4, 4e-4])))
    return cfg, str(rng.choice(["plain", "plain", "slow", "bcg"]))


def faults(seed: int, i: int, n_ch: int, n_times: int,
           sfreq: float) -> tuple[np.ndarray, np.ndarray, list[int], list[int], str]:
    """What a real recording adds (``--faults``): ``(offsets, line, flat, noisy, desc)``,
    the DC offsets and ramps plus a noisy row's noise (channels x times, V), the line
    noise (V, part of the truth), the flat and the noisy rows (left out of the error) and
    a description."""
    rng = np.random.default_rng([seed, i, 17])
    t = np.arange(n_times) / sfreq
    off = np.zeros((n_ch, n_times))
    desc = []
    if rng.random() < 0.6:
        off += rng.uniform(-30e-3, 30e-3, (n_ch, 1)) + rng.uniform(-5e-3, 5e-3, (n_ch, 1)) * t / t[-1]
        desc.append("dc")
    line = np.zeros((n_ch, n_times))
    amp = float(rng.choice([0.0, 5e-6, 20e-6]))
    if amp:
        f = float(rng.choice([50.0, 60.0]))
        line = amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n_ch, 1)))
        desc.append(f"line {amp * 1e6:g} uV {f:g} Hz")
    flat = [int(rng.integers(n_ch))] if rng.random() < 0.15 else []
    noisy = [k for k in [int(rng.integers(n_ch))] if rng.random() < 0.15 and k not in flat]
    for k in noisy:
        off[k] += 300e-6 * rng.standard_normal(n_times)
    desc += [f"flat E{k:02d}" for k in flat] + [f"noisy E{k:02d}" for k in noisy]
    return off, line, flat, noisy, ", ".join(desc)


def run(seed: int, n: int, online: bool = True, n_ch: int = 8, with_faults: bool = False) -> None:
    import mne

    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.online import OnlineParams, replay_raw
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.gradient import artifact_run

    mne.set_log_level("ERROR")
    rng = np.random.default_rng(seed)
    for i in range(n):
        c, kind = draw(rng)
        tag = f"seed{seed}#{i}"
        run_seed = int(seed * 100 + i)
        cfg = PhantomConfig(seed=run_seed, lead_in_s=3.0, lead_out_s=3.0, **c)
        art, trig, _tl, _gen = artifact_run(cfg, n_ch, run_seed)
        eeg = eeg_truth(kind, n_ch, cfg.n_times, cfg.sfreq, np.random.default_rng(seed + i))
        rec = art + eeg
        good = np.arange(n_ch)
        fdesc = ""
        if with_faults:
            off, line, flat, noisy, fdesc = faults(seed, i, n_ch, cfg.n_times, cfg.sfreq)
            eeg = eeg + line
            rec = rec + line + off
            rec[flat] = 1e-3  # an amplifier channel stuck at 1 mV
            good = np.setdiff1d(good, flat + noisy)
        raw = mne.io.RawArray(rec, mne.create_info([f"E{j:02d}" for j in range(n_ch)], cfg.sfreq, "eeg"),
                              verbose=False)
        raw.set_annotations(mne.Annotations(trig.recorded_sample / cfg.sfreq, 0.0, "Response/R128"))
        sf = cfg.sfreq
        lp = butter(4, min(70.0, 0.4 * sf), fs=sf, output="sos")
        bp = butter(4, [1.0, 40.0], btype="band", fs=sf, output="sos")
        target = sosfilt(bp, sosfilt(lp, eeg, axis=1), axis=1)
        st = np.asarray(trig.recorded_sample, int)

        def err(y: np.ndarray, lp=lp, bp=bp, target=target, st=st, good=good) -> list[float]:
            e = (sosfilt(bp, sosfilt(lp, y, axis=1), axis=1) - target)[good]
            return [float(np.sqrt(np.mean(e[:, st[min(k, len(st) - 2)] : st[-1]] ** 2)) * 1e6) for k in (10, 30)]

        desc = json.dumps(dict(c, kind=kind, n_markers=len(st), **({"faults": fdesc} if with_faults else {})))
        t0 = time.time()
        try:
            res = remove_gradient(raw, params=GradientParams(lowpass=None), tr=cfg.tr, volume="Response/R128")
            out = res.raw.get_data()
        except Exception as exc:  # noqa: BLE001 - what the sweep looks for
            print(tag, "OFFLINE EXC", type(exc).__name__, str(exc)[:300], desc, flush=True)
            traceback.print_exc()
            continue
        if not np.all(np.isfinite(out)):
            print(tag, "OFFLINE NaN", desc, flush=True)
            continue
        off, t_off = err(out), time.time() - t0
        try:
            mn = err(mne.preprocessing.remove_fmri_gradient_artifact(raw.copy(), st, window=(4, 4), tr_tol=2,
                                                                     verbose=False).get_data())
        except Exception:  # noqa: BLE001 - MNE refuses uneven markers (missing / extra)
            mn = [float("nan")] * 2
        on = [float("nan")] * 2
        if online:
            try:
                r = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False),
                               chunk=max(1, int(round(0.01 * sf))))
            except Exception as exc:  # noqa: BLE001
                print(tag, "ONLINE EXC", type(exc).__name__, str(exc)[:300], desc, flush=True)
                traceback.print_exc()
                continue
            y = r.data[:n_ch]
            if not np.all(np.isfinite(y)):
                print(tag, "ONLINE NaN", desc, flush=True)
                continue
            on = err(y)
        flags = (["OFF>MNE"] if off[0] > mn[0] else []) + (["ON>>OFF"] if on[1] > 2 * off[1] + 1 else [])
        print(f"{tag} off {off[0]:.2f}/{off[1]:.2f} mne {mn[0]:.2f} on {on[0]:.2f}/{on[1]:.2f} "
              f"orders={res.qc.get('alias_orders')} t={t_off:.0f}s {' '.join(flags)} {desc}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--offline-only", action="store_true")
    ap.add_argument("--faults", action="store_true", help="DC offsets, line noise, a flat or a noisy channel")
    args = ap.parse_args()
    run(args.seed, args.runs, online=not args.offline_only, with_faults=args.faults)


if __name__ == "__main__":
    main()
