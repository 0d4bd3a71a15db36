"""Matplotlib figures of a phantom study's ground truth (for reports and teaching).

Qt-free: uses whatever non-interactive matplotlib backend is active (the report
runner sets Agg). Each function returns a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .truth import GroundTruth

__all__ = ["plot_components", "plot_cardiac", "plot_bold"]

_COLORS = {"clean": "k", "gradient": "tab:red", "bcg": "tab:purple", "line": "tab:orange",
           "blink": "tab:green", "drift": "tab:brown"}


def plot_components(truth: GroundTruth, channel: str = "O1", start_s: float | None = None,
                    length_s: float = 2.0) -> Any:
    """The recorded EEG of one channel and each ground-truth component beneath it."""
    import matplotlib.pyplot as plt

    sf = truth.sfreq
    ch = truth.ch_names.index(channel)
    if start_s is None:
        start_s = float(truth.triggers["true_eeg"][min(2, len(truth.triggers["true_eeg"]) - 1)])
    a = int(start_s * sf)
    b = min(a + int(length_s * sf), truth.clean.shape[1])
    t = np.arange(a, b) / sf
    names = list(truth.arrays)
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(10, 1.3 * (len(names) + 1)), sharex=True)
    rec = truth.recorded(a, b)[ch]
    axes[0].plot(t, rec * 1e3, lw=0.5, color="0.3")
    axes[0].set_ylabel("recorded\n(mV)")
    for ax, name in zip(axes[1:], names):
        x = np.asarray(truth.arrays[name][ch, a:b], dtype=float)
        scale, unit = (1e3, "mV") if name == "gradient" else (1e6, "µV")
        ax.plot(t, x * scale, lw=0.6, color=_COLORS.get(name, "C0"))
        ax.set_ylabel(f"{name}\n({unit})")
    for r in truth.rpeaks[(truth.rpeaks >= t[0]) & (truth.rpeaks <= t[-1])]:
        axes[names.index("bcg") + 1].axvline(r, color="r", lw=0.5, ls=":")
    axes[-1].set_xlabel("time on the EEG clock (s)")
    fig.suptitle(f"Phantom channel {channel}: recorded = clean + gradient + BCG + line + blink + drift")
    fig.tight_layout()
    return fig


def plot_cardiac(truth: GroundTruth, n_channels: int = 6) -> Any:
    """BCG averaged on the R-peaks (true lag marked) for the channels where it is largest."""
    import matplotlib.pyplot as plt

    sf = truth.sfreq
    n_eeg = truth.config.n_eeg
    lo, hi = int(-0.2 * sf), int(0.8 * sf)
    idx = [int(round(r * sf)) for r in truth.rpeaks]
    idx = [i for i in idx if i + lo >= 0 and i + hi <= truth.clean.shape[1]]
    bcg = truth.arrays["bcg"]
    avg = np.mean([np.asarray(bcg[:n_eeg, i + lo:i + hi], dtype=float) for i in idx], axis=0)
    pick = np.argsort(np.abs(avg).max(1))[::-1][:n_channels]
    lag = np.arange(lo, hi) / sf
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in pick:
        ax.plot(lag, avg[k] * 1e6, lw=1, label=truth.ch_names[k])
    ax.axvline(0, color="k", lw=0.8)
    ax.axvline(truth.config.bcg_delay_s, color="r", ls="--", lw=0.8, label="BCG delay")
    ax.set_xlabel("time after the R-peak (s)")
    ax.set_ylabel("BCG (µV)")
    ax.set_title(f"Ballistocardiogram averaged over {len(idx)} beats: each channel its own shape")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_bold(truth: GroundTruth) -> Any:
    """Mean BOLD in each source's mask next to the true haemodynamic response."""
    import matplotlib.pyplot as plt
    import nibabel as nib

    img = nib.load(truth.study_dir / truth.meta["files"]["bold"])
    data = np.asarray(img.dataobj, dtype=np.float32)
    names = list(truth.meta["masks"])
    cols = truth.meta["neural_columns"]
    br = np.asarray(truth.load("bold_regions"))
    tg = np.arange(len(br)) * truth.meta["neural_dt"]
    vols = truth.triggers["true_mri"]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.8 * len(names)), sharex=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        m = np.asarray(truth.load(f"masks/{name}").dataobj).astype(bool)
        y = data[m].mean(0)
        y = (y / y.mean() - 1) * 100
        y -= np.polyval(np.polyfit(vols, y, 1), vols)
        ax.plot(vols, y, ".-", lw=0.8, ms=3, label="BOLD in mask (%)")
        true = br[:, cols.index(name)] * 100
        ax.plot(tg, true - np.interp(vols, tg, true).mean(), lw=1, label="true response (%, mean removed)")
        role = next(s["role"] for s in truth.sources if s["name"] == name)
        ax.set_title(f"{name} ({role})", fontsize=9)
        ax.set_xlim(0, vols[-1] + truth.config.tr)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    np.atleast_1d(axes)[-1].set_xlabel("scanner time (s)")
    fig.tight_layout()
    return fig
