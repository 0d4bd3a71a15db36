"""Reading the DCM's tables: region BOLD, inputs and region EEG (one-line errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.engine.errors import InputError
from workbench.plugin_api.tables import read_table

from .joint_eeg import EegData

__all__ = ["read_rois", "read_inputs", "read_eeg_table", "MIN_SCANS"]

MIN_SCANS = 20


def read_rois(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """``ROIS.tsv``: (n_scans, n_regions) values and the region names."""
    values, names, _ = read_table(path, "region BOLD")
    if values.shape[0] < MIN_SCANS:
        raise InputError(path, f"only {values.shape[0]} volumes: a DCM needs at least {MIN_SCANS} "
                               "(typically 5-10 minutes of data)")
    return values, [str(c) for c in names]


def read_inputs(path: str | Path) -> list[tuple[float, float, str]]:
    """``INPUTS.tsv``: ``onset duration name`` rows (a header row is skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise InputError(path, "is not a UTF-8 text table") from None
    events = []
    for lineno, line in enumerate(text.splitlines(), 1):
        cells = line.replace(",", "\t").split()
        if not cells or cells[0].startswith("#"):
            continue
        if len(cells) < 3:
            raise InputError(path, f"line {lineno} has {len(cells)} columns; expected onset, duration, name")
        try:
            onset, duration = float(cells[0]), float(cells[1])
        except ValueError:
            if lineno == 1:
                continue  # header
            raise InputError(path, f"line {lineno}: onset and duration must be numbers (s)") from None
        if not (np.isfinite(onset) and np.isfinite(duration)):
            raise InputError(path, f"line {lineno}: onset and duration must be finite")
        events.append((onset, duration, " ".join(cells[2:])))
    if not events:
        raise InputError(path, "no events (rows 'onset duration name' in seconds)")
    return events


def read_eeg_table(path: str | Path, regions: list[str], rate: float | None) -> EegData:
    """``EEG.tsv``: one column per region (an optional ``time`` column, else ``rate`` Hz)."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, sep="," if path.suffix.lower() == ".csv" else "\t")
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's problem
        raise InputError(path, f"not a readable EEG table ({type(exc).__name__})") from None
    cols = [str(c) for c in df.columns]
    missing = [r for r in regions if r not in cols]
    if missing:
        raise InputError(path, f"has no column for region(s) {', '.join(missing)} (columns: {', '.join(cols)})")
    try:
        values = df[regions].to_numpy(float)
    except ValueError:
        raise InputError(path, "region columns must be numeric") from None
    if not np.all(np.isfinite(values)):
        raise InputError(path, "holds missing or non-finite values")
    if "time" in cols:
        times = df["time"].to_numpy(float)
    elif rate:
        times = np.arange(len(df)) / float(rate)
    else:
        raise InputError(path, "has no 'time' column: give its sampling rate with --eeg-rate HZ")
    return EegData(values=values, times=times, regions=list(regions), source=str(path))
