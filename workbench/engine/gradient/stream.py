"""File-to-file gradient cleaning that holds the recording once, as float32.

``workbench clean`` on a 64-channel, 5 kHz, 30-minute recording: MNE keeps a loaded
Raw in float64 (twice a float32 file), and MNE's BrainVision/EDF exporters take
another full copy. Here the signal is read in time chunks into one float32 array,
corrected in place (:func:`~.correct.correct_array`, channel groups, both cores), and
written back in time chunks: FIF through MNE's own buffered writer (the array is
exposed as a non-preloaded :class:`ArrayRaw`), BrainVision by a small streaming
writer. Peak memory is about the float32 data plus the correction's working groups.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..progress import Progress, as_progress
from .correct import (
    GradientParams,
    GradientResult,
    _check_params,
    _set_lowpass,
    _sync,
    correct_array,
    event_samples,
)
from .export import WRITABLE, _suffix


def read_float32(raw: Any, chunk_s: float = 20.0, progress: Progress | None = None,
                 n_jobs: int = 2) -> np.ndarray:
    """All channels of ``raw`` as a float32 array, read in time chunks (no float64 copy).

    The reader fills the float32 array's chunks itself (MNE's ``_read_segment`` with a
    ``data_buffer``, the call ``get_data`` makes): no float64 chunk and no second copy,
    ~25 % less CPU on a 64-channel FIF; ``get_data`` when that call is not available.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (not preloaded, or preloaded).
    chunk_s : float
        Seconds read per call.
    progress : Progress | None
        Progress (fraction read).
    n_jobs : int
        Threads reading chunks side by side, for FIF files only: MNE's FIF reader opens
        the file in each call and its byte-order conversion and calibration release the
        GIL (64 ch x 5 kHz x 10 min: 0.50 -> 0.24 s with 2). Other readers may keep
        state between calls and are read in one thread.
    """
    p = as_progress(progress)
    n = raw.n_times
    out = np.empty((len(raw.ch_names), n), np.float32)
    step = max(int(chunk_s * raw.info["sfreq"]), 1)
    direct = callable(getattr(raw, "_read_segment", None)) and not getattr(raw, "preload", False)
    starts = list(range(0, n, step))
    if direct and n_jobs > 1 and len(starts) > 1 and _fif_reader(raw):
        from concurrent.futures import ThreadPoolExecutor

        def one(s: int) -> int:
            e = min(s + step, n)
            raw._read_segment(start=s, stop=e, data_buffer=out[:, s:e])
            return e

        done = 0
        with ThreadPoolExecutor(max_workers=int(n_jobs)) as ex:
            for _ in ex.map(one, starts):
                done += 1
                p(done / len(starts), "reading")
        return out
    for s in starts:
        e = min(s + step, n)
        if direct:
            try:
                raw._read_segment(start=s, stop=e, data_buffer=out[:, s:e])
            except TypeError:  # an MNE whose reader does not take a buffer
                direct = False
        if not direct:
            out[:, s:e] = raw.get_data(start=s, stop=e)
        p(e / n, "reading")
    return out


def _fif_reader(raw: Any) -> bool:
    """Whether ``raw`` is MNE's own FIF reader (``mne.io.Raw``), which opens its file per read."""
    try:
        from mne.io.fiff.raw import Raw
    except ImportError:  # pragma: no cover - an MNE without that module path
        return False
    return type(raw) is Raw


def _array_raw_class() -> type:
    from mne.io import BaseRaw

    class ArrayRaw(BaseRaw):
        """A non-preloaded Raw whose samples come from a float32 array (volts)."""

        def __init__(self, data: np.ndarray, info: Any, first_samp: int = 0) -> None:
            info = info.copy()
            with info._unlock():
                for ch in info["chs"]:
                    ch["cal"] = 1.0
                    ch["range"] = 1.0
            super().__init__(
                info,
                preload=False,
                first_samps=(first_samp,),
                last_samps=(first_samp + data.shape[1] - 1,),
                filenames=(None,),
                raw_extras=[{"src": data, "first_samp": int(first_samp)}],  # all the reader may see
                orig_format="single",
                verbose="error",
            )

        #: set while MNE's FIF writer reads the samples (:func:`float32_reads`)
        _f32_reads = False

        def _getitem(self, item, return_times=True):  # noqa: ANN001
            # The FIF writer asks for each 1 s buffer through ``raw[picks, a:b]``, which
            # reads into a new float64 array and calibrates it (x * 1.0), then divides
            # by the calibration again and casts to float32: three passes. While
            # writing, the float32 rows are handed over as they are (same bytes out:
            # float32 -> float64 -> float32 is exact); 64 ch x 5 kHz x 10 min: ~0.5 s.
            if not self._f32_reads:
                return super()._getitem(item, return_times=return_times)
            sel, start, stop = self._parse_get_set_params(item)
            data = self._raw_extras[0]["src"][sel, start:stop]
            if not return_times:
                return data
            times = np.arange(start, start + data.shape[1], dtype=float) / self.info["sfreq"]
            return data, times

        def _read_segment_file(self, data, idx, fi, start, stop, cals, mult):  # noqa: ANN001
            from mne._fiff.utils import _mult_cal_one  # what every MNE reader uses

            # MNE passes file samples (first_samp included); the array starts at first_samp
            f0 = self._raw_extras[fi]["first_samp"]
            block = self._raw_extras[fi]["src"][:, start - f0 : stop - f0]
            if mult is not None or not isinstance(idx, slice):
                block = np.asarray(block, np.float64)
            # else the float32 rows as they are: MNE casts them as it calibrates (one pass
            # into its float64 buffer, same values: x * 1.0); a float64 copy first cost a
            # 25 MB array and pass more per 10 s buffer written
            _mult_cal_one(data, block, idx, cals, mult)

    return ArrayRaw


@contextlib.contextmanager
def float32_reads(raw: Any) -> Iterator[None]:
    """While in this block, a Raw from :func:`array_raw` hands its float32 samples to
    ``raw[picks, a:b]`` without the float64 copy (for MNE's FIF writer, which casts
    them to float32 again); any other Raw is left alone."""
    if not hasattr(type(raw), "_f32_reads"):
        yield
        return
    raw._f32_reads = True
    try:
        yield
    finally:
        raw._f32_reads = False


def array_raw(data: np.ndarray, like: Any) -> Any:
    """Wrap ``data`` (float32, volts, all channels of ``like``) as a non-preloaded Raw."""
    cls = _array_raw_class()
    out = cls(data, like.info, first_samp=like.first_samp)
    out.set_annotations(like.annotations)
    return out


def _bv_escape(s: str) -> str:
    return str(s).replace(",", r"\1")


def write_brainvision_stream(
    raw: Any, path: str | os.PathLike, chunk_s: float = 20.0
) -> list[Path]:
    """Write ``raw`` as BrainVision (float32, µV, multiplexed) in time chunks, atomically.

    The three files are written into a temporary folder beside ``path`` and moved into
    place when complete.
    """
    path = Path(path)
    base = path.stem
    sf = float(raw.info["sfreq"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{base}.", dir=path.parent))
    try:
        with open(tmp / f"{base}.eeg", "wb") as fh:
            step = max(int(chunk_s * sf), 1)
            for s in range(0, raw.n_times, step):
                block = raw.get_data(start=s, stop=min(s + step, raw.n_times))
                (block * 1e6).T.astype("<f4").tofile(fh)
        ch = "\n".join(f"Ch{i + 1}={_bv_escape(n)},,1,µV" for i, n in enumerate(raw.ch_names))
        (tmp / f"{base}.vhdr").write_text(
            "Brain Vision Data Exchange Header File Version 1.0\n"
            "; Data written by the EEG-fMRI Workbench\n\n"
            "[Common Infos]\nCodepage=UTF-8\n"
            f"DataFile={base}.eeg\nMarkerFile={base}.vmrk\n"
            "DataFormat=BINARY\nDataOrientation=MULTIPLEXED\n"
            f"NumberOfChannels={len(raw.ch_names)}\nSamplingInterval={1e6 / sf:.10g}\n\n"
            "[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n\n"
            f"[Channel Infos]\n{ch}\n",
            encoding="utf-8",
        )
        ann = raw.annotations
        offset = raw.first_time if ann.orig_time is not None else 0.0
        lines = ["Mk1=New Segment,,1,1,0"]
        k = 2
        for on, du, de in zip(ann.onset, ann.duration, ann.description):
            if de.lower().startswith("new segment"):
                continue
            typ, _, desc = de.partition("/") if "/" in de else ("Comment", "", de)
            pos = int(round((on - offset) * sf)) + 1
            lines.append(
                f"Mk{k}={_bv_escape(typ)},{_bv_escape(desc)},{pos},{max(1, int(round(du * sf)))},0"
            )
            k += 1
        (tmp / f"{base}.vmrk").write_text(
            "Brain Vision Data Exchange Marker File, Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
            f"DataFile={base}.eeg\n\n[Marker Infos]\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )
        out = []
        for f in sorted(tmp.iterdir()):
            dest = path.parent / f.name
            os.replace(f, dest)
            out.append(dest)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_gradient_lean(
    raw: Any,
    *,
    params: GradientParams | None = None,
    sync: Any = None,
    sidecar: dict[str, Any] | None = None,
    source: Any = None,
    progress: Progress | None = None,
) -> GradientResult:
    """:func:`~.correct.remove_gradient` for a recording that is not loaded: memory-lean.

    The signal is read in time chunks into one float32 array (never a float64 copy),
    corrected in place and returned as a non-preloaded Raw over that array
    (:func:`array_raw`), which MNE's writers and ``get_data`` read chunk by chunk. Peak
    memory: the float32 data plus the correction's channel groups (about 1.3x a
    float32 file), against float64 data plus copies for a loaded Raw. The correction
    itself runs in float32 either way (spectra, templates, low-pass).
    """
    p = as_progress(progress)
    params = params or GradientParams()
    _check_params(params, float(raw.info["sfreq"]))
    sync = sync or _sync(raw, None, None, None, sidecar, None, source)
    data = read_float32(raw, progress=p.sub(0.0, 0.15), n_jobs=params.n_jobs)
    res = correct_array(data, raw.info, sync, params=params, source=source, progress=p.sub(0.15, 1.0),
                        events=event_samples(raw, sync))
    out = array_raw(data, raw)
    if params.lowpass is not None:
        _set_lowpass(out.info, params.lowpass)
    res.raw = out
    return res


def clean_file(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    params: GradientParams | None = None,
    tr: float | None = None,
    volume: str | None = None,
    slice: str | None = None,  # noqa: A002 - matches the CLI option
    sidecar: dict[str, Any] | None = None,
    slices_per_volume: int | None = None,
    progress: Progress | None = None,
) -> GradientResult:
    """Gradient-correct ``in_path`` into ``out_path`` holding the data once as float32.

    Nothing is written when anything fails (bad triggers, NaN channels, cancel).
    """
    from ..io.eeg import read_eeg
    from .export import write_raw

    p = as_progress(progress)
    params = params or GradientParams()
    out_path = Path(out_path)
    if _suffix(out_path) not in WRITABLE:
        raise InputError(out_path, "output must end in .fif, .vhdr or .edf")
    raw = read_eeg(in_path, preload=False)
    _check_params(params, float(raw.info["sfreq"]))
    sync = _sync(raw, tr, volume, slice, sidecar, slices_per_volume, in_path)
    data = read_float32(raw, progress=p.sub(0.0, 0.15), n_jobs=params.n_jobs)
    res = correct_array(
        data, raw.info, sync, params=params, source=in_path, progress=p.sub(0.15, 0.85),
        events=event_samples(raw, sync),
    )
    out = array_raw(data, raw)
    if params.lowpass is not None:
        _set_lowpass(out.info, params.lowpass)
    p(0.87, "writing")
    suffix = _suffix(out_path)
    if suffix == ".vhdr":
        write_brainvision_stream(out, out_path)
    else:  # FIF streams through MNE's buffered writer; EDF needs the whole signal (MNE/edfio)
        write_raw(out, out_path)
    res.raw = out
    p(1.0, "done")
    return res
