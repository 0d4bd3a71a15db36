"""EEG readers against the data written by real writers (pybv, MNE export) and MNE itself."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from workbench.engine.io.eeg import read_eeg, read_eeg_header
from workbench.engine.io.triggers import find_scanner_triggers


def test_brainvision_lazy_and_values(mini_study, mini_data, mini_meta):
    CH_NAMES, N_TIMES, SFREQ, TR = (mini_meta[k] for k in ("ch_names", "n_times", "sfreq", "tr"))
    vhdr = mini_study / "sub-01/eeg/sub-01_task-rest_eeg.vhdr"
    raw = read_eeg(vhdr)
    assert not raw.preload  # lazy: big files open fast
    assert raw.ch_names == CH_NAMES and raw.info["sfreq"] == SFREQ and raw.n_times == N_TIMES
    # the BIDS channels.tsv sets the ECG type and the bad channel
    assert raw.get_channel_types() == ["eeg", "eeg", "eeg", "ecg"]
    assert raw.info["bads"] == ["O1"]
    x = raw.get_data()
    assert np.max(np.abs(x - mini_data)) < 0.02e-6  # written at 0.01 µV resolution
    t = find_scanner_triggers(raw)
    assert t.volume_name == "Response/R128" and t.n_volumes == 10 and t.tr == pytest.approx(TR)
    assert t.volume_onsets[0] == pytest.approx(0.5)


def test_brainvision_real_file_with_eog_ecg(test_data):
    raw = read_eeg(test_data / "coreg/montage/bv_dig_test.vhdr", preload=True)
    ref = mne.io.read_raw_brainvision(test_data / "coreg/montage/bv_dig_test.vhdr", preload=True, verbose="error")
    np.testing.assert_array_equal(raw.get_data(), ref.get_data())
    assert raw.n_times == 5000 and len(raw.ch_names) == 67
    types = raw.get_channel_types()
    assert types.count("ecg") == 1 and types.count("eog") == 2 and types.count("eeg") == 64


def _export(tmp_path, ext):
    rng = np.random.default_rng(3)
    info = mne.create_info(["Fz", "Cz", "EKG"], 250.0, ["eeg", "eeg", "eeg"])
    raw = mne.io.RawArray(rng.standard_normal((3, 2500)) * 1e-5, info, verbose=False)
    raw.set_annotations(mne.Annotations(0.4 + 1.5 * np.arange(6), 0.0, "V"))
    path = tmp_path / f"x_eeg{ext}"
    if ext == ".fif":
        raw.save(path, verbose=False)
    else:
        mne.export.export_raw(path, raw, verbose=False)
    return path, raw


@pytest.mark.parametrize("ext", [".edf", ".set", ".fif"])
def test_other_formats(tmp_path, ext):
    path, ref = _export(tmp_path, ext)
    raw = read_eeg(path, preload=True)
    assert raw.n_times == ref.n_times and raw.info["sfreq"] == 250.0
    tol = 1e-8 if ext == ".edf" else 1e-10  # EDF: 16-bit integers; .set/.fif: float32
    assert np.max(np.abs(raw.get_data() - ref.get_data())) < tol
    assert raw.get_channel_types()[2] == "ecg"  # named EKG
    t = find_scanner_triggers(raw)
    assert t.volume_name == "V" and t.n_volumes == 6 and t.tr == pytest.approx(1.5, abs=1e-3)
    h = read_eeg_header(path)
    assert h.n_samples == 2500 and h.sfreq == 250.0 and len(h.markers) == 6


def test_header_matches_mne_annotations(test_data):
    """Our header reader and MNE's annotation reader agree on every marker."""
    for rel, kw in [
        ("markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr", {}),
        ("markers/bids_eeg_rest_fmri/derivatives/sub-32/eeg/sub-32_task-rest_eeg.vhdr", {}),
        ("markers/bcgnet_sub34/sub34_r02_eval.set", {}),
    ]:
        h = read_eeg_header(test_data / rel)
        src = test_data / rel
        ann = mne.read_annotations(src.with_suffix(".vmrk") if src.suffix == ".vhdr" else src, **kw)
        assert list(h.markers.description) == list(ann.description)
        np.testing.assert_allclose(h.markers.onset, ann.onset, atol=1e-9)


def test_header_real_files_signal_absent(test_data):
    h = read_eeg_header(test_data / "markers/bids_eeg_rest_fmri/sub-32/eeg/sub-32_task-rest_eeg.vhdr")
    assert h.n_channels == 64 and h.sfreq == 5000.0 and h.data_state == "missing"
    assert h.ch_names[31] == "ECG" and h.ch_types.count("ecg") == 1
    h = read_eeg_header(test_data / "markers/bids_eeg_rest_fmri/derivatives/sub-32/eeg/sub-32_task-rest_eeg.vhdr")
    assert h.sfreq == 250.0 and h.n_samples == 162023 and h.duration == pytest.approx(648.092)
    h = read_eeg_header(test_data / "markers/bcgnet_sub34/sub34_r01_raw.set")
    assert (h.n_channels, h.sfreq, h.n_samples) == (64, 500.0, 156652)
    assert h.duration == pytest.approx(313.3, abs=0.01) and h.ch_names[32 - 1] == "ECG"
    assert h.data_file.name == "sub34_r01_raw.fdt" and h.data_state == "missing"


def test_lone_vmrk_in_samples_or_given_sfreq(test_data):
    f = test_data / "markers/bids_eeg_rest_fmri/derivatives/sub-36/eeg/sub-36_task-rest_eeg.vmrk"
    h = read_eeg_header(f)
    assert h.sfreq is None and h.marker_unit == "samples"
    t = find_scanner_triggers(h, unit=h.marker_unit)
    assert t.tr == 540 and t.slice_period == 18
    h = read_eeg_header(f, sfreq=250.0)
    t = find_scanner_triggers(h)
    assert t.tr == pytest.approx(2.16) and t.n_rpeaks == 845


def test_bids_eeg_sidecar_line_frequency(mini_study):
    """PowerLineFrequency comes from the dataset-level task-rest_eeg.json (BIDS inheritance)."""
    vhdr = mini_study / "sub-01/eeg/sub-01_task-rest_eeg.vhdr"
    assert read_eeg(vhdr).info["line_freq"] is None
    (mini_study / "task-rest_eeg.json").write_text('{"PowerLineFrequency": 60, "SamplingFrequency": 500}')
    assert read_eeg(vhdr).info["line_freq"] == 60.0
    (mini_study / "sub-01/eeg/sub-01_task-rest_eeg.json").write_text('{"PowerLineFrequency": 50}')
    assert read_eeg(vhdr).info["line_freq"] == 50.0  # the closer sidecar wins


def _write_bdf(path, data_counts, sfreq=256, labels=("Fz", "Cz"), record_s=1):
    """A minimal BioSemi BDF (24-bit) written by hand, as BioSemi ActiView does."""
    ns, n = data_counts.shape
    spr = int(sfreq * record_s)
    n_rec = n // spr

    def f(v, w):
        return str(v).ljust(w)[:w].encode("ascii")

    head = b"\xffBIOSEMI" + f("X", 80) + f("X", 80) + f("01.01.20", 8) + f("10.00.00", 8)
    head += f(256 * (ns + 1), 8) + f("24BIT", 44) + f(n_rec, 8) + f(record_s, 8) + f(ns, 4)
    for field, w in (("label", 16), ("", 80), ("uV", 8), (-262144, 8), (262143, 8), (-8388608, 8),
                     (8388607, 8), ("", 80), (spr, 8), ("", 32)):
        head += b"".join(f(lab if field == "label" else field, w) for lab in labels)
    body = bytearray()
    for r in range(n_rec):
        for c in range(ns):
            x = data_counts[c, r * spr:(r + 1) * spr].astype("<i4")
            b = x.view(np.uint8).reshape(-1, 4)[:, :3]
            body += b.tobytes()
    path.write_bytes(head + bytes(body))


def test_bdf_and_truncated_bdf(tmp_path):
    from workbench.engine.errors import InputError

    rng = np.random.default_rng(1)
    counts = rng.integers(-100000, 100000, size=(2, 256 * 4))
    _write_bdf(tmp_path / "x.bdf", counts)
    raw = read_eeg(tmp_path / "x.bdf", preload=True)
    ref = mne.io.read_raw_bdf(tmp_path / "x.bdf", preload=True, verbose="error")
    assert raw.n_times == 1024 and raw.ch_names[:2] == ["Fz", "Cz"]
    np.testing.assert_array_equal(raw.get_data(), ref.get_data())
    # 24-bit samples read back: physical steps are count steps x (524287 / 16777215) µV
    np.testing.assert_allclose(np.diff(raw.get_data()[0, :50]), np.diff(counts[0, :50]) * (524287 / 16777215) * 1e-6,
                               rtol=1e-6, atol=1e-12)
    data = (tmp_path / "x.bdf").read_bytes()
    (tmp_path / "x.bdf").write_bytes(data[:-1000])
    with pytest.raises(InputError, match="truncated: 3 of 4 data records"):
        read_eeg(tmp_path / "x.bdf")


def test_real_brainvision_header_with_a_signal_file(copy_test_data):
    """The real FARM header (4 ch, INT_16, 0.5 µV) opens once its .eeg exists; samples
    scale by the header's resolution and the triggers match the header-only reading."""
    vhdr, vmrk = copy_test_data("markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr", "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vmrk")
    n_times = 4_830_000  # past the last marker
    eeg = vhdr.with_suffix(".eeg")
    counts = np.arange(-200, 200, dtype="<i2").reshape(100, 4)  # 100 multiplexed samples
    with open(eeg, "wb") as fh:
        fh.write(counts.tobytes())
        fh.truncate(n_times * 4 * 2)  # sparse zeros: no 39 MB written
    raw = read_eeg(vhdr)
    assert raw.n_times == n_times and raw.ch_names == ["EXT_D", "FLE_D", "EXT_G", "FLE_G"]
    np.testing.assert_allclose(raw.get_data(start=0, stop=100), counts.T * 0.5e-6)
    t_raw = find_scanner_triggers(raw)
    t_hdr = find_scanner_triggers(read_eeg_header(vhdr))
    np.testing.assert_allclose(t_raw.volume_onsets, t_hdr.volume_onsets)
    assert t_raw.n_volumes == 487 and t_raw.tr == pytest.approx(1.6)


def test_real_eeglab_header_with_an_fdt(copy_test_data):
    """The real BCGNet .set (64 ch, 500 Hz) opens once its .fdt exists; ECG gets its type."""
    (s,) = copy_test_data("markers/bcgnet_sub34/sub34_r01_raw.set")
    fdt = s.with_suffix(".fdt")
    n_ch, n_times = 64, 156652
    block = np.random.default_rng(0).standard_normal((50, n_ch)).astype("<f4")  # 50 samples, µV
    with open(fdt, "wb") as fh:
        fh.write(block.tobytes())  # EEGLAB .fdt: float32, channels fastest
        fh.truncate(n_ch * n_times * 4)
    raw = read_eeg(s)
    assert raw.n_times == n_times and raw.info["sfreq"] == 500.0
    assert raw.get_channel_types()[31] == "ecg" and raw.ch_names[31] == "ECG"
    np.testing.assert_allclose(raw.get_data(start=0, stop=50), block.T * 1e-6, rtol=1e-6)
    t = find_scanner_triggers(raw)
    assert t.volume_name == "S128" and t.n_volumes == 150 and t.tr == pytest.approx(2.1)
    with open(fdt, "r+b") as fh:
        fh.truncate(n_ch * n_times * 4 - 1000)
    from workbench.engine.errors import InputError

    with pytest.raises(InputError, match=r"sub34_r01_raw\.fdt: truncated"):
        read_eeg(s)


@pytest.mark.parametrize("sub", ["32", "35", "36"])
def test_own_vmrk_parser_agrees_with_mne(test_data, sub):
    from workbench.engine.io.eeg import _parse_vmrk

    f = test_data / f"markers/bids_eeg_rest_fmri/derivatives/sub-{sub}/eeg/sub-{sub}_task-rest_eeg.vmrk"
    onset, duration, desc, bad = _parse_vmrk(f)
    ann = mne.read_annotations(f, sfreq=1.0)
    assert bad == 0 and desc == list(ann.description)
    np.testing.assert_array_equal(onset, ann.onset)
    np.testing.assert_array_equal(duration, ann.duration)


def test_cut_vmrk_falls_back_to_own_parser(copy_test_data):
    """MNE refuses a marker file whose last line was cut; the header reader keeps the rest."""
    vhdr, vmrk = copy_test_data("markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr", "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vmrk")
    text = vmrk.read_text(encoding="utf-8")
    cut = text.rindex("Mk1040=")
    vmrk.write_text(text[: cut + len("Mk1040=Response,R128,48")], encoding="utf-8")
    with pytest.raises(ValueError):
        mne.read_annotations(vmrk)
    h = read_eeg_header(vhdr)
    assert len(h.markers) == 1038 and any("1 malformed marker line" in n for n in h.notes)
    t = find_scanner_triggers(h)
    assert t.volume_name == "Response/R128" and t.tr == pytest.approx(1.6)
