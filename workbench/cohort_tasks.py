"""The task a cohort worker runs for one subject (``workbench batch``).

It lives outside :mod:`workbench.engine` because it builds the step catalogue with
:func:`workbench.plugin_api.all_steps` (plugins are discovered in the worker process, as
in any other entry point) and outside :mod:`workbench.cli` so that a Dask worker imports
only this light module and what the subject's steps need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["subject_task"]

_CATALOG: dict[str, Any] | None = None


def _catalog() -> dict[str, Any]:
    global _CATALOG
    if _CATALOG is None:  # discovered once per worker process
        from workbench.plugin_api import all_steps

        _CATALOG = all_steps()
    return _CATALOG


def subject_task(study_dir: str, label: str, steps: Sequence[tuple[str, Mapping[str, Any] | None]],
                 out_dir: str, force: bool = False, pipeline_name: str = "pipeline") -> dict[str, Any]:
    """Run the pipeline on one subject; returns its picklable summary (never raises for its data)."""
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    from workbench.engine.cohort import run_subject

    return run_subject(study_dir, label, [tuple(s) for s in steps], out_dir, _catalog(), force=force,
                       pipeline_name=pipeline_name)
