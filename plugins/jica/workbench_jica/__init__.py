"""Joint ICA fusion plugin for the EEG-fMRI Workbench (id ``jica``)."""
