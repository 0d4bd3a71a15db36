"""The session: what is open right now, as an evented model the GUI views observe.

A :class:`Session` holds the current :class:`~workbench.engine.project.Project` and the
data objects loaded from it (EEG as ``mne.io.Raw``, images as nibabel images,
digitisation as ``mne.channels.DigMontage``, the scalp surface, the head<->MRI
transform, phantom ground truth, cleaned EEG). Each setter emits a signal; views
subscribe and redraw. Nothing here knows Qt; every GUI action is a call on this object
(or on the engine) that a test can replay.
"""

from __future__ import annotations

from typing import Any

from psygnal import Signal

from .commands import CommandStack
from .project import Project


class Session:
    """Currently open project and data (evented).

    Attributes
    ----------
    project : Project | None
    raw : mne.io.BaseRaw | None
        The EEG as loaded (never modified in place).
    cleaned : mne.io.BaseRaw | None
        The EEG after the latest correction step, for before/after views.
    anat, bold : nibabel image | None
        T1-weighted anatomy and 4D BOLD series.
    bold_meta : dict
        BOLD sidecar (``RepetitionTime``, ``SliceTiming``, ...).
    dig : mne.channels.DigMontage | None
        Digitised electrodes, fiducials and head-shape points (head frame).
    scalp : dict | None
        ``{"rr": (n, 3) float m, "tris": (m, 3) int}`` in the MRI (surface RAS) frame.
    trans : mne.transforms.Transform | None
        head -> MRI transform.
    truth : Any
        Phantom ground truth when the data are simulated.
    stats : dict
        Named statistical maps (nibabel images) from fusion results.
    undo : CommandStack
        Undo/redo for every edit.
    """

    project_changed = Signal(object)
    raw_changed = Signal(object)
    cleaned_changed = Signal(object)
    anat_changed = Signal(object)
    bold_changed = Signal(object)
    dig_changed = Signal(object)
    scalp_changed = Signal(object)
    trans_changed = Signal(object)
    truth_changed = Signal(object)
    stats_changed = Signal(object)
    bads_changed = Signal(object)
    message = Signal(str)

    def __init__(self) -> None:
        self.project: Project | None = None
        self.raw: Any = None
        self.cleaned: Any = None
        self.anat: Any = None
        self.bold: Any = None
        self.bold_meta: dict[str, Any] = {}
        self.dig: Any = None
        self.scalp: dict[str, Any] | None = None
        self.trans: Any = None
        self.truth: Any = None
        self.stats: dict[str, Any] = {}
        self.undo = CommandStack()

    # each setter replaces the object and tells the views
    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.undo.clear()
        self.project_changed.emit(project)

    def set_raw(self, raw: Any) -> None:
        self.raw = raw
        self.raw_changed.emit(raw)

    def set_cleaned(self, raw: Any) -> None:
        self.cleaned = raw
        self.cleaned_changed.emit(raw)

    def set_anat(self, img: Any) -> None:
        self.anat = img
        self.anat_changed.emit(img)

    def set_bold(self, img: Any, meta: dict[str, Any] | None = None) -> None:
        self.bold = img
        self.bold_meta = dict(meta or {})
        self.bold_changed.emit(img)

    def set_dig(self, dig: Any) -> None:
        self.dig = dig
        self.dig_changed.emit(dig)

    def set_scalp(self, surf: dict[str, Any] | None) -> None:
        self.scalp = surf
        self.scalp_changed.emit(surf)

    def set_trans(self, trans: Any) -> None:
        self.trans = trans
        self.trans_changed.emit(trans)

    def set_truth(self, truth: Any) -> None:
        self.truth = truth
        self.truth_changed.emit(truth)

    def set_stat(self, name: str, img: Any) -> None:
        self.stats[name] = img
        self.stats_changed.emit(name)

    def set_bads(self, bads: list[str]) -> None:
        """Mark bad channels on the EEG (an undoable edit: push a command to call this)."""
        if self.raw is not None:
            self.raw.info["bads"] = list(bads)
        self.bads_changed.emit(list(bads))
