"""Matplotlib figures of the cardiac step (report and exports; Qt-free, Agg)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .qc import epoch_matrix
from .rpeaks import implausible_intervals

__all__ = ["beat_stack", "stack_figure", "hr_figure"]


def beat_stack(x: np.ndarray, sfreq: float, rpeaks: np.ndarray, span: tuple[float, float] = (-0.2, 0.8),
               max_rate: float = 250.0) -> tuple[np.ndarray, np.ndarray]:
    """Beat-locked epochs of one channel (beats x time, each minus its mean) and their time axis (s)."""
    step = max(1, int(sfreq // max_rate))
    d = np.asarray(x, float)[::step]
    sf = sfreq / step
    a = int(round(span[0] * sf))
    n = int(round((span[1] - span[0]) * sf))
    ep = epoch_matrix(d, np.round(np.asarray(rpeaks) * sf).astype(int) + a, n)
    if len(ep):
        ep = ep - ep.mean(axis=1, keepdims=True)
    return ep, (a + np.arange(n)) / sf


def stack_figure(d: Any) -> Any:
    """Beat-locked stacks of the channel with the largest pulse artifact: before and after each method."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    raw = d.before
    sf = float(raw.info["sfreq"])
    data = raw.get_data(picks=d.picks)
    first = next(iter(d.compared.values()))["artifact"]
    ch = int(np.argmax(np.sqrt((first ** 2).mean(axis=1))))
    name = raw.ch_names[int(d.picks[ch])]
    rp = d.rpeaks.times
    panels = [("before", data[ch])] + [(m.upper(), data[ch] - c["artifact"][ch]) for m, c in d.compared.items()]
    fig, axes = plt.subplots(2, len(panels), figsize=(3.3 * len(panels), 5.2), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]}, layout="constrained", squeeze=False)
    ep0, t = beat_stack(panels[0][1], sf, rp)
    lim = float(np.percentile(np.abs(ep0), 99)) * 1e6 if len(ep0) else 1.0
    for j, (title, x) in enumerate(panels):
        ep, t = beat_stack(x, sf, rp)
        ax = axes[0, j]
        ax.imshow(ep * 1e6, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower",
                  extent=(t[0], t[-1], 0, len(ep)), interpolation="nearest")
        ax.set_title(f"{name}: {title}")
        ax.set_ylabel("beat" if j == 0 else "")
        axes[1, j].plot(t, ep.mean(axis=0) * 1e6 if len(ep) else t * 0, color="k", lw=0.9)
        axes[1, j].axvline(0, color="C3", lw=0.6)
        axes[1, j].set_ylim(-lim, lim)
        axes[1, j].set_xlabel("time after R-peak (s)")
        axes[1, j].set_ylabel("mean (µV)" if j == 0 else "")
    return fig


def hr_figure(d: Any, sfreq: float) -> Any:
    """Heart rate per beat with implausible intervals flagged, and the ECG's first 10 s with R-peaks."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rp = d.rpeaks.times
    rr = np.diff(rp)
    bad = implausible_intervals(rp)
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.6), layout="constrained")
    ax = axes[0]
    ax.plot(rp[1:], 60.0 / rr, ".-", color="C0", lw=0.7, ms=3)
    ax.plot(rp[1:][bad], 60.0 / rr[bad], "o", color="C3", ms=5, label=f"implausible ({int(bad.sum())})")
    if d.rpeaks.flags is not None and np.any(d.rpeaks.flags):
        ins = rp[d.rpeaks.flags]
        ax.plot(ins, np.interp(ins, rp[1:], 60.0 / rr), "x", color="C1", label="inserted")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("heart rate (bpm)")
    ax.set_title(f"{len(rp)} beats from the {d.rpeaks.source.upper()}")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    if d.ecg_channel is not None:
        n = int(min(10.0, d.before.times[-1]) * sfreq)
        ecg = d.before.get_data(picks=[d.ecg_channel], stop=n)[0]
        t = np.arange(n) / sfreq
        ax.plot(t, ecg * 1e3, color="0.3", lw=0.6)
        sel = rp[rp < t[-1]]
        ax.plot(sel, np.interp(sel, t, ecg) * 1e3, "v", color="C3", ms=5)
        ax.set_ylabel(f"{d.ecg_channel} (mV)")
    else:
        ax.text(0.5, 0.5, "no ECG channel", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("time (s)")
    return fig
