"""Bad input: clear one-line messages, nothing written."""

from __future__ import annotations

import copy

import nibabel as nib
import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.plugin_api import run_method


def _variant(inputs, **changes):
    out = copy.copy(inputs)
    for k, v in changes.items():
        setattr(out, k, v)
    return out


def _fails(inputs, pattern, params=None):
    with pytest.raises(InputError, match=pattern) as info:
        run_method("parametric-modulation", inputs, params or {})
    assert "\n" not in str(info.value)
    return str(info.value)


def test_events_outside_the_run(synthetic):
    inputs, _ = synthetic
    ev = inputs.events.copy()
    ev.loc[3, "onset"] = 500.0  # the run is 200 s
    msg = _fails(
        _variant(inputs, events=ev, sources={"events": "sub-01_events.tsv"}), "outside the run"
    )
    assert msg.startswith("sub-01_events.tsv: 1 event(s) outside the run (0-200.0 s")
    ev = inputs.events.copy()
    ev.loc[0, "onset"] = -1.0
    _fails(_variant(inputs, events=ev), "outside the run")


def test_modulator_without_variance(synthetic):
    inputs, _ = synthetic
    ev = inputs.events.assign(rating=3.0)
    _fails(
        _variant(inputs, events=ev),
        "no variance",
        {"feature": "events-column", "events_column": "rating"},
    )
    flat = inputs.eeg.copy()
    flat._data[:] = 0.0
    _fails(_variant(inputs, eeg=flat), "no variance across the 30 trials")


def test_bold_without_tr(synthetic):
    inputs, _ = synthetic
    img = inputs.bold
    bare = nib.Nifti1Image(np.asarray(img.dataobj), img.affine)  # no time unit, pixdim 1
    msg = _fails(
        _variant(inputs, bold=bare, bold_meta={}, sources={"bold": "x_bold.nii.gz"}),
        "no repetition time",
    )
    assert msg.startswith("x_bold.nii.gz: no repetition time")
    # a header that states seconds is enough
    res = run_method(
        "parametric-modulation", _variant(inputs, bold_meta={}), {"noise_model": "ols"}
    )
    assert res.qc["tr_s"] == 2.0


def test_mismatched_eeg_and_fmri_durations(synthetic):
    inputs, _ = synthetic
    short = inputs.eeg.copy().crop(0, 100)
    _fails(_variant(inputs, eeg=short), "mismatched EEG/fMRI durations: the EEG covers 96.0 s")


def test_unknown_condition_and_channel(synthetic):
    inputs, _ = synthetic
    _fails(inputs, "no trial_type 'visual'; trial types: stim", {"condition": "visual"})
    _fails(inputs, "no channel 'O9'", {"channel": "O9"})
    _fails(_variant(inputs, events=None), "needs events")


def test_inputs_are_left_alone_on_failure(synthetic):
    inputs, _ = synthetic
    before = inputs.fingerprint()
    ev = inputs.events.copy()
    ev.loc[0, "onset"] = 1e4
    _fails(_variant(inputs, events=ev), "outside")
    assert inputs.fingerprint() == before
