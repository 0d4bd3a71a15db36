"""Pipeline step "fusion": the parametric-modulation plugin on the current study (headless demo).

The method is found through plugin discovery (``workbench.fusion`` entry points), exactly
as a third-party plugin would be. Its maps go to ``<out_dir>/fusion/<method>/``; the
report gets the design matrix, the z maps over the anatomy, the cluster table and, on
the phantom, how well the maps localise the true sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .registry import StepContext, StepSpec, register_step

METHOD_ID = "parametric-modulation"

HELP = (
    "EEG-informed fMRI: every trial's evoked EEG amplitude is measured, and the fMRI model "
    "asks which voxels follow it beyond the average response. One regressor per condition "
    "(the main effect) and one parametric modulator (the condition's events scaled by the "
    "mean-centred single-trial EEG amplitude, orthogonalised to the main effect) are "
    "convolved with SPM's canonical HRF at 1/16 of the TR and sampled at each slice's own "
    "acquisition time; a GLM with cosine drifts and AR(1) prewhitening gives z maps, "
    "thresholded by FDR and cluster size. Single-trial EEG amplitudes are noisy, so the "
    "modulator is always weaker than the main effect."
)


def truth_qc(result: Any, truth: Any, condition: str, events: Any = None) -> dict[str, Any]:
    """Localisation QC of a parametric-modulation result against phantom ground truth.

    For each source with an activation mask: mean z of the main and modulator contrasts
    in its mask; the distance (mm) from each map's peak to the nearest voxel of the
    condition's task source mask; the correlation of the EEG feature with the true
    trial amplitudes.
    """
    out: dict[str, Any] = {}
    sources = getattr(truth, "sources", None) or []
    z_main = np.asarray(result.maps["z_main"].dataobj, float)
    z_mod = np.asarray(result.maps["z_modulator"].dataobj, float)
    affine = result.maps["z_main"].affine
    target = None
    for src in sources:
        if not src.get("mask"):
            continue
        try:
            m = np.asarray(truth.load(f"masks/{src['name']}").dataobj) > 0
        except Exception:  # a missing mask file only removes that row
            continue
        if m.shape != z_main.shape or not m.any():
            continue
        name = src["name"]
        out[f"z_main_mean_in_{name}"] = float(z_main[m].mean())
        out[f"z_modulator_mean_in_{name}"] = float(z_mod[m].mean())
        if src.get("role") == "task" and src.get("condition") == condition:
            target = m
    if target is not None:
        tgt = np.argwhere(target) @ affine[:3, :3].T + affine[:3, 3]
        for key, z in (("main", z_main), ("modulator", z_mod)):
            peak = np.array(np.unravel_index(int(np.argmax(z)), z.shape))
            xyz = affine[:3, :3] @ peak + affine[:3, 3]
            out[f"peak_distance_{key}_mm"] = float(np.min(np.linalg.norm(tgt - xyz, axis=1)))
    amps = None
    tev = getattr(truth, "events", None)
    if isinstance(tev, dict) and "amplitude" in tev and "condition" in tev:
        cond = np.asarray(tev["condition"]).astype(str)
        amps = np.asarray(tev["amplitude"], float)[cond == condition]
    feats = [row["feature"] for row in result.tables.get("trials", [])]
    if amps is not None and len(feats) == len(amps) and len(amps) > 2:
        out["feature_vs_true_amplitude_r"] = float(np.corrcoef(feats, amps)[0, 1])
    return out


def run_fusion(
    ctx: StepContext,
    condition: str = "visual",
    feature: str = "erp",
    tmin: float = 0.14,
    tmax: float = 0.2,
    spatial_filter: str = "whitened",
    main_effect: str = "condition",
    fdr_alpha: float = 0.05,
    cluster_size: int = 5,
) -> dict[str, Any]:
    from ...plugin_api import get_method, inputs_from_state, run_method

    p = ctx.progress
    try:
        method = get_method(METHOD_ID)
    except InputError as exc:
        raise InputError(
            None, f"{exc}; install the first-party plugins with installer/bootstrap.sh"
        ) from None
    inputs = inputs_from_state(ctx.state)
    if inputs.events is not None and "trial_type" in inputs.events:
        if condition not in set(inputs.events["trial_type"].astype(str)):
            condition = "auto"
    params = {
        "condition": condition,
        "feature": feature,
        "tmin": tmin,
        "tmax": tmax,
        "spatial_filter": spatial_filter,
        "main_effect": main_effect,
        "fdr_alpha": fdr_alpha,
        "cluster_size": cluster_size,
    }
    result = run_method(method, inputs, params, p.sub(0.0, 0.8))
    out = Path(ctx.out_dir) / "fusion" / METHOD_ID
    p(0.82, "writing maps")
    result.save(out, extra={"inputs": inputs.sources})
    qc = {k: v for k, v in result.qc.items() if not isinstance(v, list | dict)}
    if ctx.state.get("truth") is not None:
        qc.update(truth_qc(result, ctx.state["truth"], result.qc["condition"], inputs.events))
    ctx.state["fusion"] = result
    report = ctx.state.get("report")
    if report is not None:
        p(0.88, "report figures")
        _report(report, result, ctx.state.get("anat"), qc)
    if ctx.project is not None:
        files = [out / "result.json", *(out / f"{n}.nii.gz" for n in result.maps)]
        files += [out / f"{n}.tsv" for n in result.tables]
        ctx.project.record_step(
            "fusion",
            params,  # the step's own arguments, so `workbench run` can replay it
            inputs=[Path(x) for x in inputs.sources.values()],
            outputs=files,
            qc=qc,
        )
        ctx.project.set_result(f"fusion/{METHOD_ID}", {**result.summary(), "folder": str(out)})
    p(1.0, "fusion done")
    return qc


def design_figure(matrix: dict[str, Any]) -> Any:
    """The design matrix as an image (columns scaled to their max, SPM style)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X = np.asarray(matrix["values"], float)
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(X / scale, aspect="auto", cmap="gray", interpolation="nearest")
    cols = matrix.get("columns", [])
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("scan")
    ax.set_title("Design matrix (columns scaled to their maximum)")
    fig.tight_layout()
    return fig


def _report(report: Any, result: Any, anat: Any, qc: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    from ..report import add_figure, add_qc_table, add_text

    sec = "Fusion"
    add_text(report, "Parametric modulation (EEG-informed fMRI)", HELP, section=sec)
    add_qc_table(report, "Fusion QC", qc, section=sec, caption="; ".join(result.messages))
    add_figure(report, design_figure(result.matrices["design"]), "Design matrix", section=sec)
    tc = result.timecourses["eeg_feature"]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.stem(tc["t"], tc["series"]["modulator"], basefmt=" ")
    ax.set_xlabel("event onset (s, scanner clock)")
    ax.set_ylabel("centred feature")
    ax.set_title("Single-trial EEG feature (the parametric modulator)")
    fig.tight_layout()
    add_figure(report, fig, "Single-trial EEG feature", section=sec)
    for name, title in (("z_main", "main effect"), ("z_modulator", "parametric modulator")):
        img = result.maps[name]
        z = np.asarray(img.dataobj)
        peak = np.unravel_index(int(np.argmax(z)), z.shape)
        cut = img.affine[:3, :3] @ np.array(peak) + img.affine[:3, 3]
        fig = plt.figure(figsize=(9, 3.2))
        plotting.plot_stat_map(
            img,
            bg_img=anat,
            threshold=3.0,
            display_mode="ortho",
            cut_coords=tuple(cut),
            figure=fig,
            title=f"z, {title} (|z| > 3; peak {z.max():.1f})",
            draw_cross=False,
            black_bg=False,
            annotate=True,
        )
        add_figure(report, fig, f"z map: {title}", section=sec)
    for name in ("clusters_main", "clusters_modulator"):
        rows = result.tables.get(name, [])
        shown = {
            f"cluster {r.get('cluster_id')}": f"peak z {r.get('peak_stat'):.2f} at "
            f"({r.get('x')}, {r.get('y')}, {r.get('z')}) mm, {r.get('cluster_size_(mm3)')} mm3"
            for r in rows[:10]
        } or {"clusters": "none survive FDR + extent"}
        add_qc_table(report, name.replace("_", " ").capitalize(), shown, section=sec)


register_step(
    StepSpec(
        name="fusion",
        stage="fusion",
        run=run_fusion,
        title="Fusion: parametric modulation",
        help=HELP,
        defaults={
            "condition": "visual",
            "feature": "erp",
            "tmin": 0.14,
            "tmax": 0.2,
            "spatial_filter": "whitened",
            "main_effect": "condition",
            "fdr_alpha": 0.05,
            "cluster_size": 5,
        },
    )
)
