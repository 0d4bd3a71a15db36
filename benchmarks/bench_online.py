"""Benchmark of the online correction (issue 17 part 3).

Three measurements, printed and written to ``bench_online_results.json``:

A. ``latency``: a synthetic 64-channel, 5 kHz stream (volume artifact of a 2 s TR with
   20 ppm clock drift, EEG-like noise, ECG) fed in 10 ms chunks through the in-process
   pipeline for ``--minutes`` (default 30), handed over in real time (``--unpaced``: as
   fast as possible, a throughput figure): per-chunk processing time (median, p95, p99,
   max), chunks over 20 ms, real-time factor. No transport.
B. ``residual``: the 150 s, 5 kHz phantom (drifting artifact, two head movements):
   online vs offline correction against the truth (1-40 Hz) and the volume-locked
   residual of ``workbench online --replay``'s QC, after the first 10 volumes.
D. ``late``: volume markers arriving late (a marker stream trailing the data by
   ``--delays-ms``): artifact left on the first 50 ms of each volume after volume 10
   (RMS over the EEG channels against the truth without the gradient, both through the
   causal 70 Hz low-pass, per volume: median and max), with the predicted onsets (now)
   and without (the old behaviour), on the 5 kHz phantom and, with ``--study-2k5``, a
   2.5 kHz one. In process (the markers' arrival is simulated exactly).
C. ``lsl``: a real-time LSL replay (MNE-LSL player on loopback) of the phantom's
   BrainVision file widened to 64 EEG channels, for ``--lsl-seconds``: added latency
   (pull -> push), dropped samples.

Run: ``nice .venv/bin/python benchmarks/bench_online.py [--minutes 30] [--lsl-seconds 120]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def bench_latency(minutes: float, n_ch: int = 64, sf: float = 5000.0, paced: bool = True) -> dict:
    """Per-chunk processing time of the in-process pipeline.

    ``paced``: each chunk is handed over no earlier than its last sample would arrive
    from an amplifier (real time). Unpaced, the stream runs ~5x faster than real time
    and the chunk at each volume start waits for a template that real time would have
    left 2 s to prepare (one 100-900 ms wait per volume, depending on the machine's
    load): a measure of throughput, not of the latency a user sees.
    """
    from workbench.engine.online import OnlinePipeline

    rng = np.random.default_rng(0)
    period = 2.0 * sf * (1 + 20e-6)
    L = int(np.ceil(period)) + 64
    t = np.arange(L)
    art = np.zeros((n_ch, L), np.float32)
    for h in range(1, 400, 3):  # a volume's artifact (slice harmonics), fixed per channel
        art += (rng.normal(size=(n_ch, 1)) / h * np.cos(2 * np.pi * h * t / 667.0 + rng.uniform(0, 6))).astype(np.float32)
    art *= 2e-3 / art.std()
    names = [f"E{i}" for i in range(n_ch - 1)] + ["ECG"]
    types = ["eeg"] * (n_ch - 1) + ["ecg"]
    pipe = OnlinePipeline(names, types, sf)
    chunk = int(0.01 * sf)
    n_total = int(minutes * 60 * sf)
    onset0 = 1.0 * sf
    k_next = 0
    comp = np.empty(n_total // chunk + 1)
    cpu = np.empty(n_total // chunk + 1)
    rr = int(0.9 * sf)
    ecg_beat = np.zeros(rr, np.float32)
    ecg_beat[:40] = np.hanning(40) * 1e-3
    t0 = time.perf_counter()
    noise = (rng.normal(size=(n_ch, 50 * chunk)) * 20e-6).astype(np.float32)
    i = 0
    for s in range(0, n_total, chunk):
        x = noise[:, (s % (50 * chunk)) : (s % (50 * chunk)) + chunk].copy()
        while onset0 + k_next * period < s + chunk:
            on = onset0 + k_next * period
            pipe.add_marker_samples([int(np.ceil(on))])
            k_next += 1
        # artifact of the volume(s) covering this chunk (whole-sample placement is enough here)
        idx = np.arange(s, s + chunk)
        k = np.floor((idx - onset0) / period).astype(int)
        ok = k >= 0
        if ok.any():
            off = (idx[ok] - np.ceil(onset0 + k[ok] * period)).astype(int)
            good = (off >= 0) & (off < L)
            x[:, np.flatnonzero(ok)[good]] += art[:, off[good]]
        x[-1] += ecg_beat[idx % rr]
        if paced:
            due = t0 + (s + chunk) / sf
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
        c0 = time.thread_time()
        r = pipe.process(x)
        comp[i] = r.compute_s
        cpu[i] = time.thread_time() - c0
        i += 1
    wall = time.perf_counter() - t0
    pipe.close()
    comp = comp[:i] * 1e3
    cpu = cpu[:i] * 1e3
    load = open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").exists() else []
    return {
        "channels": n_ch, "sfreq": sf, "minutes": minutes, "chunk_ms": 10.0, "paced": bool(paced),
        "compute_ms_median": float(np.median(comp)), "compute_ms_p95": float(np.percentile(comp, 95)),
        "compute_ms_p99": float(np.percentile(comp, 99)), "compute_ms_max": float(comp.max()),
        "chunks_over_20ms": int((comp > 20).sum()), "chunks": int(i),
        # the stream's first chunk on its own (buffers made and touched before the stream)
        "compute_ms_first_chunk": float(comp[0]),
        "cpu_ms_median": float(np.median(cpu)), "cpu_ms_p95": float(np.percentile(cpu, 95)),
        "cpu_ms_p99": float(np.percentile(cpu, 99)), "cpu_ms_max": float(cpu.max()),
        "machine_load_avg": load,
        "real_time_factor": float(minutes * 60 / wall), "samples_in": int(pipe.n_in),
        "samples_out_equal_in": bool(pipe.n_in == n_total),
        "lowpass_delay_ms_at_10hz": pipe.filter_delay_ms(),
    }


def _phantom(path: Path, sfreq: float = 5000.0) -> Path:
    from workbench.engine.phantom.config import PhantomConfig
    from workbench.engine.phantom.writer import simulate_study

    if not (path / "ground_truth").is_dir():
        simulate_study(path, PhantomConfig(duration_s=150, n_eeg=32, sfreq=sfreq, tr=2.0, slices=30, seed=2,
                                           gradient_drift=1.0, motion_events=2))
    return path / "sub-01" / "eeg" / "sub-01_task-phantom_eeg.vhdr"


def bench_residual(study: Path) -> dict:
    import mne
    from scipy.signal import butter, sosfilt

    from workbench.engine.gradient import GradientParams, remove_gradient
    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.online import OnlineParams, replay_raw
    from workbench.engine.online.qc import residual_vs_offline
    from workbench.engine.phantom import load_truth

    raw = read_eeg(_phantom(study), preload=True)
    truth = load_truth(study)
    sf = float(raw.info["sfreq"])
    out = {}
    on = replay_raw(raw)
    out.update(residual_vs_offline(raw, on.data, skip_volumes=10, bcg=True))
    # against the truth, gradient only (BCG off online; offline is gradient only)
    eeg = mne.pick_types(raw.info, eeg=True)
    eeg = np.array([i for i in eeg if raw.ch_names[i] != "ECG"])
    lp = butter(4, 70, fs=sf, output="sos")
    bp = butter(4, [1, 40], btype="band", fs=sf, output="sos")

    def band(z: np.ndarray) -> np.ndarray:
        return sosfilt(bp, sosfilt(lp, z, axis=1), axis=1)

    x = raw.get_data(picks=eeg)
    target = band(x - np.asarray(truth.arrays["gradient"][eeg]))
    off = remove_gradient(raw, params=GradientParams(lowpass=None))
    a, b = int(off.schedule.onsets[10]), int(off.schedule.onsets[-1])
    on_g = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False))

    def err(y: np.ndarray) -> float:
        return float(np.sqrt(np.mean((band(y) - target)[:, a:b] ** 2)) * 1e6)

    e_on, e_off, e_raw = err(on_g.data[eeg]), err(off.raw.get_data(picks=eeg)), err(x)
    out.update({
        "truth_err_uv_1_40_online": e_on, "truth_err_uv_1_40_offline": e_off,
        "truth_err_uv_1_40_uncorrected": e_raw, "truth_online_vs_offline_db": 20 * np.log10(e_on / e_off),
        "truth_signal_uv_1_40": float(np.sqrt(np.mean(target[:, a:b] ** 2)) * 1e6),
    })
    return out


def bench_late(study: Path, delays_ms: list[float], sfreq: float = 5000.0) -> dict:
    from scipy.signal import butter, sosfilt

    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.online import OnlineParams, replay_raw
    from workbench.engine.online import flags as F
    from workbench.engine.phantom import load_truth

    raw = read_eeg(_phantom(study, sfreq), preload=True)
    truth = load_truth(study)
    sf = float(raw.info["sfreq"])
    eeg = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    lp = butter(4, 70, fs=sf, output="sos")
    target = sosfilt(lp, raw.get_data(picks=eeg) - np.asarray(truth.arrays["gradient"][eeg]), axis=1)
    ann = raw.annotations
    starts = np.round(np.array([o for o, d in zip(ann.onset, ann.description) if d.endswith("R128")]) * sf).astype(int)
    w = int(0.05 * sf)
    out: dict = {"sfreq": sf, "volumes": int(starts.size), "window_ms": 50.0}
    for predict in (True, False):
        for d in [None, *delays_ms]:
            r = replay_raw(raw, chunk=int(round(0.01 * sf)), marker_delay_s=None if d is None else d / 1e3,
                           params=OnlineParams(bcg=False, predict_onsets=predict))
            y = r.data[eeg]
            per = np.array([np.sqrt(np.mean((y[:, s : s + w] - target[:, s : s + w]) ** 2)) * 1e6
                            for s in starts[10:-1]])
            scanned = slice(int(starts[10]), int(starts[-1]))
            key = f"{'predicted' if predict else 'old'}_{'on_time' if d is None else f'{d:g}ms'}"
            out[key] = {
                "head_uv_median": float(np.median(per)), "head_uv_max": float(per.max()),
                "late_markers": r.state["late_markers"], "late_markers_covered": r.state["late_markers_covered"],
                "samples_uncorrected_in_scan": int(np.count_nonzero(r.flags[scanned] & (F.GRADIENT_UNCORRECTED | F.NO_VOLUME))),
            }
            print(key, out[key], flush=True)
    return out


def bench_lsl(study: Path, seconds: float, tmp: Path) -> dict:
    import mne

    from workbench.engine.io.eeg import read_eeg
    from workbench.engine.online.lsl import run_replay

    raw = read_eeg(_phantom(study), preload=True).crop(0, seconds)
    # widen to 64 EEG channels (a copy of the 32 with a sign flip), keep EOG/ECG
    eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types()) if t == "eeg"]
    extra = raw.copy().pick(eeg)
    extra.rename_channels({n: f"{n}b" for n in eeg})
    extra._data *= -1
    raw.add_channels([extra], force_update_info=True)
    path = tmp / "bench_online_64ch_raw.fif"
    raw.save(path, overwrite=True, verbose="error")
    t0 = time.perf_counter()
    run, _ = run_replay(path, record=tmp / "bench_online_clean.fif")
    q = run.qc()
    q.pop("state", None)
    q["channels"] = len(raw.ch_names)
    q["seconds"] = seconds
    q["wall_s"] = time.perf_counter() - t0
    mne.io.read_raw_fif(tmp / "bench_online_clean.fif", verbose="error")
    return q


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--unpaced", action="store_true", help="latency: feed chunks as fast as possible")
    ap.add_argument("--lsl-seconds", type=float, default=120.0)
    ap.add_argument("--study", type=Path, default=Path("/tmp/bench_online_phantom"))
    ap.add_argument("--only", default="latency,residual,lsl")
    ap.add_argument("--study-2k5", type=Path, default=None, help="a 2.5 kHz phantom for 'late' (made if missing)")
    ap.add_argument("--delays-ms", default="10,30,50,100")
    args = ap.parse_args()
    res_path = HERE / "bench_online_results.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    only = args.only.split(",")
    if "latency" in only:
        res["latency"] = bench_latency(args.minutes, paced=not args.unpaced)
        print("latency", json.dumps(res["latency"], indent=1), flush=True)
    if "residual" in only:
        res["residual"] = bench_residual(args.study)
        print("residual", json.dumps(res["residual"], indent=1), flush=True)
    if "late" in only:
        delays = [float(v) for v in args.delays_ms.split(",")]
        res["late"] = {"5k": bench_late(args.study, delays)}
        if args.study_2k5 is not None:
            res["late"]["2k5"] = bench_late(args.study_2k5, delays, 2500.0)
    if "lsl" in only:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            res["lsl"] = bench_lsl(args.study, args.lsl_seconds, Path(tmp))
        print("lsl", json.dumps(res["lsl"], indent=1), flush=True)
    # merge into what is there now (bench_online_replay30.py may have written meanwhile)
    now = json.loads(res_path.read_text()) if res_path.exists() else {}
    now.update({k: res[k] for k in only if k in res})
    res_path.write_text(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
