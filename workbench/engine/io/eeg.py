"""EEG readers: BrainVision, EDF/BDF, EEGLAB, FIF (and BIDS ``*_eeg.*`` files).

:func:`read_eeg` opens a recording with MNE's reader (lazily by default) after checking
the companion files MNE would otherwise trip over, and turns every failure into a
one-line :class:`~workbench.engine.errors.InputError` naming the file and the problem.

:func:`read_eeg_header` reads only the header and the markers: it works when the signal
file (``.eeg``, ``.dat``, ``.fdt``) is absent or empty, as in many shared EEG-fMRI
datasets, and also on a lone BrainVision marker file (``.vmrk``).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..validate import check_sfreq, load_json
from ._util import check_file, fail, full_suffix

logger = logging.getLogger(__name__)

__all__ = ["read_eeg", "read_eeg_header", "EEGHeader", "EEG_SUFFIXES"]

#: File endings :func:`read_eeg` opens.
EEG_SUFFIXES = (".vhdr", ".edf", ".bdf", ".set", ".fif", ".fif.gz")
_HEADER_SUFFIXES = (*EEG_SUFFIXES, ".vmrk")

_MAX_CHANNELS = 4096
_MAX_MARKERS = 1_000_000
_BV_BYTES = {"INT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4, "UINT_16": 2}
_BIDS_TYPES = {
    "EEG": "eeg",
    "ECG": "ecg",
    "EKG": "ecg",
    "EOG": "eog",
    "VEOG": "eog",
    "HEOG": "eog",
    "EMG": "emg",
    "MISC": "misc",
    "TRIG": "stim",
    "RESP": "resp",
    "GSR": "gsr",
    "TEMP": "temperature",
    "REF": "eeg",
}


# --------------------------------------------------------------------------- header
class _Ini:
    """A forgiving INI reader for BrainVision headers.

    :mod:`configparser` rejects the free text of the ``[Comment]`` section (amplifier
    tables, impedances), so this keeps ``key=value`` lines per section and ignores the rest.
    """

    def __init__(self, sections: dict[str, dict[str, str]], first_line: str) -> None:
        self.sections = sections
        self.first_line = first_line

    def has_section(self, name: str) -> bool:
        return name.lower() in self.sections

    def items(self, name: str) -> list[tuple[str, str]]:
        return list(self.sections.get(name.lower(), {}).items())

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        return self.sections.get(section.lower(), {}).get(key.lower(), default)


def _decode(raw: bytes) -> str:
    cp = re.search(rb"Codepage=([^\r\n]+)", raw, re.IGNORECASE)
    codepage = cp.group(1).decode("ascii", "ignore").strip() if cp else "utf-8"
    if codepage.upper() == "ANSI":
        codepage = "cp1252"
    try:
        return raw.decode(codepage)
    except (UnicodeDecodeError, LookupError):
        return raw.decode("latin-1")


def _check_first_line(path: Path) -> None:
    """Fail unless ``path`` starts like a BrainVision text file (reads 256 bytes only)."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    if b"\x00" in head:
        raise fail(path, "binary content: not a BrainVision text file (wrong file type?)")
    first = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf").splitlines()[0].strip() if head.strip() else ""
    if not re.match(r"brain\s*vision", first, re.IGNORECASE):
        raise fail(path, "not a BrainVision file (its first line is not 'Brain Vision Data Exchange ...')")


def _read_ini(path: str | os.PathLike) -> _Ini:
    """Parse a BrainVision ``.vhdr``/``.vmrk``; InputError when it is not one."""
    path = Path(path)
    raw = path.read_bytes()
    if b"\x00" in raw[:2048]:
        raise fail(path, "binary content: not a BrainVision text header (wrong file type?)")
    text = _decode(raw).lstrip("\ufeff")
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not re.match(r"brain\s*vision", first, re.IGNORECASE):
        # never quote the file: it may be anything (a DataFile= pointing at a system file)
        raise fail(path, "not a BrainVision file (its first line is not 'Brain Vision Data Exchange ...')")
    sections: dict[str, dict[str, str]] = {}
    cur: dict[str, str] | None = None
    for line in lines[1:]:
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        m = re.fullmatch(r"\[(.+)\]", s)
        if m:
            cur = sections.setdefault(m.group(1).strip().lower(), {})
            continue
        if cur is not None and "=" in s:
            k, v = s.split("=", 1)
            cur[k.strip().lower()] = v.strip()
    return _Ini(sections, first)


@dataclass
class EEGHeader:
    """What a recording's header and marker file say, without reading the signal.

    Attributes
    ----------
    path : Path
    format : str
        ``"brainvision"``, ``"brainvision-markers"``, ``"eeglab"``, ``"edf"``, ``"bdf"``, ``"fif"``.
    ch_names : list of str
    ch_types : list of str
        MNE channel types (``"eeg"``, ``"ecg"`` for a channel named ECG/EKG, ...).
    sfreq : float | None
        Sampling rate in Hz (None for a lone ``.vmrk`` without its ``.vhdr``).
    n_samples : int | None
        From the header, or the data file size; None when unknown.
    markers : mne.Annotations
        Onsets from the first sample, in seconds (in samples when ``sfreq`` is None;
        see ``marker_unit``), duration and ``Type/Description`` (BrainVision) or the
        event type (EEGLAB), as MNE names them.
    marker_unit : str
        ``"s"`` or ``"samples"``.
    data_file : Path | None
        The signal file the header points to.
    data_state : str
        ``"ok"``, ``"missing"``, ``"empty"``, ``"truncated"``, ``"embedded"`` or ``"n/a"``.
    notes : list of str
    """

    path: Path
    format: str
    ch_names: list[str] = field(default_factory=list)
    ch_types: list[str] = field(default_factory=list)
    sfreq: float | None = None
    n_samples: int | None = None
    markers: Any = None
    marker_unit: str = "s"
    data_file: Path | None = None
    data_state: str = "n/a"
    notes: list[str] = field(default_factory=list)

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.ch_names)

    @property
    def duration(self) -> float | None:
        """Recording length in seconds, when known."""
        if self.n_samples is None or not self.sfreq:
            return None
        return self.n_samples / self.sfreq


def _guess_type(name: str) -> str:
    n = name.strip().upper()
    if n.startswith(("ECG", "EKG")):
        return "ecg"
    if n.startswith(("EOG", "VEOG", "HEOG")):
        return "eog"
    if n.startswith("EMG"):
        return "emg"
    if n in ("STI 014", "STATUS", "TRIGGER"):
        return "stim"
    return "eeg"


def _annotations(onset: Any, duration: Any, description: Any) -> Any:
    import mne

    return mne.Annotations(
        np.asarray(onset, float), np.asarray(duration, float), [str(d) for d in description]
    )


def _bv_markers(vmrk: Path, sfreq: float | None, notes: list[str] | None = None) -> Any:
    """Markers of a ``.vmrk`` via MNE; our own lenient parser when MNE refuses the file."""
    import mne

    check_file(vmrk)
    _check_first_line(vmrk)  # one-line error instead of MNE's
    if sfreq is not None:
        check_sfreq(sfreq, vmrk, "sampling rate (--sfreq)")
    if vmrk.stat().st_size > 256 * 1024 * 1024:
        raise fail(vmrk, f"marker file of {vmrk.stat().st_size} bytes is too large")
    try:
        ann = mne.read_annotations(vmrk, sfreq=sfreq if sfreq else 1.0)
    except Exception as exc:  # noqa: BLE001 - fall back to the lenient parser below
        logger.info("%s: MNE refused the marker file (%s); parsing it directly", vmrk, _why(exc))
        onset, duration, desc, bad = _parse_vmrk(vmrk)
        if not onset and bad:
            raise fail(vmrk, f"corrupt marker file: none of its {bad} Mk lines is readable") from None
        if bad and notes is not None:
            notes.append(f"{vmrk.name}: {bad} malformed marker line(s) skipped (truncated or edited file?)")
        scale = float(sfreq) if sfreq else 1.0
        ann = _annotations(np.asarray(onset, float) / scale, np.asarray(duration, float) / scale, desc)
    if len(ann) > _MAX_MARKERS:
        raise fail(vmrk, f"{len(ann)} markers (at most {_MAX_MARKERS})")
    if len(ann) and not np.all(np.isfinite(np.asarray(ann.onset, float))):
        raise fail(vmrk, "marker positions are not finite")
    return _annotations(ann.onset, ann.duration, ann.description)


def _parse_vmrk(vmrk: Path) -> tuple[list[int], list[int], list[str], int]:
    """``Mk<n>=<Type>,<Description>,<Position>,<Size>,<Channel>[,<Date>]`` lines.

    Written here as a fallback for marker files MNE's strict reader refuses (a malformed
    or cut-off line, odd Analyzer exports): readable lines are kept, the others counted.
    Positions become 0-based samples and the first ``New Segment`` is dropped, as MNE does.
    """
    text = _decode(vmrk.read_bytes())
    m = re.search(r"\[Marker Infos\]", text, re.IGNORECASE)
    body = text[m.end() :] if m else text
    nxt = re.search(r"^\[.*\]\s*$", body, re.MULTILINE)
    body = body[: nxt.start()] if nxt else body
    onset, duration, desc, bad = [], [], [], 0
    first = True
    for line in re.findall(r"^Mk\d+=(.*)$", body, re.MULTILINE):
        f = line.rstrip("\r").split(",")
        # all five fields must be there: a line cut short (truncated file) is not trusted
        if len(f) < 5 or not f[2].strip().isdigit() or not f[4].strip().isdigit():
            bad += 1
            continue
        typ, d, pos = f[0], f[1], int(f[2])
        size = int(f[3]) if f[3].strip().isdigit() else 0
        if first and typ == "New Segment":
            first = False
            continue
        first = False
        onset.append(pos - 1)
        duration.append(size)
        desc.append(f"{typ.replace(chr(92) + '1', ',')}/{d.replace(chr(92) + '1', ',')}")
    return onset, duration, desc, bad


def _bv_header(path: Path, markers: bool = True) -> EEGHeader:
    cfg = _read_ini(path)
    if "marker" in cfg.first_line.lower():
        return _bv_marker_only(path)
    try:
        interval = float(cfg.get("Common Infos", "SamplingInterval", "") or "nan")
        nchan = int(cfg.get("Common Infos", "NumberOfChannels", "") or "0")
    except ValueError:
        raise fail(path, "corrupt header: SamplingInterval/NumberOfChannels are not numbers") from None
    if not np.isfinite(interval) or interval <= 0:
        raise fail(path, "corrupt header: no valid SamplingInterval")
    if nchan <= 0:
        raise fail(path, "corrupt header: no NumberOfChannels")
    if nchan > _MAX_CHANNELS:
        raise fail(path, f"corrupt header: NumberOfChannels={nchan} (at most {_MAX_CHANNELS})")
    # SamplingInterval is in microseconds
    check_sfreq(1e6 / interval, path, f"sampling rate (SamplingInterval={interval:g} us)")
    chans = dict(cfg.items("Channel Infos"))
    names = []
    for i in range(1, nchan + 1):
        v = chans.get(f"ch{i}")
        if v is None:
            raise fail(path, f"corrupt header: [Channel Infos] has no Ch{i} (NumberOfChannels={nchan})")
        names.append(v.split(",")[0].replace("\\1", ","))
    hdr = EEGHeader(path, "brainvision", names, [_guess_type(n) for n in names], 1e6 / interval)
    pts = cfg.get("Common Infos", "DataPoints")
    if pts and pts.isdigit():
        hdr.n_samples = int(pts)
    data = cfg.get("Common Infos", "DataFile")
    if data:
        hdr.data_file = _companion(path, data, "DataFile")
        fmt = (cfg.get("Binary Infos", "BinaryFormat", "INT_16") or "INT_16").upper()
        binary = (cfg.get("Common Infos", "DataFormat", "BINARY") or "BINARY").upper() == "BINARY"
        if not hdr.data_file.is_file():
            hdr.data_state = "missing"
        elif hdr.data_file.stat().st_size == 0:
            hdr.data_state = "empty"
        elif binary and fmt in _BV_BYTES:
            size = hdr.data_file.stat().st_size
            frame = nchan * _BV_BYTES[fmt]
            hdr.data_state = "ok" if size % frame == 0 else "truncated"
            if hdr.n_samples is None or hdr.data_state == "ok":
                hdr.n_samples = size // frame
        else:  # ASCII data or an unusual sample format: MNE checks it when reading
            hdr.data_state = "ok"
    mk = cfg.get("Common Infos", "MarkerFile")
    if not markers:
        pass  # read_eeg checks the marker file itself; MNE parses it
    elif mk:
        vmrk = _companion(path, mk, "MarkerFile")
        if vmrk.is_file() and vmrk.stat().st_size > 0:
            hdr.markers = _bv_markers(vmrk, hdr.sfreq, hdr.notes)
        else:
            state = "empty" if vmrk.is_file() else "a broken symbolic link" if vmrk.is_symlink() else "missing"
            hdr.notes.append(f"marker file {mk} is {state}")
    if hdr.markers is None:
        hdr.markers = _annotations([], [], [])
    return hdr


def _companion(header: Path, name: str, key: str) -> Path:
    """A companion file named in a header, which must lie in the header's folder (or below).

    A name that climbs out (``../../etc/passwd``) or is absolute is refused: the reader
    never follows a header to files elsewhere, and never quotes what such a file holds.
    """
    rel = Path(name.replace("\\", "/"))
    if rel.is_absolute() or name.startswith(("/", "\\")) or ".." in rel.parts or re.match(r"^[A-Za-z]:", name):
        raise fail(header, f"{key} must name a file next to the header, not a path elsewhere ({rel.name!r} refused)")
    return header.parent / rel


def _bv_marker_only(vmrk: Path, sfreq: float | None = None) -> EEGHeader:
    """A lone ``.vmrk``: the sampling rate comes from the same-stem ``.vhdr`` if present."""
    hdr = EEGHeader(vmrk, "brainvision-markers")
    vhdr = vmrk.with_suffix(".vhdr")
    if sfreq is None and vhdr.is_file() and vhdr.stat().st_size > 0:
        full = _bv_header(vhdr)
        hdr.ch_names, hdr.ch_types, hdr.sfreq = full.ch_names, full.ch_types, full.sfreq
        hdr.n_samples, hdr.data_file, hdr.data_state = full.n_samples, full.data_file, full.data_state
    else:
        hdr.sfreq = sfreq
    if hdr.sfreq is None:
        hdr.marker_unit = "samples"
        hdr.notes.append("no .vhdr next to this marker file: sampling rate unknown, times in samples")
    hdr.markers = _bv_markers(vmrk, hdr.sfreq, hdr.notes)
    return hdr


def _eeglab_struct(path: Path) -> Any:
    """The ``EEG`` structure of a ``.set``, loaded the way MNE's reader loads it."""
    from mne.io.eeglab.eeglab import _check_load_mat

    try:
        eeg = _check_load_mat(str(path), None, preload=False)
    except Exception as exc:  # noqa: BLE001
        raise fail(path, f"not a readable EEGLAB .set (MATLAB) file ({_why(exc)})") from None
    if "srate" not in eeg or "nbchan" not in eeg:
        raise fail(path, "not an EEGLAB dataset (no EEG.srate / EEG.nbchan)")
    return eeg


def _eeglab_header(path: Path) -> EEGHeader:
    """Header of an EEGLAB ``.set`` through MNE's own EEGLAB functions (one reader).

    Channel names and markers come from the same code :func:`mne.io.read_raw_eeglab`
    runs, so struct arrays and cell arrays of ``chanlocs``/``event`` read identically.
    """
    from mne.io.eeglab.eeglab import _get_info, _read_annotations_eeglab

    eeg = _eeglab_struct(path)
    sfreq = check_sfreq(_scalar(eeg["srate"], path, "EEG.srate"), path, "sampling rate (EEG.srate)")
    eeg.srate = sfreq
    nchan = int(eeg.nbchan)
    if not 1 <= nchan <= _MAX_CHANNELS:
        raise fail(path, f"EEG.nbchan={nchan} is not a usable channel count (1..{_MAX_CHANNELS})")
    pnts = int(eeg.get("pnts", 0) or 0)
    if pnts < 0:
        raise fail(path, f"EEG.pnts={pnts} is negative")
    try:
        if eeg.get("chanlocs") is None:
            eeg.chanlocs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info, _, _ = _get_info(eeg, eog=(), montage_units="auto")
        names = list(info["ch_names"])
    except Exception as exc:  # noqa: BLE001 - malformed chanlocs
        raise fail(path, f"unreadable EEG.chanlocs ({_why(exc)})") from None
    if len(names) != nchan:
        raise fail(path, f"EEG.chanlocs has {len(names)} channels, EEG.nbchan says {nchan}")
    hdr = EEGHeader(path, "eeglab", names, [_guess_type(n) for n in names], sfreq)
    trials = int(eeg.get("trials", 1) or 1)
    hdr.n_samples = pnts * trials or None
    if trials > 1:
        hdr.notes.append(f"epoched dataset ({trials} trials)")
    data = eeg.get("data")
    if isinstance(data, str):
        here = Path(data.replace("\\", "/"))
        if here.is_absolute() and here.parent.resolve() == path.parent.resolve():
            data = here.name  # EEGLAB saved its own folder's absolute path
        target = _companion(path, data, "EEG.data")
        if target.resolve() == path.resolve():
            hdr.data_state = "embedded"  # data inside the .set itself (MATLAB v7.3)
        else:
            hdr.data_file = target
            if not target.is_file():
                hdr.data_state = "missing"
            elif target.stat().st_size == 0:
                hdr.data_state = "empty"
            else:
                expected = nchan * (hdr.n_samples or 0) * 4
                hdr.data_state = "ok" if target.stat().st_size >= expected else "truncated"
    else:
        arr = np.asarray(data) if data is not None else np.empty(0)
        if arr.ndim < 2 or arr.shape[0] != nchan:
            raise fail(path, f"EEG.data is neither a .fdt file name nor a channels x samples array "
                       f"(shape {arr.shape}, nbchan {nchan})")
        hdr.data_state = "embedded"
    try:
        ann = _read_annotations_eeglab(eeg)
    except Exception as exc:  # noqa: BLE001 - malformed event structure
        raise fail(path, f"unreadable EEG.event ({_why(exc)})") from None
    onset = np.asarray(ann.onset, float)
    if onset.size > _MAX_MARKERS:
        raise fail(path, f"{onset.size} events (at most {_MAX_MARKERS})")
    if onset.size and not np.all(np.isfinite(onset)):
        raise fail(path, "EEG.event holds non-finite latencies")
    hdr.markers = _annotations(onset, np.asarray(ann.duration, float), [_event_name(t) for t in ann.description])
    return hdr


def _scalar(value: Any, path: Path, what: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise fail(path, f"{what} is not a number")
    return float(arr.reshape(-1)[0])


def _event_name(t: Any) -> str:
    if isinstance(t, float) and t.is_integer():
        return str(int(t))
    return str(t)


def _mne_header(path: Path) -> EEGHeader:
    raw = read_eeg(path, preload=False)
    fmt = {".edf": "edf", ".bdf": "bdf"}.get(full_suffix(path), "fif")
    ann = raw.annotations
    if len(ann) > _MAX_MARKERS:
        raise fail(path, f"{len(ann)} annotations (at most {_MAX_MARKERS})")
    offset = raw.first_time if ann.orig_time is not None else 0.0
    return EEGHeader(
        path,
        fmt,
        list(raw.ch_names),
        list(raw.get_channel_types()),
        float(raw.info["sfreq"]),
        int(raw.n_times),
        _annotations(np.asarray(ann.onset) - offset, ann.duration, ann.description),
        data_state="embedded",
    )


def read_eeg_header(path: str | os.PathLike, *, sfreq: float | None = None) -> EEGHeader:
    """Read an EEG file's header and markers without needing the signal data.

    Parameters
    ----------
    path : path-like
        ``.vhdr`` (+ ``.vmrk``), a lone ``.vmrk``, EEGLAB ``.set``, EDF/BDF or FIF.
    sfreq : float | None
        Sampling rate for a lone ``.vmrk`` that has no ``.vhdr`` beside it.

    Returns
    -------
    EEGHeader

    Raises
    ------
    InputError
        Missing, empty, wrong-type or corrupt header or marker file.
    """
    path = check_file(path)
    suffix = full_suffix(path)
    try:
        if suffix == ".vhdr":
            return _bv_header(path)
        if suffix == ".vmrk":
            return _bv_marker_only(path, sfreq)
        if suffix == ".set":
            return _eeglab_header(path)
        if suffix in (".edf", ".bdf", ".fif", ".fif.gz"):
            return _mne_header(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes one line
        raise fail(path, f"corrupt header ({_why(exc)})") from None
    raise fail(path, f"not an EEG file this reader knows (type {suffix or 'without extension'!r}); "
               f"use one of {', '.join(_HEADER_SUFFIXES)}")


# --------------------------------------------------------------------------- full read
def _why(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg[:150]}" if msg else type(exc).__name__


def _check_bv_companions(path: Path) -> None:
    hdr = _bv_header(path, markers=False)
    cfg = _read_ini(path)
    if hdr.data_file is None:
        raise fail(path, "header names no DataFile")
    name = hdr.data_file.name
    if hdr.data_state == "missing":
        raise fail(path, f"the data file {name} named in the header is missing (expected next to the .vhdr)")
    if hdr.data_state == "empty":
        raise fail(path, f"the data file {name} is empty (0 bytes): the recording holds no signal")
    if hdr.data_state == "truncated":
        raise fail(hdr.data_file, "truncated: its size is not a whole number of samples x channels")
    mk = cfg.get("Common Infos", "MarkerFile")
    if mk:
        vmrk = _companion(path, mk, "MarkerFile")
        if not vmrk.is_file():
            raise fail(path, f"the marker file {mk} named in the header is missing")
        if vmrk.stat().st_size == 0:
            raise fail(vmrk, "empty marker file (0 bytes)")
        _check_first_line(vmrk)
    pts = cfg.get("Common Infos", "DataPoints")
    if pts and pts.isdigit() and hdr.n_samples is not None and hdr.n_samples < int(pts):
        raise fail(hdr.data_file, f"truncated: {hdr.n_samples} samples, header says {pts}")


def _check_eeglab_companions(path: Path) -> None:
    hdr = _eeglab_header(path)
    if hdr.data_file is not None:
        name = hdr.data_file.name
        if hdr.data_state == "missing":
            raise fail(path, f"the data file {name} named in the .set is missing (expected next to it)")
        if hdr.data_state == "empty":
            raise fail(path, f"the data file {name} is empty (0 bytes)")
        if hdr.data_state == "truncated":
            raise fail(hdr.data_file, "truncated: shorter than channels x samples x 4 bytes in the .set")


def _apply_bids_channels(raw: Any, path: Path) -> None:
    """Channel types and bad channels from a BIDS ``*_channels.tsv`` next to the file."""
    stem = re.sub(r"_eeg$", "", path.name.split(".")[0])
    tsv = path.parent / f"{stem}_channels.tsv"
    if not tsv.is_file():
        return
    try:
        lines = [ln.split("\t") for ln in tsv.read_text(encoding="utf-8").splitlines() if ln.strip()]
        head = [h.strip().lower() for h in lines[0]]
        iname, itype = head.index("name"), head.index("type")
        istat = head.index("status") if "status" in head else None
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        logger.warning("%s: unreadable channels.tsv ignored", tsv)
        return
    types, bads = {}, []
    for row in lines[1:]:
        if len(row) <= max(iname, itype):
            continue
        name = row[iname].strip()
        if name not in raw.ch_names:
            continue
        t = _BIDS_TYPES.get(row[itype].strip().upper())
        if t and t != raw.get_channel_types([name])[0]:
            types[name] = t
        if istat is not None and len(row) > istat and row[istat].strip().lower() == "bad":
            bads.append(name)
    if types:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw.set_channel_types(types, on_unit_change="ignore")
    if bads:
        raw.info["bads"] = sorted(set(raw.info["bads"]) | set(bads))


def _apply_name_types(raw: Any) -> None:
    """ECG/EOG/EMG channels recorded as EEG get their type from their name."""
    types = {}
    for name, t in zip(raw.ch_names, raw.get_channel_types()):
        g = _guess_type(name)
        if t == "eeg" and g != "eeg":
            types[name] = g
    if types:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw.set_channel_types(types, on_unit_change="ignore")


def read_eeg(path: str | os.PathLike, preload: bool = False) -> Any:
    """Open an EEG recording.

    Parameters
    ----------
    path : path-like
        BrainVision ``.vhdr``, EDF ``.edf``, BDF ``.bdf``, EEGLAB ``.set`` or FIF
        ``.fif``/``.fif.gz`` (BIDS ``*_eeg.*`` files are these formats; a
        ``*_channels.tsv`` beside one sets channel types and bad channels).
    preload : bool
        Load the signal into memory now (default: lazily, so large files open fast).

    Returns
    -------
    mne.io.BaseRaw
        Channels named ECG/EKG/EOG/EMG get those types.

    Raises
    ------
    InputError
        One line naming the file and the problem: missing or empty file, missing or
        empty companion (``.eeg``, ``.vmrk``, ``.fdt``), truncated data, corrupt header,
        wrong file type.
    """
    import mne

    path = check_file(path)
    suffix = full_suffix(path)
    if suffix not in EEG_SUFFIXES:
        hint = " (open the .vhdr header instead)" if suffix in (".eeg", ".vmrk", ".dat") else ""
        raise fail(path, f"not an EEG file this reader knows (type {suffix or 'none'!r}){hint}; "
                   f"use one of {', '.join(EEG_SUFFIXES)}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if suffix == ".vhdr":
                _check_bv_companions(path)
                raw = mne.io.read_raw_brainvision(path, preload=preload, verbose="warning")
            elif suffix == ".set":
                _check_eeglab_companions(path)
                raw = mne.io.read_raw_eeglab(path, preload=preload, verbose="warning")
            elif suffix in (".edf", ".bdf"):
                _check_edf(path)
                reader = mne.io.read_raw_edf if suffix == ".edf" else mne.io.read_raw_bdf
                raw = reader(path, preload=preload, verbose="warning")
            else:
                raw = mne.io.read_raw_fif(path, preload=preload, verbose="warning")
    except InputError:
        raise
    except MemoryError:
        raise fail(path, "does not fit in memory; open it without preload") from None
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        raise fail(path, _explain(exc, suffix)) from None
    for w in caught:
        msg = str(w.message).lower()
        if any(k in msg for k in ("truncat", "file size", "does not match", "invalid tag")):
            raise fail(path, f"truncated or inconsistent data ({' '.join(str(w.message).split())[:120]})")
    if raw.n_times == 0:
        raise fail(path, "holds no samples")
    check_sfreq(raw.info["sfreq"], path)
    _apply_name_types(raw)
    _apply_bids_channels(raw, path)
    _apply_bids_sidecar(raw, path)
    return raw


def _apply_bids_sidecar(raw: Any, path: Path) -> None:
    """Power-line frequency from the BIDS ``*_eeg.json`` (with inheritance) when present."""
    from .mri import find_sidecar

    if "-" not in path.name:
        return
    meta: dict[str, Any] = {}
    for sc in find_sidecar(path):
        try:
            doc = load_json(sc, what="JSON sidecar")
        except InputError as exc:
            logger.warning("%s (sidecar ignored)", exc)
            continue
        if isinstance(doc, dict):
            meta.update(doc)
    line = meta.get("PowerLineFrequency")
    if isinstance(line, (int, float)) and not isinstance(line, bool) and 0 < line < 1000:
        with raw.info._unlock():
            raw.info["line_freq"] = float(line)


def _check_edf(path: Path) -> None:
    """EDF/BDF header sanity and size check (MNE silently pads a truncated file)."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    if len(head) < 256:
        raise fail(path, "truncated: shorter than the 256-byte EDF/BDF header")
    version = head[:8]
    if not (version.startswith(b"0 ") or version == b"0       " or version[:1] == b"\xff"):
        raise fail(path, "not an EDF/BDF file (bad version field in the header)")
    try:
        header_bytes = int(head[184:192].decode("ascii").strip())
        n_records = int(head[236:244].decode("ascii").strip())
        n_signals = int(head[252:256].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise fail(path, "corrupt EDF/BDF header (non-numeric fields)") from None
    if n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
        raise fail(path, "corrupt EDF/BDF header (signal count and header size disagree)")
    with open(path, "rb") as fh:
        fh.seek(256 + 216 * n_signals)
        block = fh.read(8 * n_signals)
    try:
        samples = [int(block[8 * i : 8 * i + 8].decode("ascii").strip()) for i in range(n_signals)]
    except (UnicodeDecodeError, ValueError):
        raise fail(path, "corrupt EDF/BDF header (samples per record)") from None
    if n_signals > _MAX_CHANNELS:
        raise fail(path, f"corrupt EDF/BDF header ({n_signals} signals; at most {_MAX_CHANNELS})")
    try:
        rec_dur = float(head[244:252].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise fail(path, "corrupt EDF/BDF header (record duration is not a number)") from None
    if not np.isfinite(rec_dur) or rec_dur <= 0:
        raise fail(path, f"corrupt EDF/BDF header (record duration {rec_dur:g} s)")
    if any(n <= 0 for n in samples):
        raise fail(path, "corrupt EDF/BDF header (a signal has no samples per record)")
    check_sfreq(max(samples) / rec_dur, path, f"sampling rate ({max(samples)} samples per {rec_dur:g} s record)")
    with open(path, "rb") as fh:
        fh.seek(256 + 104 * n_signals)
        ranges = fh.read(32 * n_signals)
    try:
        cols = [[float(ranges[(k * n_signals + i) * 8 : (k * n_signals + i) * 8 + 8].decode("ascii").strip())
                 for i in range(n_signals)] for k in range(4)]
    except (UnicodeDecodeError, ValueError):
        raise fail(path, "corrupt EDF/BDF header (physical/digital min/max are not numbers)") from None
    pmin, pmax, dmin, dmax = (np.asarray(c) for c in cols)
    if not (np.all(np.isfinite(pmin)) and np.all(np.isfinite(pmax))):
        raise fail(path, "corrupt EDF/BDF header (non-finite physical min/max)")
    same = np.flatnonzero(dmin == dmax)
    if same.size:
        raise fail(path, f"corrupt EDF/BDF header: signal {int(same[0]) + 1} has digital minimum = maximum "
                   f"({dmin[same[0]]:g}); its values cannot be scaled")
    same = np.flatnonzero(pmin == pmax)
    if same.size:
        raise fail(path, f"corrupt EDF/BDF header: signal {int(same[0]) + 1} has physical minimum = maximum "
                   f"({pmin[same[0]]:g})")
    width = 3 if version[:1] == b"\xff" else 2
    record = sum(samples) * width
    size = path.stat().st_size
    if n_records > 0 and size < header_bytes + n_records * record:
        have = (size - header_bytes) // record if record else 0
        raise fail(path, f"truncated: {have} of {n_records} data records present")


def _explain(exc: BaseException, suffix: str) -> str:
    msg = " ".join(str(exc).split())
    low = msg.lower()
    if isinstance(exc, FileNotFoundError):
        missing = getattr(exc, "filename", None) or msg
        return f"a companion file is missing: {Path(str(missing)).name}"
    if "unexpected end" in low or "truncat" in low or "cannot reshape" in low or "buffer" in low:
        return f"truncated or corrupt data ({msg[:120]})"
    kind = {".vhdr": "BrainVision", ".set": "EEGLAB", ".edf": "EDF", ".bdf": "BDF"}.get(suffix, "FIF")
    return f"not a readable {kind} file ({_why(exc)})"
