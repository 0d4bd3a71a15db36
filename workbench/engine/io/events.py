"""Reading a BIDS ``*_events.tsv`` (task events on the scanner clock)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError

__all__ = ["read_events"]


def read_events(path: str | os.PathLike) -> Any:
    """Read a BIDS ``*_events.tsv`` into a DataFrame (``onset`` and ``duration`` required).

    Parameters
    ----------
    path : path-like
        The events table.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"])
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read events table ({exc})") from None
    for col in ("onset", "duration"):
        if col not in df.columns:
            raise InputError(path, f"events table has no {col!r} column (BIDS events.tsv needed)")
    return df
