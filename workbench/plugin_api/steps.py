"""Fusion methods as steps: the bridge from plugin discovery to the one runner.

Every fusion method found by :func:`~workbench.plugin_api.discover` becomes a
:class:`~workbench.engine.steps.StepSpec` with the same parameters, teaching text and
``run(study, params, progress)`` shape as a built-in stage (DESIGN §2b).
:func:`all_steps` is the catalogue the CLI, the GUI, replay and batch runs hand to the
:class:`~workbench.engine.runner.Runner`; the engine itself never discovers plugins.
"""

from __future__ import annotations

from typing import Any

from workbench.engine.errors import InputError
from workbench.engine.progress import Progress
from workbench.engine.steps import (
    Figure,
    OutputFile,
    StepResult,
    StepSpec,
    builtin_steps,
    sort_steps,
)

from .declaration import FusionMethod
from .result import FusionInputs

__all__ = ["fusion_step", "all_steps", "builtin_steps", "inputs_from_study"]


def inputs_from_study(study: Any) -> FusionInputs:
    """The inputs a fusion method sees, from the open study (the current, cleaned EEG).

    This is the only translation from a :class:`~workbench.engine.study.Study` to a
    method's inputs, so every entry point (GUI, CLI, replay, batch) hands a method the
    EEG the pipeline produced.
    """
    files = study.files
    sources = {k: str(files[k]) for k in ("eeg", "bold", "events", "anat") if files.get(k) is not None}
    if study.history and study.history[-1].path is not None:
        sources["eeg"] = str(study.history[-1].path)
    return FusionInputs(
        eeg=study.eeg,
        bold=study.bold,
        bold_meta=dict(study.bold_meta or {}),
        events=study.load_events(),
        anat=study.anat,
        mask=study.mask,
        trans=study.trans,
        forward=study.forward,
        dig=study.dig,
        sources=sources,
        files={k: list(v) for k, v in study.extra_files.items()},
    )


def fusion_step(method: FusionMethod, origin: str = "plugin") -> StepSpec:
    """The step of a fusion method (same parameters, run through :func:`run_method`)."""

    def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
        from .run import run_method

        inputs = inputs_from_study(study)
        result = run_method(method, inputs, params, progress)
        qc = {k: v for k, v in result.qc.items() if not isinstance(v, list | dict)}
        extra = {"inputs": inputs.sources}
        return StepResult(
            qc=qc,
            files=[OutputFile("", "", "", lambda path: result.save(path, extra=extra), role="fusion")],
            figures=_figures(method, result, study.anat),
            tables=_tables(result),
            details={"fusion": result},
            messages=list(result.messages),
        )

    return StepSpec(
        id=method.id,
        title=method.title,
        label=method.label,
        stage="fusion",
        teaching=method.explanation,
        params=tuple(method.params),
        requires=tuple(method.inputs),
        optional=tuple(method.optional_inputs),
        provides=(),
        run=run,
        origin=origin,
        file_inputs=tuple(f.name for f in method.file_inputs),
        in_demo=False,  # the demo names the plugins it runs (engine.demo.DEMO_PIPELINE)
    )


def all_steps(plugin_dirs: list[Any] | None = None) -> dict[str, StepSpec]:
    """Every step that exists: the built-in stages and every working fusion plugin.

    Broken or disabled plugins are listed as unavailable steps with the reason, so a
    recorded pipeline that names one fails with that reason before anything runs.
    """
    from .discovery import discover

    specs = list(builtin_steps().values())
    taken = {s.id for s in specs}
    for rec in discover(plugin_dirs):
        if rec.id in taken:
            continue
        if rec.ok and rec.method is not None:
            specs.append(fusion_step(rec.method, origin=rec.source))
        else:
            reason = "disabled in the plugin settings" if not rec.enabled else (rec.error or "broken")
            specs.append(StepSpec(id=rec.id, title=rec.id, stage="fusion", teaching="", params=(),
                                  requires=(), provides=(), run=_unavailable(rec.id, reason),
                                  origin=rec.source, available=False, unavailable_reason=reason,
                                  in_demo=False))
        taken.add(rec.id)
    return {s.id: s for s in sort_steps(specs)}


def _unavailable(step_id: str, reason: str) -> Any:
    def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
        raise InputError(None, f"step {step_id!r} is not available: {reason}")

    return run


def _tables(result: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for name, rows in result.tables.items():
        if name.startswith("clusters"):
            shown = {}
            for r in rows[:12]:
                if not isinstance(r.get("peak_stat"), int | float):
                    continue
                xyz = ", ".join(f"{float(r[k]):.0f}" if isinstance(r.get(k), int | float) else "?"
                                for k in ("x", "y", "z"))
                size = r.get("cluster_size_(mm3)")
                extent = f", {float(size):.0f} mm³" if isinstance(size, int | float) else " (sub-peak)"
                shown[f"cluster {r.get('cluster_id')}"] = f"peak z {r['peak_stat']:.2f} at ({xyz}) mm{extent}"
            shown = shown or {"clusters": "none survive the correction"}
            out[name.replace("_", " ").capitalize()] = shown
    return out


def _figures(method: FusionMethod, result: Any, anat: Any) -> list[Figure]:
    """Generic report figures from the declared outputs: matrices, time courses, z maps."""
    figs: list[Figure] = []
    for name, mat in result.matrices.items():
        spec = method.output(name)
        figs.append(Figure(spec.title if spec else name, lambda m=mat, n=name: _matrix_figure(m, n)))
    for name, tc in result.timecourses.items():
        spec = method.output(name)
        figs.append(Figure(spec.title if spec else name, lambda t=tc, n=name: _timecourse_figure(t, n)))
    for name, img in result.maps.items():
        if not name.startswith("z") or name.startswith("zthr"):
            continue
        stem = name.split("_", 1)[-1]
        thr = result.qc.get(f"fdr_threshold_{stem}")
        spec = method.output(name)
        title = spec.title if spec else name
        figs.append(Figure(f"z map: {title}", lambda i=img, t=thr, ti=title: _map_figure(i, anat, t, ti),
                           "Thresholded at the FDR-corrected level" if thr else
                           "No voxel survives FDR: shown at |z| > 3.1 (uncorrected) for orientation only"))
    for title, make, caption in getattr(result, "figures", ()):
        figs.append(Figure(title, make, caption))
    return figs


def _matrix_figure(mat: dict[str, Any], name: str) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    X = np.asarray(mat["values"], float)
    step = max(1, X.shape[1] // 2000)  # a 30k-voxel matrix is drawn from every n-th column
    X = X[:, ::step]
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1
    fig = MplFigure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(X / scale, aspect="auto", cmap="gray", interpolation="nearest")
    cols = [str(c) if len(str(c)) <= 18 else str(c)[:17] + "…" for c in mat.get("columns", [])][::step]
    if len(cols) <= 40:  # labels only where they can be read
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=45, ha="right", fontsize=7)
    else:
        ax.set_xlabel(f"{X.shape[1] * step} columns" + (f" (every {step}th drawn)" if step > 1 else ""))
    ax.set_ylabel("scan")
    ax.set_title(f"{name} (columns scaled to their maximum)")
    return fig


def _timecourse_figure(tc: dict[str, Any], name: str) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(8, 2.8), layout="constrained")
    ax = fig.subplots()
    t = np.asarray(tc["t"], float)
    for label, series in tc["series"].items():
        ax.plot(t, np.asarray(series, float), lw=0.8, marker="." if t.size < 300 else None, label=label)
    ax.set_xlabel("time (s, scanner clock)")
    ax.set_ylabel(tc.get("unit") or "value")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(name.replace("_", " "))
    return fig


def _map_figure(img: Any, anat: Any, thr: float | None, title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    from nilearn import plotting

    z = np.asarray(img.dataobj, float)
    peak = np.unravel_index(int(np.nanargmax(z)), z.shape)
    cut = img.affine[:3, :3] @ np.array(peak) + img.affine[:3, 3]
    level = float(thr) if thr else 3.1
    fig = plt.figure(figsize=(9, 3.2))
    plotting.plot_stat_map(img, bg_img=anat, threshold=level, display_mode="ortho", cut_coords=tuple(cut),
                           figure=fig, colorbar=True, draw_cross=False, black_bg=False, annotate=True,
                           title=f"{title}: |z| > {level:.2f}{' (FDR)' if thr else ' (uncorrected)'}; "
                                 f"peak {np.nanmax(z):.1f}")
    return fig
