"""Streaming writers: BrainVision (.vhdr/.vmrk/.eeg) and .npy, chunk by chunk.

pybv writes whole arrays; a 30-minute 64-channel recording does not fit that pattern,
so the binary is appended here chunk by chunk and the text headers are written in
the same layout pybv 0.8 produces (BrainVision Core Data Format 1.0), which
:func:`mne.io.read_raw_brainvision` reads (checked by the tests).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["BrainVisionStream", "NpyStream", "Marker"]

Marker = tuple[str, str, int]  # (type, description, 0-based sample)


class BrainVisionStream:
    """Append multiplexed float32 samples (stored in µV) to ``<base>.eeg``.

    Parameters
    ----------
    vhdr : Path
        Header path; ``.eeg`` and ``.vmrk`` are written beside it with the same stem.
    ch_names : sequence of str
    sfreq : float
    """

    def __init__(self, vhdr: Path, ch_names: Sequence[str], sfreq: float) -> None:
        self.vhdr = Path(vhdr)
        self.eeg = self.vhdr.with_suffix(".eeg")
        self.vmrk = self.vhdr.with_suffix(".vmrk")
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.n_written = 0
        self._fh = open(self.eeg, "wb")

    def write(self, data_v: np.ndarray) -> None:
        """Append ``data_v`` (n_channels, n) in volts."""
        if data_v.shape[0] != len(self.ch_names):
            raise ValueError("channel count mismatch")
        block = np.ascontiguousarray((data_v * 1e6).astype("<f4").T)
        self._fh.write(block.tobytes())
        self.n_written += data_v.shape[1]

    def close(self, markers: Sequence[Marker], meas_date: str = "20260101000000000000") -> None:
        """Finish the binary and write the header and the marker file."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        interval = 1e6 / self.sfreq
        lines = [
            "Brain Vision Data Exchange Header File Version 1.0",
            "; Written by the EEG-fMRI Workbench phantom (pybv 0.8 layout)",
            "",
            "[Common Infos]",
            "Codepage=UTF-8",
            f"DataFile={self.eeg.name}",
            f"MarkerFile={self.vmrk.name}",
            "DataFormat=BINARY",
            "; Data orientation: MULTIPLEXED=ch1,pt1, ch2,pt1 ...",
            "DataOrientation=MULTIPLEXED",
            f"NumberOfChannels={len(self.ch_names)}",
            "; Sampling interval in microseconds",
            f"SamplingInterval={interval!r}",
            "",
            "[Binary Infos]",
            "BinaryFormat=IEEE_FLOAT_32",
            "",
            "[Channel Infos]",
            "; Each entry: Ch<Channel number>=<Name>,<Reference channel name>,",
            '; <Resolution in "Unit">,<Unit>, Future extensions..',
            "; Fields are delimited by commas, some fields might be omitted (empty).",
            '; Commas in channel names are coded as "\\1".',
        ]
        for i, name in enumerate(self.ch_names, 1):
            lines.append(f"Ch{i}={name.replace(',', chr(92) + '1')},FCz,1,µV")
        lines += ["", "[Comment]", "Simulated simultaneous EEG-fMRI recording (workbench phantom).",
                  "Reference: FCz. Amplifier: simulated BrainAmp MR.", ""]
        self.vhdr.write_text("\n".join(lines), encoding="utf-8")
        mk = [
            "Brain Vision Data Exchange Marker File, Version 1.0",
            "; Written by the EEG-fMRI Workbench phantom (pybv 0.8 layout)",
            "",
            "[Common Infos]",
            "Codepage=UTF-8",
            f"DataFile={self.eeg.name}",
            "",
            "[Marker Infos]",
            "; Each entry: Mk<Marker number>=<Type>,<Description>,<Position in data points>,",
            ";             <Size in data points>, <Channel number (0 = marker is related to all channels)>",
            ";             <Date (YYYYMMDDhhmmssuuuuuu)>",
            "; Fields are delimited by commas, some fields might be omitted (empty).",
            '; Commas in type or description text are coded as "\\1".',
            f"Mk1=New Segment,,1,1,0,{meas_date}",
        ]
        for i, (typ, desc, sample) in enumerate(sorted(markers, key=lambda m: (m[2], m[0], m[1])), 2):
            mk.append(f"Mk{i}={typ},{desc},{int(sample) + 1},1,0")
        self.vmrk.write_text("\n".join(mk) + "\n", encoding="utf-8")

    def abort(self) -> None:
        """Close the binary without headers (the caller removes the files)."""
        if not self._fh.closed:
            self._fh.close()


class NpyStream:
    """A (n_rows, n_cols) float32 ``.npy`` file filled column block by column block.

    Written with positional writes rather than a memory map, so a 2 GB array never
    stays resident (mapped dirty pages would count towards the process's memory).
    """

    def __init__(self, path: Path, shape: tuple[int, int]) -> None:
        self.path = Path(path)
        self.shape = shape
        self._fh = open(self.path, "wb")
        header = {"descr": "<f4", "fortran_order": False, "shape": tuple(int(s) for s in shape)}
        np.lib.format.write_array_header_1_0(self._fh, header)
        self.offset = self._fh.tell()
        self._fh.truncate(self.offset + 4 * shape[0] * shape[1])

    def write(self, c0: int, block: np.ndarray) -> None:
        """Write ``block`` (n_rows, n) into columns ``c0 .. c0 + n``."""
        b = np.asarray(block, dtype="<f4")
        fd = self._fh.fileno()
        for r in range(self.shape[0]):
            os.pwrite(fd, b[r].tobytes(), self.offset + 4 * (r * self.shape[1] + c0))

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
