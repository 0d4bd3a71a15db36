"""The inputs of deep fusion: reading the files and checking them (one-line errors).

``EEG.npy`` trials x channels x times, ``FMRI.npy`` trials x features (both read with
``allow_pickle=False``), a subject-groups file with one row per trial, and what is
predicted: a labels file (task ``condition``) or a numeric targets file (tasks
``amplitude`` and ``roi-bold``; one number per trial, a column chosen by name when the
file has several).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["TrialData", "TASKS", "REGRESSION_TASKS", "read_npy", "read_column", "read_targets", "check_trials",
           "check_regression", "load_files"]

#: what can be predicted: the trial's condition (classification), its amplitude from both
#: modalities (regression) or an ROI's BOLD response from the EEG alone (regression)
TASKS = ("condition", "amplitude", "roi-bold")
REGRESSION_TASKS = ("amplitude", "roi-bold")

#: header names accepted as the first line of a labels / groups file
_HEADERS = {"label", "labels", "condition", "trial_type", "class", "y", "target",
            "group", "groups", "subject", "participant_id", "participant", "sub"}


@dataclass
class TrialData:
    """Trials of both modalities, checked.

    Attributes
    ----------
    eeg : ndarray, shape (n_trials, n_channels, n_times), float32
    fmri : ndarray, shape (n_trials, n_features), float32
        (trials x 0 in the ``roi-bold`` task: the fMRI is the target there, not an input)
    y : ndarray
        Class index per trial (into ``classes``) for ``condition``; the numeric target per
        trial (float64, in the file's units) for the regression tasks.
    classes : list of str
        Empty for the regression tasks.
    groups : ndarray of str
        Subject per trial.
    task : str
        One of :data:`TASKS`.
    target_name : str | None
        The target's name (a column of the targets file) for the regression tasks.
    """

    eeg: np.ndarray
    fmri: np.ndarray
    y: np.ndarray
    classes: list[str]
    groups: np.ndarray
    task: str = "condition"
    target_name: str | None = None

    @property
    def regression(self) -> bool:
        return self.task in REGRESSION_TASKS

    @property
    def subjects(self) -> list[str]:
        return sorted(set(self.groups.tolist()))


def read_npy(path: str | Path, ndim: int, what: str) -> np.ndarray:
    """A numeric array of ``ndim`` dimensions from ``.npy`` (never unpickled)."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(path, f"{what} holds Python objects (pickled); save a numeric array "
                                   "(numpy.save of a float array)") from None
        raise InputError(path, f"not a readable .npy array ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is this file's problem
        raise InputError(path, f"not a readable .npy array ({type(exc).__name__})") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise InputError(path, f"{what} must be a numeric array, got dtype {getattr(arr, 'dtype', '?')}")
    if arr.ndim != ndim:
        shape = "trials x channels x times" if ndim == 3 else "trials x features"
        raise InputError(path, f"{what} must be {ndim}-D ({shape}), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.size == 0:
        raise InputError(path, f"{what} is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise InputError(path, f"{what} has {int(bad.sum())} NaN/infinite value(s) (first in trial {i + 1}); "
                               "drop or repair those trials first")
    return arr.astype(np.float32, copy=False)


def _lines(path: Path, empty: str) -> tuple[list[str], str]:
    """The lines of a text/TSV/CSV file (trailing empty lines dropped) and its separator.

    Raises
    ------
    InputError
        Missing or unreadable file; ``empty`` when it holds no line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable text file ({type(exc).__name__})") from None
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(path, empty)
    return lines, sep


def read_column(path: str | Path, what: str) -> list[str]:
    """One value per trial from a text/TSV/CSV file.

    A single column, or a table whose header names the column (``label``/``condition``/
    ``trial_type`` for labels, ``group``/``subject``/``participant_id`` for groups). A
    first line equal to one of those names is a header; every other line is a trial.
    """
    path = Path(path)
    lines, sep = _lines(path, f"{what} file is empty: one row per trial")
    col = 0
    head = [c.strip() for c in lines[0].split(sep)]
    if any(h.lower() in _HEADERS for h in head):
        wanted = ("label", "labels", "condition", "trial_type", "class", "y", "target") if what == "labels" \
            else ("group", "groups", "subject", "participant_id", "participant", "sub")
        hits = [i for i, h in enumerate(head) if h.lower() in wanted]
        if not hits:
            raise InputError(path, f"no {what} column in its header {head}; name it one of {list(wanted)}")
        col = hits[0]
        lines = lines[1:]
    elif len(head) > 1:
        raise InputError(path, f"has {len(head)} columns but no header naming the {what} column")
    out = []
    for k, ln in enumerate(lines):
        cells = ln.split(sep)
        val = cells[col].strip() if col < len(cells) else ""
        if val == "" or val.lower() in ("n/a", "nan"):
            raise InputError(path, f"row {k + 1} has no {what[:-1] if what.endswith('s') else what} value")
        out.append(val)
    if not out:
        raise InputError(path, f"{what} file has a header but no rows")
    return out


def check_trials(eeg: np.ndarray, fmri: np.ndarray, labels: list[str] | np.ndarray,
                 groups: list[str] | np.ndarray, where: dict[str, Any] | None = None,
                 min_per_class: int = 2) -> TrialData:
    """Check that the four inputs describe the same trials and can be cross-validated.

    Raises
    ------
    InputError
        Trial counts that differ, NaNs, one class (or a class with fewer than
        ``min_per_class`` trials), one subject only (no leave-subject-out).
    """
    where = where or {}
    eeg, fmri, groups = _check_common(eeg, fmri, groups, where)
    n = eeg.shape[0]
    labels = np.asarray(labels).astype(str)
    if len(labels) != n:
        raise InputError(where.get("labels"), f"has {len(labels)} rows but the EEG has {n} trials: one label per trial")
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise InputError(where.get("labels"), f"all {n} trials have the label {classes[0]!r}: decoding needs at "
                                              "least two classes")
    counts = {c: int((labels == c).sum()) for c in classes}
    rare = [c for c, k in counts.items() if k < min_per_class]
    if rare:
        raise InputError(where.get("labels"), f"class {rare[0]!r} has {counts[rare[0]]} trial(s): each class "
                                              f"needs at least {min_per_class}")
    y = np.searchsorted(np.asarray(classes), labels)
    return TrialData(eeg.astype(np.float32, copy=False), fmri.astype(np.float32, copy=False), y.astype(np.int64),
                     classes, groups)


#: columns of a targets table that label trials rather than hold a target
_LABEL_COLUMNS = {"subject", "participant_id", "participant", "sub", "group", "groups", "trial", "trial_type",
                  "condition", "label", "labels", "class", "session", "run"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_targets(path: str | Path, column: str | None = None) -> tuple[str, np.ndarray]:
    """The numeric target of each trial from a text/TSV/CSV file.

    A single column of numbers (no header), or a table with a header row: the column
    named ``column``, else its only column that is not a trial label (``subject``,
    ``condition``, ...). Returns ``(target name, values float64)``.

    Raises
    ------
    InputError
        A cell that is not a number, a missing or non-finite value, several candidate
        columns and none chosen, an empty file.
    """
    path = Path(path)
    lines, sep = _lines(path, "targets file is empty: one number per trial")
    head = [c.strip() for c in lines[0].split(sep)]
    if all(_number(h) is not None for h in head):  # no header: numbers from the first line on
        if len(head) > 1:
            raise InputError(path, f"has {len(head)} columns but no header naming them; add a header row and "
                                   "choose the column with --target NAME")
        name, col, rows = (column or "target"), 0, lines
        if column is not None:
            raise InputError(path, f"has no header, so no column {column!r}; drop --target or add a header row")
    else:
        rows = lines[1:]
        if column is not None:
            if column not in head:
                raise InputError(path, f"no column {column!r}; its columns are {', '.join(head)}")
            col = head.index(column)
        else:
            cand = [i for i, h in enumerate(head) if h.lower() not in _LABEL_COLUMNS]
            if not cand:
                raise InputError(path, f"no target column (its columns {', '.join(head)} all label trials)")
            if len(cand) > 1:
                raise InputError(path, f"has {len(cand)} candidate target columns ({', '.join(head[i] for i in cand)}); "
                                       "choose one with --target NAME")
            col = cand[0]
        name = head[col]
    if not rows:
        raise InputError(path, "targets file has a header but no rows")
    out = np.empty(len(rows))
    for k, ln in enumerate(rows):
        cells = ln.split(sep)
        val = cells[col].strip() if col < len(cells) else ""
        if val == "" or val.lower() in ("n/a", "na", "nan"):
            raise InputError(path, f"row {k + 1} has no {name!r} value (empty or NaN); drop or repair that trial "
                                   "in every file")
        x = _number(val)
        if x is None:
            raise InputError(path, f"row {k + 1}: {val!r} in column {name!r} is not a number")
        if not np.isfinite(x):
            raise InputError(path, f"row {k + 1}: {name!r} is infinite")
        out[k] = x
    return name, out


def _check_common(eeg: np.ndarray, fmri: np.ndarray | None, groups: Any, where: dict[str, Any]) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    eeg = np.asarray(eeg)
    n = eeg.shape[0] if eeg.ndim else 0
    fmri = np.zeros((n, 0), np.float32) if fmri is None else np.asarray(fmri)
    for name, arr, ndim in (("eeg", eeg, 3), ("fmri", fmri, 2)):
        if arr.ndim != ndim:
            raise InputError(where.get(name), f"{name.upper()} must be {ndim}-D, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(where.get(name), f"{name.upper()} has NaN/infinite values; drop or repair those trials")
    if fmri.shape[0] != n:
        raise InputError(where.get("fmri"), f"has {fmri.shape[0]} trials but the EEG has {n}: both must hold the "
                                            "same trials in the same order")
    groups = np.asarray(groups).astype(str)
    if len(groups) != n:
        raise InputError(where.get("groups"), f"has {len(groups)} rows but the EEG has {n} trials: one subject per trial")
    subjects = sorted(set(groups.tolist()))
    if len(subjects) < 2:
        raise InputError(where.get("groups"), f"all trials belong to one subject ({subjects[0]!r}): leave-subjects-"
                                              "out cross-validation needs at least two subjects (three or more to "
                                              "early-stop on held-out subjects)")
    if np.all(eeg.std(axis=(0, 2)) == 0):
        raise InputError(where.get("eeg"), "EEG is constant: no signal to decode")
    return eeg, fmri, groups


def check_regression(eeg: np.ndarray, fmri: np.ndarray | None, target: Any, groups: Any, task: str = "amplitude",
                     where: dict[str, Any] | None = None, target_name: str = "target") -> TrialData:
    """Check the inputs of a regression task (``amplitude``: EEG + fMRI; ``roi-bold``: EEG only).

    Raises
    ------
    InputError
        Differing trial counts, NaNs, a constant target, one subject only.
    """
    where = where or {}
    if task not in REGRESSION_TASKS:
        raise ValueError(f"not a regression task: {task!r}")
    eeg, fmri, groups = _check_common(eeg, None if task == "roi-bold" else fmri, groups, where)
    n = eeg.shape[0]
    y = np.asarray(target, dtype=np.float64).ravel()
    if len(y) != n:
        raise InputError(where.get("targets"), f"has {len(y)} rows but the EEG has {n} trials: one target per trial")
    if not np.all(np.isfinite(y)):
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise InputError(where.get("targets"), f"target {target_name!r} is NaN/infinite in row {i + 1}; drop or "
                                               "repair that trial in every file")
    if np.ptp(y) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))):
        raise InputError(where.get("targets"), f"target {target_name!r} is constant ({y[0]:g} in all {n} trials): "
                                               "nothing to predict")
    return TrialData(eeg.astype(np.float32, copy=False), fmri.astype(np.float32, copy=False), y, [], groups,
                     task, target_name)


def load_files(eeg: Path, fmri: Path | None, labels: Path | None, groups: Path, task: str = "condition",
               targets: Path | None = None, target_column: str | None = None) -> TrialData:
    """Read and check the files of a task.

    ``condition``: ``EEG.npy``, ``FMRI.npy``, labels, groups; ``amplitude``: ``EEG.npy``,
    ``FMRI.npy``, targets, groups; ``roi-bold``: ``EEG.npy``, targets (the ROI's BOLD per
    trial), groups.
    """
    E = read_npy(eeg, 3, "EEG")
    F = read_npy(fmri, 2, "fMRI") if fmri is not None and task != "roi-bold" else None
    grp = read_column(groups, "groups")
    if task == "condition":
        lab = read_column(labels, "labels")
        return check_trials(E, F, lab, grp, {"eeg": eeg, "fmri": fmri, "labels": labels, "groups": groups})
    name, y = read_targets(targets, target_column)
    return check_regression(E, F, y, grp, task, {"eeg": eeg, "fmri": fmri, "targets": targets, "groups": groups},
                            name)
