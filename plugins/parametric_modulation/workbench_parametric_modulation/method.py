"""Run the parametric-modulation method: EEG features -> regressors -> GLM -> maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api import FusionInputs, FusionResult

from .design import build_design
from .features import align_events, bandpower_feature, erp_feature
from .glm import AR_FWHM_MM, fit_slices, mean_scale, residual_ar1, smooth_in_mask, smooth_volumes

__all__ = ["run", "repetition_time", "check_events"]


def pd_to_numeric(series):
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy()


def _src(inputs: FusionInputs, kind: str) -> str | None:
    return inputs.sources.get(kind)


def repetition_time(inputs: FusionInputs) -> float:
    """TR (s) from the sidecar, else from a NIfTI header that states its time unit."""
    tr = inputs.bold_meta.get("RepetitionTime") if inputs.bold_meta else None
    if tr is None:
        hdr = inputs.bold.header
        zooms = hdr.get_zooms()
        unit = hdr.get_xyzt_units()[1] if hasattr(hdr, "get_xyzt_units") else "unknown"
        if len(zooms) > 3 and zooms[3] > 0 and unit in ("sec", "msec"):
            tr = float(zooms[3]) / (1000.0 if unit == "msec" else 1.0)
    try:
        tr = float(tr) if tr is not None else None
    except (TypeError, ValueError):
        tr = None
    if tr is None or not np.isfinite(tr) or tr <= 0:
        raise InputError(
            _src(inputs, "bold") or "BOLD",
            "no repetition time: the sidecar has no RepetitionTime and the NIfTI header no "
            "time unit; add the BIDS JSON sidecar",
        )
    return tr


def check_events(events: Any, run_s: float, where: str | None) -> Any:
    """Validate an events table against the run; return a clean copy."""
    import pandas as pd

    if not isinstance(events, pd.DataFrame):
        raise InputError(where, "events must be a table with onset and duration columns")
    ev = events.copy()
    for col in ("onset", "duration"):
        if col not in ev:
            raise InputError(where, f"events table has no {col!r} column")
    if "trial_type" not in ev:
        ev["trial_type"] = "task"
    ev["duration"] = pd.to_numeric(ev["duration"], errors="coerce").fillna(0.0)
    ev["onset"] = pd.to_numeric(ev["onset"], errors="coerce")
    if ev["onset"].isna().any():
        raise InputError(where, "events table has missing or non-numeric onsets")
    if len(ev) == 0:
        raise InputError(where, "events table is empty")
    bad = ev[(ev["onset"] < 0) | (ev["onset"] + ev["duration"] > run_s)]
    if len(bad):
        first = float(bad["onset"].iloc[0])
        raise InputError(
            where,
            f"{len(bad)} event(s) outside the run (0-{run_s:.1f} s of BOLD), the first at "
            f"{first:.2f} s; do the events and the BOLD belong together?",
        )
    ev["trial_type"] = ev["trial_type"].astype(str)
    return ev.sort_values("onset", kind="stable").reset_index(drop=True)


def _mask(inputs: FusionInputs, mean: np.ndarray) -> np.ndarray:
    """Analysis mask: the given one, else SPM's rule (mean > 0.8 x global mean)."""
    if inputs.mask is not None:
        m = np.asanyarray(inputs.mask.dataobj) > 0
        if m.shape != mean.shape:
            raise InputError(
                _src(inputs, "mask"), f"mask shape {m.shape} differs from the BOLD {mean.shape}"
            )
        return m
    positive = mean[mean > 0]
    if positive.size == 0:
        raise InputError(_src(inputs, "bold") or "BOLD", "the BOLD series is empty (all zeros)")
    glob = positive[positive > positive.mean() / 8].mean()  # spm_global
    return mean > 0.8 * glob


def run(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    """Entry point called through :func:`workbench.plugin_api.run_method`."""
    import nibabel as nib

    p = progress
    p(0.0, "checking inputs")
    bold = inputs.bold
    if len(bold.shape) != 4 or bold.shape[3] < 4:
        raise InputError(
            _src(inputs, "bold") or "BOLD",
            f"BOLD must be 4D with several volumes, got shape {bold.shape}",
        )
    tr = repetition_time(inputs)
    n_scans = bold.shape[3]
    run_s = n_scans * tr
    events = check_events(inputs.events, run_s, _src(inputs, "events"))
    types = events["trial_type"]
    cond = params["condition"]
    if cond == "auto":
        counts = types.value_counts(sort=False)
        cond = str(counts.index[int(np.argmax(counts.to_numpy()))])
    if cond not in set(types):
        raise InputError(
            _src(inputs, "events"),
            f"no trial_type {cond!r}; trial types: {', '.join(sorted(set(types)))}",
        )
    sel = (types == cond).to_numpy()
    idx = np.flatnonzero(sel)
    onsets = events["onset"].to_numpy(float)

    # --- single-trial features (EEG, or a column of the events table)
    raw = inputs.eeg
    eeg_src = _src(inputs, "eeg") or "EEG"
    fp = p.sub(0.02, 0.3)
    if params["feature"] == "events-column":
        col = params["events_column"]
        if col not in events:
            raise InputError(_src(inputs, "events"), f"events table has no column {col!r}")
        values = np.asarray(pd_to_numeric(events[col])[sel], float)
        where, how, eeg_times, offset = f"events column {col!r}", "not used", onsets[sel], 0.0
        eeg_src = _src(inputs, "events")
    else:
        eeg_times, how = align_events(
            raw, onsets[sel], onsets, idx, params["eeg_alignment"], inputs.eeg_offset or None
        )
        offset = float(np.median(eeg_times - onsets[sel]))
        eeg_end = raw.times[-1] - offset  # end of the EEG on the fMRI clock
        if eeg_end < run_s - tr or offset < -tr:
            raise InputError(
                eeg_src,
                f"mismatched EEG/fMRI durations: the EEG covers {max(0.0, eeg_end):.1f} s of the "
                f"{run_s:.1f} s fMRI run (EEG {raw.times[-1]:.1f} s, first volume at {offset:.2f} s)",
            )
        if params["feature"] == "erp":
            values, where = erp_feature(
                raw,
                eeg_times,
                params["tmin"],
                params["tmax"],
                params["baseline"],
                params["channel"],
                params["spatial_filter"],
                fp,
                seed=params["seed"],
            )
        else:
            values, where = bandpower_feature(
                raw,
                eeg_times,
                params["tmin"],
                params["tmax"],
                params["fmin"],
                params["fmax"],
                params["channel"],
                fp,
            )
    if not np.all(np.isfinite(values)):
        raise InputError(
            eeg_src, "the EEG feature is not finite for some trials (flat or broken channel?)"
        )
    spread = float(np.std(values))
    if len(values) < 3 or spread <= 1e-9 * max(float(np.abs(values).max()), 1e-30):
        raise InputError(
            eeg_src,
            f"the EEG feature ({params['feature']}, {where}) has no variance across the "
            f"{len(values)} trials of {cond!r}: a parametric modulator needs trial-to-trial variation",
        )

    # --- designs, one per distinct slice acquisition time
    p(0.32, "building the design")
    nz = bold.shape[2]
    st = inputs.bold_meta.get("SliceTiming") if inputs.bold_meta else None
    messages = [f"EEG events: {how}", f"feature: {params['feature']} at {where}"]
    if params["slice_timing"] == "per-slice" and st is not None and len(st) == nz:
        slice_times = np.asarray(st, float)
    else:
        if params["slice_timing"] == "per-slice":
            messages.append("no usable SliceTiming: regressors sampled at slice_time_ref x TR")
        slice_times = np.full(nz, params["slice_time_ref"] * tr)
    uniq, slice_group = np.unique(np.round(slice_times, 6), return_inverse=True)
    fine: dict[str, np.ndarray] = {}
    frames = [
        build_design(
            events,
            n_scans,
            tr,
            float(t),
            cond,
            values,
            params["center"],
            params["orthogonalize"],
            params["high_pass"],
            fine,
        )
        for t in uniq
    ]
    columns = list(frames[0].columns)
    mod_col = f"{cond}_x_mod"
    conds = sorted(set(types)) if params["main_effect"] == "all-conditions" else [cond]
    c_main = np.array([1.0 if c in conds else 0.0 for c in columns])
    c_mod = np.array([1.0 if c == mod_col else 0.0 for c in columns])
    X0 = frames[0].to_numpy()
    raw_mod = build_design(
        events, n_scans, tr, float(uniq[0]), cond, values, params["center"], False, 0.0, None
    )[mod_col].to_numpy()
    corr_before = float(np.corrcoef(raw_mod, X0[:, columns.index(cond)])[0, 1])

    # --- data
    p(0.36, "reading BOLD")
    data = np.asarray(bold.dataobj, dtype=np.float32)
    if isinstance(bold.dataobj, np.ndarray):  # an in-memory image: never smooth the caller's array
        data = data.copy()
    mean3d = data.mean(axis=3)
    mask = _mask(inputs, mean3d)
    if mask.sum() < 1:
        raise InputError(_src(inputs, "bold") or "BOLD", "empty analysis mask")
    fwhm = float(params.get("smoothing_fwhm", 0.0))
    if fwhm > 0:
        p(0.38, f"smoothing ({fwhm:g} mm FWHM)")
        smooth_volumes(data, bold.affine, fwhm)
        messages.append(f"BOLD smoothed with a {fwhm:g} mm FWHM Gaussian kernel")
    Y = mean_scale(data[mask].T.astype(np.float64))
    del data
    vox_slice = np.nonzero(mask)[2]
    vox_group = slice_group[vox_slice]
    designs = [f.to_numpy() for f in frames]
    rho = None
    if params["noise_model"] == "ar1-regularised":
        p(0.39, "AR(1) noise estimate")
        rho = np.zeros(Y.shape[1])
        for g in np.unique(vox_group):
            sel_g = vox_group == g
            rho[sel_g] = residual_ar1(Y[:, sel_g], designs[g])
        rho = smooth_in_mask(rho, mask, bold.affine, AR_FWHM_MM)
    glm = fit_slices(
        Y,
        vox_group,
        designs,
        {"main": c_main, "modulator": c_mod},
        params["noise_model"],
        p.sub(0.4, 0.88),
        rho=rho,
    )

    # --- maps and thresholds
    p(0.9, "thresholding")
    affine = bold.affine

    def vol(values: np.ndarray) -> Any:
        out = np.zeros(mask.shape, np.float32)
        out[mask] = values
        return nib.Nifti1Image(out, affine)

    res = FusionResult(method="parametric-modulation", messages=messages)
    mask_img = nib.Nifti1Image(mask.astype(np.uint8), affine)
    res.maps["mask"] = mask_img
    qc: dict[str, Any] = {
        "n_trials": int(sel.sum()),
        "condition": cond,
        "feature_mean": float(values.mean()),
        "feature_sd": spread,
        "eeg_offset_s": offset,
        "n_voxels": int(mask.sum()),
        "n_slice_groups": len(uniq),
        "tr_s": tr,
        "smoothing_fwhm_mm": fwhm,
        "noise_model": params["noise_model"],
        "corr_main_modulator_before_orth": corr_before,
    }
    for name in ("main", "modulator"):
        s = glm.stats[name]
        z_img = vol(s["z"])
        res.maps[f"z_{name}"] = z_img
        res.maps[f"t_{name}"] = vol(s["t"])
        res.maps[f"beta_{name}"] = vol(s["effect"])
        thr_img, thr, rows = _threshold(
            z_img, mask_img, params["fdr_alpha"], params["cluster_size"]
        )
        res.maps[f"zthr_{name}"] = thr_img
        res.tables[f"clusters_{name}"] = rows
        qc[f"peak_z_{name}"] = float(np.max(s["z"]))
        qc[f"fdr_threshold_{name}"] = float(thr) if np.isfinite(thr) else None
        qc[f"n_significant_{name}"] = int(np.count_nonzero(np.asanyarray(thr_img.dataobj)))
    if rho is not None:
        qc["ar1_median"] = float(np.median(rho))
    res.qc = qc
    res.matrices["design"] = {
        "values": X0,
        "rows": [f"{t:g}" for t in frames[0].index],
        "columns": columns,
    }
    res.timecourses["regressors"] = {
        "t": frames[0].index.to_numpy(),
        "series": {"main": X0[:, columns.index(cond)], "modulator": X0[:, columns.index(mod_col)]},
        "unit": "a.u.",
    }
    centred = values - values.mean() if params["center"] else values
    res.timecourses["eeg_feature"] = {
        "t": onsets[sel],
        "series": {"feature": values, "modulator": centred},
        "unit": "V"
        if params["feature"] == "erp"
        and (params["spatial_filter"] == "channel" or params["channel"] != "auto")
        else "a.u.",
    }
    res.tables["trials"] = [
        {"onset": float(o), "eeg_time": float(e), "feature": float(v), "modulator": float(c)}
        for o, e, v, c in zip(onsets[sel], eeg_times, values, centred)
    ]
    res.live["voxel_fit"] = _voxel_accessor(mask, Y, glm, tr, columns)
    res.live["fitted_image"] = _fitted_image(mask, mean3d, glm, affine)
    p(1.0, "done")
    return res


def _threshold(
    z_img: Any, mask_img: Any, alpha: float, cluster: int
) -> tuple[Any, float, list[dict]]:
    """FDR height threshold + cluster extent (nilearn), and the cluster table."""
    import warnings

    import nibabel as nib
    from nilearn.glm import threshold_stats_img

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        thr_img, thr = threshold_stats_img(
            z_img,
            mask_img=mask_img,
            alpha=alpha,
            height_control="fdr",
            cluster_threshold=cluster,
            two_sided=True,
        )
    data = np.asarray(thr_img.get_fdata(), np.float32)
    thr_img = nib.Nifti1Image(data, z_img.affine)
    rows: list[dict] = []
    if np.isfinite(thr) and np.any(data != 0):
        from nilearn.reporting import get_clusters_table

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = get_clusters_table(
                z_img, stat_threshold=float(thr), cluster_threshold=cluster, two_sided=True
            )
        for rec in table.to_dict("records"):
            rows.append(
                {str(k).replace(" ", "_").lower(): (None if v == "" else v) for k, v in rec.items()}
            )
    return thr_img, float(thr), rows


def _voxel_accessor(mask: np.ndarray, Y: np.ndarray, glm: Any, tr: float, columns: list[str]):
    """A function ``(i, j, k) -> {"t", "data", "fit"}`` for the click-a-voxel view."""
    index = np.full(mask.shape, -1, int)
    index[mask] = np.arange(int(mask.sum()))

    def voxel_fit(ijk: tuple[int, int, int]) -> dict[str, Any] | None:
        i, j, k = (int(x) for x in ijk)
        if not (0 <= i < mask.shape[0] and 0 <= j < mask.shape[1] and 0 <= k < mask.shape[2]):
            return None
        v = index[i, j, k]
        if v < 0:
            return None
        X = glm.designs[glm.group[v]]
        b = glm.betas[:, v]
        return {
            "t": np.arange(Y.shape[0]) * tr,
            "data": Y[:, v],
            "fit": X @ b,
            "betas": dict(zip(columns, b.tolist())),
        }

    return voxel_fit


def _fitted_image(mask: np.ndarray, mean3d: np.ndarray, glm: Any, affine: np.ndarray):
    """A function building the 4D model fit in BOLD units (for the Slices view's overlay)."""

    def fitted_image() -> Any:
        import nibabel as nib

        n_scans = glm.designs[0].shape[0]
        fit = np.empty((n_scans, glm.betas.shape[1]), np.float32)
        for g in np.unique(glm.group):
            sel = glm.group == g
            fit[:, sel] = glm.designs[g] @ glm.betas[:, sel]
        out = np.zeros((*mask.shape, n_scans), np.float32)
        out[mask] = (mean3d[mask][:, None] * (1.0 + fit.T / 100.0)).astype(np.float32)
        return nib.Nifti1Image(out, affine)

    return fitted_image
