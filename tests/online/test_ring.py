"""The stream's sample ring (engine/online/ring.py): addressed by global index, and its memory
made ready when the ring is made, not by the stream's first chunk."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from workbench.engine.online.ring import SampleRing


def test_global_indices_wrap_and_old_samples_are_refused() -> None:
    r = SampleRing(2, 10)
    x = np.arange(2 * 25, dtype=np.float32).reshape(2, 25)
    for s in range(0, 25, 7):
        r.push(x[:, s : s + 7])
    assert r.end == 25 and r.start == 15
    assert np.array_equal(r.get(15, 25), x[:, 15:25])
    assert np.array_equal(r.get(18, 21), x[:, 18:21])
    with pytest.raises(IndexError):
        r.get(14, 20)


def test_the_first_chunk_faults_no_memory_in() -> None:
    """A chunk's write touches every row of the ring. With pages mapped on first write (as
    ``np.zeros`` leaves them) the stream's first chunk faulted in the whole buffer (64 ch x 5
    kHz: 28 MB, 174 ms on our test machines); the ring now writes its buffer when made.
    Counted in page faults, not timed: the first push of a 10 ms chunk faults none in."""
    ring = SampleRing(64, 110_192)
    chunk = np.ones((64, 50), np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ring.push(chunk)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(f"page faults in the first push: {faults}")
    assert faults < 8
    assert np.array_equal(ring.get(0, 50), chunk)
