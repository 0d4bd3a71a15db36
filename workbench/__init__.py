"""EEG-fMRI Workbench: analysis of simultaneous EEG-fMRI recordings.

The package is split into a Qt-free engine (:mod:`workbench.engine`), a Qt-free
plugin API (:mod:`workbench.plugin_api`), a thin command line (:mod:`workbench.cli`)
and the Qt GUI (:mod:`workbench.gui`), the only layer that imports Qt.
"""

__version__ = "0.1.0"
