"""Record the cleaned stream to FIF without holding it in memory.

Chunks are appended to a float32 scratch file beside the target (30 min of 65 x 5 kHz
is 2.3 GB: too much to keep as a list of arrays); at the end the scratch file is
exposed to MNE as a non-preloaded Raw and written to FIF by MNE's buffered writer,
atomically (nothing appears at ``path`` unless it is complete).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class ChunkRecorder:
    """Append (n_channels, n) chunks; :meth:`finish` writes the FIF.

    Parameters
    ----------
    path : path-like
        Target ``.fif``.
    ch_names, ch_types : list of str
        Channels of the chunks (the flag channel included, typed ``misc``).
    sfreq : float
    """

    def __init__(self, path: str | os.PathLike, ch_names: list[str], ch_types: list[str], sfreq: float) -> None:
        self.path = Path(path)
        self.ch_names, self.ch_types, self.sfreq = list(ch_names), list(ch_types), float(sfreq)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".f32", dir=self.path.parent)
        self._fh = os.fdopen(fd, "wb")
        self._scratch = Path(name)
        self.n_times = 0

    def append(self, chunk: np.ndarray) -> None:
        """Append one chunk (channels x samples)."""
        np.ascontiguousarray(np.asarray(chunk, np.float32).T).tofile(self._fh)
        self.n_times += chunk.shape[1]

    def finish(self, annotations: Any = None) -> Path | None:
        """Write the FIF (None when nothing was recorded) and remove the scratch file."""
        import mne

        from ..gradient.export import write_raw
        from ..gradient.stream import array_raw

        self._fh.close()
        try:
            if self.n_times == 0:
                return None
            mm = np.memmap(self._scratch, np.float32, "r", shape=(self.n_times, len(self.ch_names)))
            info = mne.create_info(self.ch_names, self.sfreq, self.ch_types)
            like = mne.io.RawArray(np.zeros((len(self.ch_names), 1)), info, verbose="error")
            raw = array_raw(mm.T, like)
            if annotations is not None:
                raw.set_annotations(annotations)
            write_raw(raw, self.path)
            del raw, mm
            return self.path
        finally:
            self._scratch.unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop everything (nothing is written)."""
        self._fh.close()
        self._scratch.unlink(missing_ok=True)
