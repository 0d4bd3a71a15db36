"""Issue 17 part 3: a 30-min, 64 ch x 5 kHz replay through real LSL, streamed from disk.

Writes a synthetic BrainVision recording (63 EEG + ECG, float32, 2.3 GB; a 2 s TR
volume artifact with 20 ppm clock drift, EEG-like noise, an ECG; R128 volume markers),
then runs ``run_replay(..., from_disk=True)``: the file is played in real time on an
LSL outlet (:class:`workbench.engine.online.player.FilePlayer`, 1 s blocks read from
disk) and cleaned by the same receiving path as ``workbench online --stream``
(inlet -> pipeline -> ``NAME-clean`` outlet). Reports dropped samples (counted exactly
through the index channel), added latency (pull -> push), per-chunk compute time and
the peak memory of the process. Nothing is recorded (the FIF would be another 2.3 GB
plus its scratch file on a disk shared by other jobs).

Run: ``nice .venv/bin/python benchmarks/bench_online_replay30.py [--minutes 30]``
(real time: it takes the recording's length plus ~10 s). Results are merged into
``bench_online_results.json`` under ``lsl_disk_replay``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def write_recording(vhdr: Path, minutes: float, n_ch: int = 64, sf: float = 5000.0) -> int:
    """Write the synthetic recording block by block; returns the number of markers."""
    from workbench.engine.phantom.streams import BrainVisionStream

    rng = np.random.default_rng(0)
    period = 2.0 * sf * (1 + 20e-6)
    L = int(np.ceil(period)) + 64
    t = np.arange(L)
    art = np.zeros((n_ch, L), np.float32)
    for h in range(1, 400, 3):  # a volume's artifact (slice harmonics), fixed per channel
        art += (rng.normal(size=(n_ch, 1)) / h * np.cos(2 * np.pi * h * t / 667.0 + rng.uniform(0, 6))).astype(np.float32)
    art *= 2e-3 / art.std()
    art[-1] *= 0.1
    names = [f"E{i}" for i in range(n_ch - 1)] + ["ECG"]
    bv = BrainVisionStream(vhdr, names, sf)
    n_total = int(minutes * 60 * sf)
    onset0 = 1.0 * sf
    rr = int(0.9 * sf)
    beat = np.zeros(rr, np.float32)
    beat[:40] = np.hanning(40) * 1e-3
    markers = []
    k = 0
    while onset0 + k * period < n_total:
        markers.append(("Response", "R128", int(np.ceil(onset0 + k * period))))
        k += 1
    block = int(10 * sf)
    for s in range(0, n_total, block):
        e = min(s + block, n_total)
        idx = np.arange(s, e)
        x = (rng.normal(size=(n_ch, e - s)) * 20e-6).astype(np.float32)
        kk = np.floor((idx - onset0) / period).astype(int)
        ok = kk >= 0
        off = (idx[ok] - np.ceil(onset0 + kk[ok] * period)).astype(int)
        good = (off >= 0) & (off < L)
        x[:, np.flatnonzero(ok)[good]] += art[:, off[good]]
        x[-1] += beat[idx % rr]
        bv.write(x)
    bv.close(markers)
    return len(markers)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_online_replay30"))
    ap.add_argument("--keep", action="store_true", help="keep the recording for another run")
    ap.add_argument("--key", default="lsl_disk_replay", help="entry of the results file written")
    args = ap.parse_args()
    from workbench.engine.online import OnlineParams
    from workbench.engine.online.lsl import run_replay

    args.dir.mkdir(parents=True, exist_ok=True)
    vhdr = args.dir / f"replay_{args.minutes:g}min.vhdr"
    if not vhdr.exists():
        t0 = time.perf_counter()
        n_mk = write_recording(vhdr, args.minutes)
        print(f"wrote {vhdr} ({n_mk} volume markers) in {time.perf_counter() - t0:.0f} s", flush=True)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    c0 = time.process_time()
    run, raw = run_replay(vhdr, params=OnlineParams(volume_marker="R128"), from_disk=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    q = run.qc()
    st = q.pop("state", {})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").exists() else []
    res = {
        "minutes": args.minutes, "channels": len(raw.ch_names), "sfreq": float(raw.info["sfreq"]),
        "file_samples": int(raw.n_times), "file_gb": round(sum(f.stat().st_size for f in args.dir.glob(vhdr.stem + ".eeg")) / 1e9, 2),
        **{k: q[k] for k in ("latency_ms_median", "latency_ms_p95", "latency_ms_max", "compute_ms_median",
                             "compute_ms_p95", "dropped_samples", "samples_received", "samples_sent", "chunks")},
        "volume_markers": st.get("volume_markers"), "late_markers": st.get("late_markers"),
        "rpeaks": st.get("rpeaks"), "wall_s": wall, "cpu_s": cpu,
        "peak_rss_mb": rss, "peak_rss_mb_before_replay": rss0, "machine_load_avg_end": load,
        "bcg": True, "messages": q["messages"][:12],
    }
    print(json.dumps(res, indent=1), flush=True)
    path = HERE / "bench_online_results.json"
    allres = json.loads(path.read_text()) if path.exists() else {}
    allres[args.key] = res
    path.write_text(json.dumps(allres, indent=1))
    if not args.keep:
        for f in args.dir.glob(vhdr.stem + ".*"):
            f.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
