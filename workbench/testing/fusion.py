"""``check_fusion_method``: the contract suite any fusion plugin can run on itself.

Like scikit-learn's ``check_estimator``: give it a method (declaration or id) and it
checks the declaration, parameter validation, required inputs, a run on example inputs,
that only declared outputs come back, determinism, that inputs are not modified, that
cancellation is honoured, and that the result round-trips through ``result.json`` and a
project file.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.engine.errors import Cancelled, InputError
from workbench.engine.progress import CancelToken, Progress
from workbench.plugin_api import (
    FusionInputs,
    FusionMethod,
    FusionResult,
    resolve_method,
    run_method,
)

__all__ = ["CheckReport", "check_fusion_method"]


@dataclass
class CheckReport:
    """Outcome of every check: ``(name, passed, message)``."""

    method: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def failures(self) -> list[tuple[str, str]]:
        return [(n, m) for n, passed, m in self.checks if not passed]

    def __str__(self) -> str:
        lines = [f"contract checks for {self.method}:"]
        lines += [
            f"  [{'ok' if p else 'FAIL'}] {n}{': ' + m if m else ''}" for n, p, m in self.checks
        ]
        return "\n".join(lines)


def _same_result(a: FusionResult, b: FusionResult) -> str:
    """Empty string when equal, else what differs."""
    if a.output_kinds() != b.output_kinds():
        return f"outputs differ: {sorted(a.output_kinds())} vs {sorted(b.output_kinds())}"
    for name in a.maps:
        x = np.asanyarray(a.maps[name].dataobj)
        y = np.asanyarray(b.maps[name].dataobj)
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-6, atol=1e-6, equal_nan=True):
            return f"map {name!r} differs"
        if not np.allclose(a.maps[name].affine, b.maps[name].affine):
            return f"map {name!r} affine differs"
    sa, sb = a.summary(), b.summary()
    for key in ("params", "timecourses", "matrices"):
        if not _close(sa[key], sb[key]):
            return f"{key} differ"
    if not _close(a.qc, b.qc):
        return "qc differs"
    if not _close(a.tables, b.tables):
        return "tables differ"
    return ""


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(_close(a, b) for a, b in zip(x, y))
    if isinstance(x, float | int | np.number) and isinstance(y, float | int | np.number):
        return bool(np.isclose(float(x), float(y), rtol=1e-6, atol=1e-9, equal_nan=True))
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.allclose(
            np.asarray(x, float), np.asarray(y, float), rtol=1e-6, atol=1e-9, equal_nan=True
        )
    return x == y


class _ProbeProgress(Progress):
    """A Progress that counts every report the method attempts, its sub-ranges included
    (reports made after cancellation raise before reaching the callback)."""

    def __init__(self, callback: Any, token: CancelToken | None = None, start: float = 0.0,
                 stop: float = 1.0, attempts: list[float] | None = None) -> None:
        super().__init__(callback, token, start, stop)
        self.attempts: list[float] = [] if attempts is None else attempts

    def __call__(self, fraction: float, message: str = "") -> None:
        self.attempts.append(float(fraction))
        super().__call__(fraction, message)

    def sub(self, start: float, stop: float) -> Progress:
        span = self._stop - self._start
        return _ProbeProgress(self._callback, self.token, self._start + start * span,
                              self._start + stop * span, self.attempts)


def check_fusion_method(
    method: FusionMethod | str,
    inputs: FusionInputs | Callable[[], FusionInputs] | None = None,
    params: dict[str, Any] | None = None,
    raise_on_fail: bool = True,
) -> CheckReport:
    """Run the fusion contract suite on a method.

    Parameters
    ----------
    method : FusionMethod | str
        The declaration, or an id found through plugin discovery.
    inputs : FusionInputs | callable | None
        Inputs to run on; default: the method's declared ``example`` factory.
    params : dict | None
        Parameter overrides for the runs (e.g. to make them fast).
    raise_on_fail : bool
        Raise ``AssertionError`` listing the failures (the pytest-friendly default).

    Returns
    -------
    CheckReport
    """
    report = CheckReport(str(method) if isinstance(method, str) else method.id)

    def record(name: str, fn: Callable[[], str | None]) -> bool:
        try:
            msg = fn() or ""
            report.checks.append((name, True, msg))
            return True
        except AssertionError as exc:
            report.checks.append((name, False, str(exc)))
        except Exception as exc:  # any crash is a failed check, not a crashed suite
            report.checks.append((name, False, f"{type(exc).__name__}: {exc}"))
        return False

    decl: list[FusionMethod] = []

    def _resolve() -> str:
        decl.append(resolve_method(method))
        decl[0].check_declaration()
        return f"{len(decl[0].params)} parameters, {len(decl[0].outputs)} outputs"

    if not record("declaration is valid", _resolve):
        return _finish(report, raise_on_fail)
    m = decl[0]

    def _params() -> str:
        m.validate_params({})
        try:
            m.validate_params({"__no_such_parameter__": 1})
        except InputError:
            pass
        else:
            raise AssertionError("an unknown parameter was accepted")
        n = 0
        for p in m.params:
            bad: list[Any] = []
            if p.type in ("float", "int"):
                bad.append("not-a-number")
                if p.minimum is not None:
                    bad.append(p.minimum - 1)
                if p.maximum is not None:
                    bad.append(p.maximum + 1)
            elif p.type == "choice":
                bad.append("__not_a_choice__")
            for value in bad:
                try:
                    m.validate_params({p.name: value})
                except InputError as exc:
                    assert "\n" not in str(exc), "error message spans several lines"
                    n += 1
                else:
                    raise AssertionError(f"parameter {p.name!r} accepted the bad value {value!r}")
        return f"{n} bad values rejected"

    record("parameters are validated", _params)

    def _make_inputs() -> FusionInputs:
        if isinstance(inputs, FusionInputs):
            return copy.copy(inputs)
        if callable(inputs):
            return inputs()
        ex = m.load_example()
        assert ex is not None, "no inputs given and the method declares no example"
        return ex

    example: list[FusionInputs] = []

    def _missing() -> str:
        example.append(_make_inputs())
        if not m.inputs:
            return "no required inputs"
        empty = FusionInputs()
        try:
            run_method(m, empty, params)
        except InputError as exc:
            assert m.inputs[0] in str(exc), f"message does not name the missing input: {exc}"
            return str(exc)
        raise AssertionError("ran without its required inputs")

    if not record("missing inputs are reported", _missing):
        return _finish(report, raise_on_fail)
    inp = example[0]
    before = inp.fingerprint()
    before_files = _file_hashes(inp)
    results: list[FusionResult] = []

    def _run() -> str:
        res = run_method(m, inp, params)
        assert isinstance(res, FusionResult)
        assert res.output_kinds(), "the result has no outputs"
        for name, kind in res.output_kinds().items():
            spec = m.output(name)
            assert spec is not None and spec.kind == kind, f"undeclared output {name} ({kind})"
        results.append(res)
        return f"outputs: {', '.join(sorted(res.output_kinds()))}"

    if not record("runs on example inputs with declared outputs", _run):
        return _finish(report, raise_on_fail)

    def _immutable() -> str:
        assert inp.fingerprint() == before, "the method modified its inputs"
        after = _file_hashes(inp)
        changed = sorted(f for f in before_files.keys() | after.keys() if before_files.get(f) != after.get(f))
        assert not changed, f"the method modified its input file {Path(changed[0]).name}"
        return f"{len(before_files)} input file(s) unchanged (sha256)"

    record("inputs are not modified", _immutable)

    def _deterministic() -> None:
        again = run_method(m, inp, params)
        diff = _same_result(results[0], again)
        assert not diff, f"two runs with the same parameters differ: {diff}"

    record("deterministic", _deterministic)

    def _cancel() -> str:
        # count the method's own progress reports in a normal run, then cancel half way:
        # the method must stop before its last report (Progress raises Cancelled at the
        # next report; a method that catches it, or reports only at its start and end,
        # does all its work after being cancelled and fails here)
        fn = m.load_run()
        values = m.validate_params(params)
        calls: list[float] = []
        fn(inp, dict(values), _ProbeProgress(lambda f, msg: calls.append(f)))
        assert len(calls) >= 3, (
            f"the method reported progress {len(calls)} time(s); report it as it goes (at least once "
            "between its start and its end), or cancellation cannot stop it before the end"
        )
        stop_at = max(1, len(calls) // 2)
        seen: list[float] = []
        token = CancelToken()

        def cb(f: float, msg: str) -> None:
            seen.append(f)
            if len(seen) >= stop_at:
                token.cancel()

        probe = _ProbeProgress(cb, token)
        try:
            fn(inp, dict(values), probe)
        except Cancelled:
            assert len(probe.attempts) < len(calls), (
                f"the method went on after being cancelled at report {stop_at} of {len(calls)}: it stopped "
                f"only at report {len(probe.attempts)} (its end)"
            )
            return f"cancelled at report {stop_at} of {len(calls)}, stopped at report {len(probe.attempts)}"
        raise AssertionError(
            f"the method went on after being cancelled at report {stop_at} of {len(calls)}"
        )

    record("cancellation is honoured", _cancel)

    def _roundtrip() -> None:
        from workbench.engine.project import Project

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result"
            results[0].save(out)
            back = FusionResult.load(out)
            diff = _same_result(results[0], back)
            assert not diff, f"result.json round trip: {diff}"
            proj = Project(Path(tmp) / "proj")
            proj.set_result(f"fusion/{m.id}", results[0].summary())
            proj.save()
            again = Project.load(Path(tmp) / "proj")
            assert again.results[f"fusion/{m.id}"]["method"] == m.id, (
                "project round trip lost the result"
            )

    record("result round-trips through result.json and a project", _roundtrip)
    return _finish(report, raise_on_fail)


def _input_files(inp: FusionInputs) -> list[Path]:
    """Files the inputs were read from, with their companions (``.vmrk``/``.eeg``, sidecars)."""
    from workbench.engine.outputs import companions

    found: list[Path] = [Path(f) for f in (getattr(inp, "sources", None) or {}).values() if f]
    eeg = getattr(inp, "eeg", None)
    for f in getattr(eeg, "filenames", None) or ():
        if f:
            found.append(Path(f))
    for img in (inp.bold, inp.anat, inp.mask):
        name = img.get_filename() if img is not None and hasattr(img, "get_filename") else None
        if name:
            found.append(Path(name))
    out: list[Path] = []
    for f in found:
        for c in companions(f):
            if c.is_file() and c not in out:
                out.append(c)
    return out


def _file_hashes(inp: FusionInputs) -> dict[str, str]:
    """sha256 of every input file (the contract: a method never writes to its inputs)."""
    import hashlib

    out = {}
    for f in _input_files(inp):
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[str(f)] = h.hexdigest()
    return out


def _finish(report: CheckReport, raise_on_fail: bool) -> CheckReport:
    if raise_on_fail and not report.ok:
        raise AssertionError(str(report))
    return report
