"""The online path in a process of its own, for a live view to watch.

Why a process and not a thread: PyQt does not release the GIL while Qt works in C++
(painting, scaling), so any Python thread in the GUI's process waits for every redraw.
Measured here: a Python thread polling every 0.5 ms saw a 298 ms gap during one
``QImage.scaled`` call, and the live window's added latency at 1920×1080 was a p95
of 62-88 ms with the cleaning in a thread beside the plots (2.3-3.1 ms headless). The
cleaning, the replay's player and the trailing backfit therefore run in a child
process (``spawn``: safe with a running Qt application); the GUI only reads a queue.

What crosses the pipe per chunk is a :class:`LiveChunk`: the one channel the view
shows (its index is shared, so the user can switch channel while the run goes on),
the flags, the latency, the new messages and the engine's QC snapshot. At the end
the :class:`~.lsl.OnlineRun` itself crosses, for the final figures.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WorkbenchError
from .pipeline import OnlineParams


@dataclass
class LiveChunk:
    """The part of one cleaned chunk a live view draws.

    Attributes
    ----------
    channel : int
        Index of the channel in :attr:`raw` and :attr:`clean` (in the pipeline's
        channel list).
    raw, clean : ndarray (n,)
        That channel as received and as published (V).
    flags : ndarray (n,)
        Per-sample flags (:mod:`.flags`).
    latency_s : float
        Added latency of the chunk (pull to push).
    messages : list of str
        New messages of the engine.
    live : dict
        The engine's QC snapshot after the chunk.
    """

    channel: int
    raw: np.ndarray
    clean: np.ndarray
    flags: np.ndarray
    latency_s: float
    messages: list[str] = field(default_factory=list)
    live: dict[str, Any] = field(default_factory=dict)


def _serve(replay: bool, target: str, params: OnlineParams, out: Any, stop: Any, channel: Any) -> None:
    """Child process: run the replay or the live stream, put what the view needs on ``out``."""
    from .lsl import run_replay, run_stream

    def on_start(names: list[str], sfreq: float) -> None:
        out.put(("start", names, sfreq))

    def on_chunk(res: Any, raw: np.ndarray, lat: float) -> None:
        k = int(channel.value)
        if not 0 <= k < raw.shape[0]:
            k = 0
        out.put(("chunk", LiveChunk(k, raw[k].copy(), res.data[k].copy(), res.flags.copy(), float(lat),
                                    list(res.messages), dict(res.live))))

    try:
        if replay:
            if not Path(target).exists():
                raise WorkbenchError(f"{target}: file not found")
            run, _ = run_replay(target, params=params, on_chunk=on_chunk, stop=stop, on_start=on_start)
        else:
            run = run_stream(target, params=params, on_chunk=on_chunk, stop=stop, on_start=on_start)
        out.put(("done", run))
    except WorkbenchError as exc:
        out.put(("error", str(exc)))
    except Exception as exc:  # said to the view, which shows it
        out.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()
        out.join_thread()  # everything put is in the pipe before the process ends


class OnlineProcess:
    """A replay or a live stream cleaned in a child process.

    Parameters
    ----------
    replay : bool
        True: ``target`` is a recording to replay; False: the name of an LSL stream.
    target : str
        Path or stream name.
    params : OnlineParams
        Settings of the online correction.
    channel : int
        Index of the channel the view shows first (:meth:`set_channel` changes it).

    Notes
    -----
    :meth:`poll` returns what arrived: ``("start", names, sfreq)``, ``("chunk",
    LiveChunk)``, ``("done", OnlineRun)`` or ``("error", message)``; if the child ends
    without "done" or "error" (killed, crashed), :meth:`poll` adds an error that says so.
    """

    def __init__(self, replay: bool, target: str, params: OnlineParams, channel: int = 0) -> None:
        ctx = mp.get_context("spawn")
        self._out = ctx.Queue()
        self._stop = ctx.Event()
        self._channel = ctx.Value("i", int(channel), lock=False)
        self._proc = ctx.Process(target=_serve, args=(replay, target, params, self._out, self._stop, self._channel),
                                 name="workbench-online", daemon=True)
        self._ended = False

    def start(self) -> None:
        """Start the child process."""
        self._proc.start()

    def stop(self) -> None:
        """Ask the child to stop (it finishes its chunk, closes its streams, reports)."""
        self._stop.set()

    def set_channel(self, k: int) -> None:
        """Show channel ``k`` from the next chunk on."""
        self._channel.value = int(k)

    @property
    def running(self) -> bool:
        """True while the child process runs."""
        return self._proc.is_alive()

    def poll(self, max_items: int = 100_000) -> list[tuple]:
        """What arrived since the last call (never blocks)."""
        got: list[tuple] = []
        while len(got) < max_items:
            try:
                item = self._out.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError):
                break
            got.append(item)
            if item[0] in ("done", "error"):
                self._ended = True
        if not got and not self._ended and self._proc.exitcode is not None:
            # the child is gone; anything it put before ending is read first
            try:
                got.append(self._out.get(timeout=0.5))
                if got[-1][0] in ("done", "error"):
                    self._ended = True
            except (queue.Empty, EOFError, OSError):
                self._ended = True
                got.append(("error", f"the online process ended unexpectedly (exit code {self._proc.exitcode})"))
        return got

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child and wait for it (terminated after ``timeout`` seconds)."""
        self._stop.set()
        if self._proc.pid is not None:
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(1.0)
        self._out.cancel_join_thread()
