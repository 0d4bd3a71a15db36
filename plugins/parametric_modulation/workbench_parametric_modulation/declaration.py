"""Declaration of the parametric-modulation method (light: no numpy, no nilearn here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FusionMethod, OutputSpec, Param

EXPLANATION = (
    "EEG-informed fMRI. A single-trial feature is measured in the EEG for every event of "
    "one condition (the ERP amplitude in a time window, at a channel or through a "
    "maximum-SNR spatio-temporal filter, or the band power in a window). The GLM "
    "gets one main-effect regressor per condition plus a parametric modulator: the "
    "condition's events scaled by the mean-centred feature and, by default, "
    "orthogonalised to the main effect, so the modulator explains only the trial-by-trial "
    "variation the average response cannot. Regressors are built at 1/16 of the TR, "
    "convolved with SPM's canonical HRF and sampled at each slice's own acquisition time; "
    "the BOLD is smoothed with a Gaussian kernel (6 mm FWHM by default); "
    "the GLM has a cosine drift basis and AR(1) prewhitening (bias-corrected, spatially "
    "regularised estimates; nilearn's models). The main-effect "
    "and modulator contrasts give t and z maps, thresholded with FDR and a cluster extent. "
    "Unlike nilearn's 'modulation' column, which only scales events (no centring, no "
    "orthogonalisation), the main effect and the modulation are estimated separately."
)

_P = Param

PARAMS = (
    _P(
        "condition",
        "str",
        "auto",
        "Trial type whose events are modulated by the EEG feature; "
        "'auto' takes the most frequent trial_type (ties: first in the events table).",
        label="Modulated condition",
    ),
    _P(
        "feature",
        "choice",
        "erp",
        "Single-trial feature: 'erp' = mean EEG amplitude in the window minus the "
        "pre-stimulus baseline; 'bandpower' = log10 EEG power in [fmin, fmax] Hz in the window; "
        "'events-column' = a column of the events table (e.g. reaction time, rating).",
        choices=("erp", "bandpower", "events-column"),
    ),
    _P(
        "events_column",
        "str",
        "amplitude",
        "Column of the events table used when feature = 'events-column'.",
        label="Events column",
    ),
    _P(
        "tmin",
        "float",
        0.25,
        "Start of the feature window after each event (s). Typical: "
        "0.25 for a P300, 0.15 for an N170/visual N1, 0.0 for band power.",
        minimum=-1.0,
        maximum=5.0,
        unit="s",
    ),
    _P(
        "tmax",
        "float",
        0.45,
        "End of the feature window after each event (s).",
        minimum=-1.0,
        maximum=10.0,
        unit="s",
    ),
    _P(
        "baseline",
        "float",
        0.2,
        "Length of the pre-stimulus baseline subtracted from ERP features (s); 0 disables it.",
        minimum=0.0,
        maximum=2.0,
        unit="s",
    ),
    _P(
        "channel",
        "str",
        "auto",
        "EEG channel for the feature. A channel name uses that channel (for erp it overrides "
        "the spatial filter); 'auto' uses the spatial filter (erp) or averages all EEG "
        "channels (bandpower).",
        label="Channel",
    ),
    _P(
        "spatial_filter",
        "choice",
        "spatiotemporal",
        "ERP spatial filter when channel = 'auto'. 'spatiotemporal' (default) is the "
        "maximum-SNR filter over channels x time bins (>= 10 ms) of the window: the average "
        "ERP's pattern whitened by the covariance of the same measure in random background "
        "windows (Ledoit-Wolf), which suppresses alpha, pulse-artifact residue and other "
        "structured background, also when it oscillates within the window; 'whitened' is "
        "the same filter over channels only (the window mean); 'topography' projects each "
        "trial on the average ERP topography (a matched filter); these give relative "
        "features (mean 1). 'channel' takes the channel with the largest average ERP (volts).",
        choices=("whitened", "spatiotemporal", "topography", "channel"),
    ),
    _P(
        "fmin",
        "float",
        8.0,
        "Low edge of the band for band power (Hz); alpha is 8-12.",
        minimum=0.1,
        maximum=500.0,
        unit="Hz",
    ),
    _P(
        "fmax",
        "float",
        12.0,
        "High edge of the band for band power (Hz).",
        minimum=0.2,
        maximum=1000.0,
        unit="Hz",
    ),
    _P(
        "center",
        "bool",
        True,
        "Mean-centre the feature before building the modulator "
        "(SPM does; nilearn's modulation does not). Keep on.",
        label="Mean-centre",
    ),
    _P(
        "orthogonalize",
        "bool",
        True,
        "Orthogonalise the modulator regressor to its main effect "
        "(Gram-Schmidt on the convolved regressors), so shared variance goes to the main effect.",
        label="Orthogonalise",
    ),
    _P(
        "slice_timing",
        "choice",
        "per-slice",
        "'per-slice' samples the regressors at each slice's "
        "acquisition time (SliceTiming; no slice-timing correction needed); 'reference' samples "
        "every slice at slice_time_ref x TR.",
        choices=("per-slice", "reference"),
    ),
    _P(
        "slice_time_ref",
        "float",
        0.0,
        "Reference time as a fraction of the TR for "
        "slice_timing = 'reference' (0 = start of the volume, nilearn's convention).",
        minimum=0.0,
        maximum=1.0,
    ),
    _P(
        "high_pass",
        "float",
        0.0078125,
        "Cut-off of the cosine drift basis (Hz); SPM's default is 1/128 s.",
        minimum=0.0,
        maximum=0.5,
        unit="Hz",
    ),
    _P(
        "smoothing_fwhm",
        "float",
        6.0,
        "Spatial smoothing of the BOLD before the GLM: full width at half maximum of the "
        "Gaussian kernel (mm); 0 turns it off (use 0 if the BOLD is already smoothed). "
        "Typical: 1.5-2 voxels (SPM's default is 8 mm): it averages away the voxel-wise "
        "thermal noise and lets activations larger than a voxel survive the threshold.",
        minimum=0.0,
        maximum=30.0,
        unit="mm",
        label="Smoothing FWHM",
    ),
    _P(
        "noise_model",
        "choice",
        "ar1-regularised",
        "Temporal noise model. 'ar1-regularised' (default): AR(1) prewhitening with each "
        "voxel's residual autocorrelation corrected for the model-fit bias and smoothed over "
        "15 mm (as fmristat and FSL FILM do), so the z maps stay calibrated on short runs; "
        "'ar1': nilearn's per-voxel AR(1) (slightly liberal on runs of ~100 scans); "
        "'ols': no prewhitening.",
        choices=("ar1-regularised", "ar1", "ols"),
    ),
    _P(
        "seed",
        "int",
        0,
        "Seed of the random background windows of the 'whitened' spatial filter (results are "
        "identical for the same seed).",
        minimum=0,
        maximum=2**31 - 1,
    ),
    _P(
        "main_effect",
        "choice",
        "condition",
        "Main-effect contrast: 'condition' = the modulated condition; 'all-conditions' = the "
        "sum of every condition's main effect (the task as a whole).",
        choices=("condition", "all-conditions"),
        label="Main effect",
    ),
    _P(
        "eeg_alignment",
        "choice",
        "auto",
        "How event times are found on the EEG clock: 'markers' "
        "matches the EEG's stimulus markers to the events (handles drift), 'volume-trigger' adds "
        "the time of the first volume trigger, 'none' assumes the EEG starts with the first "
        "volume; 'auto' tries them in that order.",
        choices=("auto", "markers", "volume-trigger", "none"),
    ),
    _P(
        "fdr_alpha",
        "float",
        0.05,
        "False discovery rate for the voxel threshold.",
        minimum=1e-6,
        maximum=0.5,
        label="FDR q",
    ),
    _P(
        "cluster_size",
        "int",
        5,
        "Minimum cluster size (voxels) kept after the FDR threshold.",
        minimum=0,
        maximum=100000,
        unit="voxels",
    ),
)

_MAPS = [
    ("z_main", "z map of the main effect of the modulated condition"),
    ("z_modulator", "z map of the parametric modulator"),
    ("t_main", "t map of the main effect"),
    ("t_modulator", "t map of the modulator"),
    ("beta_main", "effect size of the main effect (% signal change per event)"),
    ("beta_modulator", "effect size of the modulator (% per unit of feature)"),
    ("zthr_main", "z map of the main effect, FDR + cluster thresholded"),
    ("zthr_modulator", "z map of the modulator, FDR + cluster thresholded"),
    ("mask", "analysis mask"),
]

OUTPUTS = (
    *(OutputSpec(n, "map", n.replace("_", " "), h) for n, h in _MAPS),
    OutputSpec(
        "design", "matrix", "Design matrix", "regressors at the reference time of the first slice"
    ),
    OutputSpec("regressors", "timecourse", "Main and modulator regressors", "at scan times"),
    OutputSpec(
        "eeg_feature", "timecourse", "Single-trial EEG feature", "per trial, at event onsets"
    ),
    OutputSpec("trials", "table", "Trials", "onset, EEG time, feature, modulator value"),
    OutputSpec("clusters_main", "table", "Clusters (main effect)", "FDR + extent"),
    OutputSpec("clusters_modulator", "table", "Clusters (modulator)", "FDR + extent"),
)

METHOD = FusionMethod(
    id="parametric-modulation",
    title="Parametric modulation (EEG-informed fMRI)",
    label="Param. mod.",
    explanation=EXPLANATION,
    inputs=("eeg", "bold", "events"),
    optional_inputs=("anat", "mask"),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_parametric_modulation.method:run",
    version="0.1.0",
    example="workbench.testing.synthetic:example_inputs",
    seed_param="seed",
)
