"""Regularised CCA fusion plugin for the EEG-fMRI Workbench (id ``cca``)."""
