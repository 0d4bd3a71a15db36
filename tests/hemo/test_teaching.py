"""The teaching comparison: canonical HRF vs linearised vs full balloon model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine.errors import InputError
from workbench.engine.hemo import BalloonParams
from workbench.engine.hemo.teaching import STIMULI, compare_models


def test_small_inputs_are_linear_and_look_like_the_canonical_hrf():
    c = compare_models("single event", amplitude=0.01)
    assert np.abs(c.bold_balloon - c.bold_linear).max() < 0.03 * c.bold_linear.max()
    assert np.corrcoef(c.bold_hrf, c.bold_linear)[0, 1] > 0.95
    assert c.flow.max() > 1 and c.deoxy.min() < 1 and c.volume.max() > 1


def test_two_close_events_saturate():
    one = compare_models("single event", amplitude=1.0)
    two = compare_models("two events", amplitude=1.0)
    assert two.bold_balloon.max() < 2 * one.bold_balloon.max()
    assert two.bold_linear.max() > two.bold_balloon.max()


def test_slower_transit_delays_the_peak():
    fast = compare_models(params=BalloonParams(tau=1.0))
    slow = compare_models(params=BalloonParams(tau=3.5))
    assert fast.t[np.argmax(fast.bold_balloon)] < slow.t[np.argmax(slow.bold_balloon)]


@pytest.mark.parametrize("kind", STIMULI)
def test_every_stimulus_runs(kind):
    c = compare_models(kind)
    assert c.neural.max() > 0 and np.isfinite(c.bold_balloon).all()


def test_unknown_stimulus():
    with pytest.raises(InputError, match="unknown stimulus"):
        compare_models("boxcar")
