"""Project tree: subjects, recordings, anatomy, digitisation, derivatives, results.

Built from the Session and its Project; rebuilt on their signals. Double-clicking an
item asks the main window to show the tab that displays it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QPalette
from PyQt6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from workbench.engine.io.open import HEADER_ONLY

from .signals import connect

#: input kind -> (group title, tab that shows it)
KIND_GROUPS = {
    "eeg": ("Recordings (EEG)", "Traces"),
    "bold": ("Functional (BOLD)", "Slices & Maps"),
    "anat": ("Anatomy", "Slices & Maps"),
    "dig": ("Digitisation", "3D Coregistration"),
    "events": ("Events", None),
    "sidecar": ("Sidecars", None),
    "other": ("Other files", None),
}
MAX_DERIVATIVES = 200
TAB_ROLE = Qt.ItemDataRole.UserRole
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
SUBJECT_ROLE = Qt.ItemDataRole.UserRole + 2


def is_header_only(description: str) -> bool:
    """Whether an input's description marks a recording opened header-only."""
    return (description or "").startswith(HEADER_ONLY)


def _describe_raw(raw: Any) -> str:
    sf = raw.info["sfreq"]
    dur = raw.n_times / sf
    bads = raw.info["bads"]
    txt = f"{len(raw.ch_names)} ch · {sf:g} Hz · {dur:.1f} s"
    return txt + (f" · bad: {', '.join(bads)}" if bads else "")


def _describe_img(img: Any) -> str:
    shape = "×".join(str(s) for s in img.shape)
    zooms = img.header.get_zooms()[:3]
    return f"{shape} · {'×'.join(f'{z:.3g}' for z in zooms)} mm"


def _describe_dig(dig: Any) -> str:
    try:
        from mne.io.constants import FIFF

        kinds = [d["kind"] for d in dig.dig]
        n_eeg = sum(k == FIFF.FIFFV_POINT_EEG for k in kinds)
        n_fid = sum(k == FIFF.FIFFV_POINT_CARDINAL for k in kinds)
        n_hsp = sum(k == FIFF.FIFFV_POINT_EXTRA for k in kinds)
        return f"{n_eeg} electrodes · {n_fid} fiducials · {n_hsp} head-shape points"
    except (AttributeError, KeyError, TypeError):
        return "digitisation"


class ProjectTree(QTreeWidget):
    """Tree view of what is open.

    Emits ``show_tab(title)`` on double-click of an item with a view, and
    ``open_subject(label)`` on double-click of a study's subject that is not loaded.
    """

    show_tab = pyqtSignal(str)
    open_subject = pyqtSignal(str)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setHeaderLabels(["Item", "Details"])
        self.setColumnWidth(0, 175)
        self.setMinimumWidth(160)
        self.setToolTip(
            "What is open: the project's subjects and input files, derivatives written by "
            "the steps, results, and the data loaded now. Double-click to show it."
        )
        self._project: Any = None
        self._drop_project: Any = None
        self.itemDoubleClicked.connect(self._double_clicked)
        for sig in (session.project_changed, session.raw_changed, session.cleaned_changed,
                    session.anat_changed, session.bold_changed, session.dig_changed,
                    session.scalp_changed, session.trans_changed, session.truth_changed,
                    session.stats_changed, session.bads_changed):
            connect(self, sig, self._session_changed)
        self.rebuild()

    def _session_changed(self, *_: Any) -> None:
        proj = self.session.project
        if proj is not self._project:
            if self._drop_project is not None:
                self._drop_project()
                self._drop_project = None
            self._project = proj
            if proj is not None:
                self._drop_project = connect(self, proj.changed, self.rebuild)
        self.rebuild()

    def _item(self, parent: Any, text: str, detail: str = "", tab: str | None = None,
              path: str | None = None) -> QTreeWidgetItem:
        it = QTreeWidgetItem([text, detail])
        if tab:
            it.setData(0, TAB_ROLE, tab)
        if path:
            it.setData(0, PATH_ROLE, path)
            it.setToolTip(0, path)
        if detail:
            it.setToolTip(1, detail)
        (parent.addChild if isinstance(parent, QTreeWidgetItem) else parent.addTopLevelItem)(it)
        return it

    def rebuild(self, *_: Any) -> None:
        """Recreate all items from the Session and Project."""
        self.clear()
        s = self.session
        proj = s.project
        if proj is not None:
            root = self._item(self, f"Project: {proj.name}", str(proj.root), path=str(proj.root))
            subjects = list(proj.subjects) or sorted({i.subject for i in proj.inputs})
            subj_root = self._item(root, "Subjects", f"{len(subjects)}")
            for sub in subjects:
                sit = self._item(subj_root, f"sub-{sub}")
                if not any(i.subject == sub for i in proj.inputs):
                    sit.setText(1, "not loaded")
                    sit.setToolTip(0, "This subject of the study is not loaded: double-click "
                                      "to open the study with this subject.")
                    sit.setToolTip(1, sit.toolTip(0))
                    sit.setData(0, SUBJECT_ROLE, str(sub))
                    self._grey(sit)
                for kind, (title, tab) in KIND_GROUPS.items():
                    files = proj.inputs_of(kind, sub)
                    if not files:
                        continue
                    git = self._item(sit, title, f"{len(files)} file(s)", tab=tab)
                    for f in files:
                        fit = self._item(git, Path(f.path).name, f.description or kind, tab=tab,
                                         path=str(proj.abspath(f.path)))
                        if kind == "eeg" and is_header_only(f.description):
                            fit.setData(0, TAB_ROLE, None)
                            self._grey(fit)
            der = self._item(root, "Derivatives")
            if proj.derivatives.is_dir():
                files = sorted(p for p in proj.derivatives.rglob("*") if p.is_file())
                for p in files[:MAX_DERIVATIVES]:
                    self._item(der, p.relative_to(proj.derivatives).as_posix(), path=str(p))
                if len(files) > MAX_DERIVATIVES:
                    self._item(der, f"… {len(files) - MAX_DERIVATIVES} more")
            der.setText(1, f"{der.childCount()} file(s)")
            steps = self._item(root, "Steps (provenance)", f"{len(proj.steps)}")
            for st in proj.steps:
                qc = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in list(st.qc.items())[:3])
                self._item(steps, st.name, f"{st.status} {qc}".strip())
            res = self._item(root, "Results", f"{len(proj.results) + len(s.stats)}")
            for key in proj.results:
                self._item(res, key, "stored result")
            for key in s.stats:
                self._item(res, key, "map", tab="Slices & Maps")
            root.setExpanded(True)
            subj_root.setExpanded(True)
            for i in range(subj_root.childCount()):
                sub_item = subj_root.child(i)
                sub_item.setExpanded(True)
                for j in range(sub_item.childCount()):
                    sub_item.child(j).setExpanded(True)
        loaded = self._item(self, "Loaded data")
        if s.raw is not None:
            self._item(loaded, "EEG", _describe_raw(s.raw), tab="Traces")
        elif proj is not None:
            for f in self._header_only_inputs(proj):
                self._header_only_item(loaded, f)
        if s.cleaned is not None:
            self._item(loaded, "Cleaned EEG", _describe_raw(s.cleaned), tab="Traces")
        if s.anat is not None:
            self._item(loaded, "T1 anatomy", _describe_img(s.anat), tab="Slices & Maps")
        if s.bold is not None:
            tr = s.bold_meta.get("RepetitionTime")
            extra = f" · TR {tr:g} s" if tr else ""
            self._item(loaded, "BOLD", _describe_img(s.bold) + extra, tab="Slices & Maps")
        if s.dig is not None:
            self._item(loaded, "Digitisation", _describe_dig(s.dig), tab="3D Coregistration")
        if s.scalp is not None:
            n = len(s.scalp.get("rr", [])) if isinstance(s.scalp, dict) else 0
            self._item(loaded, "Scalp surface", f"{n} vertices", tab="3D Coregistration")
        files = getattr(getattr(s, "study", None), "files", None) or {}
        if files.get("fiducials") is not None:
            self._item(loaded, "MRI fiducials", f"{Path(files['fiducials']).name} (for coregistration)",
                       tab="3D Coregistration", path=str(files["fiducials"]))
        if s.trans is not None:
            self._item(loaded, "Head → MRI transform", "set", tab="3D Coregistration")
        if s.truth is not None:
            self._item(loaded, "Ground truth", "phantom (simulated data)")
        if loaded.childCount() == 0:
            self._item(loaded, "nothing yet", "File ▸ Open…, drop a file here, or Open demo")
        loaded.setExpanded(True)
        self.resizeColumnToContents(0)
        self.setColumnWidth(0, min(self.columnWidth(0) + 8, 210))

    def _grey(self, item: QTreeWidgetItem) -> None:
        brush = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        for col in (0, 1):
            item.setForeground(col, brush)

    def _header_only_inputs(self, proj: Any) -> list[Any]:
        """EEG inputs of the loaded subject that were opened without their signal."""
        files = getattr(getattr(self.session, "study", None), "files", None) or {}
        eeg = files.get("eeg")
        out = [f for f in proj.inputs_of("eeg") if is_header_only(f.description)]
        if eeg is not None:
            mine = [f for f in out if proj.abspath(f.path) == Path(eeg) or Path(f.path).name == Path(eeg).name]
            out = mine or out[:1]
        return out[:1]

    def _header_only_item(self, parent: Any, f: Any) -> None:
        """A greyed 'EEG (header only)' item: channels, rate, duration, markers, the reason."""
        parts = [p.strip() for p in f.description.split("·")][1:]
        reason = parts[-1] if parts else "signal not readable"
        detail = " · ".join(parts[:-1])
        it = self._item(parent, "EEG (header only)", f"{detail} · not plotted", path=str(f.path))
        it.setToolTip(0, f"{f.path}: the header and markers were read; the signal is not plotted "
                         f"({reason}).")
        self._grey(it)
        if len(parts) >= 5:  # channels · rate · duration · markers · reason
            self._item(it, "channels", f"{parts[0]} · {parts[1]}")
            self._item(it, "duration", parts[2])
            self._item(it, "markers", parts[3])
        why = self._item(it, "signal", reason)
        self._grey(why)
        it.setExpanded(True)

    def _double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        subject = item.data(0, SUBJECT_ROLE)
        if subject:
            self.open_subject.emit(str(subject))
            return
        tab = item.data(0, TAB_ROLE)
        if tab:
            self.show_tab.emit(str(tab))

    def find_items(self, text: str) -> list[QTreeWidgetItem]:
        """Items whose first column is ``text`` (for tests)."""
        return self.findItems(text, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)
