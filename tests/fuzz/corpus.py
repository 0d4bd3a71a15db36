"""A seeded corpus of corrupted inputs for every supported format, and the invariants.

Used by ``tests/fuzz/test_fuzz.py`` (a seeded sample in CI) and by
``benchmarks/fuzz_full.py`` (the whole corpus, with totals).

Every case copies a few good base files into its own ``in/`` folder, corrupts one of
them (truncation, flipped bytes, huge/negative/NaN numbers in headers and sidecars,
symbolic-link loops, deep JSON, companion files missing or pointing outside...), runs a
``workbench`` subcommand in-process (``workbench.cli.main.main``) with outputs into
``out/``, and checks the invariants of issue 16:

* the command never raises (no traceback), whatever the input;
* a non-zero exit prints exactly one error line, naming a file of the case;
* after a non-zero exit nothing was written (``out/`` is empty, no temporary leftovers);
* inputs are never modified (sha256 of every file in ``in/`` unchanged, none added);
* an exit 0 never prints or writes NaN/inf as a result;
* cases marked ``must_fail`` (physically impossible values, outputs over inputs) exit
  non-zero, and those with ``must_name`` name that file.

No third-party fuzzing library: the corpus is a deterministic list, sampled with a seed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
SFREQ = 500.0
TR = 2.0
N_VOL = 10

# --------------------------------------------------------------------------- base files


def _bv(folder: Path, name: str = "sub-01_task-rest_eeg", data: np.ndarray | None = None) -> None:
    import pybv

    rng = np.random.default_rng(1)
    n = int(SFREQ * (1.0 + TR * N_VOL + 1.0))
    if data is None:
        data = rng.standard_normal((4, n)) * 20e-6
    events = [{"onset": int(SFREQ * (1.0 + i * TR)), "description": 128, "type": "Response"} for i in range(N_VOL)]
    pybv.write_brainvision(
        data=data, sfreq=SFREQ, ch_names=["Fp1", "Cz", "O1", "ECG"], fname_base=name, folder_out=folder,
        events=events, resolution=0.01, unit="µV", fmt="binary_float32", overwrite=True,
    )


def _raw():
    import mne

    rng = np.random.default_rng(2)
    n = int(SFREQ * (1.0 + TR * N_VOL + 1.0))
    raw = mne.io.RawArray(rng.standard_normal((3, n)) * 20e-6, mne.create_info(["Fz", "Cz", "Pz"], SFREQ, "eeg"),
                          verbose="error")
    onsets = [1.0 + i * TR for i in range(N_VOL)]
    raw.set_annotations(mne.Annotations(onsets, [0.0] * N_VOL, ["R128"] * N_VOL))
    return raw


def _edf_like(path: Path, bdf: bool = False) -> None:
    """A small EDF/BDF written by hand (2 signals, 1 s records, no annotations)."""
    ns, nrec, spr = 2, 20, 250
    width = 3 if bdf else 2
    hdr = bytearray()
    hdr += (b"\xffBIOSEMI" if bdf else b"0       ")
    hdr += b"X X X X".ljust(80) + b"Startdate X X X X".ljust(80) + b"01.01.20" + b"00.00.00"
    hdr += str(256 * (ns + 1)).encode().ljust(8) + (b"24BIT" if bdf else b"").ljust(44)
    hdr += str(nrec).encode().ljust(8) + b"1".ljust(8) + str(ns).encode().ljust(4)
    fields = [
        [b"Fz".ljust(16), b"Cz".ljust(16)], [b"".ljust(80)] * ns, [b"uV".ljust(8)] * ns,
        [b"-3200".ljust(8)] * ns, [b"3200".ljust(8)] * ns,
        [(b"-8388608" if bdf else b"-32768").ljust(8)] * ns, [(b"8388607" if bdf else b"32767").ljust(8)] * ns,
        [b"".ljust(80)] * ns, [str(spr).encode().ljust(8)] * ns, [b"".ljust(32)] * ns,
    ]
    for f in fields:
        hdr += b"".join(f)
    rng = np.random.default_rng(3)
    vals = (rng.standard_normal((nrec, ns, spr)) * 1000).astype(np.int32)
    body = bytearray()
    for v in vals.reshape(-1):
        body += struct.pack("<i", int(v))[:width]
    path.write_bytes(bytes(hdr) + bytes(body))


def _set_cells(path: Path, *, srate: float = SFREQ, data: object = None, nbchan: float = 2.0) -> None:
    """An EEGLAB .set whose chanlocs and event are cell arrays (as some exporters write)."""
    import scipy.io as sio

    pnts = int(SFREQ * (1.0 + TR * N_VOL + 1.0))
    chanlocs = np.empty((1, 2), dtype=object)
    for i, nm in enumerate(["Fz", "Cz"]):
        chanlocs[0, i] = {"labels": nm, "X": 0.0, "Y": 0.0, "Z": 0.0, "type": "EEG"}
    event = np.empty((1, N_VOL), dtype=object)
    for i in range(N_VOL):
        event[0, i] = {"type": "R128", "latency": float(SFREQ * (1.0 + i * TR) + 1), "duration": 1.0}
    if data is None:
        data = (np.random.default_rng(4).standard_normal((2, pnts)) * 20).astype(np.float32)
    eeg = {"setname": "x", "nbchan": nbchan, "trials": 1.0, "pnts": float(pnts), "srate": srate, "xmin": 0.0,
           "xmax": (pnts - 1) / SFREQ, "data": data, "chanlocs": chanlocs, "event": event, "icawinv": [],
           "icasphere": [], "icaweights": [], "ref": "common", "epoch": []}
    with open(path, "wb") as fh:
        sio.savemat(fh, {"EEG": eeg}, appendmat=False)


def _dig_points() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fiducials and EEG electrodes (m, head frame) of MNE's sample subject."""
    import mne

    info = mne.io.read_info(TEST_DATA / "coreg" / "MEG" / "sample" / "test-ave.fif.gz", verbose="error")
    fid = {}
    eeg = {}
    for d in info["dig"]:
        if int(d["kind"]) == 1:
            fid[{1: "LPA", 2: "NAS", 3: "RPA"}[int(d["ident"])]] = np.asarray(d["r"])
        elif int(d["kind"]) == 3:
            eeg[f"E{len(eeg) + 1:02d}"] = np.asarray(d["r"])
    return fid, eeg


def build_base(base: Path) -> Path:
    """Write the good base files once into ``base`` (idempotent); returns ``base``."""
    import mne
    import nibabel as nib

    done = base / ".complete"
    if done.is_file():
        return base
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    _bv(base)
    raw = _raw()
    mne.export.export_raw(base / "rec.edf", raw, fmt="edf", verbose="error")
    mne.export.export_raw(base / "rec.set", raw, fmt="eeglab", verbose="error")
    raw.save(base / "rec_raw.fif", verbose="error")
    _edf_like(base / "rec.bdf", bdf=True)
    _set_cells(base / "cells.set")
    pnts = int(SFREQ * (1.0 + TR * N_VOL + 1.0))
    _set_cells(base / "fdt.set", data="fdt.fdt")
    (np.random.default_rng(6).standard_normal((2, pnts)) * 20).astype("<f4").T.tofile(base / "fdt.fdt")
    sidecar = {"RepetitionTime": TR, "SliceTiming": [i * TR / 6 for i in range(6)], "TaskName": "rest"}
    (base / "sub-01_task-rest_bold.json").write_text(json.dumps(sidecar))
    rng = np.random.default_rng(5)
    aff = np.diag([3.0, 3.0, 4.0, 1.0])
    bold = nib.Nifti1Image((rng.standard_normal((8, 8, 6, N_VOL)) * 10 + 100).astype(np.float32), aff)
    bold.header.set_xyzt_units("mm", "sec")
    bold.header["pixdim"][4] = TR
    nib.save(bold, base / "sub-01_task-rest_bold.nii.gz")
    t1 = nib.Nifti1Image((rng.random((16, 16, 16)) * 100).astype(np.float32), np.diag([2.0, 2.0, 2.0, 1.0]))
    nib.save(t1, base / "t1.nii")
    shutil.copy(TEST_DATA / "coreg" / "subjects" / "sample" / "mri" / "T1.mgz", base / "T1.mgz")
    shutil.copy(TEST_DATA / "coreg" / "subjects" / "sample" / "bem" / "outer_skin.surf", base / "scalp.surf")
    shutil.copy(TEST_DATA / "coreg" / "MEG" / "sample" / "test-ave.fif.gz", base / "sample-ave.fif.gz")
    fid, eeg = _dig_points()
    rows = ["name\tx\ty\tz\ttype"] + [f"{n}\t{p[0] * 1e3:.3f}\t{p[1] * 1e3:.3f}\t{p[2] * 1e3:.3f}\tEEG"
                                      for n, p in eeg.items()]
    (base / "sub-01_electrodes.tsv").write_text("\n".join(rows) + "\n")
    (base / "sub-01_coordsystem.json").write_text(json.dumps({
        "EEGCoordinateSystem": "CapTrak", "EEGCoordinateUnits": "mm",
        "AnatomicalLandmarkCoordinates": {k: [float(v) * 1e3 for v in p] for k, p in fid.items()},
        "AnatomicalLandmarkCoordinateUnits": "mm",
    }))
    alln = {**{"Nz" if k == "NAS" else k: v for k, v in fid.items()}, **eeg}
    (base / "cap.sfp").write_text("".join(f"{n}\t{p[0] * 1e3:.3f}\t{p[1] * 1e3:.3f}\t{p[2] * 1e3:.3f}\n"
                                          for n, p in alln.items()))
    elc = ["# ASA electrode file", "ReferenceLabel\tavg", "UnitPosition\tmm", f"NumberPositions=\t{len(alln)}",
           "Positions"] + [f"{p[0] * 1e3:.3f}\t{p[1] * 1e3:.3f}\t{p[2] * 1e3:.3f}" for p in alln.values()]
    elc += ["Labels"] + list(alln)
    (base / "cap.elc").write_text("\n".join(elc) + "\n")
    pos = [f"{len(alln)}"] + [f"{i}\t{'nasion' if n == 'Nz' else 'left' if n == 'LPA' else 'right' if n == 'RPA' else n}"
                              f"\t{p[0] * 1e2:.4f}\t{p[1] * 1e2:.4f}\t{p[2] * 1e2:.4f}"
                              for i, (n, p) in enumerate(alln.items(), 1)]
    (base / "cap.pos").write_text("\n".join(pos) + "\n")
    proj = base / "project"
    proj.mkdir()
    (proj / "project.json").write_text(json.dumps({
        "schema_version": 2, "application": "eegfmri-workbench", "name": "p", "subjects": ["01"],
        "inputs": [{"path": "rec.edf", "kind": "eeg", "subject": "01", "sha256": "", "description": ""}],
        "steps": [{"name": "sync", "params": {"tr": 2.0}}], "transforms": {}, "results": {},
        "settings": {"study_dir": "."},
    }))
    shutil.copy(base / "rec.edf", proj / "rec.edf")
    done.write_text("ok\n")
    return base


# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One corrupted input and the command run on it.

    Attributes
    ----------
    id : str
    files : list of str
        Base files copied into ``in/`` (a folder name copies the folder).
    argv : list of str
        The command; ``{in}`` and ``{out}`` are replaced by the case folders.
    mutate : callable | None
        ``mutate(in_dir)`` corrupts the copied files.
    target : str
        The corrupted file (named in the error).
    must_fail : bool
        The input is impossible: exit 0 is a failure of the suite.
    must_name : str | None
        A file name the error line must contain.
    heavy : bool
        Slow when the input turns out valid (full coregistration).
    """

    id: str
    files: list[str]
    argv: list[str]
    mutate: Callable[[Path], None] | None = None
    target: str = ""
    must_fail: bool = False
    must_name: str | None = None
    heavy: bool = False
    expect: dict[str, object] = field(default_factory=dict)


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16))


# generic byte-level mutations: name -> (function(path, key), must_fail)
def _truncate(frac: float) -> Callable[[Path, str], None]:
    def f(p: Path, key: str) -> None:
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * frac)])
    return f


def _flip(n: int) -> Callable[[Path, str], None]:
    def f(p: Path, key: str) -> None:
        data = bytearray(p.read_bytes())
        rng = _rng(key)
        for i in rng.integers(0, len(data), size=min(n, len(data))):
            data[int(i)] ^= int(rng.integers(1, 256))
        p.write_bytes(bytes(data))
    return f


def _garbage(p: Path, key: str) -> None:
    p.write_bytes(_rng(key).integers(0, 256, size=4096, dtype=np.uint8).tobytes())


def _symlink_loop(p: Path, key: str) -> None:
    p.unlink()
    os.symlink(p.name, p)


def _dangling(p: Path, key: str) -> None:
    p.unlink()
    os.symlink("does-not-exist" + p.suffix, p)


def _folder(p: Path, key: str) -> None:
    p.unlink()
    p.mkdir()


def _drop_tail(p: Path, key: str) -> None:
    data = p.read_bytes()
    p.write_bytes(data[:-1])


GENERIC: dict[str, tuple[Callable[[Path, str], None], bool]] = {
    "empty": (_truncate(0.0), True),
    "trunc10": (_truncate(0.1), False),
    "trunc50": (_truncate(0.5), False),
    "trunc90": (_truncate(0.9), False),
    "drop1": (_drop_tail, False),
    "flip1": (_flip(1), False),
    "flip10": (_flip(10), False),
    "flip200": (_flip(200), False),
    "garbage": (_garbage, True),
    "symlink-loop": (_symlink_loop, True),
    "dangling-link": (_dangling, True),
    "folder": (_folder, True),
}


def _sub(name: str, pattern: str, repl: str, flags: int = re.MULTILINE) -> Callable[[Path], None]:
    """Replace a regex in a text file of the case."""
    def f(d: Path) -> None:
        p = d / name
        text = p.read_text(encoding="latin-1")
        p.write_text(re.sub(pattern, repl, text, count=1, flags=flags), encoding="latin-1")
    return f


def _json_set(name: str, key: str, raw_value: str) -> Callable[[Path], None]:
    """Set ``key`` of a JSON object file to a raw JSON text (may be invalid JSON on purpose)."""
    def f(d: Path) -> None:
        p = d / name
        doc = json.loads(p.read_text())
        doc[key] = "@@VALUE@@"
        p.write_text(json.dumps(doc).replace('"@@VALUE@@"', raw_value))
    return f


def _json_deep(name: str, depth: int = 100_000) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        (d / name).write_text("[" * depth + "]" * depth)
    return f


def _json_deep_key(name: str, key: str, depth: int = 5000) -> Callable[[Path], None]:
    return _json_set(name, key, '{"a":' * depth + "1" + "}" * depth)


def _unlink(name: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        (d / name).unlink()
    return f


def _vmrk_many(n: int = 200_000) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        p = d / "sub-01_task-rest_eeg.vmrk"
        head = p.read_text(encoding="utf-8").split("[Marker Infos]")[0]
        lines = [f"Mk{i}=Response,R128,{1 + i * 7},1,0" for i in range(1, n + 1)]
        p.write_text(head + "[Marker Infos]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return f


def _eeg_values(value: float) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        p = d / "sub-01_task-rest_eeg.eeg"
        n = p.stat().st_size // 4
        p.write_bytes(np.full(n, value, dtype=np.float32).tobytes())
    return f


def _edf_field(name: str, start: int, width: int, value: bytes, per_signal: bool = False) -> Callable[[Path], None]:
    """Overwrite a fixed-width EDF header field (per_signal: ``start`` is the field's
    offset multiplier within the signal block, value written for signal 1)."""
    def f(d: Path) -> None:
        p = d / name
        data = bytearray(p.read_bytes())
        if per_signal:
            ns = int(data[252:256].decode().strip())
            off = 256 + start * ns
        else:
            off = start
        data[off : off + width] = value.ljust(width)[:width]
        p.write_bytes(bytes(data))
    return f


def _edf_same_digital(name: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        p = d / name
        data = bytearray(p.read_bytes())
        ns = int(data[252:256].decode().strip())
        dmin = 256 + 120 * ns
        dmax = 256 + 128 * ns
        data[dmax : dmax + 8] = data[dmin : dmin + 8]
        p.write_bytes(bytes(data))
    return f


def _set_rewrite(**kw: object) -> Callable[[Path], None]:
    return _set_rewrite_to("cells.set", **kw)


def _set_rewrite_to(name: str, **kw: object) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        _set_cells(d / name, **kw)
    return f


def _nifti(name: str, how: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        import nibabel as nib

        p = d / name
        if how in ("zero-affine", "nan-affine"):
            _nifti_affine_bytes(p, how)
            return
        img = nib.load(p)
        data = np.array(img.dataobj, dtype=np.float32, order="C")  # a copy, detached from the file
        if how == "nan-data":
            data.flat[::7] = np.nan
        elif how == "inf-data":
            data.flat[0] = np.inf
        elif how == "zero-data":
            data[...] = 0
        out = nib.Nifti1Image(data, img.affine)
        if img.header.get_xyzt_units()[1] == "sec":
            out.header.set_xyzt_units("mm", "sec")
            out.header["pixdim"][4] = img.header["pixdim"][4]
        nib.save(out, p)
    return f


def _nifti_affine_bytes(p: Path, how: str) -> None:
    """Write a zero or NaN sform straight into the NIfTI-1 header (nibabel refuses to)."""
    import gzip

    gz = p.name.endswith(".gz")
    raw = bytearray(gzip.decompress(p.read_bytes()) if gz else p.read_bytes())
    raw[252:256] = struct.pack("<hh", 0, 1)  # qform_code 0, sform_code 1
    rows = np.zeros(12, "<f4") if how == "zero-affine" else np.frombuffer(bytes(raw[280:328]), "<f4").copy()
    if how == "nan-affine":
        rows[0] = np.nan
    raw[280:328] = rows.tobytes()
    p.write_bytes(gzip.compress(bytes(raw)) if gz else bytes(raw))


def _nifti_dim(name: str, value: int) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        p = d / name
        data = bytearray(p.read_bytes())
        data[42:44] = struct.pack("<h", value)  # dim[1]
        p.write_bytes(bytes(data))
    return f


def _tsv_coord(value: str) -> Callable[[Path], None]:
    return _sub("sub-01_electrodes.tsv", r"^(E01\t)[^\t]+", r"\g<1>" + value)


def _project(key: str, raw: str) -> Callable[[Path], None]:
    return _json_set("project/project.json", key, raw)


def _project_input(path: str) -> Callable[[Path], None]:
    return _project("inputs", json.dumps([{"path": path, "kind": "eeg"}]))


def _passwd_vhdr(key: str) -> Callable[[Path], None]:
    return _sub("sub-01_task-rest_eeg.vhdr", rf"^{key}=.*$", f"{key}=../../../../../../etc/passwd")


BV = ["sub-01_task-rest_eeg.vhdr", "sub-01_task-rest_eeg.vmrk", "sub-01_task-rest_eeg.eeg"]
VHDR = "sub-01_task-rest_eeg.vhdr"
SIDECAR = "sub-01_task-rest_bold.json"
BOLD = ["sub-01_task-rest_bold.nii.gz", SIDECAR]
TSV = ["sub-01_electrodes.tsv", "sub-01_coordsystem.json"]
SURF = "scalp.surf"

#: kind -> (files, main input, commands)
_KINDS: dict[str, tuple[list[str], str, list[list[str]]]] = {
    "bv": (BV, VHDR, [["info", "{in}/" + VHDR], ["sync", "{in}/" + VHDR, "--tr", "2", "--json", "{out}/qc.json"],
                      ["sync", "{in}/" + VHDR, "--out", "{out}/x_raw.fif"]]),
    "vmrk": (BV, "sub-01_task-rest_eeg.vmrk", [["info", "{in}/sub-01_task-rest_eeg.vmrk"],
                                                ["sync", "{in}/sub-01_task-rest_eeg.vmrk", "--json", "{out}/q.json"]]),
    "edf": (["rec.edf"], "rec.edf", [["info", "{in}/rec.edf"], ["sync", "{in}/rec.edf", "--tr", "2", "--json",
                                                                   "{out}/qc.json"]]),
    "bdf": (["rec.bdf"], "rec.bdf", [["info", "{in}/rec.bdf"], ["sync", "{in}/rec.bdf", "--json", "{out}/qc.json"]]),
    "set": (["rec.set"], "rec.set", [["info", "{in}/rec.set"],
                                     ["sync", "{in}/rec.set", "--tr", "2", "--json", "{out}/qc.json"]]),
    "fdt": (["fdt.set", "fdt.fdt"], "fdt.set", [["info", "{in}/fdt.set"],
                                                ["sync", "{in}/fdt.set", "--tr", "2", "--out", "{out}/z_raw.fif"]]),
    "cells": (["cells.set"], "cells.set", [["info", "{in}/cells.set"],
                                           ["sync", "{in}/cells.set", "--json", "{out}/qc.json"]]),
    "fif": (["rec_raw.fif"], "rec_raw.fif", [["info", "{in}/rec_raw.fif"],
                                            ["sync", "{in}/rec_raw.fif", "--tr", "2", "--out", "{out}/y_raw.fif"]]),
    "sidecar": ([*BV, SIDECAR], SIDECAR, [["sync", "{in}/" + VHDR, "--slice-timing", "{in}/" + SIDECAR, "--json",
                                           "{out}/qc.json"]]),
    "bold": (BOLD, "sub-01_task-rest_bold.nii.gz", [["info", "{in}/sub-01_task-rest_bold.nii.gz"]]),
    "t1": (["t1.nii", *TSV], "t1.nii", [["info", "{in}/t1.nii"],
                                        ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--mri", "{in}/t1.nii",
                                         "--out", "{out}/t-trans.fif"]]),
    "mgz": (["T1.mgz", *TSV], "T1.mgz", [["info", "{in}/T1.mgz"],
                                          ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--mri", "{in}/T1.mgz",
                                           "--out", "{out}/s-trans.fif", "--json", "{out}/qc.json"]]),
    "tsv": ([*TSV, SURF], "sub-01_electrodes.tsv",
            [["info", "{in}/sub-01_electrodes.tsv"],
             ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--surface", "{in}/" + SURF, "--out",
              "{out}/s-trans.fif", "--json", "{out}/qc.json"]]),
    "sfp": (["cap.sfp", SURF], "cap.sfp", [["info", "{in}/cap.sfp"],
                                          ["coreg", "--dig", "{in}/cap.sfp", "--surface", "{in}/" + SURF, "--out",
                                           "{out}/s-trans.fif"]]),
    "elc": (["cap.elc", SURF], "cap.elc", [["info", "{in}/cap.elc"]]),
    "pos": (["cap.pos", SURF], "cap.pos", [["info", "{in}/cap.pos"],
                                          ["coreg", "--dig", "{in}/cap.pos", "--surface", "{in}/" + SURF, "--out",
                                           "{out}/s-trans.fif"]]),
    "digfif": (["sample-ave.fif.gz", SURF], "sample-ave.fif.gz",
               [["info", "{in}/sample-ave.fif.gz"],
                ["coreg", "--dig", "{in}/sample-ave.fif.gz", "--surface", "{in}/" + SURF, "--out",
                 "{out}/s-trans.fif", "--json", "{out}/qc.json"]]),
    "surf": (["sample-ave.fif.gz", SURF], SURF,
             [["coreg", "--dig", "{in}/sample-ave.fif.gz", "--surface", "{in}/" + SURF, "--out",
               "{out}/s-trans.fif"]]),
    "project": (["project"], "project/project.json", [["info", "{in}/project"]]),
}

#: kind -> list of (mutation name, mutate(in_dir), must_fail, must_name)
_SPECIFIC: dict[str, list[tuple[str, Callable[[Path], None], bool, str | None]]] = {
    "bv": [
        ("interval-1e30", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=1e30"), True, VHDR),
        ("interval-0", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=0"), True, VHDR),
        ("interval-neg", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=-2000"), True, VHDR),
        ("interval-nan", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=nan"), True, VHDR),
        ("interval-1e-30", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=1e-30"), True, VHDR),
        ("interval-text", _sub(VHDR, r"^SamplingInterval=.*$", "SamplingInterval=two"), True, VHDR),
        ("nchan-0", _sub(VHDR, r"^NumberOfChannels=.*$", "NumberOfChannels=0"), True, VHDR),
        ("nchan-huge", _sub(VHDR, r"^NumberOfChannels=.*$", "NumberOfChannels=99999999"), True, VHDR),
        ("nchan-5001digits", _sub(VHDR, r"^NumberOfChannels=.*$", "NumberOfChannels=" + "9" * 5001), True, VHDR),
        ("nchan-more", _sub(VHDR, r"^NumberOfChannels=.*$", "NumberOfChannels=7"), True, VHDR),
        ("datafile-passwd", _passwd_vhdr("DataFile"), True, VHDR),
        ("markerfile-passwd", _passwd_vhdr("MarkerFile"), True, VHDR),
        ("datafile-abs", _sub(VHDR, r"^DataFile=.*$", "DataFile=/etc/hostname"), True, VHDR),
        ("no-eeg", _unlink("sub-01_task-rest_eeg.eeg"), False, None),
        ("no-vmrk", _unlink("sub-01_task-rest_eeg.vmrk"), False, None),
        ("no-channel-infos", _sub(VHDR, r"^\[Channel Infos\]", "[Nope]"), True, VHDR),
        ("vmrk-200k", _vmrk_many(), False, None),
        ("vmrk-pos-huge", _sub("sub-01_task-rest_eeg.vmrk", r"^(Mk2=[^,]*,[^,]*,)\d+", r"\g<1>" + "9" * 40), False,
         None),
        ("vmrk-pos-neg", _sub("sub-01_task-rest_eeg.vmrk", r"^(Mk2=[^,]*,[^,]*,)\d+", r"\g<1>-500"), False, None),
        ("eeg-zero", _eeg_values(0.0), False, None),
        ("eeg-3e38", _eeg_values(3e38), False, None),
        ("eeg-nan", _eeg_values(float("nan")), False, None),
        ("vmrk-garbage", lambda d: _garbage(d / "sub-01_task-rest_eeg.vmrk", "vmrk"), False, None),
        ("vmrk-symlink-loop", lambda d: _symlink_loop(d / "sub-01_task-rest_eeg.vmrk", ""), False, None),
    ],
    "vmrk": [
        ("vmrk-200k", _vmrk_many(), False, None),
        ("lone-no-sfreq", _unlink(VHDR), False, None),
        ("lone-200k", lambda d: (_vmrk_many()(d), _unlink(VHDR)(d)), False, None),
    ],
    "edf": [
        ("record-dur-0", _edf_field("rec.edf", 244, 8, b"0"), True, "rec.edf"),
        ("record-dur-neg", _edf_field("rec.edf", 244, 8, b"-1"), True, "rec.edf"),
        ("record-dur-1e30", _edf_field("rec.edf", 244, 8, b"1e30"), True, "rec.edf"),
        ("nrec-neg", _edf_field("rec.edf", 236, 8, b"-5"), False, None),
        ("nrec-huge", _edf_field("rec.edf", 236, 8, b"99999999"), True, "rec.edf"),
        ("nsig-0", _edf_field("rec.edf", 252, 4, b"0"), True, "rec.edf"),
        ("nsig-huge", _edf_field("rec.edf", 252, 4, b"9999"), True, "rec.edf"),
        ("hdrbytes-text", _edf_field("rec.edf", 184, 8, b"abc"), True, "rec.edf"),
        ("digital-min-eq-max", _edf_same_digital("rec.edf"), True, "rec.edf"),
        ("samples-0", _edf_field("rec.edf", 216, 8, b"0", per_signal=True), True, "rec.edf"),
        ("samples-huge", _edf_field("rec.edf", 216, 8, b"99999999", per_signal=True), True, "rec.edf"),
        ("physmin-nan", _edf_field("rec.edf", 104, 8, b"nan", per_signal=True), True, "rec.edf"),
        ("version", _edf_field("rec.edf", 0, 8, b"XYZ"), True, "rec.edf"),
    ],
    "bdf": [
        ("record-dur-0", _edf_field("rec.bdf", 244, 8, b"0"), True, "rec.bdf"),
        ("digital-min-eq-max", _edf_same_digital("rec.bdf"), True, "rec.bdf"),
    ],
    "fdt": [
        ("no-fdt", _unlink("fdt.fdt"), False, None),
        ("fdt-empty", lambda d: (d / "fdt.fdt").write_bytes(b""), False, None),
        ("fdt-trunc", lambda d: _truncate(0.5)(d / "fdt.fdt", ""), False, None),
        ("fdt-symlink-loop", lambda d: _symlink_loop(d / "fdt.fdt", ""), False, None),
        ("fdt-passwd", _set_rewrite_to("fdt.set", data="../../../../../etc/passwd"), True, "fdt.set"),
    ],
    "cells": [
        ("srate-neg", _set_rewrite(srate=-1000.0), True, "cells.set"),
        ("srate-0", _set_rewrite(srate=0.0), True, "cells.set"),
        ("srate-1e30", _set_rewrite(srate=1e30), True, "cells.set"),
        ("srate-nan", _set_rewrite(srate=float("nan")), True, "cells.set"),
        ("data-scalar", _set_rewrite(data=5.0), True, "cells.set"),
        ("data-passwd", _set_rewrite(data="../../../../etc/passwd"), True, "cells.set"),
        ("nbchan-0", _set_rewrite(nbchan=0.0), True, "cells.set"),
        ("nbchan-huge", _set_rewrite(nbchan=1e9), True, "cells.set"),
    ],
    "sidecar": [
        ("tr-0", _json_set(SIDECAR, "RepetitionTime", "0"), True, SIDECAR),
        ("tr-neg", _json_set(SIDECAR, "RepetitionTime", "-2"), True, SIDECAR),
        ("tr-nan", _json_set(SIDECAR, "RepetitionTime", "NaN"), True, SIDECAR),
        ("tr-inf", _json_set(SIDECAR, "RepetitionTime", "Infinity"), True, SIDECAR),
        ("tr-text", _json_set(SIDECAR, "RepetitionTime", '"two"'), True, SIDECAR),
        ("tr-1e9", _json_set(SIDECAR, "RepetitionTime", "1e9"), True, SIDECAR),
        ("tr-1e400", _json_set(SIDECAR, "RepetitionTime", "1e400"), True, SIDECAR),
        ("tr-contradicts", _json_set(SIDECAR, "RepetitionTime", "2.5"), True, SIDECAR),
        ("tr-5001digits", _json_set(SIDECAR, "RepetitionTime", "9" * 5001), True, SIDECAR),
        ("tr-missing", lambda d: (d / SIDECAR).write_text('{"SliceTiming": [0, 0.5]}'), True, SIDECAR),
        ("st-scalar", _json_set(SIDECAR, "SliceTiming", "0.5"), True, SIDECAR),
        ("st-nan", _json_set(SIDECAR, "SliceTiming", "[0, NaN, 1.0]"), True, SIDECAR),
        ("st-100k", _json_set(SIDECAR, "SliceTiming", json.dumps([0.001 * (i % 1000) for i in range(100_000)])),
         True, SIDECAR),
        ("st-beyond-tr", _json_set(SIDECAR, "SliceTiming", "[0, 1, 3.5]"), True, SIDECAR),
        ("st-neg", _json_set(SIDECAR, "SliceTiming", "[-1, 0, 1]"), True, SIDECAR),
        ("mb-0", _json_set(SIDECAR, "MultibandAccelerationFactor", "0"), True, SIDECAR),
        ("deep-array", _json_deep(SIDECAR), True, SIDECAR),
        ("deep-value", _json_deep_key(SIDECAR, "Extra"), True, SIDECAR),
        ("list", lambda d: (d / SIDECAR).write_text("[1, 2]"), True, SIDECAR),
        ("latin1", lambda d: (d / SIDECAR).write_bytes(b'{"RepetitionTime": 2, "T": "\xe9\xff"}'), True, SIDECAR),
    ],
    "bold": [
        ("zero-affine", _nifti("sub-01_task-rest_bold.nii.gz", "zero-affine"), True, "sub-01_task-rest_bold.nii.gz"),
        ("nan-affine", _nifti("sub-01_task-rest_bold.nii.gz", "nan-affine"), True, "sub-01_task-rest_bold.nii.gz"),
        ("sidecar-tr-0", _json_set(SIDECAR, "RepetitionTime", "0"), False, None),
        ("sidecar-deep", _json_deep(SIDECAR), False, None),
        ("sidecar-st-nan", _json_set(SIDECAR, "SliceTiming", "[0, NaN]"), False, None),
    ],
    "t1": [
        ("nan-data", _nifti("t1.nii", "nan-data"), True, "t1.nii"),
        ("inf-data", _nifti("t1.nii", "inf-data"), True, "t1.nii"),
        ("zero-affine", _nifti("t1.nii", "zero-affine"), True, "t1.nii"),
        ("nan-affine", _nifti("t1.nii", "nan-affine"), True, "t1.nii"),
        ("dim-neg", _nifti_dim("t1.nii", -5), True, "t1.nii"),
        ("dim-huge", _nifti_dim("t1.nii", 32000), True, "t1.nii"),
    ],
    "mgz": [],
    "tsv": [
        ("coord-1e300", _tsv_coord("1e300"), True, "sub-01_electrodes.tsv"),
        ("coord-nan", _tsv_coord("nan"), True, "sub-01_electrodes.tsv"),
        ("coord-inf", _tsv_coord("inf"), True, "sub-01_electrodes.tsv"),
        ("coord-text", _tsv_coord("abc"), True, "sub-01_electrodes.tsv"),
        ("header-only", _sub("sub-01_electrodes.tsv", r"\A(.*?\n).*\Z", r"\g<1>", re.DOTALL), True,
         "sub-01_electrodes.tsv"),
        ("no-x-column", _sub("sub-01_electrodes.tsv", r"\Aname\tx", "name\tq"), True, "sub-01_electrodes.tsv"),
        ("coordsystem-deep", _json_deep("sub-01_coordsystem.json"), True, "sub-01_coordsystem.json"),
        ("coordsystem-hugeint", _json_set("sub-01_coordsystem.json", "X", "9" * 5001), True,
         "sub-01_coordsystem.json"),
        ("landmark-text", _json_set("sub-01_coordsystem.json", "AnatomicalLandmarkCoordinates", '{"NAS": "x"}'),
         True, None),
        ("coordsystem-garbage", lambda d: _garbage(d / "sub-01_coordsystem.json", "cs"), True,
         "sub-01_coordsystem.json"),
    ],
    "pos": [
        ("coord-1e300", _sub("cap.pos", r"^(4\t\S+\t)\S+", r"\g<1>1e300"), True, "cap.pos"),
    ],
    "project": [
        ("deep", _json_deep("project/project.json"), True, "project.json"),
        ("schema-5001digits", _project("schema_version", "9" * 5001), True, "project.json"),
        ("schema-text", _project("schema_version", '"2"'), True, "project.json"),
        ("schema-newer", _project("schema_version", "99"), True, "project.json"),
        ("params-list", _project("steps", '[{"name": "sync", "params": [1, 2]}]'), True, "project.json"),
        ("steps-dict", _project("steps", '{"a": 1}'), True, "project.json"),
        ("input-passwd", _project_input("../../../../../../etc/passwd"), True, "project.json"),
        ("study-outside", _project("settings", '{"study_dir": "../../../../../etc"}'), True, "project.json"),
        ("inputs-deep", _json_deep_key("project/project.json", "results"), True, "project.json"),
        ("nan", _project("name", "NaN"), True, "project.json"),
    ],
}

#: outputs over inputs: (id, files, argv, must_name)
_OVERWRITE: list[tuple[str, list[str], list[str], str]] = [
    ("sync-json-over-vmrk", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--json", "{in}/sub-01_task-rest_eeg.vmrk"],
     "sub-01_task-rest_eeg.vmrk"),
    ("sync-out-over-vhdr", BV, ["sync", "{in}/" + VHDR, "--out", "{in}/" + VHDR], VHDR),
    ("sync-out-over-eeg-companion", BV, ["sync", "{in}/" + VHDR, "--out", "{in}/sub-01_task-rest_eeg.vhdr"], VHDR),
    ("sync-fif-over-itself", ["rec_raw.fif"], ["sync", "{in}/rec_raw.fif", "--tr", "2", "--out", "{in}/rec_raw.fif"],
     "rec_raw.fif"),
    ("sync-json-over-sidecar", [*BV, SIDECAR], ["sync", "{in}/" + VHDR, "--slice-timing", "{in}/" + SIDECAR,
                                                "--json", "{in}/" + SIDECAR], SIDECAR),
    ("sync-json-over-bids-channels", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--json",
                                          "{in}/sub-01_task-rest_eeg.json"], "sub-01_task-rest_eeg.json"),
    ("sync-json-over-set-fdt", ["rec.set", "rec.fdt"], ["sync", "{in}/rec.set", "--tr", "2", "--json",
                                                         "{in}/rec.fdt"], "rec.fdt"),
    ("sync-out-twice", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--out", "{out}/a_raw.fif", "--json",
                            "{out}/a_raw.fif"], "a_raw.fif"),
    ("sync-out-via-symlink", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--json", "{in}/link.json"], "link.json"),
    ("coreg-electrodes-over-dig", [*TSV, SURF], ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--surface",
                                                 "{in}/" + SURF, "--out", "{out}/s-trans.fif", "--electrodes",
                                                 "{in}/sub-01_electrodes.tsv"], "sub-01_electrodes.tsv"),
    ("coreg-json-over-coordsystem", [*TSV, SURF], ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--surface",
                                                   "{in}/" + SURF, "--out", "{out}/s-trans.fif", "--json",
                                                   "{in}/sub-01_coordsystem.json"], "sub-01_coordsystem.json"),
    ("coreg-out-over-dig", ["sample-ave.fif.gz", SURF], ["coreg", "--dig", "{in}/sample-ave.fif.gz", "--surface",
                                                         "{in}/" + SURF, "--out", "{in}/" + SURF], SURF),
]


#: bad option values (physically impossible): (id, files, argv)
_ARGS: list[tuple[str, list[str], list[str]]] = [
    ("sync-tr-neg", BV, ["sync", "{in}/" + VHDR, "--tr", "-1"]),
    ("sync-tr-0", BV, ["sync", "{in}/" + VHDR, "--tr", "0"]),
    ("sync-tr-nan", BV, ["sync", "{in}/" + VHDR, "--tr", "nan"]),
    ("sync-tr-inf", BV, ["sync", "{in}/" + VHDR, "--tr", "inf"]),
    ("sync-tr-1e9", BV, ["sync", "{in}/" + VHDR, "--tr", "1e9"]),
    ("sync-tr-contradicts", BV, ["sync", "{in}/" + VHDR, "--tr", "2.5"]),
    ("sync-sfreq-neg", BV, ["sync", "{in}/sub-01_task-rest_eeg.vmrk", "--sfreq", "-500"]),
    ("sync-slices-neg", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--slices-per-volume", "-3"]),
    ("sync-nvol-0", BV, ["sync", "{in}/" + VHDR, "--tr", "2", "--n-volumes", "0"]),
    ("sync-st-beyond-given-tr", [*BV, SIDECAR], ["sync", "{in}/" + VHDR, "--slice-timing", "{in}/" + SIDECAR,
                                                 "--tr", "0.5"]),
    ("info-sfreq-nan", BV, ["info", "{in}/sub-01_task-rest_eeg.vmrk", "--sfreq", "nan"]),
    ("coreg-omit-nan", [*TSV, SURF], ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--surface", "{in}/" + SURF,
                                      "--omit-mm", "nan", "--out", "{out}/s-trans.fif"]),
    ("coreg-omit-neg", [*TSV, SURF], ["coreg", "--dig", "{in}/sub-01_electrodes.tsv", "--surface", "{in}/" + SURF,
                                      "--omit-mm", "-1", "--out", "{out}/s-trans.fif"]),
]


def _apply(fn: Callable[[Path, str], None], main: str, key: str) -> Callable[[Path], None]:
    def f(d: Path) -> None:
        fn(d / main, key)
    return f


def all_cases() -> list[Case]:
    """The full corpus (deterministic order)."""
    cases: list[Case] = []
    for kind, (files, main, commands) in _KINDS.items():
        heavy = kind in ("mgz", "t1")
        muts: list[tuple[str, Callable[[Path], None] | None, bool, str | None]] = []
        if kind != "project":
            for name, (fn, must) in GENERIC.items():
                muts.append((name, _apply(fn, main, f"{main}:{name}"), must, None))
        muts += _SPECIFIC.get(kind, [])
        for name, fn, must, must_name in muts:
            if fn is None:
                continue
            for argv in commands:
                cmd = argv[0]
                # info on a BOLD series only notes a bad sidecar; sync needs no data of a header-only file
                # landmarks alone are a truthful summary for info; coreg needs electrodes
                must_here = must and not (name == "header-only" and cmd == "info")
                cases.append(Case(f"{kind}/{name}/{cmd}{commands.index(argv)}", list(files), list(argv), fn, main,
                                  must_here, must_name, (heavy and cmd == "coreg") or "200k" in name))
    for cid, files, argv, must_name in _OVERWRITE:
        mut = None
        if cid == "sync-out-via-symlink":
            def mut(d: Path) -> None:
                os.symlink("sub-01_task-rest_eeg.vmrk", d / "link.json")
        cases.append(Case(f"overwrite/{cid}", list(files), list(argv), mut, "", True, must_name))
    for cid, files, argv in _ARGS:
        option = next(a for a in reversed(argv) if a.startswith("--") and a not in ("--out", "--json"))
        # the option as typed, or as the step's parameter name
        names = f"{option}|{option.lstrip('-').replace('-', '_')}"
        if cid == "sync-st-beyond-given-tr":
            names = SIDECAR
        cases.append(Case(f"args/{cid}", list(files), list(argv), None, "", True, names))
    return cases


def sample(n: int, seed: int = 16) -> list[Case]:
    """A seeded sample of ``n`` cases: every must-fail overwrite case, the rest drawn at random."""
    cases = all_cases()
    rng = np.random.default_rng(seed)
    fixed = [c for c in cases if c.id.startswith(("overwrite/", "args/"))]
    rest = [c for c in cases if not c.id.startswith(("overwrite/", "args/")) and not c.heavy]
    pick = rng.choice(len(rest), size=max(0, min(n - len(fixed), len(rest))), replace=False)
    return fixed + [rest[int(i)] for i in sorted(pick)]


# --------------------------------------------------------------------------- running
@dataclass
class Outcome:
    case: str
    rc: int | None
    ok: bool
    problems: list[str]
    stderr: str
    stdout: str
    seconds: float


class _Timeout(BaseException):
    pass


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(files + dirs):
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_dir():
                out[rel] = "dir"
    return out


_NONFINITE = re.compile(r"(?<![A-Za-z_])(nan|-?inf|infinity)(?![A-Za-z_])", re.IGNORECASE)
_PROGRESS = re.compile(r"^\s*\[\s*[\d.]+%\]|^\r|^\s*\[[#=\- ]*\]")
_LOG = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} in a result")


def prepare(case: Case, base: Path, work: Path) -> tuple[Path, Path, list[str]]:
    """Copy the case's base files into ``work/in``, corrupt them; returns (in, out, argv)."""
    cin, cout = work / "in", work / "out"
    if work.exists():
        shutil.rmtree(work)
    cin.mkdir(parents=True)
    cout.mkdir()
    for f in case.files:
        src = base / f
        if src.is_dir():
            shutil.copytree(src, cin / f)
        elif src.is_file():
            shutil.copy(src, cin / f)
    if case.mutate is not None:
        case.mutate(cin)
    argv = [a.replace("{in}", str(cin)).replace("{out}", str(cout)) for a in case.argv]
    return cin, cout, argv


def run_case(case: Case, base: Path, work: Path, timeout_s: int = 120) -> Outcome:
    """Run one case in-process and check every invariant."""
    import time

    from workbench.cli.main import main

    try:
        cin, cout, argv = prepare(case, base, work)
    except Exception as exc:  # noqa: BLE001 - a broken corpus entry, not a product failure
        return Outcome(case.id, None, False, [f"corpus error: {type(exc).__name__}: {exc}"], "", "", 0.0)
    before = _hashes(cin)
    names = {Path(k).name for k in before} | {Path(a).name for a in argv if "/" in a}
    out, err = io.StringIO(), io.StringIO()
    problems: list[str] = []
    rc: int | None = None
    t0 = time.perf_counter()

    def alarm(signum: int, frame: object) -> None:
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, alarm) if hasattr(signal, "SIGALRM") else None
    if old is not None:
        signal.alarm(timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = int(main(argv))
    except _Timeout:
        problems.append(f"timeout after {timeout_s} s")
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
        problems.append(f"SystemExit({exc.code!r}) escaped main()")
    except BaseException as exc:  # noqa: BLE001 - any escape is a traceback for the user
        problems.append(f"traceback: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    finally:
        if old is not None:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - t0
    stderr, stdout = err.getvalue(), out.getvalue()
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not _PROGRESS.match(ln) and not _LOG.match(ln)]
    if "Traceback (most recent call last)" in stderr:
        problems.append("traceback printed")
    if rc is not None and rc != 0:
        errors = [ln for ln in lines if ": error: " in ln]
        if len(lines) != 1 or len(errors) != 1:
            problems.append(f"{len(lines)} stderr lines instead of one error line")
        elif case.must_name:
            if not any(n.lower() in errors[0].lower() for n in case.must_name.split("|")):
                problems.append(f"error does not name {case.must_name}")
        elif not any(n and n in errors[0] for n in names):
            problems.append("error names no file of the case")
        left = _hashes(cout)
        if left:
            problems.append(f"output written despite the error: {sorted(left)[:3]}")
        if "root:x:0:0" in stderr or "root:" in stderr and "/bin/" in stderr:
            problems.append("error quotes a foreign file")
    elif rc == 0:
        if case.must_fail:
            problems.append("exit 0 on an impossible input")
        if _NONFINITE.search("\n".join(ln for ln in stdout.splitlines() if "note:" not in ln)):
            problems.append("NaN/inf printed as a result")
        for f in cout.rglob("*.json"):
            try:
                json.loads(f.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"output {f.name} holds non-finite or broken JSON ({exc})")
        hidden = [p.name for p in cout.rglob(".*")]
        if hidden:
            problems.append(f"temporary leftovers: {hidden[:3]}")
    after = _hashes(cin)
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        problems.append(f"inputs changed or added: {changed[:3]}")
    return Outcome(case.id, rc, not problems, problems, stderr[-2000:], stdout[-2000:], seconds)
