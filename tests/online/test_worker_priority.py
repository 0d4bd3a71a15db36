"""The online correction's worker threads run behind the stream thread.

The template and pulse-backfit workers share the cores (two here) with the stream thread;
when all three want one, the stream's chunk should go first. The workers lower their own
scheduling priority (``nice`` +10) when they start. What it bought is measured in
``benchmarks/bench_online.py --only latency`` (README, "Wave thirty-three").
"""

from __future__ import annotations

import os
import sys

import pytest

from workbench.engine.online.gradient import CausalGradient

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)  # on Linux: the calling thread's own


@pytest.mark.parametrize("pool", ["template", "backfit"])
def test_the_workers_run_at_a_lower_priority_than_the_stream(pool: str) -> None:
    g = CausalGradient(4, 1000.0, threaded=True)
    try:
        mine = _nice()
        ex = g._pool if pool == "template" else g._backfit_pool()
        assert ex is not None
        assert ex.submit(_nice).result() == min(mine + 10, 19)
        assert _nice() == mine  # the stream thread's own priority is left alone
    finally:
        g.close()


def test_an_unthreaded_correction_makes_no_template_worker() -> None:
    g = CausalGradient(4, 1000.0, threaded=False)
    assert g._pool is None
    g.close()
