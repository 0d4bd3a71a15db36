"""Parametric modulation (EEG-informed fMRI), a first-party fusion plugin of the EEG-fMRI Workbench.

Importing this package is light; the declaration is in :mod:`.declaration` and the
computing code (:mod:`.method`) is imported only when the method runs.
"""
