"""Step "coreg": scalp from the T1, fiducial fit and robust ICP of the digitisation."""

from __future__ import annotations

from typing import Any

from ..atomic import atomic_write_json
from ..errors import InputError
from ..progress import Progress
from .params import Param
from .spec import Figure, OutputFile, QCSpec, StepResult, StepSpec

TEACHING = (
    "Coregistration finds where the head sits in the MRI. The EEG electrodes and extra "
    "head-shape points were digitised in the head frame (defined by the nasion and the two "
    "ear points); the scalp is extracted from the T1. A weighted fit of the three fiducials "
    "(nasion weighted most, as in MNE) gives a first alignment; iterative closest point (ICP) "
    "then moves all points onto the skin, with robust weights; points farther than the "
    "omission distance are dropped and ICP runs again. Distances of the points to the scalp "
    "are the QC (2-3 mm is typical).\n\n"
    "Random digitiser noise averages out as more points are digitised; a systematic bias "
    "(a miscalibrated digitiser) does not: the last figure shows both on this scalp."
)

PARAMS = (
    Param("omit_mm", "float", 5.0, "Points farther than this from the scalp after the first fit (electrodes: "
          "from their fitted height on the cap) are omitted before the final ICP; 0 keeps all. MNE's "
          "tutorial uses 5-10 mm.", label="omit beyond", unit="mm", minimum=0.0, maximum=1000.0),
    Param("scale", "choice", "none", "Scale the MRI head to the digitisation: none (the subject's "
          "own MRI), uniform or 3-axis (a template head).", choices=("none", "uniform", "3-axis")),
    Param("fiducials", "str", "auto", "MRI fiducials: a -fiducials.fif file, or auto (the subject's "
          "own file when found beside the T1, else MNI via talairach.xfm, else an fsaverage estimate)."),
    Param("noise_vs_bias", "bool", True, "Also simulate, on this scalp, how random digitiser noise "
          "and a systematic bias change the error with the number of points (teaching figure).",
          label="noise vs bias figure"),
)

QC = (
    QCSpec("n_points", "Points fitted", fmt="d"),
    QCSpec("n_omitted", "Points omitted", fmt="d"),
    QCSpec("mean_mm", "Mean distance to scalp", "mm", ".2f", warn_above=3.0),
    QCSpec("median_mm", "Median distance", "mm", ".2f", warn_above=3.0),
    QCSpec("max_mm", "Largest distance", "mm", ".1f", warn_above=10.0),
    QCSpec("sd_mm", "SD of distances", "mm", ".2f"),
    QCSpec("pct_beyond_5mm", "Points beyond 5 mm", "%", ".1f", warn_above=10.0),
    QCSpec("pct_beyond_10mm", "Points beyond 10 mm", "%", ".1f", warn_above=2.0),
    QCSpec("fid_nasion_mm", "Nasion error", "mm", ".1f", warn_above=10.0),
    QCSpec("fid_lpa_mm", "LPA error", "mm", ".1f", warn_above=10.0),
    QCSpec("fid_rpa_mm", "RPA error", "mm", ".1f", warn_above=10.0),
    QCSpec("rotation_error_deg", "Rotation error vs truth", "°", ".2f", warn_above=2.0),
    QCSpec("translation_error_mm", "Translation error vs truth", "mm", ".2f", warn_above=2.0),
    QCSpec("tre_mean_mm", "Electrode error vs truth (mean)", "mm", ".2f", warn_above=3.0),
)


def run(study: Any, params: dict[str, Any], progress: Progress) -> StepResult:
    """Coregister the study's digitisation to the scalp extracted from its T1 (or its surface)."""
    import mne
    import numpy as np

    from ..coreg.dig import DigPoints, dig_from_montage
    from ..coreg.export import write_bids_electrodes, write_trans
    from ..coreg.geometry import MeshDistance
    from ..coreg.surface import decimate_for_display, scalp_from_t1
    from ..coreg.workflow import fit_coreg

    p = progress
    dig = study.dig if isinstance(study.dig, DigPoints) else dig_from_montage(study.dig, study.files.get("dig"))
    dig.validate()
    loaded = study.scalp
    if study.anat is not None:
        scalp, display = scalp_from_t1(study.anat, path=study.files.get("anat"), progress=p.sub(0.0, 0.3))
        source, src = "extracted from the T1", study.files.get("anat")
    elif loaded is not None:
        scalp = {"rr": np.asarray(loaded["rr"], float), "tris": np.asarray(loaded["tris"], np.int64)}
        display = loaded.get("display") or decimate_for_display(scalp)
        source, src = "read from the surface file", study.files.get("scalp")
    else:
        raise InputError(None, "neither a T1 nor a scalp surface is loaded: coregistration needs one")
    # one fit for the GUI, the CLI and the demo (engine.coreg.workflow.fit_coreg)
    fitted = fit_coreg(dig, scalp, display, src, fiducials=params["fiducials"], omit_mm=params["omit_mm"],
                       scale=params["scale"], progress=p.sub(0.3, 0.7))
    co = fitted.coreg
    sq = fitted.surface_qc
    qc: dict[str, Any] = {"scalp_source": source, "scalp_vertices": sq["n_vertices"], "scalp_closed": sq["closed"]}
    if loaded is not None and source.startswith("extracted"):
        d = MeshDistance(np.asarray(loaded["rr"], float), np.asarray(loaded["tris"])).signed_distance(scalp["rr"])[0]
        qc["scalp_vs_surface_file_median_mm"] = float(np.median(d) * 1e3)
    from ..validate import finite_or_none

    # a value that cannot be measured here (no electrodes: no residual) is None, never NaN
    qc.update({k: finite_or_none(v) if isinstance(v, float) else v for k, v in fitted.qc.items() if k != "surface"})
    fid = co.mri_fiducials
    head_mri = np.array(co.head_mri, float)
    nb = None
    if params["noise_vs_bias"]:
        from ..coreg.synthetic import noise_vs_bias as nvb

        nb = nvb(decimate_for_display(display, 10000), fid, n_points=(8, 16, 32, 64, 128, 256), n_repeats=4,
                 progress=p.sub(0.7, 0.98))
        qc["noise_tre_8_mm"], qc["noise_tre_256_mm"] = nb["tre_noise_mm"][0], nb["tre_noise_mm"][-1]
        qc["bias_tre_8_mm"], qc["bias_tre_256_mm"] = nb["tre_bias_mm"][0], nb["tre_bias_mm"][-1]
    full = dict(qc)

    def electrodes(path: Any) -> None:
        write_bids_electrodes(path, dig, head_mri, scalp)

    figures = [Figure("Digitised points on the scalp", lambda: _points_figure(co, display),
                      "Electrodes (large) and head-shape points (small) after the fit, coloured by their "
                      "distance to the scalp; omitted points are grey.")]
    if nb is not None:
        figures.append(Figure("Noise vs bias", lambda: _noise_bias_figure(nb),
                              "Target registration error vs number of head-shape points: random noise "
                              "averages out, a constant digitiser offset does not."))
    return StepResult(
        qc=qc,
        provides={"trans": mne.transforms.Transform("head", "mri", head_mri)},
        files=[
            OutputFile("coreg", "trans", ".fif", lambda path: write_trans(path, head_mri), role="trans"),
            OutputFile("coreg", "electrodes", ".tsv", electrodes, role="electrodes"),
            OutputFile("coreg", "qc", ".json", lambda path: atomic_write_json(path, full), role="qc"),
        ],
        figures=figures,
        details={"coreg": co, "scalp": scalp, "display": display, "noise_vs_bias": nb},
    )


def _points_figure(co: Any, display: dict[str, Any]) -> Any:
    from ..coreg.figures import figure_points

    return figure_points(co, display)


def _noise_bias_figure(nb: dict[str, Any]) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure as MplFigure

    from ..coreg.figures import plot_noise_bias

    fig = MplFigure(figsize=(6, 4))
    plot_noise_bias(fig, nb)
    return fig


SPEC = StepSpec(
    id="coreg",
    title="Coregistration",
    label="Coreg",
    stage="coreg",
    teaching=TEACHING,
    params=PARAMS,
    requires=("dig",),
    optional=("anat", "scalp"),
    provides=("trans",),
    run=run,
    qc=QC,
)
