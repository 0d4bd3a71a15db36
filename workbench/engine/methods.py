"""A methods paragraph generated from a project's provenance, for a paper or a lab notebook.

Each step that ran says what it did with the parameters it actually used (from the
provenance, not from defaults), and the software versions are those recorded with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["methods_paragraph"]


def _value(spec: Any, name: str, value: Any) -> str:
    try:
        p = spec.param(name)
    except (KeyError, AttributeError):
        return f"{name} = {value}"
    if value is None:
        return f"{p.display} {p.none_label}"
    if isinstance(value, bool):
        return f"{p.display} {'on' if value else 'off'}"
    unit = f" {p.unit}" if p.unit and p.unit not in ("volumes",) else (f" {p.unit}" if p.unit else "")
    return f"{p.display} {value:g}{unit}" if isinstance(value, float) else f"{p.display} {value}{unit}"


_SENTENCES = {
    "sync": "Scanner volume triggers were detected, validated and repaired, and the EEG clock was "
            "fitted to the scanner clock by robust linear regression (t_EEG = α·t_MRI + β){extra}.",
    "gradient": "The gradient artifact was removed by slice-slot-matched average artifact subtraction with "
                "sub-sample alignment ({params}).",
    "coreg": "Electrode and head-shape positions were coregistered to the scalp surface extracted from the "
             "T1 by a weighted fiducial fit followed by robust iterative closest point ({params}).",
}


def methods_paragraph(project: Any, catalog: Mapping[str, Any] | None = None) -> str:
    """The methods text for every successful step of ``project`` (in the order they ran).

    Parameters
    ----------
    project : Project
        Its provenance (steps with parameters, QC and library versions) is described.
    catalog : mapping | None
        Step declarations, for human parameter names and units.

    Returns
    -------
    str
        A paragraph (plain text).
    """
    catalog = catalog or {}
    parts: list[str] = []
    versions: dict[str, str] = {}
    for step in project.steps:
        if step.status != "done" or step.name == "load":
            continue
        versions.update(step.versions or {})
        spec = catalog.get(step.name)
        params = ", ".join(_value(spec, k, v) for k, v in step.params.items())
        if step.name == "sync":
            q = step.qc
            extra = ""
            if isinstance(q.get("drift_ppm"), int | float):
                extra = f"; the measured drift was {q['drift_ppm']:.2f} ppm"
            if isinstance(q.get("n_missing"), int) and q["n_missing"]:
                extra += f" and {q['n_missing']} missing trigger(s) were restored"
            parts.append(_SENTENCES["sync"].format(extra=extra))
        elif step.name in _SENTENCES:
            parts.append(_SENTENCES[step.name].format(params=params or "default parameters"))
        else:
            title = spec.title if spec is not None else step.name
            parts.append(f"{title} was applied ({params or 'default parameters'}).")
    if not parts:
        return "No analysis step has run yet."
    soft = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "python")
    tail = f" Analyses used the EEG-fMRI Workbench with {soft} (Python {versions.get('python', '?')})." \
        if versions else ""
    return " ".join(parts) + tail
