"""Inputs handed to a fusion method and the serialisable result it returns."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.atomic import atomic_path, atomic_write_json
from workbench.engine.errors import InputError

__all__ = ["FusionInputs", "FusionResult", "RESULT_SCHEMA"]

RESULT_SCHEMA = "workbench.fusion-result/1"


@dataclass
class FusionInputs:
    """The data a fusion method may use; methods read these and never modify them.

    Attributes
    ----------
    eeg : mne.io.BaseRaw | None
        Cleaned EEG when available, else the raw EEG.
    bold : nibabel image | None
        4D BOLD series.
    bold_meta : dict
        BOLD sidecar (``RepetitionTime`` in s, ``SliceTiming`` list in s, ...).
    events : pandas.DataFrame | None
        BIDS events (``onset``, ``duration``, ``trial_type``, ...) on the fMRI clock (s).
    anat : nibabel image | None
        T1-weighted anatomy (for display).
    mask : nibabel image | None
        Brain mask for the analysis.
    trans, forward, dig : Any
        Head<->MRI transform, forward model, digitisation.
    eeg_offset : float
        Time (s) on the EEG clock of the first fMRI volume (0 when the EEG was synchronised
        onto the scanner clock).
    """

    eeg: Any = None
    bold: Any = None
    bold_meta: dict[str, Any] = field(default_factory=dict)
    events: Any = None
    anat: Any = None
    mask: Any = None
    trans: Any = None
    forward: Any = None
    dig: Any = None
    eeg_offset: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)  #: kind -> file it came from
    #: declared file inputs given on the command line: name -> list of paths (read by the method)
    files: dict[str, list[Any]] = field(default_factory=dict)

    def get(self, kind: str) -> Any:
        return getattr(self, kind, None)

    def require(self, kinds: tuple[str, ...] | list[str], method_id: str) -> None:
        """Raise a one-line :class:`InputError` naming every missing input."""
        missing = [k for k in kinds if self.get(k) is None]
        if missing:
            raise InputError(
                None,
                f"method {method_id!r} needs {', '.join(missing)}, which the project does not have",
            )

    def fingerprint(self) -> str:
        """A hash of the inputs' contents, used to prove a method did not modify them."""
        h = hashlib.sha256()
        if self.eeg is not None:
            h.update(np.ascontiguousarray(self.eeg.get_data()).tobytes())
            h.update(repr(self.eeg.info["bads"]).encode())
            h.update(repr(len(self.eeg.annotations)).encode())
        for img in (self.bold, self.anat, self.mask):
            if img is not None:
                h.update(np.ascontiguousarray(np.asanyarray(img.dataobj)).tobytes())
                h.update(np.asarray(img.affine).tobytes())
        h.update(json.dumps(self.bold_meta, sort_keys=True, default=str).encode())
        if self.events is not None:
            h.update(self.events.to_csv(index=False).encode())
        return h.hexdigest()


def _plain(obj: Any) -> Any:
    """Recursively convert numpy values to JSON-able Python values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@dataclass
class FusionResult:
    """What a fusion method returns; every field is serialisable.

    Attributes
    ----------
    method : str
        Method id.
    params : dict
        The validated parameters used.
    maps : dict[str, nibabel.Nifti1Image]
        3D statistical maps (written as NIfTI).
    timecourses : dict[str, dict]
        ``{"t": array (s), "series": {label: array}, "unit": str}``.
    matrices : dict[str, dict]
        ``{"values": 2D array, "rows": [labels], "columns": [labels]}``.
    tables : dict[str, list[dict]]
        Rows of records (written as TSV).
    qc : dict
        Scalar QC metrics (DESIGN §6).
    messages : list of str
        Notes for the user (warnings, what was chosen automatically).
    method_version : str
    live : dict
        In-memory helpers for interactive views (e.g. a voxel time-course accessor);
        never serialised.
    figures : list of (title, make, caption)
        Report figures the method draws itself beside the generic ones: ``make()``
        returns a matplotlib Figure and is only called when a report is written; never
        serialised.
    """

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, Any] = field(default_factory=dict)
    timecourses: dict[str, dict[str, Any]] = field(default_factory=dict)
    matrices: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    qc: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    method_version: str = ""
    live: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    figures: list[tuple[str, Any, str]] = field(default_factory=list, repr=False, compare=False)

    # ------------------------------------------------------------------ views
    def output_kinds(self) -> dict[str, str]:
        """Name -> kind of every output present."""
        out = {k: "map" for k in self.maps}
        out.update({k: "timecourse" for k in self.timecourses})
        out.update({k: "matrix" for k in self.matrices})
        out.update({k: "table" for k in self.tables})
        return out

    def summary(self) -> dict[str, Any]:
        """The JSON document written to ``result.json`` (without the file paths of maps)."""
        return _plain(
            {
                "schema": RESULT_SCHEMA,
                "method": self.method,
                "method_version": self.method_version,
                "params": self.params,
                "qc": self.qc,
                "messages": list(self.messages),
                "outputs": {
                    name: {"kind": kind} for name, kind in sorted(self.output_kinds().items())
                },
                "timecourses": {
                    k: {
                        "t": np.asarray(v["t"], float),
                        "series": {s: np.asarray(a, float) for s, a in v["series"].items()},
                        "unit": v.get("unit", ""),
                    }
                    for k, v in self.timecourses.items()
                },
                "matrices": {
                    k: {
                        "values": np.asarray(v["values"], float),
                        "rows": list(v.get("rows", [])),
                        "columns": list(v.get("columns", [])),
                    }
                    for k, v in self.matrices.items()
                },
            }
        )

    # ------------------------------------------------------------------- I/O
    def save(self, out_dir: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write ``result.json``, ``<map>.nii.gz`` and ``<table>.tsv`` into ``out_dir``.

        Files are first written into a temporary folder beside ``out_dir`` and moved in
        only when all of them succeeded, each move atomic; ``result.json`` comes last, so a
        folder with a ``result.json`` is complete.
        """
        import nibabel as nib

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        doc = self.summary()
        if extra:
            doc.update(_plain(extra))
        staging = Path(tempfile.mkdtemp(prefix=".fusion-", dir=out))
        try:
            files: list[str] = []
            for name, img in self.maps.items():
                fname = f"{name}.nii.gz"
                nib.save(img, staging / fname)
                doc["outputs"][name]["file"] = fname
                files.append(fname)
            for name, rows in self.tables.items():
                fname = f"{name}.tsv"
                (staging / fname).write_text(_rows_to_tsv(rows), encoding="utf-8")
                doc["outputs"][name]["file"] = fname
                files.append(fname)
            for fname in files:
                with atomic_path(out / fname) as tmp:
                    shutil.copyfile(staging / fname, tmp)
            atomic_write_json(out / "result.json", doc)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out / "result.json"

    @classmethod
    def load(cls, out_dir: str | os.PathLike) -> FusionResult:
        """Read a result written by :meth:`save`."""
        import nibabel as nib

        folder = Path(out_dir)
        path = folder / "result.json" if folder.is_dir() else folder
        folder = path.parent
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(path, "no fusion result here (result.json missing)") from None
        except (OSError, ValueError) as exc:
            raise InputError(path, f"unreadable fusion result ({exc})") from None
        if doc.get("schema") != RESULT_SCHEMA:
            raise InputError(path, f"not a fusion result (schema {doc.get('schema')!r})")
        res = cls(
            method=doc["method"],
            params=doc.get("params", {}),
            qc=doc.get("qc", {}),
            messages=doc.get("messages", []),
            method_version=doc.get("method_version", ""),
        )
        for name, spec in doc.get("outputs", {}).items():
            if spec["kind"] == "map":
                img = nib.load(folder / spec["file"])
                res.maps[name] = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header)
            elif spec["kind"] == "table":
                res.tables[name] = _tsv_to_rows((folder / spec["file"]).read_text(encoding="utf-8"))
        for name, tc in doc.get("timecourses", {}).items():
            res.timecourses[name] = {
                "t": np.asarray(tc["t"], float),
                "series": {k: np.asarray(v, float) for k, v in tc["series"].items()},
                "unit": tc.get("unit", ""),
            }
        for name, m in doc.get("matrices", {}).items():
            res.matrices[name] = {
                "values": np.asarray(m["values"], float),
                "rows": m.get("rows", []),
                "columns": m.get("columns", []),
            }
        return res


def _fmt(v: Any) -> str:
    v = _plain(v)
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return repr(v)
    return str(v).replace("\t", " ").replace("\n", " ")


def _rows_to_tsv(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    lines = ["\t".join(cols)]
    lines += ["\t".join(_fmt(r.get(c)) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def _tsv_to_rows(text: str) -> list[dict[str, Any]]:
    lines = [ln for ln in text.splitlines() if ln]
    if not lines:
        return []
    cols = lines[0].split("\t")
    rows = []
    for ln in lines[1:]:
        vals = ln.split("\t")
        row: dict[str, Any] = {}
        for c, v in zip(cols, vals):
            row[c] = _parse_cell(v)
        rows.append(row)
    return rows


def _parse_cell(v: str) -> Any:
    if v == "n/a":
        return None
    if v in ("True", "False"):
        return v == "True"
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v
