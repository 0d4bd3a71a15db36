"""Coregistration QC metrics (DESIGN §6): keys carry their unit (``mean_mm``, ``pct_beyond_5mm``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .fit import apply, rotation_angle_deg


def distance_qc(signed: np.ndarray, kinds: np.ndarray, omitted: np.ndarray) -> dict[str, Any]:
    """Summary of point-to-scalp distances over the points in use.

    Parameters
    ----------
    signed : ndarray, shape (n,)
        Signed distances (m), negative inside the scalp.
    kinds : ndarray of str, shape (n,)
        ``"eeg"``, ``"hsp"`` or ``"hpi"``.
    omitted : ndarray of bool, shape (n,)

    Returns
    -------
    qc : dict
        ``n_points``, ``n_omitted``, ``mean_mm``, ``median_mm``, ``max_mm``, ``sd_mm``,
        ``pct_beyond_3mm`` / ``5mm`` / ``10mm``, ``n_inside`` and ``pct_inside`` (points
        under the skin: impossible for real digitisation, a sign of a bad fit or a
        swollen scalp), and ``mean_<kind>_mm`` per point kind.
    """
    use = ~np.asarray(omitted, bool)
    d = np.abs(signed[use]) * 1e3
    out: dict[str, Any] = {"n_points": int(use.sum()), "n_omitted": int((~use).sum())}
    if d.size == 0:
        out.update(mean_mm=float("nan"), median_mm=float("nan"), max_mm=float("nan"), sd_mm=float("nan"))
        return out
    out.update(
        mean_mm=float(d.mean()),
        median_mm=float(np.median(d)),
        max_mm=float(d.max()),
        sd_mm=float(d.std()),
        pct_beyond_3mm=float(100 * np.mean(d > 3)),
        pct_beyond_5mm=float(100 * np.mean(d > 5)),
        pct_beyond_10mm=float(100 * np.mean(d > 10)),
        n_inside=int(np.sum(signed[use] < 0)),
        pct_inside=float(100 * np.mean(signed[use] < 0)),
    )
    for k in ("eeg", "hsp", "hpi"):
        m = kinds[use] == k
        if m.any():
            out[f"mean_{k}_mm"] = float(d[m].mean())
    return out


def truth_qc(est_head_mri: np.ndarray, true_head_mri: np.ndarray, electrodes: np.ndarray) -> dict[str, float]:
    """Errors against a known transform (phantom).

    Returns
    -------
    qc : dict
        ``rotation_error_deg``, ``translation_error_mm`` (of the head-frame origin),
        ``tre_mean_mm`` / ``tre_max_mm``: target registration error, the distance between
        where the estimated and the true transform put each electrode.
    """
    tre = np.linalg.norm(apply(est_head_mri, electrodes) - apply(true_head_mri, electrodes), axis=1) * 1e3
    return {
        "rotation_error_deg": rotation_angle_deg(est_head_mri, true_head_mri),
        "translation_error_mm": float(np.linalg.norm(est_head_mri[:3, 3] - true_head_mri[:3, 3]) * 1e3),
        "tre_mean_mm": float(tre.mean()) if tre.size else float("nan"),
        "tre_max_mm": float(tre.max()) if tre.size else float("nan"),
    }
