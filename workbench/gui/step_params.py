"""The one place the GUI reads and stores a step's parameters.

A step's parameters are its declared defaults overridden by the values stored in the
project (``project.settings["params"][step_id]``, saved with ``project.json``). The step
panel and the tabs that show a step's form (Gradient, Fusion) read and write them here,
so an edit in one is what the other shows and what a run from either uses. Every edit
is an undoable command on the session's undo stack.
"""

from __future__ import annotations

from typing import Any

from workbench.engine.commands import SetValue
from workbench.engine.errors import InputError

__all__ = ["step_values", "store_values", "set_value", "reset_values"]


def step_values(session: Any, spec: Any, step_id: str) -> dict[str, Any]:
    """The step's parameters: declared defaults overridden by the project's stored values."""
    out = spec.defaults() if spec is not None else {}
    proj = session.project
    if proj is not None:
        stored = proj.settings.get("params", {}).get(step_id, {})
        if isinstance(stored, dict):
            out.update({k: v for k, v in stored.items() if spec is None or k in out})
    return out


def store_values(session: Any, step_id: str, values: dict[str, Any]) -> None:
    """Store every parameter of ``step_id`` in the project (marks it unsaved)."""
    proj = session.project
    if proj is None:
        return
    allp = dict(proj.settings.get("params", {}))
    allp[step_id] = dict(values)
    proj.settings["params"] = allp
    proj.dirty = True
    proj.changed.emit(f"parameters of {step_id}")


def set_value(session: Any, spec: Any, step_id: str, key: str, value: Any) -> bool:
    """Change one parameter (validated by the declaration) as an undoable command.

    Returns
    -------
    bool
        True when a command was pushed (the value was valid and different).
    """
    if spec is not None:
        try:
            value = spec.param(key).coerce(value)
        except (KeyError, InputError):
            return False
    old = step_values(session, spec, step_id)
    if old.get(key) == value:
        return False
    new = dict(old)
    new[key] = value
    shown = "auto/off" if value is None else value
    session.undo.push(
        SetValue(f"set {step_id} {key} = {shown}", lambda v, n=step_id: store_values(session, n, v), old, new)
    )
    return True


def reset_values(session: Any, spec: Any, step_id: str) -> bool:
    """Every parameter back to its declared default (one undoable command)."""
    old = step_values(session, spec, step_id)
    new = spec.defaults() if spec is not None else {}
    if old == new or session.project is None:
        return False
    session.undo.push(
        SetValue(f"reset {step_id} to defaults", lambda v, n=step_id: store_values(session, n, v), old, new)
    )
    return True
