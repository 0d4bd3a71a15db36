"""TR and slice timing recovered from real EEG-fMRI marker files; the sync CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.engine.errors import InputError
from workbench.engine.io.eeg import read_eeg_header
from workbench.engine.sync import from_sidecar, read_bold_sidecar, synchronise

BIDS = "markers/bids_eeg_rest_fmri"
ANALYZER = f"{BIDS}/derivatives/sub-{{}}/eeg/sub-{{}}_task-rest_eeg.vhdr"


@pytest.mark.parametrize("sub", ["32", "35", "36"])
def test_analyzer_markers_give_tr_and_30_slices_of_72_ms(test_data: Path, sub: str) -> None:
    vhdr = test_data / ANALYZER.format(sub, sub)
    if vhdr.exists():
        hdr = read_eeg_header(vhdr)
    else:  # sub-35/36: only the marker file; Analyzer exported at 250 Hz like sub-32
        hdr = read_eeg_header(vhdr.with_suffix(".vmrk"), sfreq=250.0)
    res = synchronise(hdr.markers, source=hdr.path)
    q = res.qc()
    assert q["volume_trigger"] == "Scanner/Scan Start" and q["slice_trigger"].strip() == "Scanner/s"
    assert q["n_triggers"] == 300 and q["n_missing"] == q["n_extra"] == q["n_duplicates"] == 0
    assert q["tr_s"] == 2.16
    acq = res.acquisition
    assert acq.n_slots == 30 and acq.source == "slice-triggers"
    np.testing.assert_allclose(np.diff(acq.slot_offsets), 0.072, atol=1e-9)
    assert abs(acq.dead_time) < 1e-9


def test_bold_sidecar_slice_timing(test_data: Path) -> None:
    meta = read_bold_sidecar(test_data / BIDS / "task-rest_bold.json")
    acq = from_sidecar(meta)
    assert acq.tr == 2.16 and acq.n_slots == 30 and acq.multiband == 1
    assert acq.slot_offsets[0] == 0 and acq.slot_offsets[-1] == pytest.approx(2.0975)


def test_farm_r128_tr_1600(test_data: Path) -> None:
    hdr = read_eeg_header(test_data / "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr")
    res = synchronise(hdr.markers, tr=1.6, source=hdr.path)
    assert res.info.volume_name == "Response/R128"
    assert res.train.n_triggers == 487 and res.fit.drift_ppm == pytest.approx(0, abs=1e-6)
    assert res.fit.jitter_us < 1


def test_eeglab_s128_tr_2100(test_data: Path) -> None:
    hdr = read_eeg_header(test_data / "markers/bcgnet_sub34/sub34_r01_raw.set")
    res = synchronise(hdr.markers, source=hdr.path)
    assert res.info.volume_name.replace(" ", "") == "S128"
    assert res.train.n_triggers == 150 and res.fit.tr_s == 2.1


def test_unknown_trigger_name_lists_the_markers(test_data: Path) -> None:
    hdr = read_eeg_header(test_data / "markers/farm_emg_fmri/me3mb3_tr1600_sl54.vhdr")
    with pytest.raises(InputError, match="R128"):
        synchronise(hdr.markers, volume="TR_PULSE", source=hdr.path)


def test_sync_cli_json(test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "qc.json"
    rc = main(
        ["sync", str(test_data / ANALYZER.format("32", "32")), "--tr", "2.16", "--json", str(out)]
    )
    assert rc == 0
    q = json.loads(out.read_text())
    for key in ("alpha", "beta_s", "drift_ppm", "n_triggers", "n_missing", "n_extra", "jitter_us"):
        assert key in q
    assert q["n_triggers"] == 300 and q["alpha"] == pytest.approx(1.0, abs=1e-9)
    assert "drift" in capsys.readouterr().out


def test_sync_cli_bad_trigger_name(
    test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "qc.json"
    rc = main(
        [
            "sync",
            str(test_data / "markers/bcgnet_sub34/sub34_r01_raw.set"),
            "--volume-trigger",
            "R128",
            "--json",
            str(out),
        ]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "S128" in err and err.count("\n") == 1
    assert not out.exists()
