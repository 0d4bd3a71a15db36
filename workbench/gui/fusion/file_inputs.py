"""The files a fusion method reads itself (its declared ``file_inputs``), chosen in the GUI.

The command line takes them as ``workbench fuse ID --x X.tsv``; here each declared file
input gets a row (a path field and *Browse…*; repeatable inputs take several files). The
chosen paths go into the study's ``extra_files`` (what the runner hashes into the
provenance and hands to the method, exactly as from the CLI) and into the project's
``settings["files"]``, so a saved project reopens with them and ``workbench run`` replays
the step on the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

#: between several files of a repeatable input, in the path field
SEPARATOR = ";"


def split_paths(text: str) -> list[Path]:
    """The paths typed or chosen in one field (``;``-separated), without empty parts."""
    return [Path(part.strip()) for part in text.split(SEPARATOR) if part.strip()]


class FileInputsForm(QWidget):
    """One row per declared file input: name, path field, *Browse…*.

    Emits ``changed(name, paths)`` when a field is edited or files are chosen.
    """

    changed = pyqtSignal(str, list)

    def __init__(self, file_inputs: Any, values: dict[str, list[Path]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inputs = list(file_inputs)
        self.edits: dict[str, QLineEdit] = {}
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Files the method reads</b>")
        title.setToolTip("The same files `workbench fuse` takes as options; kept in the project.")
        lay.addWidget(title, 0, 0, 1, 3)
        values = values or {}
        for row, f in enumerate(self.inputs, start=1):
            label = QLabel(f.name + (" *" if f.required else ""))
            tip = f.help + (" (required)" if f.required else " (optional)")
            if f.multiple:
                tip += f"; several files: separate them with '{SEPARATOR}' or choose several"
            label.setToolTip(tip)
            edit = QLineEdit(SEPARATOR.join(str(p) for p in values.get(f.name, [])))
            edit.setToolTip(tip)
            edit.setPlaceholderText("required" if f.required else "optional")
            edit.editingFinished.connect(lambda n=f.name: self._edited(n))
            browse = QPushButton("Browse…")
            browse.setToolTip(f"Choose the file(s) for {f.name}")
            browse.clicked.connect(lambda _=False, fi=f: self.browse(fi))
            lay.addWidget(label, row, 0)
            lay.addWidget(edit, row, 1)
            lay.addWidget(browse, row, 2)
            self.edits[f.name] = edit
        lay.setColumnStretch(1, 1)

    def paths(self, name: str) -> list[Path]:
        """The paths given for input ``name``."""
        edit = self.edits.get(name)
        return split_paths(edit.text()) if edit is not None else []

    def values(self) -> dict[str, list[Path]]:
        """Every input that has at least one path."""
        return {n: self.paths(n) for n in self.edits if self.paths(n)}

    def set_paths(self, name: str, paths: list[Path | str]) -> None:
        """Set the paths of ``name`` (as a user choosing them would) and emit ``changed``."""
        self.edits[name].setText(SEPARATOR.join(str(p) for p in paths))
        self._edited(name)

    def problems(self) -> list[str]:
        """One line per missing required input or path that is not a file."""
        out = []
        for f in self.inputs:
            paths = self.paths(f.name)
            if f.required and not paths:
                out.append(f"{f.name} is required ({f.help.split(':')[0]})")
            if len(paths) > 1 and not f.multiple:
                out.append(f"{f.name} takes one file, {len(paths)} given")
            out += [f"{p}: file not found ({f.name})" for p in paths if not p.is_file()]
        return out

    def browse(self, f: Any) -> None:
        start = str(self.paths(f.name)[0].parent) if self.paths(f.name) else ""
        if f.multiple:
            chosen, _ = QFileDialog.getOpenFileNames(self, f"Files for {f.name}", start)
        else:
            one, _ = QFileDialog.getOpenFileName(self, f"File for {f.name}", start)
            chosen = [one] if one else []
        if chosen:
            self.set_paths(f.name, chosen)

    def _edited(self, name: str) -> None:
        self.changed.emit(name, self.paths(name))
