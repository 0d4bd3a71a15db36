"""A source estimate on disk: ``source_estimate.npz`` beside a fusion result's ``result.json``.

Part of the plugin API because two sides use the format: a method that computes a source
estimate over time (fmri-source) writes it, and the GUI's Sources view reads it back when
a project is reopened (without importing the method's package).

``result.json`` and the NIfTI maps hold the numbers a lab scripts against (peaks, one map
per variant at the first report time); the interactive Sources view needs the whole
estimate over time. That is written as one NumPy ``.npz`` (not MNE's ``.stc``/``.h5``:
those hold one estimate each, and the view needs all variants, the fMRI map sampled at
the sources and the source grid; an ``.npz`` is read without MNE):

========================  ======================================================
key                       content
========================  ======================================================
``format``                ``"workbench-source-estimate/1"``
``variants``              variant names, in order
``amp__<variant>``        amplitude per source and time, float32, relative to ...
``scale__<variant>``      ... this maximum (float64; the variant's unit in ``units``)
``times``                 seconds (float64)
``pos_mri``               source positions (m, MNE's ``mri`` frame = surface RAS)
``fmri_mask``             bool per source: inside the thresholded fMRI map
``fmri_values``           the fMRI map sampled at each source
``kind``                  ``"volume"`` or ``"surface"`` (absent in older files: volume)
``grid_shape``            volume only: the source space's grid (3 ints)
``grid_to_mri``           volume only: grid index -> ``mri`` (m), 4x4
``tris``                  surface only: triangles of the cortex (source indices, n x 3)
``normals_mri``           surface only: outward unit normal of each source (``mri`` frame)
``mri_to_world_mm``       ``mri`` (mm) -> the T1's scanner RAS (mm), 4x4
``spacing_mm``            grid spacing (surface: median vertex spacing)
``report_times``          the requested times (s)
``units``                 JSON ``{variant: unit}``
``cluster__<k>``          source indices of fMRI cluster k (largest first)
========================  ======================================================

float32 relative to each variant's maximum (7 significant digits) halves float64's size
(a 7 mm grid, 9 variants and 350 samples: ~85 MB instead of ~170 MB). float16 was tried
and is not enough: neighbouring dSPM values differ by less than its 0.05 % and the peak
moved to the next source.

The ``live`` dict read back has ``kind``; a volume estimate has ``grid_shape`` and
``grid_to_mri``, a surface one has ``tris`` and ``normals_mri`` instead (a reader that
draws a grid checks for those keys). Files written before ``kind`` existed are volumes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["FILENAME", "FORMAT", "KINDS", "write_source_estimate", "read_source_estimate"]

FILENAME = "source_estimate.npz"
FORMAT = "workbench-source-estimate/1"
#: the kinds of source space an estimate can be on
KINDS = ("volume", "surface")


def write_source_estimate(path: str | Path, live: dict[str, Any]) -> Path:
    """Write the estimate held in a result's ``live`` (see module doc) to ``path``.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file to write (the caller writes it into a staging folder).
    live : dict
        The method's ``live`` (``amplitudes``, ``times``, ``pos_mri``, ...).

    Returns
    -------
    Path
        ``path``.
    """
    variants = list(live["amplitudes"])
    kind = str(live.get("kind", "volume"))
    if kind not in KINDS:
        raise ValueError(f"source estimate kind must be one of {KINDS}, got {kind!r}")
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT), "variants": np.array(variants),
        "times": np.asarray(live["times"], float), "pos_mri": np.asarray(live["pos_mri"], float),
        "fmri_mask": np.asarray(live["fmri_mask"], bool), "fmri_values": np.asarray(live["fmri_values"], float),
        "kind": np.array(kind), "mri_to_world_mm": np.asarray(live["mri_to_world_mm"], float),
        "spacing_mm": np.asarray(float(live["spacing_mm"])),
        "report_times": np.asarray(live.get("report_times", []), float),
        "units": np.array(json.dumps(live.get("units", {}))),
    }
    if kind == "volume":
        arrays["grid_shape"] = np.asarray(live["grid_shape"], int)
        arrays["grid_to_mri"] = np.asarray(live["grid_to_mri"], float)
    else:
        arrays["tris"] = np.asarray(live["tris"], np.int64).reshape(-1, 3)
        arrays["normals_mri"] = np.asarray(live["normals_mri"], float)
    for v in variants:
        a = np.asarray(live["amplitudes"][v], float)
        scale = float(np.max(np.abs(a))) if a.size else 0.0
        arrays[f"scale__{v}"] = np.asarray(scale)
        arrays[f"amp__{v}"] = (a / scale if scale > 0 else a).astype(np.float32)
    for k, g in enumerate(live.get("fmri_clusters", [])):
        arrays[f"cluster__{k}"] = np.asarray(g, int)
    path = Path(path)
    with open(path, "wb") as fh:  # a file object: np.savez would append '.npz' to a name
        np.savez_compressed(fh, **arrays)
    return path


def read_source_estimate(path: str | Path) -> dict[str, Any]:
    """The ``live`` dict of a result written by :func:`write_source_estimate`.

    Raises
    ------
    InputError
        One line naming the file when it is missing, unreadable or not this format.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != FORMAT:
                raise InputError(path, f"not a source estimate (expected format {FORMAT})")
            variants = [str(v) for v in z["variants"]]
            amps = {v: z[f"amp__{v}"].astype(float) * float(z[f"scale__{v}"]) for v in variants}
            n_clusters = sum(1 for k in z.files if k.startswith("cluster__"))
            live = {
                "source_estimate": True, "amplitudes": amps, "times": z["times"].copy(),
                "pos_mri": z["pos_mri"].copy(), "fmri_mask": z["fmri_mask"].copy(),
                "fmri_values": z["fmri_values"].copy(), "mri_to_world_mm": z["mri_to_world_mm"].copy(),
                "spacing_mm": float(z["spacing_mm"]), "report_times": [float(x) for x in z["report_times"]],
                "units": json.loads(str(z["units"])),
                "fmri_clusters": [z[f"cluster__{k}"].copy() for k in range(n_clusters)],
            }
            kind = str(z["kind"]) if "kind" in z.files else "volume"
            if kind not in KINDS:
                raise InputError(path, f"unknown source space kind {kind!r} (expected one of {KINDS})")
            live["kind"] = kind
            if kind == "volume":
                live["grid_shape"] = tuple(int(x) for x in z["grid_shape"])
                live["grid_to_mri"] = z["grid_to_mri"].copy()
            else:
                live["tris"] = z["tris"].astype(np.int64)
                live["normals_mri"] = z["normals_mri"].copy()
    except FileNotFoundError:
        raise InputError(path, "source estimate missing (the result folder is incomplete)") from None
    except InputError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"unreadable source estimate ({type(exc).__name__}: {exc})") from None
    return live
