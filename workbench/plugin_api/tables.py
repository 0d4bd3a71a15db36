"""Reading a feature table (rows = observations, columns = features) with one-line errors.

For plugins that take tables from the command line (`workbench fuse cca --x X.tsv`): one reader,
so every method refuses the same bad tables with the same messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["read_table", "one_file"]


def one_file(inputs: Any, name: str, method_id: str, what: str, required: bool = True) -> Path | None:
    """The single path given for a declared file input (``--NAME PATH``), or None when optional.

    Parameters
    ----------
    inputs : FusionInputs
        The method's inputs (``inputs.files[name]`` lists the paths given).
    name : str
        The file input's name.
    method_id : str
        Named in the error.
    what : str
        What the file holds, for the error ("a feature table").
    required : bool
        Refuse when it was not given.
    """
    flag = f"--{name.replace('_', '-')}"
    paths = inputs.files.get(name) or []
    if not paths:
        if required:
            raise InputError(None, f"{method_id} needs {flag} ({what}); see `workbench fuse {method_id} --help`")
        return None
    if len(paths) > 1:
        raise InputError(paths[1], f"give {flag} once")
    return Path(paths[0])


def read_table(path: str | Path, what: str) -> tuple[np.ndarray, list[str], list[str]]:
    """A numeric table from TSV/CSV with a header row.

    A first column that is not numeric (e.g. ``participant_id``) gives the row labels.
    Returns ``(values (n x p) float64, column names, row labels)``.
    """
    import pandas as pd

    path = Path(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    try:
        df = pd.read_csv(path, sep=sep)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's problem
        raise InputError(path, f"not a readable {'CSV' if sep == ',' else 'TSV'} table ({type(exc).__name__})") from None
    if df.shape[1] == 0 or len(df) == 0:
        raise InputError(path, f"{what} table is empty: it needs a header row and one row per observation")
    labels = [str(i + 1) for i in range(len(df))]
    first = df.columns[0]
    if not pd.api.types.is_numeric_dtype(df[first]):
        labels = [str(v) for v in df[first]]
        df = df.drop(columns=[first])
    if df.shape[1] == 0:
        raise InputError(path, f"{what} table has no numeric columns")
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(path, f"{what} column {bad[0]!r} is not numeric (only the first column may hold labels)")
    values = df.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise InputError(path, f"{what} has a missing or non-finite value (row {r + 1}, column "
                               f"{df.columns[c]!r}); impute or drop that row first")
    return values, [str(c) for c in df.columns], labels
