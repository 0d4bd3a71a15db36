"""deep-fusion networks on a small separable phantom cohort: above chance under
leave-subjects-out CV, bit-for-bit deterministic under a seed, missing-modality handling
as declared, checkpoints round-trip with weights_only=True and refuse pickles, Cancel stops
training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench_deep_fusion import checkpoint  # noqa: E402
from workbench_deep_fusion.cv import cross_validate, score_models  # noqa: E402
from workbench_deep_fusion.models import ModelConfig, build_model  # noqa: E402
from workbench_deep_fusion.train import (  # noqa: E402
    TrainConfig,
    deterministic,
    predict,
    set_determinism,
    train_model,
)

from workbench.engine.errors import Cancelled, InputError  # noqa: E402
from workbench.engine.progress import CancelToken, Progress  # noqa: E402

FAST = TrainConfig(epochs=15, patience=5, batch_size=32, seed=1)


@pytest.fixture(scope="module")
def cv_run(small_data):
    return cross_validate(small_data, ["late", "eeg_only", "fmri_only", "linear"], {"latent": 8}, FAST, n_folds=2)


def test_above_chance_leave_subjects_out(cv_run, small_data):
    sc = score_models(cv_run, small_data.y, small_data.groups, n_boot=200, seed=0)
    for m in ("late", "eeg_only", "fmri_only", "linear"):
        assert sc[m]["both"]["balanced_accuracy"] > 0.7, (m, sc[m]["both"])
        lo, hi = sc[m]["both"]["ci95"]
        assert lo <= sc[m]["both"]["balanced_accuracy"] <= hi
    # every trial was predicted once, by the fold that held its subject out
    assert np.all(cv_run.fold >= 0)
    for f in cv_run.folds:
        test = set(f["test_subjects"])
        assert test and not test & set(f["validation"].removeprefix("subjects ").split(", "))
    # late fusion without the fMRI is its EEG branch alone: still above chance
    assert sc["late"]["without_fmri"]["balanced_accuracy"] > 0.65
    assert sc["eeg_only"]["without_eeg"] is None and sc["fmri_only"]["without_fmri"] is None
    assert "vs_linear" in sc["late"] and "vs_linear" not in sc["linear"]


def test_deterministic_bit_for_bit_under_a_seed(small_data):
    cfg = TrainConfig(epochs=3, patience=3, seed=5)
    a = cross_validate(small_data, ["hybrid", "early"], {"latent": 8}, cfg, n_folds=2)
    b = cross_validate(small_data, ["hybrid", "early"], {"latent": 8}, cfg, n_folds=2)
    c = cross_validate(small_data, ["hybrid", "early"], {"latent": 8}, TrainConfig(epochs=3, patience=3, seed=6),
                       n_folds=2)
    for m in ("hybrid", "early"):
        assert np.array_equal(a.proba[m]["both"], b.proba[m]["both"])
        assert np.array_equal(a.embeddings[m], b.embeddings[m])
        assert not np.array_equal(a.proba[m]["both"], c.proba[m]["both"])


def _tiny(kind, small_data):
    d = small_data
    return ModelConfig(kind, d.eeg.shape[1], d.eeg.shape[2], d.fmri.shape[1], 2, latent=8)


def _std(d):
    from workbench_deep_fusion.cv import Standardizer

    return Standardizer.fit(d.eeg, d.fmri).apply(d.eeg, d.fmri)


@pytest.fixture(autouse=True)
def _scoped_determinism():
    """set_determinism below changes process-wide torch settings: restore them after each test."""
    with deterministic():
        yield


def test_missing_modality_handling(small_data):
    e, f = _std(small_data)
    f2 = f + np.float32(3.0) * np.random.default_rng(0).standard_normal(f.shape).astype(np.float32)
    e2 = np.flip(e, axis=2).copy()
    for kind in ("early", "late", "hybrid"):
        set_determinism(0)
        net = build_model(_tiny(kind, small_data)).eval()
        # without the fMRI, the prediction does not depend on the fMRI given; likewise for the EEG
        assert np.array_equal(predict(net, e, f, True, False), predict(net, e, f2, True, False)), kind
        assert np.array_equal(predict(net, e, f, False, True), predict(net, e2, f, False, True)), kind
        assert not np.allclose(predict(net, e, f), predict(net, e, f2)), kind
    net = build_model(_tiny("late", small_data)).eval()
    with torch.no_grad():
        le, lf = net.branches(torch.from_numpy(e), torch.from_numpy(f))
    assert np.allclose(predict(net, e, f, True, False), torch.softmax(le, 1).numpy(), atol=1e-6)
    assert np.allclose(predict(net, e, f), torch.softmax(le + lf, 1).numpy(), atol=1e-6)


def test_checkpoint_round_trip_weights_only(tmp_path, small_data):
    e, f = _std(small_data)
    set_determinism(2)
    cfg = _tiny("hybrid", small_data)
    net = build_model(cfg)
    train_model(net, "hybrid", (e[:120], f[:120], small_data.y[:120]), (e[120:], f[120:], small_data.y[120:]),
                TrainConfig(epochs=2, patience=2))
    pt, js = checkpoint.save(tmp_path, "m", net, cfg, {"classes": small_data.classes})
    back, doc = checkpoint.load(tmp_path, "m")
    assert doc["classes"] == small_data.classes and doc["model"]["kind"] == "hybrid"
    assert np.array_equal(predict(net, e, f), predict(back, e, f))
    assert not list(tmp_path.glob("*.part"))
    # a checkpoint carrying a pickled object is refused, nothing of it runs
    torch.save({"weights": net.state_dict(), "evil": _Evil()}, pt)
    with pytest.raises(InputError) as err:
        checkpoint.load(tmp_path, "m")
    assert "weights only" in str(err.value) and "\n" not in str(err.value)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cancel_stops_training(small_data):
    e, f = _std(small_data)
    token = CancelToken()
    seen = []

    def cb(frac, msg):
        seen.append(msg)
        if len(seen) == 2:
            token.cancel()

    net = build_model(_tiny("eeg_only", small_data))
    with pytest.raises(Cancelled):
        train_model(net, "eeg_only", (e, f, small_data.y), (e, f, small_data.y),
                    TrainConfig(epochs=50, patience=50), Progress(cb, token))
    assert len(seen) == 2  # stopped at the first check after the request
