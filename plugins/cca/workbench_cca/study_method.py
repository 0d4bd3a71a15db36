"""CCA run on the study itself (EEG band power x BOLD voxels): tables, maps, report figures."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.plugin_api import FusionInputs, FusionResult

from .study import StudyFeatures, study_features

__all__ = ["run_study"]


def run_study(inputs: FusionInputs, params: dict[str, Any], progress) -> FusionResult:
    """CCA of HRF-convolved EEG band power (channels) with BOLD (voxels), volumes as observations."""
    import nibabel as nib

    from .method import _f, cca_arrays

    band = (float(params["band_low"]), float(params["band_high"]))
    feats = study_features(inputs, band, bool(params["hrf"]), progress=progress.sub(0.0, 0.3))
    n, p, q = feats.X.shape[0], feats.X.shape[1], feats.Y.shape[1]
    progress(0.3, f"CCA: {n} volumes, {p} channels x {q} voxels")
    res = cca_arrays(feats.X, feats.Y, params, progress.sub(0.3, 0.9), feats.ch_names,
                     [f"v{i}" for i in range(q)], inputs.sources.get("eeg"), inputs.sources.get("bold"),
                     default_scheme="circular")
    fit = res["fit"]
    K = len(fit.r)
    out = FusionResult(method="cca", method_version="0.3.0")
    out.tables["canonical"] = [
        {"mode": k + 1, "canonical_correlation": float(fit.corr[k]), "regularised_correlation": float(fit.r[k]),
         "p_permutation": _f(res["p_perm"][k])} for k in range(K)]
    modes = [f"mode{k + 1}" for k in range(K)]
    for name, M in (("weights_x", fit.wx), ("loadings_x", fit.load_x)):
        out.tables[name] = [{"feature": c, **{m: float(M[i, j]) for j, m in enumerate(modes)}}
                            for i, c in enumerate(feats.ch_names)]
    for name, M in (("weights_map", fit.wy), ("loadings_map", fit.load_y)):
        vol = np.zeros(feats.mask.shape, np.float32)
        vol[feats.mask] = M[:, 0]
        out.maps[name] = nib.Nifti1Image(vol, feats.affine)
    V = np.empty((n, 2 * K))
    V[:, 0::2], V[:, 1::2] = fit.u, fit.v
    out.matrices["variates"] = {"values": V, "rows": [f"vol{i + 1}" for i in range(n)],
                                "columns": [c for k in range(K) for c in (f"U{k + 1}", f"V{k + 1}")]}
    peak = int(np.argmax(np.abs(fit.load_y[:, 0])))
    out.qc = {
        "mode": "study",
        "n_observations": n, "n_x_features": p, "n_y_features": q, "n_modes": K,
        "band_hz": list(band), "hrf": bool(params["hrf"]),
        "r1": float(fit.corr[0]), "p1": _f(res["p_perm"][0]),
        "canonical_correlations": [float(c) for c in fit.corr],
        "regularised_correlations": [float(c) for c in fit.r],
        "p_values": [_f(x) for x in res["p_perm"]],
        "test": f"max-statistic, {res.get('scheme', 'none')} permutation of Y" if params["n_permutations"]
                else "none",
        "n_permutations": int(params["n_permutations"]),
        "peak_channel_mode1": feats.ch_names[int(np.argmax(np.abs(fit.load_x[:, 0])))],
        "peak_voxel_mode1_mm": [float(v) for v in nib.affines.apply_affine(
            feats.affine, np.argwhere(feats.mask)[peak])],
        "volume_timing": feats.how_timed,
    }
    out.messages.append(f"X: {band[0]:g}-{band[1]:g} Hz power of {p} EEG channels"
                        f"{', HRF-convolved' if params['hrf'] else ''}, sampled at {n} volumes "
                        f"({feats.how_timed}); Y: {q} brain voxels; both high-pass filtered (128 s)")
    from .method import _overfit_note

    _overfit_note(out, res, n, p, q)
    if res.get("scheme") == "rows":
        out.messages.append("rows permuted on time series: consecutive volumes are not exchangeable, "
                            "the p-values are too small; use permutation=circular")
    _figures(out, feats, fit, min(K, 2), inputs.anat, inputs.bold)
    progress(1.0, "done")
    return out


def _figures(out: FusionResult, feats: StudyFeatures, fit: Any, n_modes: int, anat: Any = None,
             bold: Any = None) -> None:
    """Report figures: EEG loadings as scalp topographies, mode-1 Y loadings as a brain map."""
    info = feats.info
    has_pos = any(np.isfinite(ch["loc"][:3]).all() and np.any(ch["loc"][:3]) for ch in info["chs"])
    note = ""
    if not has_pos:
        info = info.copy()
        info.set_montage("standard_1020", on_missing="ignore", verbose="error")
        has_pos = any(np.any(ch["loc"][:3]) for ch in info["chs"])
        note = " Positions: standard 10-20 (the recording has none)."
    load_x = fit.load_x[:, :n_modes].copy()
    corr = [float(c) for c in fit.corr[:n_modes]]

    def topo():
        import matplotlib.pyplot as plt
        from mne.viz import plot_topomap

        fig, axes = plt.subplots(1, n_modes, figsize=(3.2 * n_modes, 3.2), squeeze=False)
        for k in range(n_modes):
            ax = axes[0, k]
            im, _ = plot_topomap(load_x[:, k], info, axes=ax, show=False, cmap="RdBu_r",
                                 vlim=(-1, 1), contours=0)
            ax.set_title(f"mode {k + 1} (r = {corr[k]:.2f})")
        fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.7, label="loading (r)")
        return fig

    if has_pos:
        out.figures.append(("EEG band-power loadings (topographies)", topo,
                            "Correlation of each channel's HRF-convolved band power with the EEG "
                            "canonical variate, per mode." + note))
    else:
        out.messages.append("no channel positions: the EEG loadings are in the loadings_x table, "
                            "no topography drawn")
    img = out.maps["loadings_map"]

    def brain():
        import matplotlib.pyplot as plt
        from nilearn.image import mean_img
        from nilearn.plotting import plot_stat_map

        bg = anat if anat is not None else mean_img(bold, copy_header=True)  # the study's own anatomy
        fig = plt.figure(figsize=(9, 3))
        plot_stat_map(img, bg_img=bg, display_mode="z", cut_coords=6,
                      figure=fig, colorbar=True, vmax=1.0, black_bg=True,
                      title=f"mode 1 BOLD loadings (r = {corr[0]:.2f})", draw_cross=False)
        return fig

    out.figures.append(("BOLD loadings of mode 1 (map)", brain,
                        "Correlation of each voxel's BOLD with the BOLD canonical variate of mode 1 "
                        "(also written as loadings_map.nii.gz; the weights as weights_map.nii.gz)."))
