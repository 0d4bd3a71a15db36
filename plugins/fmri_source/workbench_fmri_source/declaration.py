"""Declaration of the fMRI-informed source imaging method (light: no numpy, no mne here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FileInput, FusionMethod, OutputSpec, Param

EXPLANATION = (
    "fMRI-informed EEG source imaging. The average EEG response of one condition is "
    "localised on the cortex (a surface source space, currents normal to it) when the "
    "subject has one, else in a volume source space inside the brain, with MNE's forward model (a "
    "sphere fitted to the scalp, or a BEM from a FreeSurfer subject), MNE's noise "
    "covariance and whitening, and depth-weighted minimum-norm inverses. The fMRI map "
    "(a z-map in the T1's space, or one computed here from the BOLD and the events) is "
    "sampled into the source space and used four ways: 'none' ignores it (MNE, dSPM, "
    "sLORETA); 'weighted' is MNE-C's fixed fMRI weighting (source variance 1 inside the "
    "thresholded map, 'factor' outside); 'hard' removes every source outside the map; "
    "'soft' is an empirical-Bayes prior: the map is one source-covariance component beside "
    "a whole-brain one, and their weights are learned from the EEG itself in each time "
    "window by maximising the marginal likelihood (ReML); a cluster keeps its weight only "
    "when the data give strong evidence for it (Bayes factor), so the data can switch the "
    "fMRI prior off where the fMRI is blind or wrong. A fixed weighting or a hard mask pulls a source "
    "the fMRI did not see into the mask; the soft prior should not. MNE-Python has no "
    "fMRI prior: the priors are written here, everything else is MNE."
)

_P = Param

PARAMS = (
    _P("condition", "str", "auto",
       "Trial type whose responses are averaged (events' trial_type; for an evoked file, "
       "its comment); 'auto' takes the most frequent (ties: the first in the events table).",
       label="Condition"),
    _P("tmin", "float", -0.2, "Start of the epoch relative to each event (s); the part before 0 "
       "is the baseline (and the noise covariance when none is given).",
       minimum=-2.0, maximum=0.0, unit="s"),
    _P("tmax", "float", 0.5, "End of the epoch relative to each event (s).",
       minimum=0.01, maximum=5.0, unit="s"),
    _P("l_freq", "float", 1.0, "High-pass edge of the band-pass applied before epoching (Hz); "
       "off keeps slow drifts. Typical 0.5-1 Hz for ERPs.",
       minimum=0.0, maximum=100.0, unit="Hz", optional=True, none_label="off"),
    _P("h_freq", "float", 30.0, "Low-pass edge (Hz); 30-40 Hz for ERPs.",
       minimum=1.0, maximum=1000.0, unit="Hz", optional=True, none_label="off"),
    _P("times", "str", "auto",
       "Latencies (s) at which peaks are reported and the maps are written, comma separated "
       "(e.g. '0.17,0.25'); the first one is the map written as <variant>_source. 'auto' "
       "takes up to three peaks of the whitened global field power after 50 ms.",
       label="Times"),
    _P("threshold", "float", 3.1,
       "fMRI map threshold: sources where the map (trilinear at the source position) reaches "
       "it form the fMRI prior (MNE-C's --fmrithresh). 3.1 is z for p < 0.001.",
       minimum=0.0, maximum=100.0),
    _P("factor", "float", 0.1,
       "'weighted' variant: source variance outside the thresholded map relative to inside "
       "(MNE-C's --fmrioff; 0.1 is its default).", minimum=0.0, maximum=1.0),
    _P("snr", "float", 3.0, "Assumed SNR of the average: lambda2 = 1/snr^2 (MNE's default 3).",
       minimum=0.1, maximum=100.0, label="SNR"),
    _P("depth", "float", 0.8, "Depth weighting exponent (MNE's default 0.8; 0 = off).",
       minimum=0.0, maximum=1.0),
    _P("spacing", "float", 7.0, "Grid spacing of the volume source space (mm). 5-7 mm for "
       "results, 10-15 mm for quick looks and tests.", minimum=2.0, maximum=30.0, unit="mm"),
    _P("window", "float", 0.05,
       "'soft' variant: length of the time windows (s, half-overlapping) in which the prior's "
       "weights are learned from the data. Shorter follows the data more closely but "
       "learns from fewer samples.", minimum=0.005, maximum=2.0, unit="s"),
    _P("min_log_bf", "float", 3.0,
       "'soft' variant: the log Bayes factor an fMRI cluster must earn in a time window to keep "
       "its prior variance (the model with it against the model without it, refitted, counted "
       "over the window's effective samples). 3 is 'strong' evidence (Kass & Raftery); 0 keeps "
       "every cluster the fixed point leaves on (a one-source false positive of the map then "
       "attracts the peak).", minimum=0.0, maximum=100.0, label="Min. log Bayes factor"),
    _P("taper", "bool", True,
       "'soft' variant: join the windows' solutions by Hann-weighted overlap-add, so the prior "
       "changes smoothly over time; off: each sample is solved by its nearest window alone (a "
       "cluster near the evidence threshold then switches the map at a window edge).",
       label="Smooth windows"),
    _P("specificity", "bool", True,
       "'soft' variant: in each window, switch off a kept fMRI cluster when a focal non-fMRI "
       "patch elsewhere (not touching the cluster) explains the window better by 'min_log_bf' "
       "than the best focal model at the cluster (the cluster or a patch touching it) - the "
       "EEG then points to a source elsewhere and the cluster is only near it (a false "
       "positive of the map next to a source the fMRI did not see). Costs one fit per patch "
       "(~300 on a 10 mm grid) in the windows where a cluster is kept.",
       label="Specificity test"),
    _P("patches", "bool", False,
       "'soft' variant: besides the whole-brain component and one component per fMRI cluster, "
       "give the ReML local non-fMRI patches (as SPM's multiple sparse priors), so an fMRI "
       "cluster near a source the fMRI did not see competes with an equally focal source at "
       "the right place instead of with the diffuse whole-brain prior only. Off by default: "
       "on the phantom the patches won almost every window and the fMRI was then barely used "
       "(see the plugin's MEASUREMENTS.md).",
       label="MSP patches"),
    _P("source_space", "str", "auto",
       "Where the sources are: 'auto' uses the given --src, else the cortical surface when the "
       "FreeSurfer subject has surf/lh.white and surf/rh.white (and the ?h.sphere files), else a "
       "volume grid inside the brain (result.json says which and why); 'volume' always the grid; "
       "'surface' the cortex or an error saying what is missing.",
       choices=("auto", "volume", "surface"), label="Source space"),
    _P("surface_spacing", "str", "oct6",
       "Surface source space: MNE's setup_source_space spacing (oct6: 4098 vertices per "
       "hemisphere, ~5 mm; oct5 / ico4: ~10 mm, quicker; ico3 for tests).",
       label="Surface spacing"),
    _P("orientation", "str", "fixed",
       "Surface source space: 'fixed' currents normal to the cortex (one per vertex); 'loose' "
       "MNE's loose orientation prior (0.2 for the tangential directions). The volume grid is "
       "always free orientation.", choices=("fixed", "loose"), label="Orientation"),
    _P("fs_subject", "str", "",
       "FreeSurfer subject name: with subjects_dir, a BEM from its bem/ surfaces and its "
       "mri/T1.mgz replace the sphere model (and --mri). Empty: sphere model.",
       label="FreeSurfer subject"),
    _P("subjects_dir", "str", "", "FreeSurfer SUBJECTS_DIR holding fs_subject "
       "(empty: the SUBJECTS_DIR environment variable).", label="Subjects dir", browse="folder"),
    _P("glm_smoothing", "float", 6.0,
       "Only when no --fmri map is given: FWHM (mm) of the smoothing before the GLM that "
       "computes the condition's z-map from the BOLD and events.",
       minimum=0.0, maximum=20.0, unit="mm"),
)

_VARIANTS = (
    ("none", "Minimum norm (no fMRI)", "depth-weighted MNE amplitude (A·m), no fMRI prior"),
    ("dspm", "dSPM (no fMRI)", "MNE's dSPM (noise-normalised), no fMRI prior"),
    ("sloreta", "sLORETA (no fMRI)", "MNE's sLORETA, no fMRI prior"),
    ("weighted", "MNE-C fMRI weighting", "minimum norm with source variance 1 in the map, factor outside"),
    ("soft", "Soft fMRI prior (ReML)", "minimum norm with the fMRI component weighted by the data"),
    ("hard", "Hard fMRI mask", "minimum norm restricted to the sources inside the map"),
    ("weighted_dspm", "MNE-C fMRI weighting, dSPM", "the weighted solution noise-normalised (dSPM)"),
    ("soft_dspm", "Soft fMRI prior, dSPM", "the soft-prior solution noise-normalised (dSPM) in each window"),
    ("hard_dspm", "Hard fMRI mask, dSPM", "the hard-mask solution noise-normalised (dSPM)"),
)

OUTPUTS = (
    *(OutputSpec(f"{v}_source", "map", t, h + "; at the first of 'times', on the T1 grid")
      for v, t, h in _VARIANTS),
    OutputSpec("fmri_prior", "map", "fMRI prior in the source space",
               "1 where a source is inside the thresholded fMRI map (on the T1 grid)"),
    OutputSpec("peak_amplitude", "timecourse", "Peak source amplitude per variant",
               "maximum source amplitude over the brain at each time (A·m; dSPM/sLORETA unitless)"),
    OutputSpec("soft_prior_weight", "timecourse", "Soft prior: fMRI share of the source variance",
               "per window: fraction of the prior source variance given to the fMRI component"),
    OutputSpec("fmri_cluster_weights", "timecourse", "Soft prior: weight of each fMRI cluster",
               "per window: each fMRI cluster's share of the prior source variance (0 = switched off by the data)"),
    OutputSpec("peaks", "table", "Peaks", "per variant and time: position (MRI surface RAS, m), amplitude, "
               "distance to the fMRI map"),
    OutputSpec("fmri_clusters", "table", "fMRI clusters",
               "per cluster of the thresholded map: position, the soft prior's mean share and the share of "
               "each variant's post-stimulus energy inside it"),
    OutputSpec("hyperparameters", "table", "Soft prior hyperparameters",
               "per window: whole-brain and fMRI variances, log evidence with and without the map"),
)

METHOD = FusionMethod(
    id="fmri-source",
    title="fMRI-informed source imaging (hard, weighted, soft prior)",
    label="fMRI → sources",
    explanation=EXPLANATION,
    inputs=("trans",),
    optional_inputs=("eeg", "anat", "dig", "bold", "events"),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_fmri_source.method:run",
    version="0.1.0",
    example="workbench_fmri_source.example:example_inputs",
    file_inputs=(
        FileInput("fmri", "fMRI map (NIfTI z-map) in the T1's space; without it a z-map of the "
                          "condition is computed from --bold and --events"),
        FileInput("noise_cov", "noise covariance (MNE -cov.fif); default: the epochs' baseline, for an "
                               "evoked file its own baseline (diagonal), else an ad hoc diagonal covariance"),
        FileInput("bem", "BEM solution (-bem-sol.fif) to use instead of the sphere model"),
        FileInput("src", "source space made by MNE (-src.fif: surface or volume, MRI frame) to use "
                         "instead of the volume grid or the subject's cortex"),
    ),
)
