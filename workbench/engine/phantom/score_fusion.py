"""How well a parametric-modulation result localises the phantom's true sources.

Scores a fusion result (``maps`` ``z_main``, ``z_modulator``, ``zthr_main``,
``zthr_modulator`` and the ``trials`` table of the parametric-modulation plugin) against
a phantom subject's ground truth (:class:`~workbench.engine.phantom.GroundTruth`).

What counts is what a user would report: the voxels that survive the method's own
threshold (FDR + cluster extent, the ``zthr_*`` maps). The peak is the highest voxel of
the surviving clusters; only when nothing survives is it the raw maximum of the z map
(and ``peak_significant_*`` says so), because the raw maximum of a map without a real
effect is wherever the noise happens to be largest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["score_parametric_modulation", "peak_distance_mm"]

#: significant voxels within this distance (mm) of the target mask count as "at the target"
NEAR_MM = 15.0


def _xyz(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of voxel indices ``ijk`` (n, 3)."""
    return np.atleast_2d(ijk) @ affine[:3, :3].T + affine[:3, 3]


def peak_distance_mm(z: np.ndarray, zthr: np.ndarray | None, target: np.ndarray,
                     affine: np.ndarray) -> tuple[float, bool, np.ndarray]:
    """Distance (mm) from a map's peak to the nearest voxel of a target mask.

    Parameters
    ----------
    z : ndarray, shape (nx, ny, nz)
        Unthresholded z map.
    zthr : ndarray | None
        The thresholded map (zeros where nothing survives); ``None`` means "use ``z``".
    target : ndarray of bool
        Voxels of the true source's region (same grid).
    affine : ndarray, shape (4, 4)
        Voxel -> world (mm).

    Returns
    -------
    distance_mm : float
        0 when the peak is inside the target.
    significant : bool
        Whether the peak is a surviving (thresholded) voxel.
    peak_mm : ndarray, shape (3,)
        World coordinates of the peak (mm).
    """
    significant = zthr is not None and bool(np.any(zthr > 0))
    src = np.where(zthr > 0, z, -np.inf) if significant else z
    peak = np.array(np.unravel_index(int(np.argmax(src)), z.shape))
    xyz = _xyz(affine, peak)[0]
    tgt = _xyz(affine, np.argwhere(target))
    return float(np.min(np.linalg.norm(tgt - xyz, axis=1))), significant, xyz


def _mask_of(truth: Any, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        m = np.asarray(truth.load(f"masks/{name}").dataobj) > 0
    except (OSError, KeyError, ValueError):  # a missing mask file only removes that row
        return None
    return m if m.shape == shape and m.any() else None


def score_parametric_modulation(result: Any, truth: Any, condition: str,
                                events: Any = None) -> dict[str, Any]:
    """Localisation QC of a parametric-modulation result against phantom ground truth.

    Parameters
    ----------
    result : FusionResult
        Output of the parametric-modulation plugin.
    truth : GroundTruth
        The phantom subject's truth (``sources``, ``events``, ``load("masks/NAME")``).
    condition : str
        The modulated condition; its ``task`` source is the target.
    events : Any
        Unused (kept for the signature of the former ``truth_qc``).

    Returns
    -------
    dict
        Per source with a mask: ``z_{main,modulator}_mean_in_NAME`` and
        ``n_significant_{main,modulator}_in_NAME`` (FDR + extent survivors inside it).
        ``peak_distance_{key}_mm``: from the highest surviving voxel (else the raw maximum)
        to the nearest voxel of the target; the modulator's target is the modulated
        ``task`` source of ``condition``, the main effect's every region whose BOLD
        responds to ``condition`` (``task`` and ``task_unmodulated`` sources).
        ``peak_significant_{key}``, ``peak_to_source_{key}_mm`` (to the modulated source's
        true dipole), ``n_significant_{key}`` and ``n_significant_{key}_near_target``
        (within :data:`NEAR_MM` mm of the target). ``feature_vs_true_amplitude_r``: correlation of
        the EEG feature with the true trial amplitudes.
    """
    del events
    out: dict[str, Any] = {}
    maps = result.maps
    affine = np.asarray(maps["z_main"].affine)
    z = {k: np.asarray(maps[f"z_{k}"].dataobj, float) for k in ("main", "modulator")}
    zthr = {k: (np.abs(np.asarray(maps[f"zthr_{k}"].dataobj, float)) if f"zthr_{k}" in maps else None)
            for k in ("main", "modulator")}
    shape = z["main"].shape
    target = target_pos = None
    responding = np.zeros(shape, bool)  # every region with BOLD in this condition
    for src in getattr(truth, "sources", None) or []:
        if not src.get("mask"):
            continue
        m = _mask_of(truth, src["name"], shape)
        if m is None:
            continue
        name = src["name"]
        for k in ("main", "modulator"):
            out[f"z_{k}_mean_in_{name}"] = float(z[k][m].mean())
            if zthr[k] is not None:
                out[f"n_significant_{k}_in_{name}"] = int(np.count_nonzero(zthr[k][m]))
        if src.get("condition") == condition and src.get("bold_visible", True) \
                and src.get("role") in ("task", "task_unmodulated"):
            responding |= m
        if src.get("role") == "task" and src.get("condition") == condition:
            target = m
            if src.get("pos_mri_m") is not None:
                target_pos = np.asarray(src["pos_mri_m"], float) * 1e3
    if target is not None:
        targets = {"main": responding | target, "modulator": target}
        for k in ("main", "modulator"):
            tgt_xyz = _xyz(affine, np.argwhere(targets[k]))
            d, sig, xyz = peak_distance_mm(z[k], zthr[k], targets[k], affine)
            out[f"peak_distance_{k}_mm"] = d
            out[f"peak_significant_{k}"] = sig
            if target_pos is not None:
                out[f"peak_to_source_{k}_mm"] = float(np.linalg.norm(xyz - target_pos))
            if zthr[k] is not None:
                sig_ijk = np.argwhere(zthr[k] > 0)
                out[f"n_significant_{k}"] = int(len(sig_ijk))
                if len(sig_ijk):
                    sig_xyz = _xyz(affine, sig_ijk)
                    dist = np.min(np.linalg.norm(sig_xyz[:, None, :] - tgt_xyz[None], axis=2), axis=1)
                    out[f"n_significant_{k}_near_target"] = int(np.count_nonzero(dist <= NEAR_MM))
                else:
                    out[f"n_significant_{k}_near_target"] = 0
    tev = getattr(truth, "events", None)
    feats = [row["feature"] for row in result.tables.get("trials", [])]
    if isinstance(tev, dict) and "amplitude" in tev and "condition" in tev:
        cond = np.asarray(tev["condition"]).astype(str)
        amps = np.asarray(tev["amplitude"], float)[cond == condition]
        if len(feats) == len(amps) and len(amps) > 2 and np.std(feats) > 0:
            out["feature_vs_true_amplitude_r"] = float(np.corrcoef(feats, amps)[0, 1])
    return out
