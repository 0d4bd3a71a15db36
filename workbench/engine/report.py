"""HTML report helpers on top of :class:`mne.Report` (Qt-free, matplotlib Agg).

Every pipeline step adds its own section with :func:`add_qc_table` and
:func:`add_figure`; :func:`save_report` writes the HTML atomically.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from .atomic import atomic_path


def new_report(title: str) -> Any:
    """An empty :class:`mne.Report` with the given title."""
    import mne

    return mne.Report(title=title, verbose="error")


def qc_table_html(qc: dict[str, Any], caption: str = "") -> str:
    """Render a flat dict of QC metrics as an HTML table (keys carry their unit)."""
    rows = []
    for key, value in qc.items():
        if isinstance(value, float):
            shown = f"{value:.6g}"
        elif isinstance(value, (list, tuple)) and len(value) > 8:
            shown = f"[{len(value)} values]"
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
        else:
            shown = str(value)
        rows.append(f"<tr><td><code>{html.escape(str(key))}</code></td><td>{html.escape(shown)}</td></tr>")
    cap = f"<p>{html.escape(caption)}</p>" if caption else ""
    return (
        f"{cap}<table class='table table-sm table-striped' style='width:auto'>"
        "<thead><tr><th>metric</th><th>value</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def add_qc_table(report: Any, title: str, qc: dict[str, Any], section: str, caption: str = "") -> None:
    """Add a QC table to ``report`` under ``section``."""
    report.add_html(qc_table_html(qc, caption), title=title, section=section, tags=("qc",))


def add_text(report: Any, title: str, text: str, section: str) -> None:
    """Add a paragraph of explanation (teaching text) to ``report``."""
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.strip().split("\n\n"))
    report.add_html(paras, title=title, section=section, tags=("explanation",))


def add_figure(report: Any, fig: Any, title: str, section: str, caption: str | None = None) -> None:
    """Add a matplotlib figure and close it."""
    import matplotlib.pyplot as plt

    report.add_figure(fig, title=title, section=section, caption=caption, image_format="png")
    plt.close(fig)


def save_report(report: Any, path: str | os.PathLike) -> Path:
    """Write the report HTML atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".html") as tmp:
        report.save(tmp, open_browser=False, overwrite=True, verbose="error")
    return path


def add_provenance(report: Any, project: Any, section: str = "Provenance") -> None:
    """Date, software versions, input files with their sha256 and every step's parameters.

    Parameters
    ----------
    report : mne.Report
        Report to add the section to.
    project : Project
        Whose provenance is shown.
    section : str
        Section name.
    """
    import datetime as _dt

    from .project import library_versions

    steps = [s for s in project.steps if s.status == "done"]
    versions = dict(steps[-1].versions) if steps and steps[-1].versions else library_versions()
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    add_qc_table(report, "Software and date", {"report written": when, **versions}, section=section)
    files: dict[str, str] = {}
    for s in project.steps:
        for path, digest in s.inputs.items():
            files.setdefault(path, digest)
    for item in getattr(project, "inputs", []):
        files.setdefault(item.path, item.sha256)
    add_qc_table(report, "Input files (sha256)", {p: (d[:16] + "…") if d else "not hashed" for p, d in files.items()},
                 section=section, caption="Each file the analysis read, with the first 16 hex digits of its sha256 "
                                          "(the full digests are in project.json).")
    for s in project.steps:
        if s.name == "load":
            continue
        shown = {k: ("auto/off" if v is None else v) for k, v in s.params.items()}
        shown["status"] = s.status + (f": {s.message}" if s.message and s.status != "done" else "")
        shown["ran"] = f"{s.started} – {s.finished}"
        add_qc_table(report, f"Step {s.name}: parameters used", shown, section=section)
