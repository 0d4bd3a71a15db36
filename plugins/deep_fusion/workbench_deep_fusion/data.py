"""The inputs of deep fusion: reading the four files and checking them (one-line errors).

``EEG.npy`` trials x channels x times, ``FMRI.npy`` trials x features (both read with
``allow_pickle=False``), a labels file and a subject-groups file with one row per trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["TrialData", "read_npy", "read_column", "check_trials", "load_files"]

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
    y : ndarray of int
        Class index per trial (into ``classes``).
    classes : list of str
    groups : ndarray of str
        Subject per trial.
    """

    eeg: np.ndarray
    fmri: np.ndarray
    y: np.ndarray
    classes: list[str]
    groups: np.ndarray

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


def read_column(path: str | Path, what: str) -> list[str]:
    """One value per trial from a text/TSV/CSV file.

    A single column, or a table whose header names the column (``label``/``condition``/
    ``trial_type`` for labels, ``group``/``subject``/``participant_id`` for groups). A
    first line equal to one of those names is a header; every other line is a trial.
    """
    path = Path(path)
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
        raise InputError(path, f"{what} file is empty: one row per trial")
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
    eeg = np.asarray(eeg)
    fmri = np.asarray(fmri)
    n = eeg.shape[0]
    for name, arr, ndim in (("eeg", eeg, 3), ("fmri", fmri, 2)):
        if arr.ndim != ndim:
            raise InputError(where.get(name), f"{name.upper()} must be {ndim}-D, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(where.get(name), f"{name.upper()} has NaN/infinite values; drop or repair those trials")
    if fmri.shape[0] != n:
        raise InputError(where.get("fmri"), f"has {fmri.shape[0]} trials but the EEG has {n}: both must hold the "
                                            "same trials in the same order")
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups).astype(str)
    if len(labels) != n:
        raise InputError(where.get("labels"), f"has {len(labels)} rows but the EEG has {n} trials: one label per trial")
    if len(groups) != n:
        raise InputError(where.get("groups"), f"has {len(groups)} rows but the EEG has {n} trials: one subject per trial")
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise InputError(where.get("labels"), f"all {n} trials have the label {classes[0]!r}: decoding needs at "
                                              "least two classes")
    counts = {c: int((labels == c).sum()) for c in classes}
    rare = [c for c, k in counts.items() if k < min_per_class]
    if rare:
        raise InputError(where.get("labels"), f"class {rare[0]!r} has {counts[rare[0]]} trial(s): each class "
                                              f"needs at least {min_per_class}")
    subjects = sorted(set(groups.tolist()))
    if len(subjects) < 2:
        raise InputError(where.get("groups"), f"all trials belong to one subject ({subjects[0]!r}): leave-subjects-"
                                              "out cross-validation needs at least two subjects (three or more to "
                                              "early-stop on held-out subjects)")
    if np.all(eeg.std(axis=(0, 2)) == 0):
        raise InputError(where.get("eeg"), "EEG is constant: no signal to decode")
    y = np.searchsorted(np.asarray(classes), labels)
    return TrialData(eeg.astype(np.float32, copy=False), fmri.astype(np.float32, copy=False), y.astype(np.int64),
                     classes, groups)


def load_files(eeg: Path, fmri: Path, labels: Path, groups: Path) -> TrialData:
    """Read and check ``EEG.npy``, ``FMRI.npy``, the labels and the groups file."""
    E = read_npy(eeg, 3, "EEG")
    F = read_npy(fmri, 2, "fMRI")
    lab = read_column(labels, "labels")
    grp = read_column(groups, "groups")
    return check_trials(E, F, lab, grp, {"eeg": eeg, "fmri": fmri, "labels": labels, "groups": groups})
