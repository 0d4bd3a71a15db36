"""Declaration of the deep-fusion method (light: neither torch nor numpy is imported here).

Without PyTorch the declaration raises a one-line ImportError, so plugin discovery lists
``deep-fusion`` as unavailable with that reason and every other method keeps working.
"""

from __future__ import annotations

import importlib.util

from workbench.plugin_api.declaration import FileInput, FusionMethod, OutputSpec, Param

if importlib.util.find_spec("torch") is None:
    raise ImportError("deep-fusion needs PyTorch, which is not installed; run installer/bootstrap.sh "
                      "(it installs the CPU build: .venv/bin/python -m pip install torch==2.13.0)")

EXPLANATION = (
    "Deep-learning fusion predicts something about each trial from its EEG epoch and its fMRI "
    "features with small neural networks (PyTorch), and compares the ways of combining the "
    "two modalities. Three tasks: 'condition' decodes the trial's condition (balanced "
    "accuracy); 'amplitude' regresses a number per trial (e.g. its stimulus intensity) from "
    "both modalities (R²); 'roi-bold' predicts an ROI's BOLD response to each trial from the "
    "EEG alone (EEG→fMRI; the fMRI is the target there, not an input), comparing the EEG "
    "network with ridge regression on the EEG and with predicting the mean. An EEGNet-style convolutional encoder (spatial filters, a temporal "
    "filter each, separable convolution) and an MLP for the fMRI features map "
    "each modality into a shared latent space. Early fusion stacks the fMRI features with the "
    "EEG channels and feeds one network (the inputs must be aligned trial by trial); late "
    "fusion trains one network per modality and adds their outputs (each still predicts alone "
    "when the other modality is missing); hybrid fusion lets each modality's latent attend to "
    "the other's (cross-modal attention). EEG-only and fMRI-only networks and a linear "
    "baseline (L2 logistic regression on both modalities, scikit-learn) are always trained "
    "alongside (ridge regression and the mean predictor for the regression tasks). Every "
    "model is scored by leave-subjects-out cross-validation (no subject is "
    "ever in training and test), early-stopped on held-out training subjects, deterministic "
    "under the seed; scores come with 95 % intervals from a bootstrap over "
    "subjects, also with a modality removed at test time. The result says plainly when a deep "
    "model does not beat the linear baseline."
)

PARAMS = (
    Param("task", "choice", "condition",
          "What is predicted: 'condition' (the trial's class, from --labels), 'amplitude' (a number "
          "per trial from --targets, from both modalities) or 'roi-bold' (an ROI's BOLD response per "
          "trial from --targets, from the EEG alone).", choices=("condition", "amplitude", "roi-bold"),
          label="Task"),
    Param("target", "str", None,
          "Column of the --targets file to predict (needed when it has several numeric columns).",
          optional=True, none_label="the only column", label="Target column"),
    Param("models", "str", "all",
          "Models to train, comma-separated among early, late, hybrid, eeg_only, fmri_only, linear "
          "('all' = every one the task can train; roi-bold trains eeg_only; the linear baseline, and "
          "for the regression tasks the mean predictor, are always added).", label="Models"),
    Param("n_folds", "int", 0,
          "Leave-subjects-out folds (0 = leave one subject out; otherwise subjects are dealt into "
          "this many folds).", minimum=0, maximum=1000, label="Folds"),
    Param("val_fraction", "float", 0.25,
          "Fraction of the training subjects held out to early-stop the networks and choose the "
          "linear baseline's regularisation.", minimum=0.05, maximum=0.5, label="Validation"),
    Param("epochs", "int", 60, "Maximum training epochs per network.", minimum=1, maximum=10000),
    Param("patience", "int", 10, "Early stopping: epochs without a better validation loss.",
          minimum=1, maximum=1000),
    Param("batch_size", "int", 32, "Trials per mini-batch.", minimum=2, maximum=4096, label="Batch"),
    Param("learning_rate", "float", 0.003, "AdamW learning rate.", minimum=1e-6, maximum=1.0,
          label="Learning rate"),
    Param("weight_decay", "float", 0.01, "AdamW weight decay (L2).", minimum=0.0, maximum=1.0,
          label="Weight decay"),
    Param("latent", "int", 16, "Size of the shared latent space.", minimum=2, maximum=512),
    Param("dropout", "float", 0.25, "Dropout in the encoders.", minimum=0.0, maximum=0.9),
    Param("modality_dropout", "float", 0.0,
          "Probability that a training mini-batch of a fusion network has one modality removed "
          "(teaches it to work when a modality is missing; 0 = off).", minimum=0.0, maximum=0.9,
          label="Modality dropout"),
    Param("n_bootstrap", "int", 2000, "Bootstrap resamples of subjects for the 95 % intervals.",
          minimum=100, maximum=100000, label="Bootstrap"),
    Param("threads", "int", 1, "PyTorch CPU threads (results are bit-identical for the same seed and "
          "thread count). 1 by default: these networks are small, and on a shared 2-core machine two "
          "OpenMP threads spin-wait (measured 20x slower per epoch under load).", minimum=1, maximum=256),
    Param("device", "choice", "auto",
          "Where the networks train: 'auto' (the CUDA GPU when PyTorch sees one, else the CPU), "
          "'cpu' or 'cuda'. Recorded in the result.", choices=("auto", "cpu", "cuda"), label="Device"),
    Param("checkpoint_dir", "str", None,
          "Folder to save every fold's networks in (state dict .pt + JSON config; off = not saved).",
          optional=True, none_label="off", label="Checkpoints"),
    Param("seed", "int", 0, "Seed of initialisation, mini-batch order, validation subjects and bootstrap.",
          minimum=0, maximum=2**31 - 1),
)

OUTPUTS = (
    OutputSpec("scores", "table", "Cross-validated scores",
               "per model: balanced accuracy (condition) or R² and Pearson r (amplitude, roi-bold) with "
               "95 % intervals, with both modalities and with one missing at test time, and the "
               "difference to the linear baseline"),
    OutputSpec("per_subject", "table", "Scores per held-out subject", "the score per model and subject"),
    OutputSpec("folds", "table", "Folds", "test subjects, validation split, best epoch per network"),
)

METHOD = FusionMethod(
    id="deep-fusion",
    title="Deep-learning fusion (early / late / hybrid)",
    label="Deep fusion",
    explanation=EXPLANATION,
    inputs=(),
    params=PARAMS,
    outputs=OUTPUTS,
    run="workbench_deep_fusion.method:run",
    version="0.2.0",
    example="workbench_deep_fusion.method:example_inputs",
    seed_param="seed",
    file_inputs=(
        FileInput("x", "EEG epochs: .npy, trials x channels x times (float, V)", required=True),
        FileInput("y", "fMRI features: .npy, trials x features (e.g. ROI/voxel BOLD per trial), "
                       "same trials in the same order (tasks condition and amplitude)"),
        FileInput("labels", "condition per trial (task condition): one value per line (TSV/CSV with a "
                            "header 'label'/'condition'/'trial_type' also read)"),
        FileInput("groups", "subject per trial: one value per line (or a column "
                            "'subject'/'participant_id'/'group')", required=True),
        FileInput("targets", "number to predict per trial (tasks amplitude and roi-bold): one number per "
                             "line, or a TSV/CSV with a header (choose the column with --target NAME when "
                             "there are several)"),
    ),
)
