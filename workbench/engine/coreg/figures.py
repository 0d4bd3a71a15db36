"""Matplotlib figures for reports and views (Qt-free: plain ``matplotlib.figure.Figure``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def plot_noise_bias(fig: Any, res: dict[str, Any]) -> None:
    """Draw a :func:`~workbench.engine.coreg.synthetic.noise_vs_bias` result on a matplotlib figure."""
    ax = fig.add_subplot(111)
    n = np.array(res["n_points"])
    for key, label, color in (("noise", f"noise {res['noise_mm']:g} mm", "C0"),
                              ("bias", f"noise + bias {res['bias_mm']:g} mm", "C1")):
        m, sd = np.array(res[f"tre_{key}_mm"]), np.array(res[f"tre_{key}_sd_mm"])
        ax.plot(n, m, "o-", color=color, label=label)
        ax.fill_between(n, m - sd, m + sd, color=color, alpha=0.2)
    ax.axhline(res["bias_mm"], color="C1", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of head-shape points")
    ax.set_ylabel("electrode TRE (mm)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()


def figure_points(co: Any, display: dict[str, Any]) -> Any:
    """Matplotlib (Agg) 3D views of the scalp and the fitted points, coloured by distance (mm)."""
    from matplotlib.figure import Figure

    from .fit import apply

    fig = Figure(figsize=(10, 3.8))
    rr = np.asarray(display["rr"]) * 1e3
    tris = np.asarray(display["tris"])
    step = max(1, len(tris) // 4000)  # keep the figure light
    pts = apply(co.head_mri, co.points) * 1e3 / co.scale
    dist = np.abs(co.point_distances()) * 1e3
    big = co.kinds == "eeg"
    for i, (elev, azim, title) in enumerate(((0, 90, "front"), (0, 180, "left"), (90, -90, "top"))):
        ax = fig.add_subplot(1, 3, i + 1, projection="3d")
        ax.plot_trisurf(rr[:, 0], rr[:, 1], rr[:, 2], triangles=tris[::step], color="#e8c4a8", alpha=0.55,
                        linewidth=0, shade=True, antialiased=False)
        keep = ~co.omitted
        sc = ax.scatter(*pts[keep].T, c=dist[keep], cmap="RdYlGn_r", vmin=0, vmax=10,
                        s=np.where(big[keep], 28, 8), depthshade=False)
        if co.omitted.any():
            ax.scatter(*pts[co.omitted].T, c="#999999", s=8)
        ax.view_init(elev=elev, azim=azim)
        ax.set_title(title)
        ax.set_axis_off()
        lo, hi = rr.min(0), rr.max(0)
        half = (hi - lo).max() / 2
        for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), (lo + hi) / 2):
            setter(c - half, c + half)
        ax.set_box_aspect((1, 1, 1), zoom=1.5)
    fig.subplots_adjust(left=0.0, right=0.88, bottom=0.0, top=0.92, wspace=0.0)
    cb = fig.colorbar(sc, ax=fig.axes, shrink=0.7)
    cb.set_label("distance to scalp (mm)")
    return fig
