"""Declaration of the joint ICA method (light: no numpy here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FileInput, FusionMethod, OutputSpec, Param

EXPLANATION = (
    "Joint independent component analysis (jICA, as in the Fusion ICA Toolbox) finds "
    "components shared by an EEG feature and an fMRI feature across subjects: for every "
    "subject an ERP time course (X) and an fMRI contrast map (Y). Each subject's ERP and map "
    "are centred; each modality is divided by its root mean square over all subjects (the "
    "toolbox's default normalisation, which keeps the subjects' relative amplitudes, so the "
    "loadings measure how strongly each subject expresses a component) and by the square "
    "root of its number of features so both weigh the same; the two are concatenated into "
    "one row per subject. PCA reduces the subjects to K dimensions and Infomax ICA "
    "(MNE's implementation, the algorithm FIT uses) finds K joint sources, each an ERP part "
    "plus a map part, independent over features, with one loading per subject (how strongly "
    "that subject expresses the component). ICA is run several times from random starts "
    "(seeded); the components of all runs are clustered by their absolute correlation "
    "(average linkage, as ICASSO does) and each cluster's centrotype is reported with its "
    "stability index (mean similarity within the cluster minus the mean similarity to the "
    "other clusters; 1 = found identically in every run)."
)

PARAMS = (
    Param("n_components", "int", 3,
          "Number of joint components K (at most the number of subjects; FIT estimates it "
          "with MDL, typical 2-8 for 15-30 subjects).", minimum=1, maximum=200, label="Components"),
    Param("n_runs", "int", 10,
          "ICA runs from random starts for the stability analysis (ICASSO's default is 10; 1 = "
          "a single run, stability not measured).", minimum=1, maximum=500, label="ICA runs"),
    Param("extended", "bool", False,
          "Extended Infomax (handles sub-Gaussian sources); FIT's jICA uses the standard one.",
          label="Extended Infomax"),
    Param("normalize", "choice", "modality",
          "modality: one scale per modality (RMS over all subjects, FIT's default; keeps the "
          "subjects' amplitudes, which the loadings measure); subject: z-score each subject "
          "(removes each subject's amplitude: the loadings then only see shape differences).",
          choices=("modality", "subject"), label="Normalise"),
    Param("max_iter", "int", 500, "Maximum Infomax iterations per run.", minimum=10, maximum=100000),
    Param("seed", "int", 0, "Seed of the random starts (same seed, same components).",
          minimum=0, maximum=2**31 - 1),
)

OUTPUTS = (
    OutputSpec("components_x", "matrix", "Joint components: EEG part (K x X-features)",
               "ERP part of each component, in subject-standardised units"),
    OutputSpec("components_y", "matrix", "Joint components: fMRI part (K x Y-features)",
               "map part of each component, in subject-standardised units"),
    OutputSpec("loadings", "matrix", "Subject loadings (subjects x K)",
               "how strongly each subject expresses each component"),
    OutputSpec("stability", "table", "Component stability (ICASSO-like)",
               "per component: stability index, cluster size, explained variance"),
    OutputSpec("component_erp", "timecourse", "Components: ERP parts",
               "the X part of every component over the X features"),
    OutputSpec("component1_map", "map", "Component 1: map part",
               "the fMRI part of component 1 in voxel space (when a Y mask NIfTI is given)"),
)

METHOD = FusionMethod(
    id="jica",
    title="Joint ICA across subjects",
    label="Joint ICA",
    explanation=EXPLANATION,
    inputs=(),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_jica.method:run",
    version="0.2.0",
    example="workbench_jica.method:example_inputs",
    seed_param="seed",
    file_inputs=(
        FileInput("x", "EEG features: TSV/CSV, header row, one row per subject (a first "
                       "non-numeric column gives the subject labels), e.g. the ERP at each "
                       "time point", required=True),
        FileInput("y", "fMRI features: TSV/CSV with the same subjects in the same order, e.g. "
                       "the contrast map's voxels", required=True),
        FileInput("y_mask", "optional NIfTI mask whose nonzero voxels (C order) are the Y "
                            "columns: component 1's map part is then also written as NIfTI"),
        FileInput("x_times", "optional one-column table of the X features' times in s "
                             "(default: the X column names when numeric, else their index)"),
    ),
)
