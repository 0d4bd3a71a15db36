"""Writing a corrected recording held as float32 (``stream.array_raw``) to FIF hands the
float32 rows to MNE's writer without its float64 read (``stream.float32_reads``)."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.gradient.export import write_raw
from workbench.engine.gradient.stream import array_raw, float32_reads


@pytest.fixture
def float32_raw():
    rng = np.random.default_rng(3)
    info = mne.create_info([f"E{i}" for i in range(6)] + ["ECG"], 1000.0, ["eeg"] * 6 + ["ecg"])
    like = mne.io.RawArray(np.zeros((7, 2500)), info, first_samp=123, verbose="error")
    like.set_annotations(mne.Annotations([0.5, 1.0], [0.0, 0.0], ["R128", "R128"], orig_time=None))
    data = (rng.normal(size=(7, 2500)) * 1e-4).astype(np.float32)
    return array_raw(data, like), data


def test_the_fif_written_holds_the_float32_samples_exactly(float32_raw, tmp_path) -> None:
    raw, data = float32_raw
    out = write_raw(raw, tmp_path / "fast_raw.fif")[0]
    raw.save(tmp_path / "mne_raw.fif", verbose="error")  # MNE's own read path
    assert not raw._f32_reads
    fast = mne.io.read_raw_fif(out, preload=True, verbose="error")
    ref = mne.io.read_raw_fif(tmp_path / "mne_raw.fif", preload=True, verbose="error")
    np.testing.assert_array_equal(fast.get_data(), data.astype(np.float64))
    np.testing.assert_array_equal(fast.get_data(), ref.get_data())
    assert fast.first_samp == ref.first_samp == 123
    assert list(fast.annotations.description) == ["R128", "R128"]
    assert fast.ch_names == ref.ch_names and fast.get_channel_types() == ref.get_channel_types()


def test_the_float32_reads_are_for_the_writer_only(float32_raw) -> None:
    raw, data = float32_raw
    got = raw.get_data(picks=[1, 3], start=10, stop=20)
    assert got.dtype == np.float64  # every other reader gets MNE's float64
    with float32_reads(raw):
        fast = raw[[1, 3], 10:20][0]
        assert fast.dtype == np.float32
        np.testing.assert_array_equal(fast, data[[1, 3], 10:20])
    assert not raw._f32_reads
    with pytest.raises(RuntimeError), float32_reads(raw):
        raise RuntimeError("a failed save")
    assert not raw._f32_reads  # reset after a failure too
    plain = mne.io.RawArray(np.zeros((1, 10)), mne.create_info(1, 100.0), verbose="error")
    with float32_reads(plain):  # any other Raw is left alone
        assert plain[0, 0:5][0].dtype == np.float64


def test_a_fif_read_in_threads_equals_the_serial_read(float32_raw, tmp_path, monkeypatch) -> None:
    """``read_float32`` reads a FIF's chunks side by side in threads: the same samples as one
    thread and as MNE's ``get_data``, with a first sample other than 0 and a last chunk
    shorter than the others."""
    import workbench.engine.gradient.stream as stream

    raw, data = float32_raw
    out = write_raw(raw, tmp_path / "in_raw.fif")[0]
    fif = mne.io.read_raw_fif(out, preload=False, verbose="error")
    calls: list[int] = []
    orig = fif._read_segment
    monkeypatch.setattr(fif, "_read_segment", lambda **kw: (calls.append(kw["start"]), orig(**kw))[1])
    threaded = stream.read_float32(fif, chunk_s=0.3, n_jobs=2)
    assert len(calls) == 9  # 2500 samples in 300-sample chunks
    serial = stream.read_float32(fif, chunk_s=0.3, n_jobs=1)
    np.testing.assert_array_equal(threaded, data)
    np.testing.assert_array_equal(serial, data)
    np.testing.assert_array_equal(threaded, fif.get_data().astype(np.float32))
    # a reader that is not MNE's FIF reader is read in one thread (it may keep state)
    assert stream._fif_reader(fif) and not stream._fif_reader(raw)
    np.testing.assert_array_equal(stream.read_float32(raw, chunk_s=0.3, n_jobs=2), data)
