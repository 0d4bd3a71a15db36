"""The gradient correction's threads: channel (or bin-block) work on ``n_jobs`` threads,
with the BLAS library's own threads limited to one meanwhile.

numpy and scipy release the GIL in FFTs and array arithmetic, so threads over channels
use both cores; the BLAS library's own threads on top of ours (its small complex products
each ran on all cores) made the work several times slower on a 2-core machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def single_blas(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with the BLAS library limited to one thread.

    Parameters
    ----------
    fn : callable
        The work (it may start threads of its own).
    *args, **kwargs
        Its arguments.
    """
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return fn(*args, **kwargs)
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(*args, **kwargs)


def ordered_map(fn: Callable[[Any], T], items: Iterable[Any], n_jobs: int) -> list[T]:
    """``[fn(x) for x in items]``, on ``n_jobs`` threads when there are several items.

    The results come in the items' order, so sums over them stay bit identical to a
    serial run.

    Parameters
    ----------
    fn : callable
        Work on one item (each item must touch its own output only).
    items : iterable
        The items (channels, bin blocks).
    n_jobs : int
        Threads (1: this thread).
    """
    items = list(items)
    if n_jobs <= 1 or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(n_jobs, len(items))) as ex:
        return list(ex.map(fn, items))
