"""A saved source estimate back from a reopened project (Qt-free).

A fusion step's result lives in memory only for the session that computed it; what the
Sources view needs is also written beside ``result.json`` as ``source_estimate.npz``
(format ``workbench-source-estimate/1``, :mod:`workbench.plugin_api.source_estimate`).
This module finds the latest such result among a project's steps and reads it into a
:class:`~workbench.plugin_api.FusionResult` whose ``live`` is what
:class:`~workbench.gui.source.SourceView` shows, without importing the plugin's package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.plugin_api.source_estimate import FORMAT, read_source_estimate

__all__ = ["FORMAT", "load_saved_result", "saved_source_result"]


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
    res.live = read_source_estimate(folder / str(est["file"]))
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
