"""Declaration of the DCM method (light: no numpy here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FileInput, FusionMethod, OutputSpec, Param

EXPLANATION = (
    "Dynamic causal modelling (DCM) asks how regions influence each other: a model says which "
    "regions are connected (A), which connections an experimental input changes (B) and which "
    "regions the inputs drive (C). Three layers generate the data: neuronal states "
    "dz/dt = (A + sum_j u_j B_j) z + (C/16) u, each region's Balloon-Windkessel haemodynamics "
    "(transit time, signal decay, intra/extravascular ratio epsilon) and the BOLD output "
    "equation, all in SPM12's parameterisation (A off-diagonals in Hz, its diagonal the log "
    "self-inhibition: 0 means -0.5 Hz). Variational Laplace (SPM12's Gauss-Newton scheme with "
    "its priors and stopping rule) gives posterior means and variances of every parameter and "
    "the free energy F, an approximation of the model's log-evidence. Several models on the same "
    "data are compared by F (posterior model probabilities). With --eeg, region EEG envelopes "
    "(e.g. gamma-band source power per region) are predicted by the same neuronal states through "
    "estimated positive gains, which constrains the fast neuronal dynamics that the BOLD blurs."
)

PARAMS = (
    Param("tr", "float", None, "Repetition time of ROIS.tsv (s); auto = the BOLD sidecar's RepetitionTime.",
          minimum=0.1, maximum=20.0, unit="s", optional=True, label="TR"),
    Param("hpf", "float", 128.0, "High-pass cut-off of the confounds (s): the constant and cosines "
          "slower than this are removed from data and predictions (SPM's 128 s).",
          minimum=0.0, maximum=10000.0, unit="s", label="High-pass"),
    Param("eeg_rate", "float", None, "Sampling rate of the EEG table (Hz) when it has no 'time' column.",
          minimum=0.1, maximum=100000.0, unit="Hz", optional=True, label="EEG rate"),
    Param("integrator", "choice", "bilinear",
          "bilinear = SPM12's spm_int (the state equation reduced to a bilinear form about rest: "
          "fast; its haemodynamics are first order, 13-26 % off for BOLD changes of 2.5-5.5 %); "
          "nonlinear = local linearisation of the exact equations every half TR (about 1 % off; "
          "several times slower).", choices=("bilinear", "nonlinear"), label="Integrator"),
    Param("max_iter", "int", 128, "Largest number of variational Laplace iterations (SPM: 128).",
          minimum=4, maximum=1024, label="Iterations"),
    Param("seed", "int", 0, "Seed of the exceedance-probability sampling (random-effects BMS).",
          minimum=0, maximum=2**31 - 1),
)

OUTPUTS = (
    OutputSpec("models", "table", "Model comparison",
               "per model: free energy, posterior probability, explained variance, iterations, converged"),
    OutputSpec("parameters", "table", "Posterior parameters",
               "per model and parameter: prior and posterior mean, variance, P(|effect| > 0)"),
    OutputSpec("bold_fit", "timecourse", "Observed and predicted BOLD (best model)",
               "confound-removed, scaled BOLD per region and the best model's prediction"),
    OutputSpec("free_energy", "timecourse", "Free energy per iteration (best model)", ""),
    OutputSpec("layers", "timecourse", "Three layers of the best model",
               "inputs, neural state, flow, volume, deoxyhaemoglobin and BOLD per region at the posterior means"),
    OutputSpec("subject_F", "table", "Free energy per subject and model (group runs)",
               "input to random-effects model comparison"),
)

METHOD = FusionMethod(
    id="dcm",
    title="Dynamic causal modelling (fMRI, joint EEG-fMRI)",
    label="DCM",
    explanation=EXPLANATION,
    inputs=(),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_dcm.method:run",
    version="0.1.0",
    example="workbench_dcm.method:example_inputs",
    seed_param="seed",
    file_inputs=(
        FileInput("bold", "ROIS.tsv: one column per region (header = region names), one row per "
                          "volume, sampled at mid-TR; percent signal change or any unit (scaled as SPM); "
                          "repeat for a group of subjects (random-effects model comparison)",
                  required=True, multiple=True),
        FileInput("inputs", "INPUTS.tsv: rows 'onset duration name' (s from the first volume; a header "
                            "row is allowed); one for all subjects or one per --bold", required=True,
                  multiple=True),
        FileInput("model", "MODEL.json: {name, regions, inputs, a, b: {input: mask}, c} with 0/1 masks, "
                           "a[i][j] = from region j to region i", required=True, multiple=True),
        FileInput("eeg", "EEG.tsv: region EEG envelopes, one column per region (same names), an optional "
                         "'time' column (s from the first volume), else rows at --eeg-rate Hz"),
    ),
)
