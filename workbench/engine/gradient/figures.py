"""Matplotlib figures of a gradient correction (report and exports; Qt-free, Agg)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .aas import volume_template
from .qc import harmonics, psd


def psd_figure(
    before: np.ndarray,
    after: np.ndarray,
    sfreq: float,
    f_slice: float,
    tr: float,
    fmax: float = 250.0,
    title: str = "",
) -> Any:
    """PSD (mean over channels) before/after, slice harmonics and volume comb marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fb, pb = psd(before, sfreq)
    fa, pa = psd(after, sfreq)
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    sel = fb <= fmax
    ax.semilogy(fb[sel], np.sqrt(pb[:, sel].mean(0)) * 1e6, color="0.55", lw=0.8, label="before")
    ax.semilogy(fa[sel], np.sqrt(pa[:, sel].mean(0)) * 1e6, color="C0", lw=0.9, label="after")
    for i, h in enumerate(harmonics(f_slice, fmax)):
        ax.axvline(
            h, color="C3", lw=0.6, ls="--", alpha=0.7, label="slice harmonics" if i == 0 else None
        )
    if tr > 0 and fmax * tr < 400:
        for i, c in enumerate(np.arange(1, int(min(fmax, 20) * tr) + 1) / tr):
            ax.axvline(
                c, color="C2", lw=0.4, ls=":", alpha=0.5, label="volume rate" if i == 0 else None
            )
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("amplitude spectral density (µV/√Hz)")
    ax.set_xlim(0, fmax)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "EEG spectrum before / after gradient correction (mean over channels)")
    return fig


def template_figure(
    x: np.ndarray,
    schedule: Any,
    v: int,
    sfreq: float,
    slot_offsets: np.ndarray | None = None,
    name: str = "",
    params: Any = None,
) -> Any:
    """Aligned neighbouring epochs and their template for one channel and volume."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ep, tmpl = volume_template(x, schedule, v, params)
    t = np.arange(tmpl.size) / sfreq * 1e3
    fig, axes = plt.subplots(2, 2, figsize=(10, 5.2), layout="constrained",
                             gridspec_kw={"width_ratios": [1.4, 1]})
    resid = ep - tmpl
    # left: the whole volume (the slice pattern); right: one slice slot zoomed in, where the
    # alignment of the epochs and the template can actually be seen
    offs = np.asarray(slot_offsets, float) / sfreq * 1e3 if slot_offsets is not None and len(slot_offsets) else None
    if offs is not None and offs.size > 1:
        k = offs.size // 2
        lo, hi = offs[k] - 0.1 * (offs[k + 1] - offs[k]) if k + 1 < offs.size else offs[k], None
        hi = offs[k + 1] + 0.1 * (offs[k + 1] - offs[k]) if k + 1 < offs.size else t[-1]
    else:
        lo, hi = 0.0, min(t[-1], 100.0)
    zoom = (t >= lo) & (t <= hi)
    for col, sel in ((0, slice(None)), (1, zoom)):
        a1, a2 = axes[0, col], axes[1, col]
        for e in ep:
            a1.plot(t[sel], e[sel] * 1e6, color="0.6", lw=0.4)
        a1.plot(t[sel], tmpl[sel] * 1e6, color="C3", lw=0.9,
                label=f"template ({len(ep)} aligned neighbours)" if col == 1 else None)
        if offs is not None:
            for s in offs:
                if t[sel][0] <= s <= t[sel][-1]:
                    a1.axvline(s, color="C2", lw=0.4, ls=":")
        a1.set_ylabel("µV")
        a2.plot(t[sel], resid[:, sel].std(axis=0) * 1e6, color="C0", lw=0.6)
        a2.set_ylabel("SD of epochs\naround it (µV)")
        a2.set_xlabel("time in volume (ms)")
    axes[0, 0].set_title(f"Whole volume {v}, channel {name}")
    axes[0, 1].set_title(f"One slice slot ({lo:.0f}-{hi:.0f} ms)")
    axes[0, 1].legend(loc="upper right", fontsize=7)
    return fig


def evolution_figure(evo: dict[str, Any]) -> Any:
    """Artifact size, shape change and tracked-neighbour distance per volume over the run."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    t = np.asarray(evo.get("time_s", []), float)
    rows = 3 if "reach" in evo else 2
    fig, axes = plt.subplots(rows, 1, figsize=(8, 1.6 * rows + 0.6), sharex=True, layout="constrained")
    if t.size == 0:
        axes[0].text(0.5, 0.5, "no per-volume record", ha="center", transform=axes[0].transAxes)
        return fig
    axes[0].plot(t, 100 * (np.asarray(evo["size"]) - 1), color="C0", lw=0.9, label="size")
    if "amplitude" in evo:
        axes[0].plot(t, 100 * (np.asarray(evo["amplitude"]) - 1), color="C1", lw=0.8,
                     label="fitted template amplitude")
    axes[0].set_ylabel("vs run mean (%)")
    axes[0].legend(loc="upper right", fontsize=7)
    axes[1].plot(t, evo["shape_change_pct"], color="C3", lw=0.9)
    axes[1].set_ylabel("shape change (%)")
    if rows == 3:
        axes[2].plot(t, evo["reach"], color="C2", lw=0.9)
        axes[2].set_ylabel("neighbours' distance\n(volumes)")
    axes[-1].set_xlabel("time (s)")
    return fig
