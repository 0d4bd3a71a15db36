"""Readers and file inspection: EEG, MRI images, digitisation, markers and triggers.

Modules
-------
eeg
    :func:`~workbench.engine.io.eeg.read_eeg`, :func:`~workbench.engine.io.eeg.read_eeg_header`.
triggers
    :func:`~workbench.engine.io.triggers.find_scanner_triggers` (volume / slice / R-peak markers).
mri
    :func:`~workbench.engine.io.mri.read_image`, :func:`~workbench.engine.io.mri.read_bold`.
dig
    :func:`~workbench.engine.io.dig.read_dig`, :func:`~workbench.engine.io.dig.read_surface`.
summary
    :func:`~workbench.engine.io.summary.summarise` (what ``workbench info`` prints).
open
    :func:`~workbench.engine.io.open.load_into` (a file, BIDS study or project into a Session).

Submodules are imported on use, so importing this package stays cheap.
"""
