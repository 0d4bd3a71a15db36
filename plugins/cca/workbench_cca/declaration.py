"""Declaration of the CCA method (light: no numpy here)."""

from __future__ import annotations

from workbench.plugin_api.declaration import FileInput, FusionMethod, OutputSpec, Param

EXPLANATION = (
    "Canonical correlation analysis finds pairs of weighted sums, one of the EEG features "
    "(X) and one of the fMRI features (Y), that are maximally correlated across "
    "observations (time points, trials or subjects). It is computed in closed form: each "
    "block is centred (and by default scaled), its covariance is ridge-regularised, "
    "C_reg = C + r/(1 - r) tau I, tau the mean non-zero eigenvalue of C (trace C / min(p, n - 1)); "
    "the directions of the shrinkage (1 - r) C + r tau I, so that more features than observations "
    "(many voxels) can be used and r shrinks as much for 40 000 voxels as for 30 channels; "
    "both blocks are whitened by C_reg^-1/2 and the singular value "
    "decomposition of the whitened cross-covariance gives the canonical correlations and "
    "weights; with r = 0 this is classical CCA (SAS PROC CANCORR). Each canonical "
    "correlation is tested by permuting the rows of Y (seeded) with the max-statistic: mode "
    "k is compared with the permutation distribution of the largest canonical correlation, "
    "which controls the family-wise error over modes and is conservative for later modes. "
    "Bartlett's chi-square approximation of Wilks' lambda (the sequential parametric test) "
    "is reported beside it when r = 0. Canonical weights and loadings (correlation of each "
    "feature with its block's canonical variate) are given as tables. On plain tables (--x, "
    "--y) the rows are the observations. On the study itself (no tables), X is the power "
    "of each EEG channel in a band (e.g. alpha), convolved with the canonical HRF and "
    "sampled at every volume, Y the BOLD time series of every brain voxel; both are "
    "high-pass filtered (128 s), the volumes are the observations, Y needs the ridge (or "
    "a few principal components) and the p-values come from circular time shifts; the "
    "loadings are shown as scalp topographies and as a brain map."
)

PARAMS = (
    Param("n_components", "int", 0,
          "Number of canonical modes kept; 0 = all (min of the ranks of X and Y).",
          minimum=0, maximum=10000, label="Modes"),
    Param("reg_x", "float", 0.0,
          "Ridge shrinkage of the X covariance towards a scaled identity (0 = classical CCA; "
          "needed when X has more features than observations or collinear features; "
          "typical 0.1-0.5 for many channels).", minimum=0.0, maximum=0.999, label="Ridge X"),
    Param("reg_y", "float", 0.0,
          "Ridge shrinkage of the Y covariance (0 = classical CCA; typical 0.1-0.9 for voxels).",
          minimum=0.0, maximum=0.999, label="Ridge Y"),
    Param("pca_x", "int", 0,
          "Keep only X's first k principal components before CCA (0 = all). With few "
          "observations and many features (a group of subjects, each an ERP), a small k "
          "(1-3) is the usual remedy (PCA-CCA); any ridge CCA fits n observations perfectly "
          "when features >> n.", minimum=0, maximum=10000, label="PCs of X"),
    Param("pca_y", "int", 0,
          "Keep only Y's first k principal components before CCA (0 = all; e.g. 2-3 for "
          "subjects' contrast maps).", minimum=0, maximum=10000, label="PCs of Y"),
    Param("standardize", "bool", True,
          "Scale every feature to unit variance before the ridge (classical CCA does not depend "
          "on it; the ridge does).", label="Standardise"),
    Param("n_permutations", "int", 1000,
          "Permutations of the rows of Y for the p-values (0 = no permutation test).",
          minimum=0, maximum=1000000, label="Permutations"),
    Param("permutation", "choice", "auto",
          "Null distribution: rows (permute observations: subjects, trials), circular (shift Y "
          "in time: keeps autocorrelation; for time series), auto (circular on the study's "
          "time series, rows on tables).", choices=("auto", "rows", "circular"), label="Permute"),
    Param("band_low", "float", 8.0, "Study mode: low edge of the EEG band whose power is used (Hz).",
          unit="Hz", minimum=0.1, maximum=500.0, label="Band from"),
    Param("band_high", "float", 12.0, "Study mode: high edge of the EEG band (Hz; 8-12 = alpha, whose "
          "power anticorrelates with occipital BOLD).", unit="Hz", minimum=0.2, maximum=1000.0,
          label="Band to"),
    Param("hrf", "bool", True, "Study mode: convolve the band power with SPM's canonical HRF before "
          "sampling it at the volumes.", label="Convolve with HRF"),
    Param("seed", "int", 0, "Seed of the permutations (same seed, same p-values).",
          minimum=0, maximum=2**31 - 1),
)

OUTPUTS = (
    OutputSpec("canonical", "table", "Canonical correlations",
               "per mode: correlation, permutation p (max-statistic), Wilks' lambda, Bartlett p"),
    OutputSpec("weights_x", "table", "Canonical weights (X)", "per X feature and mode"),
    OutputSpec("weights_y", "table", "Canonical weights (Y)", "per Y feature and mode"),
    OutputSpec("loadings_x", "table", "Canonical loadings (X)",
               "correlation of each X feature with the X canonical variate"),
    OutputSpec("loadings_y", "table", "Canonical loadings (Y)",
               "correlation of each Y feature with the Y canonical variate"),
    OutputSpec("variates", "matrix", "Canonical variates", "per observation: U1, V1, U2, V2, ..."),
    OutputSpec("weights_map", "map", "Canonical weights of Y as a map",
               "mode-1 Y weights in voxel space (study mode, or when a Y mask NIfTI is given)"),
    OutputSpec("loadings_map", "map", "Canonical loadings of Y as a map",
               "study mode: correlation of each voxel's BOLD with the mode-1 Y variate"),
)

METHOD = FusionMethod(
    id="cca",
    title="Canonical correlation analysis (regularised)",
    label="CCA",
    explanation=EXPLANATION,
    inputs=(),
    optional_inputs=("eeg", "bold", "mask"),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_cca.method:run",
    version="0.3.0",
    example="workbench_cca.method:example_inputs",
    seed_param="seed",
    file_inputs=(
        FileInput("x", "X features: TSV/CSV, header row, one row per observation (a first "
                       "non-numeric column gives row labels), e.g. EEG band power per trial; "
                       "without --x/--y the study's EEG and BOLD are used"),
        FileInput("y", "Y features: TSV/CSV with the same rows in the same order, e.g. ROI "
                       "or voxel BOLD per trial"),
        FileInput("y_mask", "optional NIfTI mask whose nonzero voxels (C order) are the Y "
                            "columns: the Y weights are then also written as a map"),
    ),
)
