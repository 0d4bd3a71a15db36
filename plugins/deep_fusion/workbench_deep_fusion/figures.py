"""Report figures: the scores with their intervals, and the latent space in 2-D."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["scores_figure", "latent_figure", "pca_2d"]


def pca_2d(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of ``Z`` (trials x latent) and their variance fractions."""
    Zc = Z - Z.mean(axis=0)
    U, s, _ = np.linalg.svd(Zc, full_matrices=False)
    var = s**2 / max(float(np.sum(s**2)), 1e-300)
    P = U[:, :2] * s[:2]
    if P.shape[1] < 2:
        P = np.hstack([P, np.zeros((len(P), 2 - P.shape[1]))])
        var = np.append(var, 0.0)
    return P, var[:2]


def _mpl_figure(size: tuple[float, float]) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def scores_figure(scores: dict[str, dict[str, Any]], chance: float, metric: str = "balanced_accuracy") -> Any:
    """The score per model (both modalities, fMRI missing, EEG missing) with 95 % intervals.

    ``metric``: ``balanced_accuracy`` (dashed line: chance) or ``r2`` (dashed line: 0, the
    mean predictor).
    """
    fig = _mpl_figure((8, 3.6))
    ax = fig.subplots()
    models = list(scores)
    conds = (("both", "both modalities", "C0"), ("without_fmri", "fMRI missing at test", "C1"),
             ("without_eeg", "EEG missing at test", "C2"))
    w = 0.26
    lows = [0.0]
    for j, (c, label, col) in enumerate(conds):
        x, v, lo, hi = [], [], [], []
        for i, m in enumerate(models):
            s = scores[m].get(c)
            if s is None:
                continue
            x.append(i + (j - 1) * w)
            v.append(s[metric])
            # a percentile interval need not contain the full-sample score: clip the bar's error at 0
            lo.append(max(0.0, s[metric] - s["ci95"][0]))
            hi.append(max(0.0, s["ci95"][1] - s[metric]))
            lows.append(min(s[metric], s["ci95"][0]))
        if x:
            ax.bar(x, v, w, color=col, label=label, yerr=[lo, hi], capsize=2)
    reg = metric != "balanced_accuracy"
    ax.axhline(chance, color="k", ls="--", lw=0.8, label="mean predictor" if reg else "chance")
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([m.replace("_", " ") for m in models])
    ax.set_ylabel("R²" if reg else "balanced accuracy")
    ax.set_ylim(max(-1.0, min(lows) - 0.05) if reg else 0, 1)
    ax.legend(fontsize=7, ncols=4, loc="upper center")
    ax.set_title("Leave-subjects-out scores (95 % interval: bootstrap over subjects)")
    return fig


def latent_figure(embeddings: dict[str, np.ndarray], labels: np.ndarray, groups: np.ndarray,
                  held_out: np.ndarray | None) -> Any:
    """Per model: its latent space (PCA, 2-D) coloured by condition and by subject."""
    models = list(embeddings)
    fig = _mpl_figure((7.5, 2.6 * max(1, len(models))))
    axes = np.atleast_2d(fig.subplots(len(models), 2, squeeze=False))
    numeric = np.issubdtype(np.asarray(labels).dtype, np.floating)  # a regression target: a colour scale
    values_num = np.asarray(labels, float) if numeric else None
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups).astype(str)
    classes = sorted(set(labels.tolist()))
    subjects = sorted(set(groups.tolist()))
    import matplotlib

    cmap_c = matplotlib.colormaps["tab10"]
    cmap_s = matplotlib.colormaps["tab20"]
    for r, m in enumerate(models):
        P, var = pca_2d(embeddings[m])
        for col, (values, names, cmap) in enumerate(((labels, classes, cmap_c), (groups, subjects, cmap_s))):
            ax = axes[r, col]
            if col == 0 and numeric:
                sc = ax.scatter(P[:, 0], P[:, 1], s=6, c=values_num, cmap="viridis")
                if held_out is not None:
                    ax.scatter(P[held_out, 0], P[held_out, 1], s=14, c=values_num[held_out], cmap="viridis",
                               norm=sc.norm, edgecolors="k", linewidths=0.5)
                fig.colorbar(sc, ax=ax, label="target")
                names = []
            for i, name in enumerate(names):
                sel = values == name
                if held_out is not None:
                    ax.scatter(P[sel & ~held_out, 0], P[sel & ~held_out, 1], s=6, color=cmap(i % cmap.N), alpha=0.5,
                               label=name if len(names) <= 12 else None)
                    ax.scatter(P[sel & held_out, 0], P[sel & held_out, 1], s=14, color=cmap(i % cmap.N),
                               edgecolors="k", linewidths=0.5)
                else:
                    ax.scatter(P[sel, 0], P[sel, 1], s=6, color=cmap(i % cmap.N), label=name)
            by = ("target" if numeric else "condition") if col == 0 else "subject"
            ax.set_title(f"{m.replace('_', ' ')}: by {by}", fontsize=9)
            ax.set_xlabel(f"PC1 ({100 * var[0]:.0f} %)", fontsize=8)
            ax.set_ylabel(f"PC2 ({100 * var[1]:.0f} %)", fontsize=8)
            ax.tick_params(labelsize=7)
            if r == 0 and names:
                ax.legend(fontsize=6, markerscale=1.5, ncols=2 if col else 1)
    return fig
