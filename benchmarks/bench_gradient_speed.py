"""Gradient correction speed and memory on 64 ch x 5 kHz x 10 min: ours vs MNE vs a plain copy.

Not run by pytest. Builds one FIF recording (float32 on disk) with the phantom's own
gradient artifact generator (EPI waveform, Faraday's law, amplifier filter, 20 ppm
clock drift, 35 slices / 2 s) plus noise EEG, in chunks (no ground-truth files: this
measures time and memory only; fidelity is in bench_gradient.py / _facet.py). Then:

* whole processes (``python -c ...``: interpreter start, imports, load, correct, save),
  each timed by this script and reporting its own peak RSS; each method's imports are
  run once untimed first, so every process starts from compiled bytecode:
  - copy: read the FIF, write it again (the floor: what any tool must do);
  - ours: ``workbench clean IN OUT --slice-timing SIDECAR`` (sync + gradient through the
    runner; the recording is read once as float32 and corrected in place);
  - mne: read (preload), ``mne.preprocessing.remove_fmri_gradient_artifact(window=(4, 4))``,
    write.
* in process (data already in memory): our correction (the gradient step's engine call
  on the float32 array) vs MNE's call vs one copy of the data.

Memory first touched: on the virtual machines we measure on (Firecracker, with the
kernel's DAMON reclaim returning idle memory to the host), the first write to memory
the host has not backed costs ~2 ms per MB (768 MB: 1.5-1.9 s; the same write again,
0.05 s), and memory freed by a process stays cheap only for a while. A method's time
thus depended on how much memory the processes before it had freed, and how long ago:
that was most of the run-to-run spread (a copy 1.2-5.0 s). ``--warm-gb N`` touches N GB
in a separate process right before each timed one, so every method starts from backed
memory, as on a desktop machine, where a first touch costs 0.1-0.2 ms per MB; without it
(cold) the spread stays.

Usage::

    python benchmarks/bench_gradient_speed.py [--minutes 10] [--channels 64] [--skip-mne] [--warm-gb 8] [--ecg]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]


def make_recording(path: Path, minutes: float, n_ch: int, sfreq: float = 5000.0, ecg: bool = False) -> Path:
    """Write ``path`` (.fif, float32) and ``path.with_suffix('.json')`` (BIDS-like sidecar).

    With ``ecg`` one more channel, an ECG (QRS and T waves at ~65 bpm, 5 % variability,
    with its own gradient artifact), so that the gradient step's cardiac pass runs."""
    import mne

    from workbench.engine.phantom.clock import make_timeline
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.gradient import GradientGenerator

    cfg = PhantomConfig(duration_s=60 * minutes, sfreq=sfreq, tr=2.0, slices=35, seed=7)
    rng = np.random.default_rng(7)
    tl = make_timeline(cfg, rng)
    n_all = n_ch + int(ecg)
    gen = GradientGenerator(cfg, tl, rng.normal(0, 1e-3, (n_all, 3)), np.random.default_rng(8))
    n = cfg.n_times
    data = np.empty((n_all, n), np.float64)
    step = int(20 * sfreq)
    for s in range(0, n, step):
        e = min(s + step, n)
        data[:, s:e] = gen.chunk(s, e) + 15e-6 * rng.standard_normal((n_all, e - s))
    names, types = [f"EEG{i:03d}" for i in range(n_ch)], ["eeg"] * n_ch
    if ecg:
        beats = np.cumsum(60.0 / 65.0 * (1.0 + 0.05 * rng.standard_normal(int(cfg.duration_s * 1.3))))
        beats = beats[beats < cfg.duration_s - 1.0]
        for b in beats:
            i0 = int((b - 0.1) * sfreq)
            tt = (np.arange(i0, i0 + int(0.6 * sfreq)) / sfreq) - b
            data[n_ch, i0 : i0 + tt.size] += (1e-3 * np.exp(-0.5 * (tt / 0.008) ** 2)
                                              + 2e-4 * np.exp(-0.5 * ((tt - 0.3) / 0.05) ** 2))
        names, types = names + ["ECG"], types + ["ecg"]
    info = mne.create_info(names, sfreq, types)
    raw = mne.io.RawArray(data, info, verbose="error")
    del data
    on = tl.to_eeg(tl.volume_onsets)
    raw.set_annotations(mne.Annotations(np.round(on * sfreq) / sfreq, np.zeros(on.size),
                                        ["Response/R128"] * on.size))
    raw.save(path, fmt="single", overwrite=True, verbose="error")
    side = {"RepetitionTime": cfg.tr, "SliceTiming": list(tl.slice_timing)}
    path.with_suffix(".json").write_text(json.dumps(side))
    return path


_PEAK = ("import resource, sys; u = resource.getrusage(resource.RUSAGE_SELF); "
         "print('PEAK_MB', u.ru_maxrss / 1024, u.ru_utime + u.ru_stime, file=sys.stderr)")

SCRIPTS = {
    "copy": "import mne; r = mne.io.read_raw_fif({src!r}, preload=True, verbose='error'); "
            "r.save({out!r}, overwrite=True, verbose='error')",
    "ours": "from workbench.cli.main import main; rc = main(['clean', {src!r}, {out!r}, '--slice-timing', "
            "{side!r}]); assert rc == 0",
    "mne": "import mne, numpy as np; r = mne.io.read_raw_fif({src!r}, preload=True, verbose='error'); "
           "ev = np.round(r.annotations.onset * r.info['sfreq']).astype(int) - r.first_samp; "
           "o = mne.preprocessing.remove_fmri_gradient_artifact(r, ev, window=(4, 4), tr_tol=2); "
           "o.save({out!r}, overwrite=True, verbose='error')",
}


#: what each method's process imports, run once untimed so that every method starts
#: from compiled bytecode, as an installed package does (pip compiles it on install)
WARM = {
    "copy": "import mne, mne.io",
    "ours": "import mne, mne.io, workbench.cli.main, workbench.cli.clean, workbench.engine.study, "
            "workbench.engine.runner, workbench.engine.gradient, workbench.engine.steps, workbench.engine.sync, "
            "workbench.engine.gradient.export",
    "mne": "import mne, mne.io, mne.preprocessing",
}


def _env(tmp: Path) -> dict:
    """The processes' environment: bytecode cached under ``tmp`` (a shell with
    PYTHONDONTWRITEBYTECODE=1, as on our CI machines, would otherwise compile every
    module of numpy, scipy and mne again in each timed process: 1-2 s each)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def whole_process(method: str, src: Path, tmp: Path, warm_gb: float = 0.0) -> dict:
    out = tmp / f"out_{method}_raw.fif"
    code = SCRIPTS[method].format(src=str(src), out=str(out), side=str(src.with_suffix(".json")))
    subprocess.run([sys.executable, "-c", WARM[method]], capture_output=True, env=_env(tmp))
    if warm_gb > 0:  # see the module docstring: memory backed before the timed process
        subprocess.run([sys.executable, "-c", f"import numpy as np; np.ones(int({warm_gb} * 2**27))"],
                       capture_output=True, env=_env(tmp))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code + "\n" + _PEAK], capture_output=True, text=True,
                       env=_env(tmp))
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"method": method, "error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    peak = [line.split()[1:] for line in p.stderr.splitlines() if line.startswith("PEAK_MB")]
    out.unlink(missing_ok=True)
    return {"method": method, "seconds": wall, "peak_mb": float(peak[-1][0]) if peak else float("nan"),
            "cpu": float(peak[-1][1]) if peak else float("nan")}


def in_process(src: Path, skip_mne: bool) -> list[dict]:
    import mne

    from workbench.engine.gradient import GradientParams
    from workbench.engine.gradient.correct import correct_array
    from workbench.engine.gradient.stream import read_float32
    from workbench.engine.sync import synchronise

    raw = mne.io.read_raw_fif(src, preload=False, verbose="error")
    side = json.loads(src.with_suffix(".json").read_text())
    sync = synchronise(raw, sidecar=side)
    data = read_float32(raw)
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    work = data.copy()
    rows.append({"method": "copy (float32 array)", "seconds": time.perf_counter() - t0,
                 "cpu": time.process_time() - c0})
    cases = [("ours (defaults)", GradientParams()), ("ours, tracked", GradientParams(track=True))]
    if "ecg" in raw.get_channel_types():
        cases.insert(1, ("ours, no cardiac pass", GradientParams(cardiac_pass=False)))
    for label, prm in cases:
        work[:] = data
        t0, c0 = time.perf_counter(), time.process_time()
        correct_array(work, raw.info, sync, params=prm)
        rows.append({"method": label, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0})
    del work, data
    if not skip_mne:
        r = mne.io.read_raw_fif(src, preload=True, verbose="error")
        ev = np.round(r.annotations.onset * r.info["sfreq"]).astype(int) - r.first_samp
        t0, c0 = time.perf_counter(), time.process_time()
        mne.preprocessing.remove_fmri_gradient_artifact(r, ev, window=(4, 4), tr_tol=2)
        rows.append({"method": "mne", "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--skip-mne", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated whole-process methods (copy,ours,mne); "
                    "default all")
    ap.add_argument("--no-in-process", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="whole-process runs per method (median reported)")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--ecg", action="store_true", help="add an ECG channel (the cardiac pass then runs)")
    ap.add_argument("--warm-gb", type=float, default=0.0,
                    help="touch this many GB in a separate process before each timed one (see above)")
    args = ap.parse_args()
    tmp = args.dir or Path(tempfile.mkdtemp(prefix="bench_gradient_speed_"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / f"speed_{args.channels}ch_{args.minutes:g}min{'_ecg' if args.ecg else ''}_raw.fif"
    if not src.exists():
        make_recording(src, args.minutes, args.channels, ecg=args.ecg)
    size_mb = src.stat().st_size / 2**20
    print(f"{args.channels} ch{' + ECG' if args.ecg else ''} x 5000 Hz x {args.minutes:g} min, FIF float32 {size_mb:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    methods = ["copy", "ours"] + ([] if args.skip_mne else ["mne"])
    if args.only:
        methods = [m for m in args.only.split(",") if m in SCRIPTS]
    rows = []
    for m in methods:  # the median run of each (disk writes vary by a few seconds run to run)
        runs = [whole_process(m, src, tmp, args.warm_gb) for _ in range(args.repeat)]
        ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["seconds"])
        rows.append(ok[len(ok) // 2] if ok else runs[0])
    by = {r["method"]: r for r in rows if "error" not in r}
    warm = f"memory warmed with {args.warm_gb:g} GB before each" if args.warm_gb > 0 else "cold memory"
    print(f"\nwhole processes (start, load, correct, save; median of {args.repeat} runs; {warm})")
    print("| method | wall (s) | CPU (s) | vs MNE (wall / CPU) | vs copy (wall / CPU) | peak RSS MB (x file) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['method']} | error: {r['error']} | | | | |")
            continue
        m, c = by.get("mne"), by.get("copy")
        vs_mne = (f"{m['seconds'] / r['seconds']:.1f}x / {m['cpu'] / r['cpu']:.1f}x faster" if m else "–")
        vs_copy = f"{r['seconds'] / c['seconds']:.1f}x / {r['cpu'] / c['cpu']:.1f}x" if c else "–"
        print(f"| {r['method']} | {r['seconds']:.1f} | {r['cpu']:.1f} | {vs_mne} | {vs_copy} | "
              f"{r['peak_mb']:.0f} ({r['peak_mb'] / size_mb:.2f}) |")
    if args.no_in_process:
        return
    rows = in_process(src, args.skip_mne)
    by = {r["method"]: r for r in rows}
    print("\nin process (data in memory; correction only)")
    print("| method | wall (s) | CPU (s) | vs MNE (wall / CPU) |")
    print("|---|---|---|---|")
    for r in rows:
        m = by.get("mne")
        vs_mne = f"{m['seconds'] / r['seconds']:.1f}x / {m['cpu'] / r['cpu']:.1f}x faster" if m else "–"
        print(f"| {r['method']} | {r['seconds']:.2f} | {r['cpu']:.2f} | {vs_mne} |")


if __name__ == "__main__":
    main()
