"""Finding fusion plugins: entry points and the user plugin folder, each failure isolated.

Two sources, read the same way (napari/npe2's pattern: declarations first, code later):

* installed distributions declaring the entry-point group ``workbench.fusion``; the entry
  point's name is the method id and its value names a *light* declaration object
  (``package.declaration:METHOD``, a :class:`FusionMethod` or a function returning one);
* the user plugin folder(s): ``WORKBENCH_PLUGIN_PATH`` (``os.pathsep``-separated) or
  ``<user data dir>/eegfmri-workbench/plugins``; each sub-folder holding a static manifest
  ``workbench-plugin.toml``::

      [plugin]
      id = "my-method"
      declaration = "my_method.declaration:METHOD"
      path = "src"          # optional, folder (relative) to put on sys.path

Any exception while reading a manifest or importing a declaration is caught and the plugin
is listed with that error; the others are unaffected. A disabled plugin is listed without
importing anything of it.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tomllib
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.engine.errors import InputError

from .declaration import DeclarationError, FusionMethod
from .settings import disabled_plugins

__all__ = [
    "ENTRY_POINT_GROUP",
    "MANIFEST",
    "PluginRecord",
    "discover",
    "get_method",
    "user_plugin_dirs",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.fusion"
MANIFEST = "workbench-plugin.toml"


@dataclass
class PluginRecord:
    """One discovered plugin, working or not.

    Attributes
    ----------
    id : str
        Method id (the entry-point name or the manifest's id).
    source : str
        Where it came from (``"entry point workbench.fusion in <dist>"`` or a folder).
    method : FusionMethod | None
        The declaration, when it could be read and the plugin is enabled.
    error : str | None
        One line saying why it cannot be used.
    enabled : bool
    """

    id: str
    source: str
    method: FusionMethod | None = None
    error: str | None = None
    enabled: bool = True
    detail: str = ""  #: traceback of the error, for the log

    @property
    def ok(self) -> bool:
        return self.enabled and self.error is None and self.method is not None

    @property
    def status(self) -> str:
        if not self.enabled:
            return "disabled"
        return "ok" if self.ok else "broken"

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "status": self.status, "source": self.source, "error": self.error}
        if self.method is not None:
            out["title"] = self.method.title
            out["version"] = self.method.version
        return out


def user_plugin_dirs() -> list[Path]:
    """Folders searched for manifest plugins."""
    env = os.environ.get("WORKBENCH_PLUGIN_PATH")
    if env is not None:
        return [Path(p) for p in env.split(os.pathsep) if p]
    import platformdirs

    return [Path(platformdirs.user_data_dir("eegfmri-workbench")) / "plugins"]


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the plugin called sys.exit({exc.code!r}) while loading"
    msg = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {msg[:300]}"


def _as_method(obj: Any, where: str) -> FusionMethod:
    if not isinstance(obj, FusionMethod) and callable(obj):
        obj = obj()
    if not isinstance(obj, FusionMethod):
        raise DeclarationError(f"{where} is a {type(obj).__name__}, not a FusionMethod declaration")
    obj.check_declaration()
    return obj


def _from_entry_points(disabled: set[str]) -> list[PluginRecord]:
    records = []
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # noqa: BLE001 - a corrupt installed METADATA must not stop discovery
        return [PluginRecord("?", "entry points", error=_one_line(exc))]
    seen: set[tuple[str, str]] = set()
    for ep in eps:
        key = (ep.name, ep.value)
        if key in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(key)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        rec = PluginRecord(ep.name, f"entry point {ENTRY_POINT_GROUP} in {dist_name}")
        if ep.name in disabled:
            rec.enabled = False
            records.append(rec)
            continue
        try:
            method = _as_method(ep.load(), ep.value)
            if method.id != ep.name:
                raise DeclarationError(
                    f"entry point name {ep.name!r} differs from the method id {method.id!r}"
                )
            rec.method = method
        except KeyboardInterrupt:
            raise  # the user pressed Ctrl-C: stop, do not blame the plugin
        except BaseException as exc:  # isolate any failure of third-party code, sys.exit() included
            rec.error = _one_line(exc)
            rec.detail = traceback.format_exc()
            _log_failure(rec)
        records.append(rec)
    return records


def _from_folder(folder: Path, disabled: set[str]) -> PluginRecord:
    manifest = folder / MANIFEST
    rec = PluginRecord(folder.name, f"folder {folder}")
    try:
        with open(manifest, "rb") as fh:
            doc = tomllib.load(fh)
        info = doc.get("plugin")
        if not isinstance(info, dict):
            raise DeclarationError(f"{manifest.name} has no [plugin] table")
        pid = info.get("id")
        decl = info.get("declaration")
        if not isinstance(pid, str) or not isinstance(decl, str) or ":" not in decl:
            raise DeclarationError(
                f"{manifest.name} needs id = '...' and declaration = 'module:object'"
            )
        rec.id = pid
        if pid in disabled:
            rec.enabled = False
            return rec
        code_dir = (folder / str(info.get("path", "."))).resolve()
        if str(code_dir) not in sys.path:
            # appended, never first: a plugin folder shipping e.g. its own ``nilearn/`` must not
            # shadow the installed libraries for the application and every other plugin
            sys.path.append(str(code_dir))
        module, _, attr = decl.partition(":")
        method = _as_method(getattr(importlib.import_module(module), attr), decl)
        if method.id != pid:
            raise DeclarationError(f"manifest id {pid!r} differs from the method id {method.id!r}")
        rec.method = method
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # sys.exit() in a declaration is that plugin's failure
        rec.error = _one_line(exc)
        rec.detail = traceback.format_exc()
        _log_failure(rec)
    return rec


def _log_failure(rec: PluginRecord) -> None:
    """One line at WARNING; the traceback only at DEBUG."""
    logger.warning("plugin %s (%s) cannot be used: %s", rec.id, rec.source, rec.error)
    logger.debug("plugin %s traceback:\n%s", rec.id, rec.detail)


def discover(plugin_dirs: list[Path] | None = None) -> list[PluginRecord]:
    """All plugins, working, broken and disabled, sorted by id.

    Parameters
    ----------
    plugin_dirs : list of Path | None
        Folders holding manifest plugins (default :func:`user_plugin_dirs`).

    Notes
    -----
    Never raises because of a plugin. When two plugins declare the same id, the first
    (entry points before folders) wins and the other is listed as broken.
    """
    disabled = disabled_plugins()
    records = _from_entry_points(disabled)
    for base in plugin_dirs if plugin_dirs is not None else user_plugin_dirs():
        if not base.is_dir():
            continue
        for sub in sorted(base.iterdir()):
            if (sub / MANIFEST).is_file():
                records.append(_from_folder(sub, disabled))
    owner: dict[str, PluginRecord] = {}
    for rec in records:
        if rec.id in owner and rec.error is None:
            rec.error = f"duplicate id: {rec.id!r} is already provided by {owner[rec.id].source}"
            rec.method = None
        elif rec.error is None:
            owner[rec.id] = rec
    return sorted(records, key=lambda r: (r.id, r.error is not None))


def get_method(method_id: str, plugin_dirs: list[Path] | None = None) -> FusionMethod:
    """The declaration of a working, enabled method, or a one-line error saying why not."""
    records = discover(plugin_dirs)
    for rec in records:
        if rec.id == method_id:
            if not rec.enabled:
                raise InputError(
                    None,
                    f"fusion method {method_id!r} is disabled (enable it in the plugin settings)",
                )
            if rec.error:
                raise InputError(None, f"fusion method {method_id!r} cannot be loaded: {rec.error}")
            assert rec.method is not None
            return rec.method
    known = ", ".join(r.id for r in records if r.ok) or "none installed"
    raise InputError(None, f"unknown fusion method {method_id!r}; available: {known}")
