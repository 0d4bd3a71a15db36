"""Benchmark: trace browser frame time on a 64-channel, 5 kHz, 30-minute recording.

A BrainVision file (int16, 1.15 GB) is written chunkwise to a temporary folder and
opened with MNE ``preload=False``, exactly as the GUI opens a recording: only the
visible window is read from disk. We time one full frame (read the window, peak-
downsample, set the curves, paint the widget) for a first screen and for scroll steps
at random places in the run, and compare with drawing every sample (no downsampling),
which is what a naive browser does.

Run:  .venv/bin/python benchmarks/bench_traces.py [--minutes 30] [--channels 64]
(uses the current display, or Qt's offscreen platform when there is none)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_brainvision(folder: Path, n_ch: int, sfreq: float, minutes: float) -> Path:
    """A multiplexed int16 BrainVision file with noise, alpha and a slice-rate artifact."""
    n = int(sfreq * minutes * 60)
    names = [f"EEG{i:02d}" for i in range(n_ch)]
    res = 0.5  # µV per bit
    eeg = folder / "bench.eeg"
    rng = np.random.default_rng(0)
    chunk = int(sfreq * 10)
    with open(eeg, "wb") as fh:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            t = (start + np.arange(m)) / sfreq
            sig = 20 * np.sin(2 * np.pi * 10 * t)[None, :] + rng.normal(0, 8, (n_ch, m))
            sig += 800 * (np.sin(2 * np.pi * 15.0 * t) > 0.95)[None, :]  # slice-rate bursts (µV)
            fh.write(np.clip(sig / res, -32768, 32767).astype("<i2").T.tobytes())
    vhdr = folder / "bench.vhdr"
    lines = [
        "Brain Vision Data Exchange Header File Version 1.0",
        "[Common Infos]", "Codepage=UTF-8", "DataFile=bench.eeg", "MarkerFile=bench.vmrk",
        "DataFormat=BINARY", "DataOrientation=MULTIPLEXED", f"NumberOfChannels={n_ch}",
        f"SamplingInterval={1e6 / sfreq:g}", "[Binary Infos]", "BinaryFormat=INT_16",
        "[Channel Infos]",
    ] + [f"Ch{i + 1}={nm},,{res},µV" for i, nm in enumerate(names)]
    vhdr.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mk = ["Brain Vision Data Exchange Marker File, Version 1.0", "[Common Infos]",
          "Codepage=UTF-8", "DataFile=bench.eeg", "[Marker Infos]"]
    tr = int(2.0 * sfreq)
    for k, s in enumerate(range(0, n, tr)):
        mk.append(f"Mk{k + 1}=Response,R128,{s + 1},1,0")
    (folder / "bench.vmrk").write_text("\n".join(mk) + "\n", encoding="utf-8")
    return vhdr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--sfreq", type=float, default=5000.0)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import mne
    from PyQt6.QtWidgets import QApplication

    from workbench.gui.traces import TraceView

    mne.set_log_level("ERROR")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="bench_traces_") as tmp:
        t0 = time.perf_counter()
        vhdr = write_brainvision(Path(tmp), args.channels, args.sfreq, args.minutes)
        size = (Path(tmp) / "bench.eeg").stat().st_size
        print(f"wrote {size / 1e9:.2f} GB ({args.channels} ch x {args.sfreq:g} Hz x "
              f"{args.minutes:g} min) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        raw = mne.io.read_raw_brainvision(vhdr, preload=False)
        print(f"opened with preload=False in {(time.perf_counter() - t0) * 1e3:.0f} ms")

        def frame_times(view: TraceView, positions: np.ndarray) -> np.ndarray:
            out = []
            for pos in positions:
                view.t0 = float(pos)
                t = time.perf_counter()
                view.render()
                view.plot.viewport().repaint()
                out.append(time.perf_counter() - t)
            return np.array(out) * 1e3

        rng = np.random.default_rng(1)
        duration = raw.n_times / args.sfreq
        results = {}
        for n_visible in (20, args.channels):
            for label, ppp in (("peak 2 px", 2.0), ("every sample", 1e9)):
                view = TraceView(window_s=10.0, n_channels=n_visible, points_per_pixel=ppp)
                view.resize(1400, 900)
                view.show()
                app.processEvents()
                view.set_data(raw)
                view.set_show_markers(True)
                view.scales["eeg"] = 200e-6
                first = frame_times(view, np.array([0.0]))[0]
                random_pos = rng.uniform(0, duration - 10.0, args.steps)
                scroll = frame_times(view, random_pos)
                step = frame_times(view, np.arange(args.steps) * 2.5 + duration / 3)  # ←/→ steps
                results[(n_visible, label)] = (first, np.median(scroll), np.percentile(scroll, 95),
                                               np.median(step), view.n_points_drawn)
                view.close()
                app.processEvents()
        print()
        print(f"{'channels':>8} {'drawing':>13} {'first ms':>9} {'jump med':>9} {'jump p95':>9} "
              f"{'step med':>9} {'points':>10}")
        for (nv, label), (first, med, p95, stp, pts) in results.items():
            print(f"{nv:>8} {label:>13} {first:>9.1f} {med:>9.1f} {p95:>9.1f} {stp:>9.1f} {pts:>10d}")
        for nv in (20, args.channels):
            a = results[(nv, "peak 2 px")][3]
            b = results[(nv, "every sample")][3]
            print(f"{nv} channels: peak downsampling is {b / a:.1f}x faster per scroll step "
                  f"than drawing every sample")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {rss:.0f} MB for a {size / 1e9:.2f} GB recording (data stay on disk)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
