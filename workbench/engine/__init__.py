"""Qt-free engine of the EEG-fMRI Workbench.

Only numpy, scipy, mne, nibabel, scikit-learn, nilearn and the standard library are
used here. An import-linter contract (``pyproject.toml``) forbids Qt, pyqtgraph,
pyvistaqt, pyvista and VTK in this package, the plugin API and the CLI.
"""
