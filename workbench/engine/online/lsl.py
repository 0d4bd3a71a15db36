"""Lab Streaming Layer transport of the online correction (through MNE-LSL).

``run_stream`` reads an amplifier's stream with a :class:`mne_lsl.lsl.StreamInlet`
(pulled every millisecond; each chunk is cleaned as soon as it is pulled, so nothing
waits in a queue; see the note in the code on why not a ``StreamLSL`` ring), reads the scanner markers
from a marker stream with a :class:`mne_lsl.lsl.StreamInlet` (string or MNE-LSL's
one-hot encoding), and publishes the cleaned chunks (plus the flag channel) on a
:class:`mne_lsl.lsl.StreamOutlet`. ``run_replay`` plays a file with MNE-LSL's
:class:`~mne_lsl.player.PlayerLSL` on this machine and runs the same path.

Latency of a chunk (``latency_ms_*``) = what this node adds: from the moment the
chunk was pulled from the inlet to the moment its cleaned version was pushed
(marker wait, cleaning, push). ``transport_ms_*`` = pull time minus the source's
timestamp of the chunk's last sample (MNE-LSL's player stamps each chunk with its
scheduled time, which can be slightly ahead of the push, so this can be negative).
The inlet is polled every millisecond.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .pipeline import ChunkResult, OnlineParams, OnlinePipeline
from .record import ChunkRecorder

log = logging.getLogger(__name__)

#: channel carrying the file's sample index in a replay (dropped before cleaning)
INDEX_CHANNEL = "WB_SAMPLE_INDEX"
#: seconds of flat lead-in a replay sends before the file, so that connecting the
#: inlet never costs a sample of the file
LEAD_IN_S = 5.0
#: samples by which MNE-LSL's player stamps an annotation ahead of its data sample
#: (compensated in :func:`run_replay`; checked by a test against the player itself)
PLAYER_MARKER_LAG = 1
#: above this size of the float64 copy MNE-LSL's player would hold (lead-in and index
#: channel included, twice for the copy it makes), a replay streams the file from disk
PLAYER_MAX_BYTES = 1 << 30
#: longest wait for a volume marker that is due (markers may trail the samples)
MARKER_WAIT_S = 0.01


@dataclass
class OnlineRun:
    """What a live or replayed run did (JSON-ready through :meth:`qc`)."""

    latencies_s: list[float] = field(default_factory=list)
    transport_s: list[float] = field(default_factory=list)
    compute_s: list[float] = field(default_factory=list)
    n_received: int = 0
    n_sent: int = 0
    dropped_samples: int = 0
    first_index: int | None = None
    messages: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    output: Path | None = None
    errors: int = 0

    def qc(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_s) * 1e3
        tra = np.asarray(self.transport_s) * 1e3
        comp = np.asarray(self.compute_s) * 1e3

        def q(a: np.ndarray, p: float) -> float | None:
            return float(np.percentile(a, p)) if a.size else None

        return {
            "latency_ms_median": q(lat, 50),
            "latency_ms_p95": q(lat, 95),
            "latency_ms_max": q(lat, 100),
            "transport_ms_median": q(tra, 50),
            "compute_ms_median": q(comp, 50),
            "compute_ms_p95": q(comp, 95),
            "dropped_samples": int(self.dropped_samples),
            "samples_received": int(self.n_received),
            "samples_sent": int(self.n_sent),
            "chunks": int(lat.size),
            "messages": list(self.messages),
            "state": self.state,
        }


def quiet_liblsl() -> None:
    """Keep liblsl's own INFO/ERR lines off the terminal (unless the user configured
    liblsl through ``LSLAPICFG``); called before MNE-LSL loads the library."""
    import os
    import tempfile

    if "LSLAPICFG" in os.environ:
        return
    cfg = Path(tempfile.gettempdir()) / "workbench-lsl_api.cfg"
    if not cfg.exists():
        cfg.write_text("[log]\nlevel = -3\n", encoding="utf-8")
    os.environ["LSLAPICFG"] = str(cfg)


def _marker_inlet(name: str | None, data_name: str, timeout: float) -> Any:
    """Open the marker stream: ``name``, else ``<data>-annotations``, else any stream
    of type Markers/annotations. None if there is none."""
    from mne_lsl.lsl import StreamInlet, resolve_streams

    found = resolve_streams(timeout=timeout)
    cands = [s for s in found if s.name == name] if name else []
    if not cands and not name:
        cands = [s for s in found if s.name == f"{data_name}-annotations"]
        cands = cands or [s for s in found if s.stype.lower() in ("markers", "annotations") and s.sfreq == 0]
    if not cands:
        return None
    inlet = StreamInlet(cands[0], processing_flags=["clocksync"])
    inlet.open_stream(timeout=timeout)
    return inlet


def _pull_markers(inlet: Any, wait: float = 0.0) -> tuple[list[float], list[str]]:
    if inlet is None:
        return [], []
    data, ts = inlet.pull_chunk(timeout=wait)
    if ts.size == 0:
        return [], []
    if inlet.dtype == "string" or np.asarray(data).dtype.kind in "OUS":
        return list(ts), [str(np.atleast_1d(row)[0]) for row in data]
    names = inlet.get_sinfo().get_channel_names() or [str(i) for i in range(data.shape[1])]
    st, nm = [], []
    for t, row in zip(ts, np.atleast_2d(data)):
        for k in np.flatnonzero(row):
            st.append(float(t))
            nm.append(names[k])
    return st, nm


def run_stream(
    name: str,
    *,
    params: OnlineParams | None = None,
    markers: str | None = None,
    ecg: str | None = None,
    out_name: str | None = None,
    record: str | Path | None = None,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_chunk: Callable[[ChunkResult, np.ndarray, float], None] | None = None,
    idle_stop_s: float | None = None,
    expected_samples: int | None = None,
    timeout: float = 5.0,
    on_start: Callable[[list[str], float], None] | None = None,
) -> OnlineRun:
    """Clean the LSL stream ``name`` and publish it as ``out_name``.

    Parameters
    ----------
    name : str
        Name of the amplifier's LSL stream.
    params : OnlineParams | None
    markers : str | None
        Name of the marker stream (default ``<name>-annotations`` or any marker stream).
    ecg : str | None
        ECG channel.
    out_name : str | None
        Name of the cleaned stream (default ``<name>-clean``).
    record : path | None
        Also record the cleaned stream to this FIF file.
    duration_s : float | None
        Stop after this long; None runs until ``stop`` is set.
    stop : threading.Event | None
        Set it to stop.
    on_chunk : callable | None
        ``on_chunk(result, raw_chunk, latency_s)`` after each chunk (GUI live view);
        called in the acquisition thread, so it must only hand the data over.
    idle_stop_s : float | None
        Stop when no sample came for this long (replays).
    expected_samples : int | None
        Stop once this many file samples were received (replays).
    timeout : float
        Seconds to find the stream.
    on_start : callable | None
        ``on_start(channel_names, sfreq)`` once connected (the cleaned stream's
        channels without the flag channel).
    """
    quiet_liblsl()
    from mne_lsl.lsl import StreamInfo, StreamInlet, StreamOutlet, local_clock, resolve_streams

    params = params or OnlineParams()
    # markers first (resolving them must not cost data samples)
    minlet = _marker_inlet(markers, name, min(timeout, 2.0))
    found = [s for s in resolve_streams(timeout=timeout, name=name) if s.sfreq > 0]
    if not found:
        raise InputError(None, f"no LSL stream named {name!r} with a regular sample rate found")
    # A plain inlet rather than a StreamLSL ring: StreamLSL rolls its whole buffer on
    # every pull and sizes the inlet's backlog by that buffer, so a stall of the
    # machine longer than the buffer loses samples; the inlet keeps 30 s here.
    inlet = StreamInlet(found[0], max_buffered=30, processing_flags=["clocksync"])
    inlet.open_stream(timeout=timeout)
    info = inlet.get_sinfo().get_channel_info()
    sfreq = float(info["sfreq"])
    names = list(info["ch_names"])
    types = info.get_channel_types()
    idx_row = names.index(INDEX_CHANNEL) if INDEX_CHANNEL in names else None
    keep = [i for i in range(len(names)) if i != idx_row]
    pipe = OnlinePipeline(
        [names[i] for i in keep], [types[i] for i in keep], sfreq, params, ecg=ecg
    )
    run = OnlineRun()
    if on_start is not None:
        on_start(list(pipe.ch_names), sfreq)
    if minlet is None:
        run.messages.append(
            "no marker stream found: no scanner volume markers, the gradient is not corrected (flagged)"
        )
    import mne

    out_types = [types[i] for i in keep] + ["misc"]
    out_info = mne.create_info(pipe.out_names, sfreq, out_types)
    sinfo = StreamInfo(
        out_name or f"{name}-clean", "EEG", len(pipe.out_names), sfreq, np.float32, f"wb-{uuid.uuid4().hex[:8]}"
    )
    sinfo.set_channel_info(out_info)
    outlet = StreamOutlet(sinfo, chunk_size=1)
    rec = ChunkRecorder(record, pipe.out_names, out_types, sfreq) if record else None
    state = {"last": time.monotonic(), "done": False, "next_index": None}
    lock = threading.Lock()

    def callback(data: np.ndarray, ts: np.ndarray) -> None:
        t_in = local_clock()
        try:
            x = np.asarray(data, np.float64).T
            t = np.asarray(ts, float)
            if idx_row is not None:
                ix = np.rint(x[idx_row]).astype(np.int64)
                use = ix >= 0
                if not use.any():
                    state["last"] = time.monotonic()
                    return
                x, t, ix = x[:, use], t[use], ix[use]
                if run.first_index is None:
                    run.first_index = int(ix[0])
                nxt = state["next_index"]
                if nxt is not None and ix[0] > nxt:
                    run.dropped_samples += int(ix[0] - nxt)
                state["next_index"] = int(ix[-1]) + 1
                x = x[keep]
            st, nm = _pull_markers(minlet)
            if st:
                pipe.add_markers(st, nm)
            # a volume is due in this chunk and its marker is not here yet: markers
            # travel on their own stream and may trail the samples by a few ms
            t_wait = local_clock()
            while minlet is not None and pipe.marker_due(t) and local_clock() - t_wait < MARKER_WAIT_S:
                st, nm = _pull_markers(minlet, wait=0.002)
                if st:
                    pipe.add_markers(st, nm)
            r = pipe.process(x, t)
            if r.data.shape[1] == 1:
                outlet.push_sample(r.data[:, 0], timestamp=float(t[-1]))
            else:
                outlet.push_chunk(np.ascontiguousarray(r.data.T), timestamp=float(t[-1]))
            lat = local_clock() - t_in
            with lock:
                run.transport_s.append(t_in - float(t[-1]))
                run.latencies_s.append(lat)
                run.compute_s.append(r.compute_s)
                run.n_received += x.shape[1]
                run.n_sent += x.shape[1]
                run.messages.extend(r.messages)
                state["last"] = time.monotonic()
            if rec is not None:
                rec.append(r.data)
            r.live["dropped_samples"] = int(run.dropped_samples)
            if on_chunk is not None:
                on_chunk(r, x, lat)
            if expected_samples is not None and state["next_index"] is not None:
                if state["next_index"] >= expected_samples:
                    state["done"] = True
        except Exception as exc:  # never let the acquisition thread die: say it, go on
            run.errors += 1
            if run.errors <= 3:
                log.exception("online chunk failed")
                run.messages.append(f"a chunk could not be processed ({type(exc).__name__}: {exc})")

    t0 = time.monotonic()
    said_idle = False
    try:
        while True:
            data, ts = inlet.pull_chunk(timeout=0.001, max_samples=4096)
            if ts.size:
                callback(data, ts)
            if state["done"] or (stop is not None and stop.is_set()):
                break
            if duration_s is not None and time.monotonic() - t0 > duration_s:
                break
            idle = time.monotonic() - state["last"]
            if idle_stop_s is not None and idle > idle_stop_s:
                break
            if idle > 1.0 and not said_idle:
                said_idle = True
                run.messages.append(f"stream {name!r} silent for {idle:.1f} s; waiting")
            elif idle < 1.0:
                said_idle = False
    finally:
        inlet.close_stream()
        pipe.close()
        if minlet is not None:
            minlet.close_stream()
        run.state = pipe.state()
        for m in pipe.messages:
            if m not in run.messages:
                run.messages.append(m)
        if rec is not None:
            run.output = rec.finish()
    return run


def run_replay(
    path: str | Path,
    *,
    params: OnlineParams | None = None,
    ecg: str | None = None,
    record: str | Path | None = None,
    chunk: int | None = None,
    on_chunk: Callable[[ChunkResult, np.ndarray, float], None] | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[list[str], float], None] | None = None,
    from_disk: bool | None = None,
    marker_delay_s: float | None = None,
) -> tuple[OnlineRun, Any]:
    """Play ``path`` as an LSL stream (real time) and clean it live.

    Parameters
    ----------
    from_disk : bool | None
        True: stream the file from disk in blocks (:class:`.player.FilePlayer`, a
        few MB in memory); False: MNE-LSL's :class:`~mne_lsl.player.PlayerLSL` (the
        whole recording in memory as float64); None: the disk player when that
        float64 copy would exceed :data:`PLAYER_MAX_BYTES`.
    marker_delay_s : float | None
        Send each marker this long after its sample (a marker stream trailing the
        data; the disk player is used).

    Returns the run and the replayed recording (``mne.io.Raw``, loaded only when
    MNE-LSL's player was used; for the QC).
    """
    import mne

    quiet_liblsl()
    from mne_lsl.player import PlayerLSL

    from ..io.eeg import read_eeg

    warnings.filterwarnings("ignore", message=".*End of file reached with an empty chunk.*")
    raw = read_eeg(path, preload=False)
    sfreq = float(raw.info["sfreq"])
    n = raw.n_times
    lead = int(LEAD_IN_S * sfreq)
    # the index channel lets the receiver count every lost sample exactly; the flat
    # lead-in (index -1) is what the inlet may miss while it connects
    chunk = chunk or max(1, int(round(0.01 * sfreq)))  # 10 ms, an amplifier's block
    ann = raw.annotations
    name = f"wb-replay-{uuid.uuid4().hex[:8]}"
    if marker_delay_s:
        from_disk = True
    if from_disk is None:
        from_disk = 2 * 8 * (len(raw.ch_names) + 1) * (n + lead) > PLAYER_MAX_BYTES
    if from_disk:
        from .player import FilePlayer

        player: Any = FilePlayer(raw, name, chunk=chunk, index_channel=INDEX_CHANNEL, lead_in_s=LEAD_IN_S,
                                 marker_delay_s=marker_delay_s or 0.0)
        markers = f"{name}-annotations"
    else:
        raw.load_data(verbose="error")
        # a flat lead-out of two chunks too: the player's last chunk can be a single
        # sample, which it does not deliver
        x = raw.get_data()
        data = np.concatenate([np.repeat(x[:, :1], lead, axis=1), x, np.repeat(x[:, -1:], 2 * chunk, axis=1)], axis=1)
        index = np.concatenate([-np.ones(lead), np.arange(n, dtype=float), -np.ones(2 * chunk)])[None]
        del x
        info = mne.create_info([*raw.ch_names, INDEX_CHANNEL], sfreq, [*raw.get_channel_types(), "misc"])
        play = mne.io.RawArray(np.concatenate([data, index]), info, verbose="error")
        del data
        on = np.asarray(ann.onset, float) - (raw.first_time if ann.orig_time is not None else 0.0)
        # MNE-LSL's player stamps an annotation one sample *before* its data sample:
        # the chunk's samples get ``t0 + (i + 1) / sfreq`` (liblsl counts back from the
        # chunk's timestamp, which the player sets to the chunk's end), its annotations
        # ``t0 + i / sfreq``. Moving the onsets one sample later makes every marker land
        # on its own sample, so a replay through LSL gives what the in-process replay gives.
        play.set_annotations(mne.Annotations(on + (lead + PLAYER_MARKER_LAG) / sfreq, ann.duration, ann.description))
        player = PlayerLSL(play, chunk_size=chunk, n_repeat=1, name=name, annotations=len(ann) > 0,
                           annotations_encoding="string")
        markers = f"{name}-annotations" if len(ann) else None
    player.start()
    try:
        run = run_stream(
            name,
            params=params,
            markers=markers,
            ecg=ecg,
            record=record,
            on_chunk=on_chunk,
            stop=stop,
            idle_stop_s=3.0,
            expected_samples=n,
            on_start=on_start,
        )
    finally:
        try:
            player.stop()
        except RuntimeError:  # it stops by itself at the end of the file
            pass
    err = getattr(player, "error", None)
    if err is not None:
        run.messages.append(f"the replay stopped reading {Path(path).name}: {type(err).__name__}: {err}")
    if run.first_index:
        run.messages.append(f"the first {run.first_index} samples were missed while connecting")
    last = run.first_index or 0
    missing_end = n - (last + run.n_received + run.dropped_samples)
    run.dropped_samples += max(0, missing_end)
    return run, raw
