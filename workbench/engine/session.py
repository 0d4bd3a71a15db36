"""The session: the open :class:`~workbench.engine.study.Study` as an evented model.

The GUI's views observe a :class:`Session`: it wraps the one Study (the same object
steps, the CLI and replay use) and emits a signal whenever a part of it changes. Only
the session's setters and :meth:`Session.adopt` change the study, on the GUI thread;
views never assign model fields or emit these signals themselves. Nothing here knows Qt.
"""

from __future__ import annotations

from typing import Any

from psygnal import Signal

from .commands import CommandStack
from .project import Project
from .study import Study


def _field(name: str) -> property:
    return property(lambda self: getattr(self.study, name),
                    lambda self, value: setattr(self.study, name, value))


class Session:
    """The open study (evented).

    Attributes
    ----------
    study : Study
        The study; read through the properties below or directly.
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
    result_changed = Signal(str, object)  #: step id, StepResult
    message = Signal(str)

    def __init__(self, study: Study | None = None) -> None:
        self.study = study if study is not None else Study()
        self.undo = CommandStack()

    # ------------------------------------------------------------------ access
    # (assigning through these is for code that fills a session nobody observes yet,
    # such as the loading worker's staged session; views use the setters below)
    project = _field("project")
    raw = _field("raw")
    anat = _field("anat")
    bold = _field("bold")
    bold_meta = _field("bold_meta")
    dig = _field("dig")
    scalp = _field("scalp")
    trans = _field("trans")
    truth = _field("truth")
    stats = _field("stats")
    results = _field("results")
    cleaned = property(lambda self: self.study.cleaned)
    eeg = property(lambda self: self.study.eeg)

    # ------------------------------------------------------------------ setters (GUI thread)
    def set_project(self, project: Project | None) -> None:
        self.study.set_project(project)
        self.undo.clear()
        self.project_changed.emit(project)

    def set_raw(self, raw: Any) -> None:
        self.study.set_raw(raw)
        self.raw_changed.emit(raw)
        self.cleaned_changed.emit(None)

    def set_cleaned(self, raw: Any) -> None:
        self.study.set_cleaned(raw)
        self.cleaned_changed.emit(raw)

    def set_anat(self, img: Any) -> None:
        self.study.set_anat(img)
        self.anat_changed.emit(img)

    def set_bold(self, img: Any, meta: dict[str, Any] | None = None) -> None:
        self.study.set_bold(img, meta)
        self.bold_changed.emit(img)

    def set_dig(self, dig: Any) -> None:
        self.study.set_dig(dig)
        self.dig_changed.emit(dig)

    def set_scalp(self, surf: dict[str, Any] | None) -> None:
        self.study.set_scalp(surf)
        self.scalp_changed.emit(surf)

    def set_trans(self, trans: Any) -> None:
        self.study.set_trans(trans)
        self.trans_changed.emit(trans)

    def set_truth(self, truth: Any) -> None:
        self.study.set_truth(truth)
        self.truth_changed.emit(truth)

    def set_stat(self, name: str, img: Any) -> None:
        self.study.set_stat(name, img)
        self.stats_changed.emit(name)

    def set_bads(self, bads: list[str]) -> None:
        """Mark bad channels on the EEG (an undoable edit: push a command to call this)."""
        if self.study.raw is not None:
            self.study.raw.info["bads"] = list(bads)
        self.bads_changed.emit(list(bads))

    def set_files(self, files: dict[str, Any], subject: str | None = None) -> None:
        """Record where the study's inputs are (used for derivative names and provenance)."""
        self.study.set_files(files, subject)

    # ------------------------------------------------------------------ step results
    def adopt(self, worked: Study, project: Project | None = None, step_ids: list[str] | None = None) -> list[str]:
        """Take over what steps run on a :meth:`Study.fork` produced (GUI thread).

        Parameters
        ----------
        worked : Study
            The fork the runner ran on.
        project : Project | None
            The project copy the runner recorded into (becomes the session's project,
            keeping the undo history: it is the same document with more steps).
        step_ids : list of str | None
            The steps that ran (their results are announced).

        Returns
        -------
        list of str
            What changed, for the log.
        """
        st = self.study
        changed: list[str] = []
        if project is not None:
            st.project = project
            self.project_changed.emit(project)
        # only what the steps that ran provide is taken over: anything else changed on the
        # GUI thread while they ran (a transform set by hand, another edit) stays as it is
        provided = {k for sid in step_ids or [] if sid in worked.results for k in worked.results[sid].provides}
        if "eeg" in provided and worked.history != st.history:
            st.history = list(worked.history)
            self.cleaned_changed.emit(st.cleaned)
            changed.append("cleaned EEG")
        for key in ("sync", "rpeaks", "mask", "forward"):
            if key in provided and getattr(worked, key) is not getattr(st, key):
                setattr(st, key, getattr(worked, key))
                changed.append(key)
        if "trans" in provided and worked.trans is not st.trans:
            self.set_trans(worked.trans)
            changed.append("head-MRI transform")
        st.derivatives.update(worked.derivatives)
        for sid in step_ids or []:
            if sid in worked.results:
                st.results[sid] = worked.results[sid]
                self.result_changed.emit(sid, worked.results[sid])
        return changed
