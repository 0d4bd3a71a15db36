"""deep-fusion's device choice (auto picks the CPU without CUDA, 'cuda' without CUDA is one
clear line, the device is recorded) and determinism scoped to a run (the process-wide torch
settings are restored afterwards)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench_deep_fusion.cv import cross_validate  # noqa: E402
from workbench_deep_fusion.train import TrainConfig, resolve_device  # noqa: E402

from workbench.engine.errors import InputError  # noqa: E402
from workbench.engine.progress import Progress  # noqa: E402


def test_auto_picks_cpu_without_cuda_and_cuda_with_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(InputError) as err:
        resolve_device("cuda")
    msg = str(err.value)
    assert "cuda" in msg and "no CUDA GPU" in msg and "\n" not in msg
    with pytest.raises(InputError, match="not one of"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_device_recorded_and_cuda_refused_before_anything_is_written(small_data, monkeypatch):
    from workbench_deep_fusion.declaration import METHOD
    from workbench_deep_fusion.method import run_arrays

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    params = METHOD.validate_params({"models": "fmri_only", "epochs": 2, "patience": 2, "n_folds": 2,
                                     "n_bootstrap": 100})
    assert params["device"] == "auto"
    res = run_arrays(small_data, params)
    assert res.qc["device"] == "cpu"
    assert any("on cpu" in m for m in res.messages)
    with pytest.raises(InputError, match="no CUDA GPU"):
        run_arrays(small_data, {**params, "device": "cuda"})


@pytest.mark.parametrize("before", [False, True])
def test_determinism_only_during_a_run(small_data, before):
    torch.use_deterministic_algorithms(before)
    threads = torch.get_num_threads()
    rng_before = torch.get_rng_state().clone()
    seen = []

    def cb(frac, msg):
        if "epoch" in msg:  # reported by the training loop
            seen.append((torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()))

    try:
        cross_validate(small_data, ["fmri_only"], {"latent": 4}, TrainConfig(epochs=2, patience=2, threads=1),
                       n_folds=2, progress=Progress(cb))
        assert seen and all(flag for flag, _ in seen)  # on while training
        assert all(n == 1 for _, n in seen)
        assert torch.are_deterministic_algorithms_enabled() is before  # restored after the run
        assert torch.get_num_threads() == threads
        assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG is left as it was
    finally:
        torch.use_deterministic_algorithms(False)


def test_restored_after_a_failing_run(small_data, monkeypatch):
    import workbench_deep_fusion.train as train_mod

    torch.use_deterministic_algorithms(False)

    def boom(*a, **k):
        raise RuntimeError("training failed")

    monkeypatch.setattr(train_mod, "train_model", boom)
    with pytest.raises(RuntimeError):
        cross_validate(small_data, ["fmri_only"], None, TrainConfig(epochs=1), n_folds=2)
    assert not torch.are_deterministic_algorithms_enabled()


def test_same_result_on_cpu_whatever_was_set_before(small_data):
    cfg = TrainConfig(epochs=2, patience=2, seed=3)
    torch.use_deterministic_algorithms(False)
    torch.manual_seed(123)
    a = cross_validate(small_data, ["fmri_only"], {"latent": 4}, cfg, n_folds=2)
    torch.manual_seed(456)
    b = cross_validate(small_data, ["fmri_only"], {"latent": 4}, cfg, n_folds=2)
    assert np.array_equal(a.proba["fmri_only"]["both"], b.proba["fmri_only"]["both"])
    assert a.device == "cpu"
