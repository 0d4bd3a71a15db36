"""Typed, documented step parameters: the one ``Param`` every step and plugin declares.

A :class:`Param` says what a value is (type, unit, bounds, choices), what it does (help,
shown as the GUI tooltip and the CLI help) and whether "off"/"auto" (``None``) is
allowed. Forms in the GUI, options of the command line, pipeline JSON and replay are
all generated from these declarations (DESIGN §2b), so a parameter is written once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

__all__ = ["PARAM_TYPES", "Param", "DeclarationError", "validate_values"]

#: parameter types the form builder and the CLI know
PARAM_TYPES = ("float", "int", "bool", "str", "choice")

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: strings that mean ``None`` for an optional parameter ("off" for a filter, "auto" for a detector)
NONE_WORDS = ("none", "auto", "off", "")


class DeclarationError(ValueError):
    """A step's or plugin's declaration breaks the contract (reported, never fatal)."""


@dataclass(frozen=True)
class Param:
    """A typed, documented parameter of a step (built-in stage or fusion plugin).

    Attributes
    ----------
    name : str
        Python identifier used as keyword.
    type : str
        One of :data:`PARAM_TYPES`.
    default : Any
        Default value (must itself be valid).
    help : str
        What it does and its typical value (the GUI tooltip).
    label : str
        Short label for forms (defaults to the name).
    minimum, maximum : float | None
        Inclusive bounds for numbers.
    choices : tuple
        Allowed values for ``"choice"``.
    unit : str
        Unit of the value (SI where it is physical: ``"s"``, ``"Hz"``, ``"m"``).
    optional : bool
        ``None`` is allowed; it is shown and typed as :attr:`none_label`.
    none_label : str
        What ``None`` means for this parameter: ``"auto"`` (detected from the data) or
        ``"off"`` (the processing is skipped).
    browse : str
        For a ``"str"`` naming a file or folder: ``"folder"``, or a file-dialog filter
        (``"Realignment parameters (*.txt *.par *.tsv)"``); the GUI form then has a
        *Browse…* button. Empty: a plain text.
    """

    name: str
    type: str
    default: Any
    help: str
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    unit: str = ""
    optional: bool = False
    none_label: str = "auto"
    browse: str = ""

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ")

    def check_declaration(self) -> None:
        """Raise :class:`DeclarationError` if the parameter itself is ill-declared."""
        if not _NAME_RE.match(self.name):
            raise DeclarationError(f"parameter name {self.name!r} is not an identifier")
        if self.type not in PARAM_TYPES:
            raise DeclarationError(
                f"parameter {self.name}: type {self.type!r} not in {PARAM_TYPES}"
            )
        if not self.help.strip():
            raise DeclarationError(f"parameter {self.name}: help text is required")
        if self.browse and self.type != "str":
            raise DeclarationError(f"parameter {self.name}: only a str parameter can name a file to browse for")
        if self.type == "choice" and not self.choices:
            raise DeclarationError(f"parameter {self.name}: a choice needs choices")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise DeclarationError(f"parameter {self.name}: minimum > maximum")
        try:
            self.coerce(self.default)
        except InputError as exc:
            raise DeclarationError(f"parameter {self.name}: invalid default ({exc})") from None

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string from the CLI or a form) and validate it.

        Raises
        ------
        InputError
            With a one-line message naming the parameter, what was given and what is allowed.
        """
        words = NONE_WORDS if self.type != "bool" else ("none", "auto", "")
        if value is None or (isinstance(value, str) and value.strip().lower() in words):
            if self.optional:
                return None
            if value is None:
                raise InputError(None, f"parameter {self.name!r} needs a value")
        try:
            if self.type == "float":
                out: Any = float(value)
                if not math.isfinite(out):
                    raise ValueError
            elif self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                out = int(value)
            elif self.type == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        out = True
                    elif low in ("0", "false", "no", "off"):
                        out = False
                    else:
                        raise ValueError
                else:
                    out = bool(value)
            elif self.type == "choice":
                out = value
                if out not in self.choices:
                    matches = [c for c in self.choices if str(c) == str(value)]
                    if not matches:
                        allowed = ", ".join(map(str, self.choices))
                        raise InputError(
                            None, f"parameter {self.name!r}: {value!r} is not one of {allowed}"
                        )
                    out = matches[0]
            else:
                out = str(value)
        except (TypeError, ValueError):
            raise InputError(
                None, f"parameter {self.name!r} must be a {self.type}, got {value!r}"
            ) from None
        if self.type in ("float", "int"):
            if self.minimum is not None and out < self.minimum:
                raise InputError(
                    None, f"parameter {self.name!r} = {out} is below its minimum {self.minimum}"
                )
            if self.maximum is not None and out > self.maximum:
                raise InputError(
                    None, f"parameter {self.name!r} = {out} is above its maximum {self.maximum}"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "label": self.display,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices),
            "unit": self.unit,
            "optional": self.optional,
            "none_label": self.none_label if self.optional else None,
        }


def validate_values(params: Any, given: Any, owner: str) -> dict[str, Any]:
    """Every declared parameter's value: defaults overridden by ``given``, each checked.

    The one validation behind steps (:meth:`StepSpec.validate`) and fusion methods
    (``FusionMethod.validate_params``).

    Parameters
    ----------
    params : sequence of Param
        The declarations.
    given : mapping | None
        Values to use instead of the defaults (strings from the CLI are converted).
    owner : str
        Named in errors (``"step 'gradient'"``, ``"method 'cca'"``).

    Raises
    ------
    InputError
        Parameters not given as a mapping, unknown names (listing the known ones) or a bad value.
    """
    from collections.abc import Mapping

    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InputError(None, f"{owner}: parameters must be a mapping of name to value, got {type(given).__name__}")
    known = {p.name for p in params}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(None, f"{owner} has no parameter {', '.join(map(repr, unknown))}; "
                               f"its parameters: {', '.join(sorted(known)) or 'none'}")
    return {p.name: p.coerce(given[p.name] if p.name in given else p.default) for p in params}
