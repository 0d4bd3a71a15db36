"""Benchmark: peak memory and wall time of a 64-channel, 5 kHz, 30-minute phantom study.

The phantom generates the EEG in chunks and streams every array to disk, so its peak
memory should stay far below that of holding the recording in memory. Prints the
measured peak resident set size next to what the whole-array approach would need.

Usage::

    .venv/bin/python benchmarks/bench_phantom_memory.py [--minutes 30] [--out DIR] [--keep]

Not run by pytest (it writes ~17 GB and takes minutes).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _rss_gb() -> float:
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def _du_gb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--n-eeg", type=int, default=64)
    ap.add_argument("--sfreq", type=float, default=5000.0)
    ap.add_argument("--chunk", type=float, default=20.0, help="chunk length (s)")
    ap.add_argument("--out", type=Path, default=None, help="parent folder for the study (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the study afterwards")
    args = ap.parse_args(argv)

    from workbench.engine.phantom import COMPONENTS, PhantomConfig, simulate_study

    cfg = PhantomConfig(duration_s=args.minutes * 60, n_eeg=args.n_eeg, sfreq=args.sfreq, tr=2.0,
                        slices=30, chunk_s=args.chunk, seed=0)
    parent = Path(tempfile.mkdtemp(prefix="bench_phantom_", dir=args.out))
    study = parent / "study"
    rss0 = _rss_gb()
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            print(f"  [{fraction * 100:5.1f}%] {message}  (peak RSS so far {_rss_gb():.2f} GB)", flush=True)

    t0 = time.perf_counter()
    simulate_study(study, cfg, progress=progress)
    wall = time.perf_counter() - t0
    peak = _rss_gb()
    size = _du_gb(study)
    n_ch = cfg.n_eeg + 2
    one = n_ch * cfg.n_times * 8 / 1e9  # one float64 array of the recording
    naive = one * (2 + len(COMPONENTS))  # clean + components + their sum, all in memory
    print()
    print(f"phantom study: {n_ch} ch x {cfg.sfreq:g} Hz x {cfg.duration_s / 60:g} min "
          f"({cfg.n_times:,} samples, {cfg.n_volumes} volumes), chunks of {cfg.chunk_s:g} s")
    print(f"{'':34s}{'phantom (chunked)':>20s}{'whole arrays':>16s}{'ratio':>8s}")
    print(f"{'peak memory (GB)':34s}{peak:20.2f}{naive:16.2f}{naive / peak:8.1f}")
    print(f"{'  of which before the run (GB)':34s}{rss0:20.2f}")
    print(f"{'wall time (s)':34s}{wall:20.1f}")
    print(f"{'written (GB)':34s}{size:20.2f}")
    print(f"{'EEG generated per wall second':34s}{cfg.duration_s / wall:19.1f}x real time")
    print(f"goal: peak < 4 GB -> {'PASS' if peak < 4.0 else 'FAIL'}")
    if args.keep:
        print(f"kept: {study}")
    else:
        shutil.rmtree(parent, ignore_errors=True)
    return 0 if peak < 4.0 else 1


if __name__ == "__main__":
    sys.exit(main())
