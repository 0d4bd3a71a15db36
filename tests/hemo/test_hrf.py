"""SPM's canonical HRF and basis, checked against SPM's own outputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio

from workbench.engine.errors import InputError
from workbench.engine.hemo import (
    glover_hrf,
    hrf_times,
    spm_canonical_basis,
    spm_hrf,
)


def test_spm_hrf_equals_all_54_spm_references(test_data):
    mat = sio.loadmat(test_data / "reference" / "spm_hrfs.mat")
    params, hrfs = mat["params"][0], mat["hrfs"][0]
    assert len(params) == 54
    for p, ref in zip(params, hrfs):
        dt, peak, under, pdisp, udisp, ratio = p[0]
        ours = spm_hrf(dt, peak, under, pdisp, udisp, ratio)
        ref = ref[:, 0]
        assert ours.shape == ref.shape, p
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7, err_msg=str(p))


def test_spm_basis_equals_spm_get_bases(test_data):
    mat = sio.loadmat(test_data / "reference" / "spm_bases.mat")
    dt = float(mat["dt"][0, 0])
    basis = spm_canonical_basis(dt, derivatives=2)
    for i, key in enumerate(["hrf", "dhrf", "ddhrf"]):
        np.testing.assert_allclose(basis[:, i], mat[key][:, 0], rtol=0, atol=1e-10, err_msg=key)


def test_spm_hrf_shape_and_units():
    h = spm_hrf(0.1)
    t = hrf_times(0.1)
    assert h.shape == t.shape == (321,)
    assert h.sum() == pytest.approx(1.0)
    assert t[np.argmax(h)] == pytest.approx(5.0, abs=0.11)  # mode of gamma(6, 1) is 5 s
    assert h.min() < 0  # the undershoot
    # an onset shift moves the kernel by whole samples
    shifted = spm_hrf(0.1, onset=1.0)
    np.testing.assert_allclose(shifted[10:] / shifted.sum(), h[:-10] / shifted.sum(), atol=1e-3)


def test_nilearn_spm_hrf_is_not_spm_exact():
    """Documents why we do not use nilearn's spm_hrf (ANCHORS: one-sample shift)."""
    from nilearn.glm.first_level.hemodynamic_models import spm_hrf as nl_spm_hrf

    ours = spm_hrf(0.1)[:320]
    theirs = nl_spm_hrf(0.1, oversampling=1, time_length=32.0)
    assert np.abs(ours - theirs).max() > 1e-4
    assert np.corrcoef(ours, theirs)[0, 1] > 0.99


def test_glover_peak_and_agreement_with_nilearn():
    from nilearn.glm.first_level.hemodynamic_models import glover_hrf as nl_glover

    g = glover_hrf(0.1)
    assert g.sum() == pytest.approx(1.0)
    assert np.argmax(g) * 0.1 == pytest.approx(5.2, abs=0.05)
    assert np.corrcoef(g[:320], nl_glover(0.1, oversampling=1, time_length=32.0))[0, 1] > 0.995


@pytest.mark.parametrize("dt", [0, -1, float("nan")])
def test_bad_dt_is_a_clear_error(dt):
    with pytest.raises(InputError, match="dt"):
        spm_hrf(dt)
