"""Declarations: parameter typing, bounds, choices; declaration checks."""

from __future__ import annotations

import pytest

from workbench.engine.errors import InputError
from workbench.plugin_api import (
    DeclarationError,
    FusionMethod,
    OutputSpec,
    Param,
    params_from_strings,
)

EXPL = "A method declared in a test to check how declarations are validated here."


def _method(**kw) -> FusionMethod:
    base = dict(
        id="my-method",
        title="Mine",
        explanation=EXPL,
        inputs=("bold",),
        params=(
            Param("alpha", "float", 0.05, "false discovery rate", minimum=0.0, maximum=0.5),
            Param("n", "int", 3, "count", minimum=1),
            Param("flag", "bool", True, "a switch"),
            Param("mode", "choice", "a", "a choice", choices=("a", "b")),
        ),
        outputs=(OutputSpec("z", "map"),),
        run="pkg.mod:run",
    )
    base.update(kw)
    return FusionMethod(**base)


def test_strings_from_the_cli_are_converted_and_validated():
    m = _method()
    m.check_declaration()
    got = m.validate_params(params_from_strings(["alpha=0.01", "n=7", "flag=off", "mode=b"]))
    assert got == {"alpha": 0.01, "n": 7, "flag": False, "mode": "b"}
    assert m.validate_params({}) == m.defaults()


@pytest.mark.parametrize(
    ("given", "pattern"),
    [
        ({"alpha": "0.9"}, "above its maximum 0.5"),
        ({"alpha": "-1"}, "below its minimum"),
        ({"alpha": "abc"}, "must be a float"),
        ({"n": 2.5}, "must be a int"),
        ({"flag": "maybe"}, "must be a bool"),
        ({"mode": "c"}, "not one of a, b"),
        ({"beta": 1}, "has no parameter 'beta'; its parameters: alpha, flag, mode, n"),
    ],
)
def test_bad_parameters_give_one_line_errors(given, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        _method().validate_params(given)
    assert "\n" not in str(info.value)


def test_bad_key_value_syntax():
    with pytest.raises(InputError, match="key=value"):
        params_from_strings(["alpha"])


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"id": "My Method"}, "lower-case"),
        ({"explanation": "short"}, "paragraph"),
        ({"inputs": ("eeg", "spikes")}, "unknown input 'spikes'"),
        ({"outputs": ()}, "at least one output"),
        ({"outputs": (OutputSpec("z", "volume"),)}, "kind 'volume'"),
        ({"params": (Param("x", "float", 2.0, "x", maximum=1.0),)}, "invalid default"),
        ({"params": (Param("x", "float", 0.0, ""),)}, "help text"),
        ({"run": "not a path"}, "module:function"),
        ({"label": "A label far too long for the bar"}, "at most 14 characters"),
    ],
)
def test_bad_declarations_are_rejected(kw, pattern):
    with pytest.raises(DeclarationError, match=pattern):
        _method(**kw).check_declaration()
