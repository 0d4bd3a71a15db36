"""Pipeline bar: one button per registered step, coloured by its state in the project."""

from __future__ import annotations

import logging
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from .signals import connect

log = logging.getLogger(__name__)

STATE_STYLE = {
    "done": ("✓", "#2e7d32", "#e8f5e9"),
    "failed": ("✗", "#b00020", "#fdecea"),
    "cancelled": ("–", "#a05a00", "#fff4e5"),
    "stale": ("↻", "#8a6d00", "#fff8d6"),
    "not run": ("○", "#555555", "#f4f4f4"),
}


def short_title(title: str, limit: int = 24) -> str:
    """A button title that keeps the pipeline narrow (the full title is in the tooltip)."""
    if len(title) > limit and " (" in title:
        title = title.split(" (")[0]
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


#: title lengths tried, longest first, until the whole pipeline fits the window's width
TITLE_LIMITS = (24, 16, 11)


def button_title(spec: Any, limit: int) -> str:
    """The step's title within ``limit`` characters; below the longest limit, the step's
    declared short ``label`` ("CCA", "Sync") when it has one."""
    title = spec.title or spec.id
    label = getattr(spec, "label", "")
    if limit < TITLE_LIMITS[0] and label and len(title) > len(label):
        return label
    return short_title(title, limit)


def step_states(steps: list[Any], project: Any) -> dict[str, str]:
    """State of each step name: the status of its latest record, else ``"not run"``.

    A step whose EEG was dropped because a step before it ran again is ``"stale"``, and
    so is a step that read an EEG version dropped since (a fusion result made from it).
    """
    from workbench.engine.study import eeg_chain

    states = {s.id: "not run" for s in steps}
    if project is not None:
        for rec in project.steps:
            if rec.name in states:
                states[rec.name] = rec.status if rec.status in STATE_STYLE else "done"
        eeg_steps = {s.id for s in steps if "eeg" in s.provides}
        readers = {s.id for s in steps if "eeg" in (*getattr(s, "requires", ()), *getattr(s, "optional", ()))}
        _, stale = eeg_chain(project.steps, lambda rec: rec.name in eeg_steps,
                             lambda rec: rec.name in readers)
        for name in stale:
            if states.get(name) == "done":
                states[name] = "stale"
    return states


class PipelineBar(QWidget):
    """Shows each registered step's state; clicking one selects it (``step_selected``)."""

    step_selected = pyqtSignal(str)

    def __init__(self, session: Any, catalog: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.steps = [s for s in catalog.values() if s.available]
        self.error = ""
        self.buttons: dict[str, QToolButton] = {}
        #: longest button title (characters): lowered by :meth:`fit_width` on a narrow window
        self.title_limit = TITLE_LIMITS[0]
        self._states: dict[str, str] = {}  # step -> state, as last refreshed
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(3)
        title = QLabel("<b>Pipeline</b>")
        title.setToolTip("Each step of the analysis, in order; ✓ done, ✗ failed, ○ not run yet, "
                         "↻ run again (a step before it was run again, which dropped its result "
                         "or the EEG its result was made from).")
        lay.addWidget(title)
        for i, spec in enumerate(self.steps):
            if i:
                arrow = QLabel("→")
                arrow.setStyleSheet("color:#888")
                lay.addWidget(arrow)
            b = QToolButton()
            b.setCheckable(True)
            b.setAutoRaise(False)
            b.setToolTip(f"<b>{spec.title}</b> ({spec.stage}): {spec.teaching or 'no description'}")
            b.clicked.connect(lambda _c=False, n=spec.id: self.select(n))
            self.group.addButton(b)
            self.buttons[spec.id] = b
            lay.addWidget(b)
        if not self.steps:
            msg = QLabel(f"no steps registered{' (' + self.error + ')' if self.error else ''}")
            msg.setStyleSheet("color:#888")
            lay.addWidget(msg)
        lay.addStretch(1)
        self._drop_project: Any = None
        connect(self, session.project_changed, self._project_changed)
        self._project_changed(session.project)

    def _project_changed(self, project: Any) -> None:
        if self._drop_project is not None:
            self._drop_project()
            self._drop_project = None
        if project is not None:
            self._drop_project = connect(self, project.changed, lambda *_: self.refresh())
        self.refresh()

    def states(self) -> dict[str, str]:
        return step_states(self.steps, self.session.project)

    def _set_texts(self) -> None:
        """Each button's state mark and title (within :attr:`title_limit`)."""
        for spec in self.steps:
            mark = STATE_STYLE[self._states.get(spec.id, "not run")][0]
            self.buttons[spec.id].setText(f"{mark} {button_title(spec, self.title_limit)}")

    def refresh(self) -> None:
        self._states = self.states()
        self._set_texts()
        for name, state in self._states.items():
            b = self.buttons[name]
            _mark, fg, bg = STATE_STYLE[state]
            b.setStyleSheet(
                f"QToolButton {{color:{fg}; background:{bg}; border:1px solid {fg}; "
                f"border-radius:3px; padding:2px 6px;}} "
                f"QToolButton:checked {{border:2px solid #1565c0;}}"
            )

    def fit_width(self, width: int) -> None:
        """Shorten the titles until every step's button fits ``width`` pixels.

        At 1366 px the full titles of a dozen steps need about 1.5 screens, and the fusion
        methods sat off-screen behind a scroll bar; the full title stays in each tooltip.
        The bar still scrolls when even the shortest titles do not fit.
        """
        for limit in TITLE_LIMITS:
            if limit != self.title_limit:
                self.title_limit = limit
                self._set_texts()  # the texts only: the states did not change
            if self.sizeHint().width() <= width:
                return

    def select(self, name: str) -> None:
        if name in self.buttons:
            self.buttons[name].setChecked(True)
            self.step_selected.emit(name)
