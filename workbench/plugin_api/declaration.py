"""What a fusion method declares: identity, inputs, typed parameters, outputs (DESIGN §3.4).

A declaration is plain data. It lives in a light module (no numpy-heavy imports) that the
entry point points to, so listing plugins never imports their computing code; the code
is named by ``run`` (``"package.module:function"``) and imported only when the method
runs. The GUI builds each method's parameter form from :class:`Param` and shows its
outputs from :class:`OutputSpec` with generic views.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.engine.errors import InputError
from workbench.engine.steps.params import PARAM_TYPES, DeclarationError, Param

__all__ = [
    "INPUT_KINDS",
    "OUTPUT_KINDS",
    "PARAM_TYPES",
    "Param",
    "OutputSpec",
    "FusionMethod",
    "FileInput",
    "DeclarationError",
]

#: inputs a method can require (the keys of :class:`~workbench.plugin_api.FusionInputs`)
INPUT_KINDS = ("eeg", "bold", "events", "anat", "mask", "trans", "forward", "dig")
#: kinds of declared outputs, each shown by a generic view
OUTPUT_KINDS = ("map", "timecourse", "matrix", "table")

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class OutputSpec:
    """A declared output that generic views and the report know how to show.

    ``kind`` is one of :data:`OUTPUT_KINDS`: ``map`` (a 3D NIfTI image, e.g. a z-map),
    ``timecourse`` (times plus one or more named series), ``matrix`` (2D array with row and
    column labels, e.g. a design matrix), ``table`` (rows of records, e.g. clusters).
    """

    name: str
    kind: str
    title: str = ""
    help: str = ""

    def check_declaration(self) -> None:
        if not _NAME_RE.match(self.name.replace("-", "_")):
            raise DeclarationError(f"output name {self.name!r} is not a simple name")
        if self.kind not in OUTPUT_KINDS:
            raise DeclarationError(f"output {self.name}: kind {self.kind!r} not in {OUTPUT_KINDS}")

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title or self.name,
            "help": self.help,
        }


@dataclass(frozen=True)
class FileInput:
    """A file a method can take straight from the command line (``workbench fuse ID --NAME PATH``).

    For methods used "from files", as a lab has them (an evoked file, a z-map, a table of
    features): the CLI adds ``--NAME`` for each declared file input, hashes the files into
    the provenance and hands them to the method in :attr:`FusionInputs.files`. ``eeg``,
    ``bold``, ``events``, ``anat`` (``--mri``) and ``trans`` are read into the study by
    the workbench's own readers, so the method receives them as usual, unless the method
    declares a file input of that name itself (``dcm``'s ``--bold ROIS.tsv``): then the option
    is the method's (repeatable if ``multiple``) and the file is handed to it unread.

    Attributes
    ----------
    name : str
        Option name (``"x"`` -> ``--x``); a Python identifier.
    help : str
        What the file holds (format, rows, units).
    required : bool
        The method cannot run from files without it.
    multiple : bool
        The option may be repeated (``--model A.json --model B.json``).
    """

    name: str
    help: str
    required: bool = False
    multiple: bool = False

    def check_declaration(self) -> None:
        if not _NAME_RE.match(self.name):
            raise DeclarationError(f"file input name {self.name!r} is not an identifier")
        if not self.help.strip():
            raise DeclarationError(f"file input {self.name}: help text is required")


@dataclass(frozen=True)
class FusionMethod:
    """The declaration of a fusion method.

    Attributes
    ----------
    id : str
        Stable lower-case id with dashes (``"parametric-modulation"``).
    title : str
        Human title.
    explanation : str
        One paragraph shown in the GUI (what it does, when to use it).
    inputs : tuple of str
        Required inputs among :data:`INPUT_KINDS`.
    params : tuple of Param
    outputs : tuple of OutputSpec
        Outputs the method may produce (a run may leave optional ones out).
    run : str | callable
        ``"package.module:function"`` imported only when run, or the function itself.
        Signature: ``run(inputs, params, progress) -> FusionResult``.
    version : str
    optional_inputs : tuple of str
        Inputs used when present (e.g. ``"anat"`` for display, ``"mask"``).
    seed_param : str | None
        Name of the parameter holding the random seed, if the method is stochastic.
    example : str | None
        ``"module:function"`` returning small :class:`FusionInputs` the contract suite
        (:func:`workbench.testing.check_fusion_method`) runs the method on.
    label : str
        A short name (at most 14 characters) for narrow places such as the pipeline bar
        (``"CCA"``); empty: the title, shortened.
    """

    id: str
    title: str
    explanation: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[OutputSpec, ...]
    run: str | Callable[..., Any]
    version: str = "0.1"
    optional_inputs: tuple[str, ...] = ()
    seed_param: str | None = None
    example: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    file_inputs: tuple[FileInput, ...] = ()
    label: str = ""

    # -------------------------------------------------------------- validation
    def check_declaration(self) -> None:
        """Raise :class:`DeclarationError` naming the first problem with this declaration."""
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise DeclarationError(f"id {self.id!r} must be lower-case words joined by dashes")
        if not self.title.strip():
            raise DeclarationError(f"{self.id}: title is required")
        if not isinstance(self.label, str) or len(self.label) > 14:
            raise DeclarationError(f"{self.id}: label must be a text of at most 14 characters")
        if len(self.explanation.split()) < 8:
            raise DeclarationError(f"{self.id}: explanation must be a paragraph (>= 8 words)")
        for kind in (*self.inputs, *self.optional_inputs):
            if kind not in INPUT_KINDS:
                raise DeclarationError(f"{self.id}: unknown input {kind!r}; known: {INPUT_KINDS}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise DeclarationError(f"{self.id}: duplicate parameter names")
        for p in self.params:
            if not isinstance(p, Param):
                raise DeclarationError(f"{self.id}: params must be Param objects")
            p.check_declaration()
        if not self.outputs:
            raise DeclarationError(f"{self.id}: declare at least one output")
        onames = [o.name for o in self.outputs]
        if len(set(onames)) != len(onames):
            raise DeclarationError(f"{self.id}: duplicate output names")
        for o in self.outputs:
            o.check_declaration()
        fnames = [f.name for f in self.file_inputs]
        if len(set(fnames)) != len(fnames):
            raise DeclarationError(f"{self.id}: duplicate file input names")
        for f in self.file_inputs:
            if not isinstance(f, FileInput):
                raise DeclarationError(f"{self.id}: file_inputs must be FileInput objects")
            f.check_declaration()
        if self.seed_param is not None and self.seed_param not in names:
            raise DeclarationError(f"{self.id}: seed_param {self.seed_param!r} is not a parameter")
        if isinstance(self.run, str):
            if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", self.run):
                raise DeclarationError(
                    f"{self.id}: run must be 'module:function', got {self.run!r}"
                )
        elif not callable(self.run):
            raise DeclarationError(f"{self.id}: run must be a callable or 'module:function'")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Default parameter values."""
        return {p.name: p.default for p in self.params}

    def validate_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``given`` (strings are converted), each validated.

        Raises
        ------
        InputError
            For an unknown name (listing the known ones) or a bad value.
        """
        from workbench.engine.steps.params import validate_values

        return validate_values(self.params, given, f"method {self.id!r}")

    def output(self, name: str) -> OutputSpec | None:
        for o in self.outputs:
            if o.name == name:
                return o
        return None

    def load_example(self) -> Any:
        """Import and call the example-input factory (``None`` when not declared)."""
        if self.example is None:
            return None
        module, _, attr = self.example.partition(":")
        return getattr(importlib.import_module(module), attr)()

    def load_run(self) -> Callable[..., Any]:
        """Import and return the run function (this is where heavy code is imported)."""
        if callable(self.run):
            return self.run
        module, _, attr = self.run.partition(":")
        return getattr(importlib.import_module(module), attr)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``plugins list --json``, result provenance and the GUI)."""
        return {
            "id": self.id,
            "title": self.title,
            "explanation": self.explanation,
            "version": self.version,
            "inputs": list(self.inputs),
            "optional_inputs": list(self.optional_inputs),
            "params": [p.to_dict() for p in self.params],
            "outputs": [o.to_dict() for o in self.outputs],
            "seed_param": self.seed_param,
            "file_inputs": [{"name": f.name, "help": f.help, "required": f.required, "multiple": f.multiple}
                            for f in self.file_inputs],
        }


def params_from_strings(pairs: Sequence[str]) -> dict[str, str]:
    """Parse CLI ``k=v`` strings into a dict (values are converted later by the declaration)."""
    out: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"--param expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out
