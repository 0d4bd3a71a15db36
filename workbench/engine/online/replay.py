"""Replay a recording through the online pipeline in this process (no LSL).

The same :class:`~.pipeline.OnlinePipeline` as the live path, fed the file in chunks
with timestamps from the sample count and the file's markers on the same clock; used
by tests, the benchmark and ``workbench online --replay`` to compare with the
transport-free result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..progress import Progress, as_progress
from .pipeline import OnlineParams, OnlinePipeline


@dataclass
class ReplayResult:
    """Output of :func:`replay_array`.

    Attributes
    ----------
    data : ndarray (n_channels + 1, n_times), float32
        Cleaned channels plus the flag row.
    compute_s : ndarray
        Processing time of each chunk (s).
    messages : list of str
    state : dict
        :meth:`OnlinePipeline.state` at the end.
    """

    data: np.ndarray
    compute_s: np.ndarray
    messages: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> np.ndarray:
        return self.data[-1].astype(np.int16)


def replay_array(
    data: np.ndarray,
    ch_names: list[str],
    ch_types: list[str],
    sfreq: float,
    marker_onsets_s: np.ndarray,
    marker_names: list[str],
    *,
    params: OnlineParams | None = None,
    ecg: str | None = None,
    chunk: int = 50,
    timestamps: np.ndarray | None = None,
    out: np.ndarray | None = None,
    threaded: bool = True,
    progress: Progress | None = None,
    marker_delay_s: float | None = None,
) -> ReplayResult:
    """Feed ``data`` (channels x samples, V) chunk by chunk through the pipeline.

    Parameters
    ----------
    marker_onsets_s, marker_names : array, list
        Markers (s from the first sample, on the ``timestamps`` clock).
    chunk : int
        Samples per chunk (an amplifier sends 10-50 ms).
    timestamps : ndarray | None
        Per-sample times (s); default ``n / sfreq``. Tests pass irregular ones to
        simulate gaps and wrong rates.
    out : ndarray | None
        Destination (e.g. a memmap) of shape (n_channels + 1, n_times).
    marker_delay_s : float | None
        None: each marker is handed over one chunk ahead of its sample (as MNE-LSL's
        player does). A number: a marker arrives this long after its own sample was
        acquired (a marker stream trailing the data), i.e. with the first chunk whose
        last sample is at least that late; its timestamp stays its sample's.
    """
    p = as_progress(progress)
    pipe = OnlinePipeline(ch_names, ch_types, sfreq, params, ecg=ecg, threaded=threaded)
    n = data.shape[1]
    if timestamps is None:
        timestamps = np.arange(n) / float(sfreq)
    if out is None:
        out = np.empty((len(ch_names) + 1, n), np.float32)
    order = np.argsort(marker_onsets_s)
    m_on = np.asarray(marker_onsets_s, float)[order]
    m_nm = [marker_names[i] for i in order]
    mi = 0
    comp = []
    try:
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            if marker_delay_s is None:  # one chunk ahead, as MNE-LSL's player does
                horizon = timestamps[min(e + chunk, n) - 1]
            else:
                horizon = timestamps[e - 1] - marker_delay_s
            j = mi
            while j < m_on.size and m_on[j] <= horizon:
                j += 1
            if j > mi:
                pipe.add_markers(m_on[mi:j], m_nm[mi:j])
                mi = j
            r = pipe.process(np.asarray(data[:, s:e]), timestamps[s:e])
            out[:, s:e] = r.data
            comp.append(r.compute_s)
            if (s // chunk) % 200 == 0:
                p(e / n, "replaying")
    finally:
        pipe.close()
    # after close: the template thread has finished with the last epochs it was given
    # (their counts in the state and any message they left)
    return ReplayResult(out, np.array(comp), list(pipe.messages), pipe.state())


def replay_raw(raw: Any, **kwargs: Any) -> ReplayResult:
    """:func:`replay_array` on an ``mne.io.Raw`` (its annotations are the markers)."""
    ann = raw.annotations
    on = np.asarray(ann.onset, float) - (raw.first_time if ann.orig_time is not None else 0.0)
    return replay_array(
        raw.get_data(),
        list(raw.ch_names),
        raw.get_channel_types(),
        float(raw.info["sfreq"]),
        on,
        list(ann.description),
        **kwargs,
    )
