"""Betas and z maps agree with nilearn's FirstLevelModel on the same design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.plugin_api import run_method


@pytest.mark.filterwarnings("ignore:.*mask:RuntimeWarning")
@pytest.mark.parametrize("fwhm", [0.0, 6.0])
def test_betas_and_z_agree_with_nilearn_first_level_model(synthetic, fwhm):
    """Also with spatial smoothing: ours smooths as nilearn's masker does (same kernel)."""
    from nilearn.glm.first_level import FirstLevelModel

    inputs, _ = synthetic
    params = {"slice_timing": "reference", "slice_time_ref": 0.0, "noise_model": "ar1",
              "smoothing_fwhm": fwhm}
    res = run_method("parametric-modulation", inputs, params)
    design = res.matrices["design"]
    X = pd.DataFrame(design["values"], columns=design["columns"])
    mask = res.maps["mask"]
    flm = FirstLevelModel(
        mask_img=mask,
        signal_scaling=0,
        noise_model="ar1",
        smoothing_fwhm=fwhm or None,
        minimize_memory=True,
    )
    flm.fit(inputs.bold, design_matrices=X)
    m = np.asarray(mask.dataobj) > 0
    for col, name in (("stim", "main"), ("stim_x_mod", "modulator")):
        con = np.array([1.0 if c == col else 0.0 for c in X.columns])
        theirs_b = np.asarray(flm.compute_contrast(con, output_type="effect_size").dataobj)[m]
        theirs_z = np.asarray(flm.compute_contrast(con, output_type="z_score").dataobj)[m]
        ours_b = np.asarray(res.maps[f"beta_{name}"].dataobj)[m]
        ours_z = np.asarray(res.maps[f"z_{name}"].dataobj)[m]
        assert np.corrcoef(ours_b, theirs_b)[0, 1] > 0.999
        assert np.corrcoef(ours_z, theirs_z)[0, 1] > 0.999
        np.testing.assert_allclose(ours_b, theirs_b, rtol=1e-3, atol=1e-3 * np.abs(theirs_b).max())
