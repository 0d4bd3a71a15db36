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
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True, layout="constrained")
    for e in ep:
        a1.plot(t, e * 1e6, color="0.6", lw=0.4)
    a1.plot(t, tmpl * 1e6, color="C3", lw=0.9, label=f"template ({len(ep)} aligned neighbours)")
    if slot_offsets is not None:
        for s in np.asarray(slot_offsets) / sfreq * 1e3:
            a1.axvline(s, color="C2", lw=0.4, ls=":")
    a1.set_ylabel("µV")
    a1.legend(loc="upper right", fontsize=8)
    a1.set_title(f"Artifact template, channel {name}, volume {v}")
    a2.plot(t, (ep - tmpl).std(axis=0) * 1e6, color="C0", lw=0.6)
    a2.set_ylabel("SD across\nepochs (µV)")
    a2.set_xlabel("time in volume (ms)")
    return fig
