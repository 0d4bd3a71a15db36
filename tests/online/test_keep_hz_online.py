"""Online: frequencies to keep (``OnlineParams.keep_hz``). The alias terms, the short mean
and the rotating template each follow a steady signal that turns from volume to volume as
they follow the folded artifact (see ``tests/gradient/test_keep_hz.py``); around a kept
frequency the template is the window mean alone."""

from __future__ import annotations

import driftsynth
import mne
import numpy as np
import pytest
from driftsynth import error_uv, kept_share

from workbench.engine.online import OnlineParams, replay_raw


def _run(sf: float, ppm: float, freq: float, keep: tuple[float, ...]) -> tuple[float, float]:
    """(share of a 10 µV response at ``freq`` left, 1-40 Hz error in µV) after volume 10;
    100 s, 8 channels, 35 slices / 2 s."""
    art, eeg, sched, _ = driftsynth.make(n_ch=8, duration=100.0, sfreq=sf, tr=2.0, slices=35, seed=2,
                                         drift_ppm=ppm)
    t = np.arange(eeg.shape[1]) / sf
    sig = 10e-6 * np.sin(2 * np.pi * freq * t + 0.3 * np.arange(8)[:, None])
    raw = mne.io.RawArray(art + eeg + sig, mne.create_info([f"E{i}" for i in range(8)], sf, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations(np.round(sched.onsets) / sf, 0.0, "Response/R128"))
    out = replay_raw(raw, params=OnlineParams(lowpass_hz=None, bcg=False, keep_hz=keep),
                     chunk=int(sf * 0.05)).data[:8].astype(float)
    on = np.asarray(sched.onsets)
    return kept_share(out, sig, on, freq, sf), error_uv(out, eeg + sig, on, sf)


@pytest.mark.parametrize(("sf", "ppm", "freq"), [(2500.0, 20.0, 10.05), (1000.0, 8.0, 10.04)])
def test_a_kept_frequency_stays_online(sf: float, ppm: float, freq: float) -> None:
    """2.5 kHz, 20 ppm (the alias terms took it): 0.11 -> 0.98 left, 1-40 Hz 7.0 -> 2.8
    µV. 1 kHz, 8 ppm (0.5 rad a volume; the rotating template took it): 0.16 -> 1.03,
    10.8 -> 8.5 µV."""
    k0, e0 = _run(sf, ppm, freq, ())
    k1, e1 = _run(sf, ppm, freq, (freq,))
    print(f"{sf:g} Hz: kept {k0:.2f} -> {k1:.2f}, 1-40 Hz error {e0:.2f} -> {e1:.2f} uV")
    assert k0 < 0.4  # the case does tempt the online template
    assert 0.9 < k1 < 1.1
    assert e1 < 0.85 * e0


def test_the_cli_refuses_a_bad_frequency_in_one_line(tmp_path, capsys) -> None:
    from workbench.cli.main import main

    rc = main(["online", "--replay", str(tmp_path / "x.fif"), "--keep-hz", "7.5,twelve"])
    err = capsys.readouterr().err
    assert rc != 0 and "twelve" in err and "Traceback" not in err, err


def test_a_frequency_beyond_the_stream_nyquist_is_said_and_ignored() -> None:
    from workbench.engine.online import OnlinePipeline

    pipe = OnlinePipeline(["E1", "E2"], ["eeg", "eeg"], 1000.0, OnlineParams(keep_hz=(12.0, 700.0), bcg=False))
    assert any("700 Hz" in m and "ignored" in m for m in pipe.messages), pipe.messages
    assert pipe.grad.keep_hz == (12.0,)
