"""The declaration: plain data, read when plugins are listed (no numpy/scipy imports here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FusionMethod, OutputSpec, Param

METHOD = FusionMethod(
    id="template-correlation",
    title="EEG band-power correlation (template)",
    label="Band power",
    explanation=(
        "A minimal example of a fusion method to copy. The EEG power in a frequency band, "
        "averaged over channels and over each TR, is convolved with SPM's canonical HRF and "
        "correlated with every voxel's BOLD time course (after removing a linear trend). "
        "The result is a correlation map, its Fisher z map, the regressor and the strongest voxels."
    ),
    inputs=("eeg", "bold"),
    params=(
        Param(
            "fmin",
            "float",
            8.0,
            "Low edge of the band (Hz); alpha is 8-12 Hz.",
            minimum=0.1,
            maximum=200.0,
            unit="Hz",
        ),
        Param(
            "fmax",
            "float",
            12.0,
            "High edge of the band (Hz).",
            minimum=0.2,
            maximum=400.0,
            unit="Hz",
        ),
        Param(
            "top_n", "int", 5, "Number of voxels listed in the peak table.", minimum=1, maximum=100
        ),
    ),
    outputs=(
        OutputSpec("r", "map", "Correlation", "Pearson r of each voxel with the EEG regressor"),
        OutputSpec("z", "map", "Fisher z", "atanh(r) * sqrt(n - 3)"),
        OutputSpec("regressor", "timecourse", "EEG regressor", "band power convolved with the HRF"),
        OutputSpec("peaks", "table", "Strongest voxels", "voxel index and r"),
    ),
    run="workbench_template_plugin.method:run",
    version="0.1.0",
    # small inputs the contract suite (`workbench plugins check template-correlation`) runs on
    example="workbench.testing.synthetic:example_inputs",
)
