"""Where the slice timing of a gradient correction comes from (``workbench clean``).

The slice slots of a volume are best taken from the BOLD run's BIDS sidecar
(``SliceTiming``, ``MultibandAccelerationFactor``); without it they are detected from the
volume triggers' artifact, which can be ambiguous (see ``sync.slot_detection`` in the QC).
``workbench clean`` is given one EEG file: :func:`choose_slice_timing` uses, in this
order, a sidecar given on the command line, the sidecar the opened study already has (a
study or project folder), or the BOLD sidecar recorded with the EEG file in its BIDS
folder (``sub-*/[ses-*/]func/*_bold.json`` with the same task/run, or the dataset-level
``task-*_bold.json`` that BIDS inheritance allows), and says which one in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.open import bids_entities


@dataclass
class TimingChoice:
    """The slice timing a run will use.

    Attributes
    ----------
    path : Path | None
        The BOLD sidecar used (None: none, slots detected from the triggers).
    how : str
        ``"given"``, ``"study"``, ``"found"`` or ``"none"``.
    message : str
        One line for the user.
    """

    path: Path | None
    how: str
    message: str


def find_bold_sidecar(eeg_path: str | os.PathLike) -> Path | None:
    """The BIDS BOLD sidecar recorded with ``eeg_path``, or None.

    Parameters
    ----------
    eeg_path : path-like
        An EEG file inside a BIDS folder (``.../sub-X/[ses-Y/]eeg/...``).

    Returns
    -------
    Path | None
        ``func/*_bold.json`` beside the ``eeg`` folder whose entities agree best with the
        EEG's (a different task or run is never chosen), else a dataset-level
        ``task-T_bold.json`` for the EEG's task; None outside a BIDS folder.
    """
    eeg = Path(eeg_path)
    if eeg.parent.name != "eeg":
        return None
    ent = bids_entities(eeg)
    level = eeg.parent.parent  # sub-X or ses-Y
    cands = sorted((level / "func").glob("*_bold.json")) if (level / "func").is_dir() else []

    def fits(c: Path) -> int | None:
        ce = bids_entities(c)
        shared = ent.keys() & ce.keys()
        if any(ent[k] != ce[k] for k in shared if k in ("sub", "ses", "task", "run", "acq")):
            return None
        return sum(ent[k] == ce[k] for k in shared)

    scored = [(s, c) for c in cands if (s := fits(c)) is not None]
    if scored:
        return max(scored, key=lambda sc: sc[0])[1]
    # BIDS inheritance: a sidecar for the whole task at the dataset root
    root = level.parent if level.name.startswith("sub-") else level.parent.parent
    if "task" in ent and any(root.glob("sub-*")):
        top = root / f"task-{ent['task']}_bold.json"
        if top.is_file():
            return top
    return None


def choose_slice_timing(study: Any, given: str | os.PathLike | None = None) -> TimingChoice:
    """Decide (and set on ``study``) the BOLD sidecar a correction uses.

    Parameters
    ----------
    study : Study
        The opened study; its ``bold_meta`` and ``files["bold_json"]`` are set when a
        sidecar is given or found.
    given : path-like | None
        A sidecar the user named (``--slice-timing``): always used; an unreadable one is
        an error.

    Returns
    -------
    TimingChoice
    """
    from ..sync import read_bold_sidecar

    def has_st(meta: dict[str, Any]) -> bool:
        return bool(meta.get("SliceTiming"))

    if given is not None:
        path = Path(given)
        study.bold_meta = read_bold_sidecar(path)
        study.files["bold_json"] = path
        what = "its SliceTiming" if has_st(study.bold_meta) else "no SliceTiming in it, slots detected from the triggers"
        return TimingChoice(path, "given", f"slice timing: {path} (--slice-timing; {what})")
    meta = dict(study.bold_meta or {})
    if has_st(meta):
        path = study.files.get("bold_json")
        where = f"the study's BOLD sidecar {path}" if path else "the study's BOLD sidecar"
        return TimingChoice(Path(path) if path else None, "study", f"slice timing: {where}")
    found = find_bold_sidecar(study.eeg_path) if study.eeg_path is not None else None
    if found is not None:
        try:
            side = read_bold_sidecar(found)
        except InputError as exc:
            return TimingChoice(None, "none", f"slice timing: {found} found but not used "
                                f"({exc.args[0] if exc.args else exc}); slots detected from the triggers")
        if has_st(side):
            study.bold_meta = {**meta, **side}
            study.files["bold_json"] = found
            return TimingChoice(found, "found", f"slice timing: {found} (the BOLD sidecar recorded with the EEG)")
        note = f"{found} has no SliceTiming"
    else:
        note = "no BOLD sidecar with SliceTiming found beside the EEG"
    return TimingChoice(None, "none", f"slice timing: {note}; slots detected from the volume triggers "
                        "(give --slice-timing BOLD.json to set them)")
