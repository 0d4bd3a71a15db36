"""Report figures of a DCM result (matplotlib, drawn only when a report is written)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["report_figures", "draw_network", "layers_figure"]


def _fig(w: float, h: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def node_positions(n: int) -> np.ndarray:
    """Regions on a circle (first at the bottom, like a visual hierarchy)."""
    ang = -np.pi / 2 + 2 * np.pi * np.arange(n) / max(n, 1)
    return np.stack([np.cos(ang), np.sin(ang)], 1) if n > 1 else np.zeros((1, 2))


def draw_network(ax: Any, doc: dict[str, Any]) -> None:
    """Draw a fitted model (``models`` entry): A arrows labelled mean Hz (probability), B
    modulations dashed, C inputs as open arrows from outside."""
    regions, inputs = doc["regions"], doc["inputs"]
    n = len(regions)
    pos = node_positions(n)
    A = np.asarray(doc["A"]["mean"])
    PA = np.asarray(doc["A"]["probability"])
    VA = np.asarray(doc["A"]["var"])
    for i in range(n):
        for j in range(n):
            if i == j or VA[i, j] <= 0:
                continue
            p0, p1 = pos[j], pos[i]
            d = p1 - p0
            off = np.array([-d[1], d[0]]) * 0.06
            color = "tab:red" if A[i, j] > 0 else "tab:blue"
            ax.annotate("", xy=p1 - d * 0.18 + off, xytext=p0 + d * 0.18 + off,
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1 + 3 * PA[i, j] ** 4})
            mid = (p0 + p1) / 2 + off * 2.5
            ax.text(*mid, f"{A[i, j]:+.2f}\n({PA[i, j]:.2f})", fontsize=7, ha="center", va="center", color=color)
    for u, B in doc.get("B", {}).items():
        Bm, Bp = np.asarray(B["mean"]), np.asarray(B["probability"])
        for i, j in zip(*np.nonzero(np.asarray(B["var"]) > 0)):
            mid = (pos[i] + pos[j]) / 2 if i != j else pos[i] * 1.25
            ax.text(*(mid + np.array([0, -0.16])), f"B[{u}] {Bm[i, j]:+.2f} ({Bp[i, j]:.2f})", fontsize=7,
                    ha="center", color="tab:purple", style="italic")
    C, PC, VC = np.asarray(doc["C"]["mean"]), np.asarray(doc["C"]["probability"]), np.asarray(doc["C"]["var"])
    for i in range(n):
        for k in range(len(inputs)):
            if VC[i, k] <= 0:
                continue
            src = pos[i] * 1.6 + np.array([0.0, -0.1 * k])
            ax.annotate("", xy=pos[i] * 1.15, xytext=src,
                        arrowprops={"arrowstyle": "-|>", "color": "tab:green", "lw": 1.5})
            ax.text(*src, f"{inputs[k]}\nC {C[i, k]:.2f} ({PC[i, k]:.2f})", fontsize=7, ha="center",
                    color="tab:green")
    SI = doc.get("self_inhibition_hz", [])
    for i, r in enumerate(regions):
        ax.add_patch(_circle(pos[i], 0.2))
        ax.text(*pos[i], r, ha="center", va="center", fontsize=9, weight="bold")
        if i < len(SI):
            ax.text(pos[i][0], pos[i][1] - 0.26, f"self {SI[i]:.2f} Hz", fontsize=6, ha="center", color="0.3")
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")
    ax.axis("off")


def _circle(xy: np.ndarray, r: float) -> Any:
    from matplotlib.patches import Circle

    return Circle(tuple(xy), r, facecolor="#f3f3f3", edgecolor="0.2", zorder=0)


def network_figure(doc: dict[str, Any]) -> Any:
    fig = _fig(6, 5.5)
    ax = fig.subplots()
    draw_network(ax, doc)
    ax.set_title(f"{doc['name']}: posterior means (Hz; B, C in SPM's units) and P(effect != 0)", fontsize=9)
    return fig


def fit_figure(fit: Any) -> Any:
    n = fit.model.n
    fig = _fig(8, 1.6 + 1.5 * n)
    axes = np.atleast_1d(fig.subplots(n, 1, sharex=True))
    t = np.arange(fit.observed.shape[0]) * fit.design.tr + fit.design.tr / 2
    for r, ax in enumerate(axes):
        ax.plot(t, fit.observed[:, r], lw=0.7, color="0.5", label="observed")
        ax.plot(t, fit.predicted[:, r], lw=1.2, color="tab:red", label="predicted")
        ax.set_ylabel(fit.model.regions[r], fontsize=8)
        ax.text(0.01, 0.9, f"explained {100 * fit.explained_per_region[r]:.0f} %", transform=ax.transAxes,
                fontsize=7)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{fit.model.name}: BOLD (% , confounds removed) and the model's prediction", fontsize=9)
    return fig


def comparison_figure(names: list[str], F: np.ndarray, prob: np.ndarray) -> Any:
    fig = _fig(7, 3)
    a1, a2 = fig.subplots(1, 2)
    x = np.arange(len(names))
    a1.bar(x, F - F.min(), color="tab:gray")
    a1.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
    a1.set_ylabel("F - min F (nats)")
    a1.axhline(3, color="tab:red", lw=0.8, ls="--")
    a1.set_title("log-evidence (3 nats = strong)", fontsize=8)
    a2.bar(x, prob, color="tab:blue")
    a2.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
    a2.set_ylim(0, 1)
    a2.set_title("posterior model probability (fixed effects)", fontsize=8)
    return fig


def group_figure(names: list[str], Fm: np.ndarray, ffx: np.ndarray, expected: np.ndarray,
                 exceedance: np.ndarray) -> Any:
    fig = _fig(8, 3)
    a1, a2 = fig.subplots(1, 2)
    rel = Fm - Fm.max(axis=1, keepdims=True)
    im = a1.imshow(np.maximum(rel, -20), aspect="auto", cmap="viridis", vmin=-20, vmax=0)
    a1.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    a1.set_ylabel("subject")
    a1.set_title("F - best F per subject (clipped at -20)", fontsize=8)
    fig.colorbar(im, ax=a1)
    x = np.arange(len(names))
    for off, vals, lab in ((-0.27, ffx, "FFX probability"), (0.0, expected, "RFX expected frequency"),
                           (0.27, exceedance, "RFX exceedance")):
        a2.bar(x + off, vals, width=0.26, label=lab)
    a2.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
    a2.set_ylim(0, 1)
    a2.legend(fontsize=7)
    return fig


def ftrace_figure(fits: list[Any]) -> Any:
    fig = _fig(6, 3)
    ax = fig.subplots()
    for f in fits:
        F = np.array(f.posterior.F_trace, float)
        ax.plot(np.arange(1, F.size + 1), F, marker=".", lw=0.8,
                label=f"{f.model.name}{'' if f.posterior.converged else ' (not converged)'}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("free energy F")
    ax.legend(fontsize=7)
    return fig


def layers_figure(fit: Any, region: int = 0) -> Any:
    """Teaching figure: neural state -> haemodynamics (flow, volume, dHb) -> BOLD for one region."""
    from .integrate import predict

    y, X = predict(fit.posterior.Ep[None, : fit.layout.size], fit.layout, fit.design, with_states=True,
                   integrator=fit.integrator)
    _, _, bounds, _ = fit.design.schedule()
    n = fit.model.n
    t = bounds[: X.shape[1]] * fit.design.dt
    fig = _fig(8, 6)
    a0, a1, a2, a3 = fig.subplots(4, 1, sharex=True)
    u = fit.design.u
    tu = np.arange(u.shape[0]) * fit.design.dt
    for k, name in enumerate(fit.model.inputs):
        a0.step(tu, u[:, k] + 1.2 * k, where="post", lw=0.8, label=name)
    a0.set_ylabel("inputs u")
    a0.legend(fontsize=7, loc="upper right")
    a1.plot(t, X[0, :, region], color="tab:purple", lw=0.9)
    a1.set_ylabel("neural z")
    for k, (lab, c) in enumerate((("flow f", "tab:red"), ("volume v", "tab:green"), ("dHb q", "tab:blue")), start=2):
        a2.plot(t, np.exp(X[0, :, k * n + region]), color=c, lw=0.9, label=lab)
    a2.set_ylabel("haemodynamics")
    a2.legend(fontsize=7, loc="upper right")
    ts = np.arange(fit.observed.shape[0]) * fit.design.tr + fit.design.tr / 2
    a3.plot(ts, y[0][:, region], color="k", lw=1)
    a3.set_ylabel("BOLD (%)")
    a3.set_xlabel("time (s)")
    fig.suptitle(f"Three layers of {fit.model.name} in {fit.model.regions[region]}: neuronal -> haemodynamic "
                 "-> BOLD (posterior means; before confound removal)", fontsize=9)
    return fig


def report_figures(fits: list[Any], prob: np.ndarray) -> list[tuple[str, Any, str]]:
    """The figures the report shows for a DCM result."""
    from .method import model_summary

    F = np.array([f.F for f in fits])
    best = int(np.argmax(F))
    fb = fits[best]
    doc = model_summary(fb, float(prob[best]))
    figs = [
        ("DCM: fitted network (best model)", lambda: network_figure(doc),
         "Arrows: endogenous connections A (Hz; red excitatory, blue inhibitory), width and the number in "
         "brackets the posterior probability that the connection is not zero; purple: modulation by an "
         "input (B); green: driving inputs (C, SPM's P.C)."),
        ("DCM: observed and predicted BOLD", lambda: fit_figure(fb),
         f"Best model {fb.model.name!r}; explained variance {100 * fb.explained_variance:.0f} % (SPM's "
         "PSS/(PSS+RSS))."),
        ("DCM: free energy per iteration", lambda: ftrace_figure(fits),
         "Variational Laplace stops after 4 iterations whose predicted gain is below 0.1 (SPM12)."),
        ("DCM: three layers of the model", lambda: layers_figure(fb),
         "How the inputs drive the neuronal state, which drives blood flow, volume and deoxyhaemoglobin, "
         "which make the BOLD signal (best model, posterior means)."),
    ]
    if len(fits) > 1:
        figs.insert(1, ("DCM: model comparison", lambda: comparison_figure([f.model.name for f in fits], F, prob),
                        "Free energies relative to the worst model and posterior model probabilities."))
    return figs
