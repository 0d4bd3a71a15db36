"""fMRI-informed EEG source imaging (fusion plugin ``fmri-source``)."""
