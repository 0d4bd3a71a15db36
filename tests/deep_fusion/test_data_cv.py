"""deep-fusion inputs and folds: bad input refused in one line naming the file, folds never
leak a subject, the validation split uses training subjects only, balanced accuracy is
scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("workbench_deep_fusion")

from workbench_deep_fusion.cv import balanced_accuracy, subject_folds, validation_split  # noqa: E402
from workbench_deep_fusion.data import check_trials, load_files, read_column  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402


def _write(tmp_path, eeg, fmri, labels, groups):
    paths = {"eeg": tmp_path / "EEG.npy", "fmri": tmp_path / "FMRI.npy",
             "labels": tmp_path / "LABELS.tsv", "groups": tmp_path / "GROUPS.tsv"}
    np.save(paths["eeg"], eeg)
    np.save(paths["fmri"], fmri)
    paths["labels"].write_text("condition\n" + "\n".join(labels) + "\n")
    paths["groups"].write_text("\n".join(groups) + "\n")
    return paths


def _good(n=24, subjects=3):
    rng = np.random.default_rng(0)
    eeg = rng.standard_normal((n, 4, 10)).astype(np.float32)
    fmri = rng.standard_normal((n, 5)).astype(np.float32)
    labels = ["a", "b"] * (n // 2)
    groups = [f"s{i % subjects}" for i in range(n)]
    return eeg, fmri, labels, groups


def test_reads_good_files(tmp_path):
    eeg, fmri, labels, groups = _good()
    p = _write(tmp_path, eeg, fmri, labels, groups)
    d = load_files(p["eeg"], p["fmri"], p["labels"], p["groups"])
    assert d.classes == ["a", "b"] and d.subjects == ["s0", "s1", "s2"]
    assert np.array_equal(np.asarray(d.classes)[d.y], labels)
    assert d.eeg.shape == (24, 4, 10) and d.fmri.dtype == np.float32


@pytest.mark.parametrize("case, file, words", [
    ("fewer fmri trials", "fmri", "has 23 trials but the EEG has 24"),
    ("one subject", "groups", "one subject"),
    ("one class", "labels", "two classes"),
    ("nan in eeg", "eeg", "NaN"),
    ("nan in fmri", "fmri", "NaN"),
    ("labels short", "labels", "has 23 rows"),
    ("eeg 2-D", "eeg", "3-D"),
    ("pickled", "eeg", "pickled"),
])
def test_bad_input_one_line_naming_the_file(tmp_path, case, file, words):
    eeg, fmri, labels, groups = _good()
    if case == "fewer fmri trials":
        fmri = fmri[:-1]
    elif case == "one subject":
        groups = ["s0"] * len(groups)
    elif case == "one class":
        labels = ["a"] * len(labels)
    elif case == "nan in eeg":
        eeg[3, 1, 2] = np.nan
    elif case == "nan in fmri":
        fmri[5, 0] = np.nan
    elif case == "labels short":
        labels = labels[:-1]
    elif case == "eeg 2-D":
        eeg = eeg[:, 0]
    p = _write(tmp_path, eeg, fmri, labels, groups)
    if case == "pickled":
        np.save(p["eeg"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError) as err:
        load_files(p["eeg"], p["fmri"], p["labels"], p["groups"])
    msg = str(err.value)
    assert words in msg and "\n" not in msg, msg
    assert p[file].name in msg, msg


def test_label_files_with_and_without_header(tmp_path):
    f = tmp_path / "l.tsv"
    f.write_text("onset\ttrial_type\n1.0\tvisual\n2.0\tmotor\n")
    assert read_column(f, "labels") == ["visual", "motor"]
    f.write_text("visual\nmotor\n\n")
    assert read_column(f, "labels") == ["visual", "motor"]
    f.write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="no header"):
        read_column(f, "labels")


@pytest.mark.parametrize("n_sub, n_folds", [(2, 0), (5, 0), (7, 3), (9, 4)])
def test_folds_never_leak_a_subject(n_sub, n_folds):
    rng = np.random.default_rng(n_sub)
    groups = np.array([f"sub-{i}" for i in rng.integers(0, n_sub, 300)])
    y = rng.integers(0, 2, 300)
    folds = subject_folds(groups, n_folds)
    subjects = sorted(set(groups.tolist()))
    assert sorted(s for f in folds for s in f) == subjects  # every subject tested exactly once
    assert len(folds) == (n_sub if n_folds == 0 else n_folds)
    for k, test_subs in enumerate(folds):
        train = np.flatnonzero(~np.isin(groups, test_subs))
        fit, val, how = validation_split(train, groups, y, 0.25, k)
        assert not set(groups[fit]) & set(test_subs)
        assert not set(groups[val]) & set(test_subs)
        assert sorted(np.concatenate([fit, val]).tolist()) == sorted(train.tolist())
        if len(set(groups[train])) >= 2:  # validation by whole subjects
            assert not set(groups[fit]) & set(groups[val]), how
        else:
            assert "trials of the one training subject" in how


def test_balanced_accuracy_is_sklearns():
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(1)
    for k in (2, 3, 5):
        y = rng.integers(0, k, 200)
        p = np.where(rng.random(200) < 0.6, y, rng.integers(0, k, 200))
        assert balanced_accuracy(y, p, k) == pytest.approx(balanced_accuracy_score(y, p), abs=1e-12)


def test_check_trials_accepts_arrays_and_maps_labels():
    eeg, fmri, labels, groups = _good()
    d = check_trials(eeg, fmri, np.array(labels), np.array(groups))
    assert d.y.tolist() == [0, 1] * 12
