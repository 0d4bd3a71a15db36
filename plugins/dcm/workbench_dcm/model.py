"""A DCM's structure: regions, inputs and the 0/1 masks of A, B and C (``MODEL.json``).

The masks follow SPM12: ``a[i][j] = 1`` lets region ``j`` drive region ``i``; ``b[input]``
marks the connections an input modulates; ``c[i][k] = 1`` lets input ``k`` drive region
``i`` directly. Self-connections (the diagonal of ``a``) are always estimated, as in SPM
(they are the log self-inhibition), whatever the mask says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import InputError

__all__ = ["DcmModel", "load_model"]


@dataclass
class DcmModel:
    """The structure of one DCM.

    Attributes
    ----------
    name : str
    regions : list of str
        Region names (the columns of ``ROIS.tsv`` used, in this order).
    inputs : list of str
        Input names (the ``name`` column of ``INPUTS.tsv``).
    a : ndarray (n, n) bool
        Endogenous connections, ``a[i, j]`` from ``j`` to ``i``; the diagonal is set.
    b : ndarray (m, n, n) bool
        Modulatory connections per input.
    c : ndarray (n, m) bool
        Driving inputs.
    """

    name: str
    regions: list[str]
    inputs: list[str]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    source: str = field(default="", compare=False)

    @property
    def n(self) -> int:
        return len(self.regions)

    @property
    def m(self) -> int:
        return len(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """The ``MODEL.json`` document."""
        return {
            "name": self.name,
            "regions": list(self.regions),
            "inputs": list(self.inputs),
            "a": self.a.astype(int).tolist(),
            "b": {u: self.b[k].astype(int).tolist() for k, u in enumerate(self.inputs)},
            "c": self.c.astype(int).tolist(),
        }

    def save(self, path: str | Path) -> Path:
        """Write ``MODEL.json`` (atomically)."""
        from workbench.engine.atomic import atomic_write_json

        atomic_write_json(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def build(cls, name: str, regions: list[str], inputs: list[str], a: Any, b: dict[str, Any] | None,
              c: Any, source: str | Path | None = None) -> DcmModel:
        """Build and check a model from plain lists (as read from JSON).

        Raises
        ------
        InputError
            Naming ``source`` and the first problem (shapes, values other than 0/1, names).
        """
        where = source
        regions = [str(r) for r in regions]
        inputs = [str(u) for u in inputs]
        n, m = len(regions), len(inputs)
        if n < 1:
            raise InputError(where, "the model needs at least one region ('regions': [...])")
        if len(set(regions)) != n:
            raise InputError(where, "region names must be unique")
        if len(set(inputs)) != m:
            raise InputError(where, "input names must be unique")
        A = _mask(a, (n, n), "a", f"{n} x {n} (one row per region)", where)
        np.fill_diagonal(A, True)
        C = _mask(c, (n, m), "c", f"{n} x {m} (one row per region, one column per input)", where)
        B = np.zeros((m, n, n), bool)
        for key, val in (b or {}).items():
            if key not in inputs:
                raise InputError(where, f"'b' names input {key!r}, which is not among the inputs {inputs}")
            B[inputs.index(key)] = _mask(val, (n, n), f"b[{key!r}]", f"{n} x {n}", where)
        if m and not C.any():
            raise InputError(where, "no input drives any region ('c' is all zero): the model has no activity")
        return cls(str(name), regions, inputs, A, B, C, source=str(source or ""))


def _mask(value: Any, shape: tuple[int, int], key: str, expect: str, where: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(where, f"'{key}' must be a {expect} matrix of 0/1") from None
    if shape[1] == 0 and arr.size == 0:
        return np.zeros(shape, bool)
    if arr.shape != shape:
        raise InputError(where, f"'{key}' has shape {'x'.join(map(str, arr.shape)) or 'scalar'} but the "
                                f"model's regions/inputs need {expect}")
    if not np.all((arr == 0) | (arr == 1)):
        raise InputError(where, f"'{key}' must hold only 0 and 1 (a mask of which parameters are free)")
    return arr.astype(bool)


def load_model(path: str | Path) -> DcmModel:
    """Read ``MODEL.json``: ``{"name", "regions", "inputs", "a", "b": {input: mask}, "c"}``.

    Raises
    ------
    InputError
        One line naming the file: unreadable JSON, missing keys, masks not matching the
        regions/inputs.
    """
    from workbench.engine.validate import load_json

    path = Path(path)
    doc = load_json(path, what="DCM model")
    for key in ("regions", "a", "c"):
        if key not in doc:
            raise InputError(path, f"the model has no {key!r} (needs name, regions, inputs, a, b, c)")
    if not isinstance(doc["regions"], list):
        raise InputError(path, "'regions' must be a list of region names")
    inputs = doc.get("inputs", [])
    if not isinstance(inputs, list):
        raise InputError(path, "'inputs' must be a list of input names")
    b = doc.get("b", {}) or {}
    if not isinstance(b, dict):
        raise InputError(path, "'b' must map an input name to a region x region mask")
    return DcmModel.build(doc.get("name", path.stem), doc["regions"], inputs, doc["a"], b, doc["c"],
                          source=path)


def dumps(model: DcmModel) -> str:
    """JSON text of a model (for tests and the editor)."""
    return json.dumps(model.to_dict(), indent=1)
