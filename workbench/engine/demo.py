"""The demo study: a phantom EEG-fMRI recording run through every pipeline step.

``workbench demo`` opens it in the GUI; ``workbench demo --headless --out DIR`` runs
the whole pipeline here and writes ``DIR/report.html``, ``DIR/project.json`` and
``DIR/derivatives/``. Later stages join the demo by registering a pipeline step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InputError
from .progress import Progress, as_progress
from .project import Project
from .report import add_figure, add_provenance, add_qc_table, add_text, new_report, save_report
from .study import Study

logger = logging.getLogger(__name__)

#: the demo's phantom settings: short enough to build in seconds, long enough for
#: a GLM (90 volumes) and for averaging templates over many slices and beats
DEMO_CONFIG: dict[str, Any] = {
    "duration_s": 180.0,
    "sfreq": 5000.0,
    "n_eeg": 32,
    "tr": 2.0,
    "slices": 30,
    "multiband": 1,
    "drift_ppm": 20.0,
    "seed": 42,
}

#: the demo's pipeline: every stage in order. Parameters that differ from a step's
#: declared defaults are given here, with the reason, and recorded in the provenance.
DEMO_PIPELINE: list[tuple[str, dict[str, Any]]] = [
    ("sync", {}),
    ("gradient", {}),
    ("cardiac", {}),
    ("notch", {}),
    ("coreg", {}),
    # the phantom's visual task evokes an N1-like component peaking near 170 ms; the
    # plugin's default window (250-400 ms) is for a P300
    ("parametric-modulation", {"condition": "visual", "tmin": 0.14, "tmax": 0.2}),
    # issue 11: the visual response localised with and without the fMRI (its z-map computed
    # from the BOLD); 170 ms is the visual N1, 250 ms the fMRI-invisible temporal source;
    # a 10 mm grid keeps the step under a minute
    ("fmri-source", {"condition": "visual", "times": "0.17,0.25", "spacing": 10.0}),
]

INTRO = """\
This report was produced by `workbench demo --headless`: a simulated simultaneous
EEG-fMRI study (the phantom) with known ground truth for every stage was written in
real file formats (BrainVision EEG, NIfTI BOLD and T1, BIDS electrodes and events), read
back through the same loaders the GUI uses, and passed through every pipeline step the
workbench has. Each section shows what the step did, its QC metrics, and, because the
data are simulated, how close the result is to the truth.

Units: the engine works in SI units (V, s, m, Hz); tables name their unit in each key.
"""


def _config_key(cfg: dict[str, Any]) -> str:
    return json.dumps(cfg, sort_keys=True)


def build_demo_study(out_dir: str | os.PathLike, progress: Progress | None = None,
                     config: dict[str, Any] | None = None) -> Path:
    """Write (or reuse) the demo phantom study under ``out_dir/study``.

    A study already there from the same settings is reused, so opening the demo twice
    is fast. Returns the study folder.
    """
    from .phantom import PhantomConfig, simulate_study

    cfg = dict(DEMO_CONFIG if config is None else config)
    out = Path(out_dir)
    study = out / "study"
    stamp = study / ".demo-config.json"
    if stamp.is_file() and stamp.read_text() == _config_key(cfg):
        as_progress(progress)(1.0, "demo study already built")
        return study
    if study.exists():
        if not stamp.is_file():
            # never delete a folder the demo did not make (inputs are never modified)
            raise InputError(study, "exists and was not made by the demo; choose another --out folder")
        shutil.rmtree(study)
    out.mkdir(parents=True, exist_ok=True)
    simulate_study(study, PhantomConfig(**cfg), progress=progress)
    stamp.write_text(_config_key(cfg))
    return study


def default_demo_dir() -> Path:
    """Per-user cache folder for the GUI demo study."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("eegfmri-workbench")) / "demo"


def _load_section(study: Study, report: Any) -> dict[str, Any]:
    """Report section for the loaded study: what is in it and how it looks raw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    raw = study.raw
    qc: dict[str, Any] = {}
    if raw is not None:
        qc.update({
            "n_channels": len(raw.ch_names),
            "sfreq_hz": float(raw.info["sfreq"]),
            "duration_s": float(raw.times[-1] + 1 / raw.info["sfreq"]),
            "n_annotations": len(raw.annotations),
        })
        picks = [raw.ch_names.index(c) for c in raw.ch_names[:4]]
        sf = raw.info["sfreq"]
        start = int(10 * sf)
        data = raw.get_data(picks=picks, start=start, stop=start + int(1.0 * sf))
        t = np.arange(data.shape[1]) / sf + 10
        fig, ax = plt.subplots(len(picks), 1, figsize=(9, 5), sharex=True)
        for a, row, idx in zip(np.atleast_1d(ax), data, picks):
            a.plot(t, row * 1e3, lw=0.5)
            a.set_ylabel(f"{raw.ch_names[idx]}\n(mV)")
        np.atleast_1d(ax)[-1].set_xlabel("time (s)")
        fig.suptitle("Raw EEG inside the scanner: the gradient artifact dominates (mV)")
        fig.tight_layout()
        add_figure(report, fig, "Raw EEG (1 s)", section="Study")
    if study.bold is not None:
        img = study.bold
        qc["bold_shape"] = list(img.shape)
        tr = study.bold_meta.get("RepetitionTime")
        if isinstance(tr, int | float):
            qc["tr_s"] = float(tr)
        data = np.asarray(img.dataobj[..., : min(img.shape[-1], 5)], dtype=np.float32).mean(-1)
        fig, ax = plt.subplots(1, 3, figsize=(9, 3))
        zooms = img.header.get_zooms()[:3]
        for k, a in enumerate(ax):
            sl = np.take(data, data.shape[k] // 2, axis=k)
            rest = [i for i in range(3) if i != k]  # after rot90: rows = rest[1], columns = rest[0]
            a.imshow(np.rot90(sl), cmap="gray", aspect=float(zooms[rest[1]] / zooms[rest[0]]))
            a.set_axis_off()
        fig.suptitle("Mean BOLD (first volumes), orthogonal slices")
        add_figure(report, fig, "BOLD", section="Study")
    if study.anat is not None:
        from nilearn import plotting

        disp = plotting.plot_anat(study.anat, display_mode="ortho", title="T1-weighted phantom head")
        fig = disp.frame_axes.figure
        add_figure(report, fig, "Anatomy", section="Study")
    add_qc_table(report, "What was loaded", qc, section="Study")
    return qc


def run_demo_headless(out_dir: str | os.PathLike, catalog: Mapping[str, Any],
                      progress: Progress | None = None, config: dict[str, Any] | None = None,
                      pipeline: list[tuple[str, dict[str, Any]]] | None = None) -> Path:
    """Build the demo study and run the demo pipeline on it through the runner.

    Parameters
    ----------
    out_dir : path-like
        Where the study, ``project.json``, ``derivatives/`` and ``report.html`` go.
    catalog : mapping
        The steps that exist (``workbench.plugin_api.all_steps()``).
    progress : Progress | None
        Progress and cancellation.
    config : dict | None
        Phantom settings (default :data:`DEMO_CONFIG`).
    pipeline : list | None
        Steps and parameters (default :data:`DEMO_PIPELINE`); steps the catalogue
        does not have are reported in the summary and skipped.

    Returns
    -------
    Path
        The report.
    """
    from .runner import Runner

    p = as_progress(progress)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    t0 = time.perf_counter()
    study_dir = build_demo_study(out, p.sub(0.0, 0.3), config)
    project = Project(out, name="EEG-fMRI Workbench demo")
    project.settings["study_dir"] = os.path.relpath(study_dir, out)
    project.settings["demo_config"] = dict(DEMO_CONFIG if config is None else config)
    study = Study.load(study_dir, progress=p.sub(0.3, 0.35))
    for kind in ("eeg", "bold", "anat", "events", "dig"):
        if study.files.get(kind) is not None:
            project.add_input(study.files[kind], kind)
    project.settings["subject"] = study.subject
    study.project = project
    report = new_report("EEG-fMRI Workbench: demo on the phantom")
    add_text(report, "About this report", INTRO, section="Study")
    qc = _load_section(study, report)
    project.record_step("load", {"study_dir": project.settings["study_dir"]},
                        inputs=[study.files[k] for k in ("eeg", "bold", "anat") if study.files.get(k)], qc=qc)
    project.save()  # a killed demo leaves a project beside its derivatives, never derivatives alone
    wanted = list(DEMO_PIPELINE if pipeline is None else pipeline)
    missing = [s for s, _ in wanted if s not in catalog or not catalog[s].available]
    runner = Runner(study, catalog, out / "derivatives", project=project, report=report)
    outcomes = runner.run([(s, prm) for s, prm in wanted if s not in missing], p.sub(0.35, 0.97))
    summary: dict[str, Any] = {o.name: o.status + (f" ({o.message})" if o.message else "") for o in outcomes}
    for s in missing:
        summary[s] = "not run: the step is not installed (run installer/bootstrap.sh)"
    summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
    add_qc_table(report, "Pipeline summary", summary, section="Summary")
    from .methods import methods_paragraph

    add_text(report, "Methods (generated from the provenance)", methods_paragraph(project, catalog),
             section="Summary")
    add_provenance(report, project)
    path = save_report(report, out / "report.html")
    project.save()
    p(1.0, f"report written to {path}")
    return path
