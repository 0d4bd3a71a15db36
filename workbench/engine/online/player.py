"""Play a recording as an LSL stream in real time, reading it from disk in blocks.

Why not only MNE-LSL's :class:`~mne_lsl.player.PlayerLSL`: it needs the whole
recording in memory as float64 (64 channels x 5 kHz x 30 min is 4.6 GB, plus the
copy :func:`.lsl.run_replay` makes to add the index channel), which a long replay
cannot afford. This player keeps a few one-second blocks: a reader thread reads them
from the file (``raw.get_data(start, stop)`` on a recording opened without preload)
into a short queue, and the streaming thread pushes chunks at the sample rate.

Timestamps follow PlayerLSL's scheme (each chunk is pushed with the scheduled time of
its last sample; liblsl counts the others back at the nominal rate), except that a
marker is stamped with the timestamp of *its own* sample (PlayerLSL stamps it one
sample earlier). Like :func:`.lsl.run_replay`, the stream carries an index channel and
a flat lead-in/lead-out so that the receiver can count every lost sample.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class FilePlayer:
    """Stream ``raw`` (opened without preload) on LSL in real time from disk.

    Parameters
    ----------
    raw : mne.io.Raw
        The recording; need not be loaded.
    name : str
        Name of the data stream (the markers go on ``<name>-annotations``, strings).
    chunk : int
        Samples per pushed chunk.
    index_channel : str
        Name of the appended channel that carries the file's sample index (-1 in the
        lead-in and lead-out).
    lead_in_s : float
        Seconds of flat signal (the first sample repeated) sent before the file.
    lead_out_chunks : int
        Chunks of flat signal sent after the file.
    block_s : float
        Seconds read from disk at a time.
    queue_blocks : int
        Blocks read ahead.
    marker_delay_s : float
        Push each marker this long after its sample (still stamped with its sample's
        time): a marker stream that trails the data, for testing and teaching.
    """

    def __init__(
        self,
        raw: Any,
        name: str,
        *,
        chunk: int,
        index_channel: str,
        lead_in_s: float = 5.0,
        lead_out_chunks: int = 2,
        block_s: float = 1.0,
        queue_blocks: int = 4,
        marker_delay_s: float = 0.0,
    ) -> None:
        self.raw = raw
        self.name = name
        self.sfreq = float(raw.info["sfreq"])
        self.chunk = max(1, int(chunk))
        self.n = int(raw.n_times)
        self.lead = int(round(lead_in_s * self.sfreq))
        self.lead_out = int(lead_out_chunks) * self.chunk
        self.block = max(self.chunk, int(round(block_s * self.sfreq)) // self.chunk * self.chunk)
        self.index_channel = index_channel
        ann = raw.annotations
        on = np.asarray(ann.onset, float) - (raw.first_time if ann.orig_time is not None else 0.0)
        # sample of each marker on the streamed grid (lead-in included)
        self._m_idx = np.rint(on * self.sfreq).astype(np.int64) + self.lead
        self._m_desc = [str(d) for d in ann.description]
        order = np.argsort(self._m_idx, kind="stable")
        self._m_idx = self._m_idx[order]
        self._m_desc = [self._m_desc[i] for i in order]
        self._m_push = self._m_idx + max(0, int(round(marker_delay_s * self.sfreq)))  # sample it is pushed with
        self._q: queue.Queue = queue.Queue(maxsize=max(1, int(queue_blocks)))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.error: BaseException | None = None
        self.late_s_max = 0.0  # worst lag of a push behind its schedule
        self.pushed = 0

    @property
    def total(self) -> int:
        """Samples streamed (lead-in + file + lead-out)."""
        return self.lead + self.n + self.lead_out

    # ---------------------------------------------------------------- reader
    def _read(self) -> None:
        try:
            first = self.raw.get_data(start=0, stop=1)
            last = self.raw.get_data(start=self.n - 1, stop=self.n)
            pos = 0
            while pos < self.total and not self._stop.is_set():
                end = min(pos + self.block, self.total)
                idx = np.arange(pos, end, dtype=np.int64) - self.lead
                blk = np.empty((first.shape[0] + 1, end - pos))
                a, b = max(pos, self.lead), min(end, self.lead + self.n)
                if b > a:
                    blk[:-1, a - pos : b - pos] = self.raw.get_data(start=a - self.lead, stop=b - self.lead)
                if a > pos:
                    blk[:-1, : a - pos] = first
                if end > b:
                    blk[:-1, max(b, pos) - pos :] = last
                inside = (idx >= 0) & (idx < self.n)
                blk[-1] = np.where(inside, idx, -1)
                while not self._stop.is_set():
                    try:
                        self._q.put((pos, blk), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                pos = end
        except BaseException as exc:  # reported by the streaming side
            self.error = exc
        finally:
            self._q.put(None)

    # -------------------------------------------------------------- streaming
    def _stream(self, outlet: Any, m_outlet: Any, local_clock: Any) -> None:
        target = local_clock()  # scheduled time of the previous chunk's last sample
        mi = 0
        try:
            while not self._stop.is_set():
                item = self._q.get()
                if item is None:
                    break
                pos, blk = item
                for s in range(0, blk.shape[1], self.chunk):
                    if self._stop.is_set():
                        break
                    data = blk[:, s : s + self.chunk]
                    g0, k = pos + s, data.shape[1]
                    t_end = target + k / self.sfreq
                    if k == 1:
                        outlet.push_sample(np.ascontiguousarray(data[:, 0]), timestamp=t_end)
                    else:
                        outlet.push_chunk(np.ascontiguousarray(data.T), timestamp=t_end)
                    # markers of this chunk, stamped with their own sample's time
                    j = mi
                    while j < self._m_push.size and self._m_push[j] < g0 + k:
                        j += 1
                    for q in range(mi, j):
                        if self._m_push[q] >= g0:
                            m_outlet.push_sample([self._m_desc[q]], timestamp=t_end - (g0 + k - 1 - self._m_idx[q]) / self.sfreq)
                    mi = j
                    self.pushed += k
                    target = t_end
                    delay = target - local_clock()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        self.late_s_max = max(self.late_s_max, -delay)
        except BaseException as exc:
            self.error = exc
            self._stop.set()

    def start(self) -> FilePlayer:
        """Open the outlets and start reading and streaming."""
        import mne
        from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

        names = [*self.raw.ch_names, self.index_channel]
        types = [*self.raw.get_channel_types(), "misc"]
        sinfo = StreamInfo(self.name, "EEG", len(names), self.sfreq, np.float64, f"{self.name}-src")
        sinfo.set_channel_info(mne.create_info(names, self.sfreq, types))
        self._outlet = StreamOutlet(sinfo, chunk_size=self.chunk)
        minfo = StreamInfo(f"{self.name}-annotations", "annotations", 1, 0.0, "string", f"{self.name}-ann")
        self._m_outlet = StreamOutlet(minfo, chunk_size=1)
        reader = threading.Thread(target=self._read, name="online-file-reader", daemon=True)
        streamer = threading.Thread(
            target=self._stream, args=(self._outlet, self._m_outlet, local_clock), name="online-file-player", daemon=True
        )
        self._threads = [reader, streamer]
        reader.start()
        streamer.start()
        return self

    def stop(self) -> None:
        """Stop (idempotent) and close the outlets."""
        self._stop.set()
        while True:  # unblock the reader
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        for t in self._threads:
            t.join(timeout=5.0)
        self._outlet = None
        self._m_outlet = None
