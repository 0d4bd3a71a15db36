"""Deep-learning EEG-fMRI fusion plugin for the EEG-fMRI Workbench (id ``deep-fusion``)."""
