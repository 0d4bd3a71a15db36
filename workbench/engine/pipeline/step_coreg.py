"""Pipeline step "coreg": scalp from the T1, fiducial fit + robust ICP, QC against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_json
from ..errors import InputError
from .registry import StepContext, StepSpec, register_step

HELP = (
    "Coregistration finds where the head sits in the MRI. The EEG electrodes and extra "
    "head-shape points were digitised in the head frame (defined by the nasion and the two "
    "ear points); the scalp is extracted from the T1. A weighted fit of the three fiducials "
    "(nasion weighted most, as in MNE) gives a first alignment; iterative closest point (ICP) "
    "then moves all points onto the skin, with robust weights; points farther than 5 mm are "
    "omitted and ICP runs again. Distances of the points to the scalp are the QC (2-3 mm "
    "is typical); on the phantom, the true transform gives the rotation/translation error "
    "and the target registration error (TRE) at the electrodes.\n\n"
    "Random digitiser noise averages out as more points are digitised; a systematic bias "
    "(a miscalibrated digitiser) does not: the last figure shows both on this scalp."
)


def _derivative(ctx: StepContext, desc_suffix: str) -> Path:
    subject = str(ctx.state.get("subject") or "01")
    return Path(ctx.out_dir) / f"sub-{subject}_desc-coreg_{desc_suffix}"


def _true_electrodes(truth: Any, names: list[str]) -> np.ndarray | None:
    meta = getattr(truth, "meta", None) or {}
    el = (meta.get("dig_true_head_m") or {}).get("electrodes")
    if not el:
        return None
    try:
        return np.array([el[n] for n in names], float)
    except KeyError:
        return np.array(list(el.values()), float)


def run_coreg(ctx: StepContext, omit_mm: float = 5.0, scale: str = "none", fiducials: str = "auto",
              noise_vs_bias: bool = True) -> dict[str, Any]:
    """Coregister the study's digitisation to the scalp extracted from its T1."""
    from ..coreg.dig import dig_from_montage
    from ..coreg.export import write_bids_electrodes, write_trans
    from ..coreg.fiducials import resolve_fiducials
    from ..coreg.geometry import MeshDistance
    from ..coreg.model import Coreg, full_fit
    from ..coreg.surface import decimate_for_display, scalp_from_t1, surface_quality

    p = ctx.progress
    st = ctx.state
    if st.get("dig") is None:
        raise InputError(None, "no digitisation loaded: the coreg step needs electrode positions")
    dig = dig_from_montage(st["dig"], st.get("files", {}).get("dig") if isinstance(st.get("files"), dict) else None)
    dig.validate()
    # the scalp: extracted from the T1 when there is one, else the surface that was loaded
    written = st.get("scalp")
    if st.get("anat") is not None:
        scalp, display = scalp_from_t1(st["anat"], path=st.get("anat_path"), progress=p.sub(0.0, 0.3))
        source = "extracted from the T1"
    elif written is not None:
        scalp = {"rr": np.asarray(written["rr"], float), "tris": np.asarray(written["tris"], np.int64)}
        display, source = scalp, "read from the surface file"
    else:
        raise InputError(None, "neither a T1 nor a scalp surface is loaded: the coreg step needs one")
    sq = surface_quality(scalp)
    qc: dict[str, Any] = {"scalp_source": source, "scalp_vertices": sq["n_vertices"], "scalp_closed": sq["closed"]}
    if written is not None and source.startswith("extracted"):
        d = MeshDistance(np.asarray(written["rr"], float), np.asarray(written["tris"])).signed_distance(scalp["rr"])[0]
        qc["scalp_vs_true_median_mm"] = float(np.median(d) * 1e3)
        qc["scalp_vs_true_mean_abs_mm"] = float(np.mean(np.abs(d)) * 1e3)
    fid, how = resolve_fiducials(fiducials, scalp, near=st.get("anat_path"))
    qc["fiducials_from"] = how
    p(0.4, f"MRI fiducials: {how}")
    co = Coreg(dig, scalp, fid)
    full_fit(co, scale=scale, omit_mm=omit_mm, progress=p.sub(0.4, 0.7))
    truth = st.get("truth")
    true_t = getattr(truth, "head_mri_t", None)
    qc.update(co.qc(None if true_t is None else np.asarray(true_t, float),
                    None if truth is None else _true_electrodes(truth, dig.eeg_names)))
    import mne

    st["trans"] = mne.transforms.Transform("head", "mri", co.head_mri)
    st["coreg"] = co
    trans_path = write_trans(_derivative(ctx, "trans.fif"), co.head_mri)
    tsv, js = write_bids_electrodes(_derivative(ctx, "electrodes.tsv"), dig, co.head_mri, scalp)
    qc_path = _derivative(ctx, "qc.json")
    atomic_write_json(qc_path, qc)
    nb = None
    if noise_vs_bias:
        from ..coreg.synthetic import noise_vs_bias as nvb

        nb = nvb(decimate_for_display(display, 10000), fid, n_points=(8, 16, 32, 64, 128, 256), n_repeats=4, progress=p.sub(0.7, 0.95))
        qc["noise_tre_8_mm"], qc["noise_tre_256_mm"] = nb["tre_noise_mm"][0], nb["tre_noise_mm"][-1]
        qc["bias_tre_8_mm"], qc["bias_tre_256_mm"] = nb["tre_bias_mm"][0], nb["tre_bias_mm"][-1]
    report = st.get("report")
    if report is not None:
        _report(report, co, display, qc, nb)
    if ctx.project is not None:
        ctx.project.record_step(
            "coreg", {"omit_mm": omit_mm, "scale": scale, "fiducials": fiducials},
            inputs=[q for q in (st.get("anat_path"),) if q], outputs=[trans_path, tsv, js, qc_path], qc=qc)
        if hasattr(ctx.project, "set_transform"):
            try:
                ctx.project.set_transform("head_mri", trans_path)
            except Exception:  # noqa: BLE001 - provenance extra; the step's result stands
                pass
    p(1.0, f"coreg: mean {qc['mean_mm']:.2f} mm")
    return qc


def _report(report: Any, co: Any, display: dict[str, Any], qc: dict[str, Any], nb: dict[str, Any] | None) -> None:
    from ..coreg.figures import figure_points, plot_noise_bias
    from ..report import add_figure, add_qc_table, add_text

    add_text(report, "Coregistration", HELP, section="Coregistration")
    keys = ("scalp_source", "scalp_vertices", "scalp_closed", "scalp_vs_true_median_mm", "scalp_vs_true_mean_abs_mm",
            "fiducials_from", "n_points", "n_omitted", "mean_mm", "median_mm", "max_mm", "sd_mm",
            "pct_beyond_3mm", "pct_beyond_5mm", "pct_beyond_10mm", "pct_inside", "fid_lpa_mm", "fid_nasion_mm",
            "fid_rpa_mm", "rotation_error_deg", "translation_error_mm", "tre_mean_mm", "tre_max_mm", "icp_iterations")
    add_qc_table(report, "Coregistration QC", {k: qc[k] for k in keys if k in qc}, section="Coregistration")
    add_figure(report, figure_points(co, display), "Digitised points on the scalp", section="Coregistration",
               caption="Electrodes (large) and head-shape points (small) after the fit, coloured by their distance "
                       "to the scalp; omitted points are grey.")
    if nb is not None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4))
        plot_noise_bias(fig, nb)
        add_figure(report, fig, "Noise vs bias", section="Coregistration",
                   caption="Target registration error vs number of head-shape points: random noise averages out, "
                           "a constant digitiser offset does not.")


register_step(StepSpec(name="coreg", stage="coreg", run=run_coreg, title="Coregistration", help=HELP,
                       defaults={"omit_mm": 5.0, "scale": "none", "fiducials": "auto"}))
