"""A saved source estimate back from a reopened project (Qt-free).

A fusion step's result lives in memory only for the session that computed it; what the
Sources view needs is also written beside ``result.json`` as ``source_estimate.npz``
(format ``workbench-source-estimate/1``, written by the fmri-source plugin: see its
``saved.py`` for the keys). This module finds the latest such result among a project's
steps and reads it into a :class:`~workbench.plugin_api.FusionResult` whose ``live`` is
what :class:`~workbench.gui.source.SourceView` shows. It reads the file itself (a few
lines of numpy) so the GUI does not import a plugin's package.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "read_estimate", "load_saved_result", "saved_source_result"]

FORMAT = "workbench-source-estimate/1"


def read_estimate(path: str | Path) -> dict[str, Any]:
    """The view's ``live`` dict from a ``source_estimate.npz`` (see module doc).

    Raises
    ------
    InputError
        One line naming the file when it is missing, unreadable or of another format.
    """
    from workbench.engine.errors import InputError

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != FORMAT:
                raise InputError(path, f"not a source estimate (expected format {FORMAT})")
            variants = [str(v) for v in z["variants"]]
            n_clusters = sum(1 for k in z.files if k.startswith("cluster__"))
            return {
                "source_estimate": True,
                "amplitudes": {v: z[f"amp__{v}"].astype(float) * float(z[f"scale__{v}"]) for v in variants},
                "times": z["times"].copy(), "pos_mri": z["pos_mri"].copy(), "fmri_mask": z["fmri_mask"].copy(),
                "fmri_values": z["fmri_values"].copy(), "grid_shape": tuple(int(x) for x in z["grid_shape"]),
                "grid_to_mri": z["grid_to_mri"].copy(), "mri_to_world_mm": z["mri_to_world_mm"].copy(),
                "spacing_mm": float(z["spacing_mm"]), "report_times": [float(x) for x in z["report_times"]],
                "units": json.loads(str(z["units"])),
                "fmri_clusters": [z[f"cluster__{k}"].copy() for k in range(n_clusters)],
            }
    except FileNotFoundError:
        raise InputError(path, "source estimate missing (the result folder is incomplete)") from None
    except InputError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"unreadable source estimate ({type(exc).__name__}: {exc})") from None


def load_saved_result(folder: str | Path) -> Any | None:
    """The fusion result in ``folder`` with its source estimate as ``live``; None when the
    folder holds no result that names a source estimate."""
    from workbench.plugin_api import FusionResult

    folder = Path(folder)
    doc_path = folder / "result.json"
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    est = doc.get("source_estimate") if isinstance(doc, dict) else None
    if not isinstance(est, dict) or "file" not in est:
        return None
    res = FusionResult.load(folder)
    res.live = read_estimate(folder / str(est["file"]))
    res.live["saved_from"] = str(folder)
    return res


_CACHE: dict[str, Any] = {}


def saved_source_result(study: Any) -> Any | None:
    """The latest finished step of the study's project whose output folder holds a saved
    source estimate, loaded (:func:`load_saved_result`); None when there is none.

    The same folder with an unchanged ``result.json`` gives the same object (the Fusion
    tab asks on every study change; the estimate is read once).
    """
    project = getattr(study, "project", None)
    for step in reversed(list(getattr(project, "steps", None) or [])):
        if getattr(step, "status", "") != "done":
            continue
        for out in step.outputs:
            folder = project.abspath(out)
            doc = folder / "result.json"
            if not (folder.is_dir() and doc.is_file()):
                continue
            key = f"{doc.resolve()}:{doc.stat().st_mtime_ns}"
            if key not in _CACHE:
                res = load_saved_result(folder)
                if res is None:
                    continue
                _CACHE.clear()  # one estimate kept: they can be large
                _CACHE[key] = res
            return _CACHE[key]
    return None
