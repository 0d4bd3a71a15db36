"""Report figures of fmri-source: source maps per variant and the peak table.

Drawn only when a report is written (``FusionResult.figures``: ``make()`` returns a
matplotlib Figure). Two map figures:

* a "glass brain" of the source space itself: the maximum amplitude along each axis
  (sagittal, coronal, axial projections) of every variant at the first requested time,
  with the thresholded fMRI map's outline and the variant's peak. Written here rather
  than with :func:`nilearn.plotting.plot_glass_brain` because nilearn's glass brain
  draws an MNI template outline, while the study is in the subject's native space (the
  phantom's and a lab's T1), where that outline would be wrong;
* orthogonal T1 slices through each variant's peak with the source map on top and the
  fMRI map's contour (:func:`nilearn.plotting.plot_stat_map`, the T1 in its own space).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["report_figures", "projection_figure", "slices_figure", "peak_table_figure"]

#: the variants drawn, in reading order (the *_dspm of weighted/hard are in the tables)
SHOWN = ("none", "dspm", "sloreta", "weighted", "soft", "soft_dspm", "hard")
_PLANES = (("sagittal (y-z)", 1, 2, "A →", "S →"), ("coronal (x-z)", 0, 2, "R →", "S →"),
           ("axial (x-y)", 0, 1, "R →", "A →"))


def _project(pos_mm: np.ndarray, values: np.ndarray, a: int, b: int, step: float,
             lo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Maximum of ``values`` over the sources falling in each (a, b) bin."""
    img = np.full(shape, np.nan)
    i = np.clip(np.round((pos_mm[:, a] - lo[a]) / step).astype(int), 0, shape[0] - 1)
    j = np.clip(np.round((pos_mm[:, b] - lo[b]) / step).astype(int), 0, shape[1] - 1)
    flat = np.full(shape[0] * shape[1], -np.inf)
    np.maximum.at(flat, i * shape[1] + j, values)
    img = flat.reshape(shape)
    img[~np.isfinite(img)] = np.nan
    return img


def projection_figure(live: dict[str, Any], time_index: int, time_s: float,
                      variants: tuple[str, ...] = SHOWN) -> Any:
    """Maximum-amplitude projections of each variant (rows) in three planes (columns).

    Each variant is scaled to its own maximum (the amplitudes have different units); the
    cyan line is the thresholded fMRI map, the cross the variant's peak.
    """
    from matplotlib.figure import Figure

    pos = np.asarray(live["pos_mri"], float) * 1e3
    mask = np.asarray(live["fmri_mask"], bool)
    step = float(live.get("spacing_mm", 7.0))
    lo = pos.min(0) - step
    n = np.ceil((pos.max(0) + step - lo) / step).astype(int) + 1
    variants = tuple(v for v in variants if v in live["amplitudes"])
    fig = Figure(figsize=(7.5, 1.9 * len(variants) + 0.4), layout="constrained")
    axes = fig.subplots(len(variants), 3, squeeze=False)
    for r, v in enumerate(variants):
        a = np.asarray(live["amplitudes"][v])[:, time_index]
        top = float(a.max()) or 1.0
        k = int(np.argmax(a))
        for c, (title, ia, ib, la, lb) in enumerate(_PLANES):
            ax = axes[r, c]
            img = _project(pos, a / top, ia, ib, step, lo, (int(n[ia]), int(n[ib])))
            m = _project(pos, mask.astype(float), ia, ib, step, lo, (int(n[ia]), int(n[ib])))
            ext = (lo[ia], lo[ia] + step * n[ia], lo[ib], lo[ib] + step * n[ib])
            ax.imshow(np.where(np.isnan(img), 0.0, 1.0).T, origin="lower", extent=ext, cmap="Greys",
                      vmin=0, vmax=4, interpolation="nearest")  # the source space's silhouette
            ax.imshow(np.ma.masked_less(np.nan_to_num(img), 0.2).T, origin="lower", extent=ext, cmap="hot",
                      vmin=0.2, vmax=1.0, interpolation="nearest")
            if np.nanmax(m) > 0:
                xs = lo[ia] + step * np.arange(n[ia])
                ys = lo[ib] + step * np.arange(n[ib])
                ax.contour(xs, ys, np.nan_to_num(m).T, levels=[0.5], colors="c", linewidths=1.0)
            ax.plot(pos[k, ia], pos[k, ib], "x", color="#00a000", ms=8, mew=2)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(la, fontsize=7, loc="right")
            ax.set_ylabel(lb, fontsize=7, loc="top")
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                ax.text(-0.12, 0.5, v, transform=ax.transAxes, rotation=90, va="center", ha="right",
                        fontsize=10, fontweight="bold")
    fig.suptitle(f"Maximum-amplitude projections at {time_s * 1e3:.0f} ms (each row scaled to its maximum,\n"
                 "shown above 20 %); cyan: fMRI map; green x: peak", fontsize=9)
    return fig


def slices_figure(maps: dict[str, Any], t1: Any, mri_to_world: np.ndarray,
                  peaks: dict[str, dict[str, Any]], time_key: str, variants: tuple[str, ...] = SHOWN) -> Any:
    """T1 slices (rows: variants; columns: sagittal, coronal, axial) through each variant's
    peak, the map above 20 % of its maximum and the fMRI map's outline.

    The maps are written on the T1's grid, so the slices are plain array planes of the T1
    and the maps reoriented together to RAS (:func:`nibabel.as_closest_canonical`).
    """
    import nibabel as nib
    from matplotlib.figure import Figure

    variants = tuple(v for v in variants if f"{v}_source" in maps)
    anat = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(t1.dataobj, np.float32), t1.affine))
    a = np.asarray(anat.dataobj, np.float32)
    if a.ndim > 3:
        a = a[..., 0]
    zooms = np.abs(np.diag(anat.affine)[:3])
    vmax_t1 = float(np.percentile(a[a > 0], 99)) if np.any(a > 0) else 1.0
    prior = maps.get("fmri_prior")
    pri = (np.asarray(nib.as_closest_canonical(nib.Nifti1Image(np.asarray(prior.dataobj, np.float32),
                                                                  prior.affine)).dataobj)
           if prior is not None else None)
    inv = np.linalg.inv(anat.affine)
    fig = Figure(figsize=(7.5, 2.2 * len(variants) + 0.4), layout="constrained")
    axes = fig.subplots(len(variants), 3, squeeze=False)
    for r, v in enumerate(variants):
        img = maps[f"{v}_source"]
        m = np.asarray(nib.as_closest_canonical(nib.Nifti1Image(np.asarray(img.dataobj, np.float32),
                                                                img.affine)).dataobj)
        top = float(m.max()) or 1.0
        pk = np.asarray(peaks[v][time_key]["position_m"], float) * 1e3
        world = mri_to_world[:3, :3] @ pk + mri_to_world[:3, 3]
        ijk = np.clip(np.round(inv[:3, :3] @ world + inv[:3, 3]).astype(int), 0, np.array(a.shape[:3]) - 1)
        for c, (title, axis) in enumerate((("sagittal", 0), ("coronal", 1), ("axial", 2))):
            ax = axes[r, c]
            rest = [d for d in range(3) if d != axis]
            ext = (0, a.shape[rest[0]] * zooms[rest[0]], 0, a.shape[rest[1]] * zooms[rest[1]])
            ax.imshow(np.take(a, ijk[axis], axis=axis).T, origin="lower", cmap="gray", vmin=0, vmax=vmax_t1,
                      extent=ext)
            plane = np.take(m, ijk[axis], axis=axis).T
            ax.imshow(np.ma.masked_less(plane, 0.2 * top), origin="lower", cmap="hot", vmin=0.2 * top,
                      vmax=top, extent=ext, alpha=0.9)
            if pri is not None and np.any(np.take(pri, ijk[axis], axis=axis) > 0.5):
                ax.contour(np.take(pri, ijk[axis], axis=axis).T, levels=[0.5], colors="c", linewidths=1.0,
                           extent=ext, origin="lower")
            ax.plot(ijk[rest[0]] * zooms[rest[0]], ijk[rest[1]] * zooms[rest[1]], "+", color="#00d000",
                    ms=10, mew=1.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{v}\n({', '.join(f'{x:.0f}' for x in pk)}) mm", fontsize=8)
    fig.suptitle("T1 slices through each variant's peak (MRI mm),\nmap above 20 % of its maximum; "
                 "cyan: fMRI map", fontsize=9)
    return fig


def peak_table_figure(rows: list[dict[str, Any]]) -> Any:
    """The peak table (variant, time, position, amplitude, distance to the fMRI map)."""
    from matplotlib.figure import Figure

    head = ["variant", "time (ms)", "x, y, z (mm, mri)", "amplitude", "in map", "to fMRI (mm)",
            "dispersion (mm)"]
    cells = [[r["variant"], f"{r['time_s'] * 1e3:.0f}",
              f"{r['x_m'] * 1e3:.0f}, {r['y_m'] * 1e3:.0f}, {r['z_m'] * 1e3:.0f}",
              f"{r['amplitude']:.3g}", "yes" if r["in_fmri_map"] else "no",
              f"{r['distance_to_fmri_mm']:.0f}", f"{r['dispersion_mm']:.0f}"] for r in rows]
    fig = Figure(figsize=(7.5, 0.25 * (len(cells) + 2)), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=head, loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    tab.scale(1.0, 1.1)
    return fig


def report_figures(result: Any, t1: Any, mri_to_world: np.ndarray) -> list[tuple[str, Any, str]]:
    """``FusionResult.figures`` entries: projections, slices and the peak table."""
    live = result.live
    times = result.qc["times_s"]
    t0 = float(times[0])
    i0 = int(np.argmin(np.abs(np.asarray(live["times"]) - t0)))
    key = f"{t0:.3f}"
    return [
        ("Source maps per variant (projections)", lambda: projection_figure(live, i0, t0),
         "Glass-brain view of the source space: the maximum amplitude along each axis, per "
         "variant, at the first reported time; MRI (surface RAS) axes."),
        ("Source maps per variant (T1 slices through each peak)",
         lambda: slices_figure(result.maps, t1, mri_to_world, result.peaks, key),
         "Each variant's map on the T1 grid above 20 % of its maximum; cyan contour: the "
         "thresholded fMRI map."),
        ("Peaks per variant", lambda: peak_table_figure(result.tables["peaks"]),
         "Peak source per variant and time (MRI surface RAS, mm); 'to fMRI': distance from the "
         "peak to the nearest source inside the thresholded fMRI map (0 = inside)."),
    ]
