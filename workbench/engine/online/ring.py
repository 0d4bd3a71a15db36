"""A ring buffer of the latest samples, addressed by the stream's global sample index."""

from __future__ import annotations

import numpy as np


class SampleRing:
    """Keeps the last ``capacity`` samples of ``n_channels`` channels.

    Samples are addressed by their global index (0 = first sample of the stream); a
    read of samples that were already overwritten or not yet written raises
    ``IndexError`` (a programming error, never a user's).

    Parameters
    ----------
    n_channels : int
        Rows.
    capacity : int
        Samples kept.
    dtype : numpy dtype
        Storage type (float32 halves memory traffic; the artifact is ~1e-3 V and the EEG
        ~1e-5 V, well within float32's 7 digits).
    """

    def __init__(self, n_channels: int, capacity: int, dtype: type = np.float32) -> None:
        self.capacity = int(capacity)
        # written once here, not left to the first chunks: ``np.zeros`` maps pages that the
        # first write then faults in, and a chunk's write touches every row, so the whole
        # buffer was faulted in by the stream's first chunk. On the virtual machines we
        # measure on a first touch costs ~2 ms per MB: the gradient ring of 64 ch x 5 kHz
        # (28 MB) made the first chunk take 174 ms (260 ms with the other rings) against
        # ~1 ms for the next ones; now that cost is paid when the pipeline is made
        self.buf = np.empty((n_channels, self.capacity), dtype)
        self.buf.fill(0)
        self.end = 0  # one past the last global index written

    @property
    def start(self) -> int:
        """Oldest global index still held."""
        return max(0, self.end - self.capacity)

    def push(self, x: np.ndarray) -> None:
        """Append ``x`` (n_channels, n) after the last sample."""
        n = x.shape[1]
        if n >= self.capacity:
            x = x[:, -self.capacity :]
            self.end += n - self.capacity
            n = self.capacity
        i0 = self.end % self.capacity
        first = min(n, self.capacity - i0)
        self.buf[:, i0 : i0 + first] = x[:, :first]
        if first < n:
            self.buf[:, : n - first] = x[:, first:]
        self.end += n

    def skip(self, n: int) -> None:
        """Advance over ``n`` missing samples (stored as zeros)."""
        if n <= 0:
            return
        self.push(np.zeros((self.buf.shape[0], min(n, self.capacity)), self.buf.dtype))
        if n > self.capacity:
            self.end += n - self.capacity

    def get(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` (global indices) as a new array."""
        if start < self.start or stop > self.end or stop < start:
            raise IndexError(f"samples [{start}, {stop}) not held (ring holds [{self.start}, {self.end}))")
        i0 = start % self.capacity
        n = stop - start
        first = min(n, self.capacity - i0)
        if first == n:
            return self.buf[:, i0 : i0 + n].copy()
        return np.concatenate([self.buf[:, i0:], self.buf[:, : n - first]], axis=1)


#: "no such sample" for :func:`last_flagged` (before any global index)
NEVER = -(1 << 62)


def last_flagged(flag: np.ndarray, n0: int, carry: int = NEVER) -> np.ndarray:
    """For each sample of a chunk whose first global index is ``n0``, the global index of
    the last flagged sample at or before it; ``carry`` is the last one before the chunk
    (:data:`NEVER`: none). The last element is the next chunk's ``carry``."""
    flag = np.asarray(flag, bool)
    g = n0 + np.arange(flag.size)
    return np.maximum(np.maximum.accumulate(np.where(flag, g, NEVER)), carry) if flag.size else g
