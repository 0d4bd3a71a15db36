"""What a file holds, in a few lines: the engine behind ``workbench info``.

:func:`summarise` recognises EEG recordings (also header-only ones whose signal file is
absent), marker files, MRI images (3D anatomy, 4D BOLD with its TR), digitisation files,
surfaces, project folders and BIDS study folders, and returns a :class:`FileSummary`
with ``to_text()`` and ``to_dict()``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._util import fail, full_suffix

__all__ = ["FileSummary", "summarise"]

_EEG = (".vhdr", ".vmrk", ".edf", ".bdf", ".set")
_IMG = (".nii", ".nii.gz", ".mgz", ".mgh")
_DIG = (".elc", ".sfp", ".bvct", ".hsp", ".elp", ".pos", ".bvef", ".hpts", ".loc", ".locs", ".eloc", ".csd", ".xyz")
_SURF = (".surf", ".gii", ".white", ".pial", ".inflated", ".sphere", ".seghead", ".smoothwm")


@dataclass
class FileSummary:
    """A summary of one file or folder (see :func:`summarise`).

    Attributes
    ----------
    path : str
    kind : str
        ``"eeg"``, ``"markers"``, ``"anat"``, ``"bold"``, ``"image"``, ``"dig"``,
        ``"surface"``, ``"project"`` or ``"study"``.
    format : str
        File format (``"brainvision"``, ``"eeglab"``, ``"nifti"``, ``"captrak"``...).
    fields : dict
        Everything else, JSON-ready (channels by type, sfreq, duration, triggers,
        markers, image shape, voxel size, TR, dig counts...).
    notes : list of str
    """

    path: str
    kind: str
    format: str
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        """A field, or ``default``."""
        return self.fields.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"path": self.path, "kind": self.kind, "format": self.format, **self.fields, "notes": list(self.notes)}

    def to_text(self) -> str:
        """Human-readable lines (what ``workbench info`` prints)."""
        f = self.fields
        out = [f"{self.path}", f"  kind: {self.kind} ({self.format})"]
        if "n_channels" in f:
            by = ", ".join(f"{n} {t}" for t, n in f.get("channels_by_type", {}).items())
            out.append(f"  channels: {f['n_channels']}" + (f" ({by})" if by else ""))
        if f.get("sfreq"):
            out.append(f"  sampling rate: {f['sfreq']:g} Hz")
        if f.get("duration_s") is not None and self.kind != "bold":
            out.append(f"  duration: {f['duration_s']:.3f} s ({f['n_samples']} samples)")
        if f.get("data_state") and f["data_state"] not in ("ok", "embedded", "n/a"):
            out.append(f"  signal file: {f['data_state']} ({f.get('data_file')})")
        if "triggers_text" in f:
            out += [f"  {ln}" for ln in f["triggers_text"].splitlines()]
        if f.get("markers"):
            top = list(f["markers"].items())[:12]
            more = len(f["markers"]) - len(top)
            out.append(
                f"  markers ({f['n_markers']}): "
                + ", ".join(f"{n!r} x {c}" for n, c in top)
                + (f", ... {more} more names" if more > 0 else "")
            )
        if "shape" in f:
            vox = " x ".join(f"{v:g}" for v in f["voxel_mm"])
            out.append(f"  shape: {' x '.join(map(str, f['shape']))}, voxel {vox} mm, {f.get('orientation', '?')}")
        if f.get("tr") is not None and self.kind in ("bold", "image"):
            dur = f" = {f['duration_s']:.3f} s" if f.get("duration_s") is not None else ""
            out.append(f"  TR: {f['tr']:.3f} s ({f.get('tr_source', '?')}), {f.get('n_volumes')} volumes{dur}")
        if f.get("n_slices_timed"):
            mb = f.get("multiband")
            out.append(f"  slice timing: {f['n_slices_timed']} slices" + (f", multiband {mb}" if mb else ""))
        if "dig_counts" in f:
            c = f["dig_counts"]
            out.append(
                f"  points: {c.get('fiducials', 0)} fiducials, {c.get('hpi', 0)} HPI, {c.get('eeg', 0)} EEG, "
                f"{c.get('extra', 0)} head-shape; frame {f.get('frame')}, max |r| {f.get('max_abs_m', 0):.3f} m"
            )
        if self.kind == "transform":
            tr = ", ".join(f"{v:.1f}" for v in f["translation_mm"])
            out.append(f"  {f['from']} -> {f['to']}: rotation {f['rotation_deg']:.2f} deg, translation ({tr}) mm")
        if "n_vertices" in f:
            out.append(f"  surface: {f['n_vertices']} vertices, {f['n_triangles']} triangles ({f.get('surface')})")
        for key in ("subjects", "inputs_by_kind", "n_steps"):
            if key in f:
                out.append(f"  {key.replace('_', ' ')}: {f[key]}")
        for sub, files in f.get("files", {}).items():
            out.append(f"  {sub}: " + ", ".join(f"{k} {Path(v).name}" for k, v in files.items()))
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)


def _eeg_summary(path: Path, sfreq: float | None, volume: str | None, slice_: str | None) -> FileSummary:
    from .eeg import read_eeg_header
    from .triggers import find_scanner_triggers

    h = read_eeg_header(path, sfreq=sfreq)
    kind = "markers" if h.format == "brainvision-markers" else "eeg"
    s = FileSummary(str(path), kind, h.format, notes=list(h.notes))
    f = s.fields
    if h.ch_names:
        f["n_channels"] = h.n_channels
        f["channels_by_type"] = dict(Counter(h.ch_types).most_common())
        f["ch_names"] = list(h.ch_names)
    f["sfreq"] = h.sfreq
    f["n_samples"] = h.n_samples
    f["duration_s"] = h.duration
    f["data_state"] = h.data_state
    f["data_file"] = str(h.data_file) if h.data_file else None
    if h.data_state in ("missing", "empty", "truncated"):
        s.notes.append(f"signal file {h.data_file.name if h.data_file else ''} is {h.data_state}: header and markers only")
    trig = find_scanner_triggers(h, volume, slice_, source=path, unit=h.marker_unit)
    f["marker_unit"] = h.marker_unit
    f["n_markers"] = int(len(h.markers))
    f["markers"] = dict(trig.counts)
    f["triggers"] = trig.to_dict()
    f["triggers_text"] = trig.to_text()
    f["tr"] = trig.tr
    return s


def _image_summary(path: Path) -> FileSummary:
    from .mri import image_info, read_bold, read_image

    img = read_image(path)
    info = image_info(img)
    if full_suffix(path) in (".mgz", ".mgh"):
        fmt = "mgh"
    else:
        fmt = "nifti2" if int(img.header["sizeof_hdr"]) == 540 else "nifti1"
    is4d = len(img.shape) == 4 and img.shape[3] > 1
    s = FileSummary(str(path), "bold" if is4d else "anat", fmt, dict(info))
    if is4d:
        s.fields["n_volumes"] = int(img.shape[3])
        try:
            _, meta = read_bold(path, verify=False)
        except InputError as exc:
            s.notes.append(exc.problem)
            return s
        s.fields["tr"] = meta["RepetitionTime"]
        s.fields["tr_source"] = meta.get("_tr_source")
        s.fields["duration_s"] = meta["RepetitionTime"] * img.shape[3]
        st = meta.get("SliceTiming")
        if st:
            s.fields["n_slices_timed"] = len(st)
            s.fields["slice_timing"] = st
        if meta.get("MultibandAccelerationFactor"):
            s.fields["multiband"] = meta["MultibandAccelerationFactor"]
        s.fields["sidecars"] = meta.get("_sidecars", [])
        s.notes += meta.get("_notes", [])
    return s


def _dig_summary(path: Path) -> FileSummary:
    import numpy as np

    from .dig import dig_counts, dig_frame, read_dig_with_notes

    m, notes = read_dig_with_notes(path)
    fmt = {
        ".bvct": "captrak",
        ".hsp": "polhemus-isotrak",
        ".elp": "polhemus-isotrak",
        ".fif": "fif",
        ".fif.gz": "fif",
        ".tsv": "bids-electrodes",
        ".bvef": "brainvision-electrodes",
        ".vhdr": "brainvision",
    }.get(full_suffix(path), full_suffix(path).lstrip("."))
    rr = np.array([d["r"] for d in m.dig], float)
    s = FileSummary(
        str(path),
        "dig",
        fmt,
        {
            "dig_counts": dig_counts(m),
            "frame": dig_frame(m),
            "max_abs_m": float(np.abs(rr).max()) if rr.size else 0.0,
            "ch_names": list(m.ch_names),
        },
        notes,
    )
    return s


def _surface_summary(path: Path) -> FileSummary:
    from .dig import read_surface

    surf = read_surface(path)
    fmt = "fif" if full_suffix(path) in (".fif", ".fif.gz") else ("gifti" if path.suffix == ".gii" else "freesurfer")
    return FileSummary(
        str(path),
        "surface",
        fmt,
        {
            "n_vertices": int(len(surf["rr"])),
            "n_triangles": int(len(surf["tris"])),
            "frame": surf["frame"],
            "surface": surf.get("surface"),
            "extent_m": [float(x) for x in (surf["rr"].max(0) - surf["rr"].min(0))],
        },
    )


def _trans_summary(path: Path, trans: Any) -> FileSummary:
    """A head<->MRI (or other) rigid transform: frames, rotation angle, translation."""
    import numpy as np
    from mne.transforms import _frame_to_str

    t = np.asarray(trans["trans"], float)
    angle = float(np.degrees(np.arccos(np.clip((np.trace(t[:3, :3]) - 1) / 2, -1, 1))))
    return FileSummary(
        str(path),
        "transform",
        "fif",
        {
            "from": _frame_to_str.get(int(trans["from"]), str(trans["from"])),
            "to": _frame_to_str.get(int(trans["to"]), str(trans["to"])),
            "rotation_deg": angle,
            "translation_mm": [float(x) * 1000 for x in t[:3, 3]],
            "matrix": t.tolist(),
        },
    )


def _fif_summary(path: Path, volume: str | None, slice_: str | None) -> FileSummary:
    """A FIF file may hold raw data, digitisation/measurement info or BEM surfaces."""
    import mne

    from .dig import read_dig

    try:
        mne.io.read_raw_fif(path, preload=False, verbose="error")
        is_raw = True
    except Exception:  # noqa: BLE001 - not raw: try the other FIF contents
        is_raw = False
    if is_raw:
        return _eeg_summary(path, None, volume, slice_)
    if re.search(r"[-_]trans\.fif(\.gz)?$", path.name, re.IGNORECASE):
        try:  # MNE's -trans.fif (it may also carry the MRI fiducials)
            return _trans_summary(path, mne.read_trans(path, verbose="error"))
        except Exception:  # noqa: BLE001 - misnamed: try the other contents
            pass
    try:
        return _surface_summary(path)
    except InputError:
        pass
    try:
        read_dig(path)
        return _dig_summary(path)
    except InputError:
        pass
    try:  # last: measurement files also hold a (device->head) transform
        return _trans_summary(path, mne.read_trans(path, verbose="error"))
    except Exception:  # noqa: BLE001 - not a transform file either
        raise fail(path, "FIF file holds no raw data, digitisation, surface or transform this reader knows") from None


def _folder_summary(path: Path) -> FileSummary:
    from ..project import PROJECT_FILE, Project

    if (path / PROJECT_FILE).is_file():
        proj = Project.load(path)
        return FileSummary(
            str(path),
            "project",
            "workbench",
            {
                "name": proj.name,
                "subjects": list(proj.subjects),
                "inputs_by_kind": dict(Counter(i.kind for i in proj.inputs)),
                "n_steps": len(proj.steps),
                "steps": [s.name for s in proj.steps],
            },
        )
    subs = sorted(p.name for p in path.glob("sub-*") if p.is_dir())
    if subs:
        from .open import find_study_inputs

        per = {}
        for sub in subs:
            found = find_study_inputs(path, sub[4:])
            per[sub] = {k: Path(v).relative_to(path).as_posix() for k, v in found.items() if k != "subject"}
        s = FileSummary(str(path), "study", "bids", {"subjects": subs, "files": per})
        if (path / "ground_truth" / "index.json").is_file():
            s.notes.append("ground truth present (ground_truth/index.json)")
        return s
    raise fail(path, "a folder that is neither a workbench project (project.json) nor a BIDS study (sub-*)")


def summarise(
    path: str | os.PathLike,
    *,
    sfreq: float | None = None,
    volume: str | None = None,
    slice: str | None = None,  # noqa: A002 - the CLI's option name
) -> FileSummary:
    """Summarise a data file, project or study folder.

    Parameters
    ----------
    path : path-like
    sfreq : float | None
        Sampling rate for a lone BrainVision marker file (``.vmrk`` without ``.vhdr``).
    volume, slice : str | None
        Trigger names to use instead of auto-detection.

    Returns
    -------
    FileSummary

    Raises
    ------
    InputError
        Missing, empty, unknown-type, corrupt or truncated file.
    """
    from ._util import check_file

    p = Path(path)
    if p.is_dir():
        return _folder_summary(p)
    if p.name == "project.json" and p.is_file():
        return _folder_summary(p.parent)
    check_file(p)
    suffix = full_suffix(p)
    name = p.name.lower()
    if suffix in (".fif", ".fif.gz"):
        return _fif_summary(p, volume, slice)
    if suffix in _EEG:
        return _eeg_summary(p, sfreq, volume, slice)
    if suffix in _IMG:
        return _image_summary(p)
    if suffix in _DIG or name.endswith("_electrodes.tsv"):
        return _dig_summary(p)
    if suffix in _SURF or name in ("lh.seghead", "rh.seghead") or name.startswith(("lh.", "rh.")):
        return _surface_summary(p)
    if suffix in (".eeg", ".dat", ".fdt"):
        raise fail(p, f"a {suffix} file holds only samples; run workbench info on its .vhdr (BrainVision) "
                   "or .set (EEGLAB) header")
    raise fail(
        p,
        f"unknown file type {suffix or '(no extension)'!r}: workbench info reads EEG (.vhdr .vmrk .edf .bdf "
        ".set .fif), images (.nii .nii.gz .mgz), digitisation (.elc .sfp .bvct .hsp .elp .pos .bvef "
        "electrodes.tsv) and surfaces (.surf .gii -head.fif)",
    )
