"""Dynamic causal modelling (SPM12's one-state bilinear DCM for fMRI, plus joint EEG-fMRI)."""
