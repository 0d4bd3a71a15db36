"""User settings of the GUI: preferences and recent projects (a small JSON file).

Kept Qt-free and path-injectable so tests use a temporary file and never touch the
user's real settings. The file lives in ``platformdirs.user_config_dir`` by default
and is written atomically.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.engine.atomic import atomic_write_json

log = logging.getLogger(__name__)

MAX_RECENT = 10
SETTINGS_VERSION = 1


@dataclass
class Preferences:
    """What the Preferences dialog edits (defaults are the typical values)."""

    trace_window_s: float = 10.0  #: seconds of EEG shown at once
    trace_n_channels: int = 20  #: channels shown at once
    trace_points_per_pixel: float = 2.0  #: peak downsampling density (min+max = 2 per pixel)
    trace_autoscale: bool = True  #: fit per-type scale to the data when a recording opens
    trace_markers: bool = True  #: draw annotation markers
    theme: str = "light"  #: "light" or "dark"


@dataclass
class Settings:
    """Preferences and recent projects, persisted as JSON.

    Parameters
    ----------
    path : Path | None
        Where to store them; defaults to the user's config folder.
    """

    path: Path | None = None
    prefs: Preferences = field(default_factory=Preferences)
    recent: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.path is None:
            import platformdirs

            self.path = Path(platformdirs.user_config_dir("eegfmri-workbench")) / "gui.json"
        self.path = Path(self.path)
        self.load()

    def load(self) -> None:
        """Read the file if it exists; a broken file is logged and ignored (defaults used)."""
        if not self.path.is_file():
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(Preferences)}
            prefs = {k: v for k, v in dict(doc.get("prefs", {})).items() if k in known}
            self.prefs = Preferences(**prefs)
            self.recent = [str(p) for p in doc.get("recent", [])][:MAX_RECENT]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("%s: settings unreadable (%s); using defaults", self.path, exc)

    def save(self) -> None:
        """Write the settings atomically."""
        doc: dict[str, Any] = {
            "version": SETTINGS_VERSION,
            "prefs": asdict(self.prefs),
            "recent": self.recent,
        }
        try:
            atomic_write_json(self.path, doc)
        except OSError as exc:
            log.warning("%s: cannot save settings (%s)", self.path, exc)

    def add_recent(self, path: str | Path) -> None:
        """Put ``path`` at the top of the recent list (deduplicated) and save."""
        p = str(Path(path).absolute())
        self.recent = [p] + [r for r in self.recent if r != p]
        del self.recent[MAX_RECENT:]
        self.save()

    def clear_recent(self) -> None:
        self.recent = []
        self.save()
