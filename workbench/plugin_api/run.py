"""Running a fusion method through the contract: validate, run, check, isolate failures."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from workbench.engine.errors import Cancelled, WorkbenchError
from workbench.engine.progress import ProgressLike, as_progress

from .declaration import FusionMethod
from .discovery import get_method
from .result import FusionInputs, FusionResult

__all__ = ["PluginError", "run_method", "resolve_method"]

logger = logging.getLogger(__name__)


class PluginError(WorkbenchError):
    """A plugin failed or broke its contract (one line; the traceback goes to the log)."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the plugin called sys.exit({exc.code!r})"
    msg = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {msg[:300]}"


def resolve_method(method: FusionMethod | str) -> FusionMethod:
    """A declaration from itself or from its id (through discovery)."""
    return method if isinstance(method, FusionMethod) else get_method(method)


def run_method(
    method: FusionMethod | str,
    inputs: FusionInputs,
    params: Mapping[str, Any] | None = None,
    progress: ProgressLike | None = None,
) -> FusionResult:
    """Validate parameters and inputs, run the method, and check what it returned.

    Raises
    ------
    InputError
        Bad parameters, missing inputs, or bad input data (raised by the method).
    Cancelled
        The user cancelled.
    PluginError
        The method crashed or returned something that breaks the contract.
    """
    decl = resolve_method(method)
    values = decl.validate_params(params)
    inputs.require(decl.inputs, decl.id)
    p = as_progress(progress)
    try:
        fn = decl.load_run()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # sys.exit() while importing is the plugin's failure
        msg = f"fusion method {decl.id!r} could not be imported: {_one_line(exc)}"
        logger.error("%s", msg)
        logger.debug("plugin %s import traceback:\n%s", decl.id, traceback.format_exc())
        raise PluginError(msg) from None
    p(0.0, f"{decl.title}: starting")
    try:
        result = fn(inputs, dict(values), p)
    except (WorkbenchError, Cancelled, KeyboardInterrupt):
        raise
    except BaseException as exc:  # SystemExit/GeneratorExit from a plugin never stop the app
        msg = f"fusion method {decl.id!r} failed: {_one_line(exc)}"
        logger.error("%s", msg)
        logger.debug("plugin %s traceback:\n%s", decl.id, traceback.format_exc())
        raise PluginError(msg) from None
    if not isinstance(result, FusionResult):
        raise PluginError(
            f"fusion method {decl.id!r} returned {type(result).__name__}, not a FusionResult"
        )
    result.method = decl.id
    result.params = dict(values)
    result.method_version = decl.version
    declared = {o.name: o.kind for o in decl.outputs}
    for name, kind in result.output_kinds().items():
        if declared.get(name) != kind:
            raise PluginError(
                f"fusion method {decl.id!r} returned an undeclared output {name!r} ({kind})"
            )
    _check_finite(decl.id, result)
    p(1.0, f"{decl.title}: done")
    return result


def _check_finite(method_id: str, result: FusionResult) -> None:
    """NaN/inf never reach a result: refuse maps holding them and all-NaN series/matrices."""
    import numpy as np

    for name, img in result.maps.items():
        try:
            data = np.asanyarray(img.dataobj)
        except Exception as exc:  # noqa: BLE001 - a map that is not an image
            raise PluginError(f"fusion method {method_id!r} returned map {name!r} that is not an image "
                              f"({type(exc).__name__})") from None
        if data.dtype.kind in "fc":
            bad = int(data.size - np.count_nonzero(np.isfinite(data)))
            if bad:
                raise PluginError(f"fusion method {method_id!r} returned map {name!r} with {bad} NaN/inf "
                                  "voxel(s); a result map holds finite numbers only")
    series = [(f"timecourse {k!r} series {s!r}", a) for k, v in result.timecourses.items()
              for s, a in (v.get("series") or {}).items()]
    series += [(f"matrix {k!r}", v.get("values")) for k, v in result.matrices.items()]
    for what, values in series:
        try:
            arr = np.asarray(values, float)
        except (TypeError, ValueError):
            raise PluginError(f"fusion method {method_id!r} returned {what} that is not numeric") from None
        if arr.size and not np.any(np.isfinite(arr)):
            raise PluginError(f"fusion method {method_id!r} returned {what} with no finite value")
