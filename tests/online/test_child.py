"""The online path in a child process (what the live view reads)."""

from __future__ import annotations

import time

from workbench.engine.online import OnlineParams
from workbench.engine.online.child import OnlineProcess


def _wait_end(proc: OnlineProcess, timeout: float = 60.0) -> list[tuple]:
    got: list[tuple] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got += proc.poll()
        if got and got[-1][0] in ("done", "error"):
            return got
        time.sleep(0.05)
    raise AssertionError(f"no end after {timeout} s: {[g[0] for g in got]}")


def test_an_error_in_the_child_is_reported(tmp_path) -> None:
    proc = OnlineProcess(True, str(tmp_path / "missing.vhdr"), OnlineParams())
    proc.start()
    got = _wait_end(proc)
    proc.close()
    assert got[-1] == ("error", f"{tmp_path / 'missing.vhdr'}: file not found")


def test_a_child_that_dies_is_reported(tmp_path) -> None:
    proc = OnlineProcess(False, "wb-no-such-stream", OnlineParams())
    proc.start()
    time.sleep(0.5)
    proc._proc.kill()
    got = _wait_end(proc)
    proc.close()
    assert got[-1][0] == "error" and "ended unexpectedly" in got[-1][1], got[-1]
    assert not proc.running
