"""The gradient step's low-pass taps are MNE's, designed without importing scipy.signal.

``workbench clean`` spent 0.6-0.9 s of a ~7 s run importing scipy.signal (and with it
scipy.stats, optimize and interpolate) only to design one FIR low-pass through
``mne.filter.create_filter``; ``correct.lowpass_taps`` writes MNE's documented design
out. These tests hold it to MNE's taps and keep the start-up free of scipy.signal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest

from workbench.engine.gradient.correct import lowpass_taps

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sfreq", [250.0, 256.0, 500.0, 1000.0, 1024.0, 2000.0, 2048.0, 2500.0, 5000.0,
                                   8000.0, 20000.0])
def test_the_taps_are_mnes_default_low_pass(sfreq):
    edges = [4.0, 7.5, 30.0, 40.0, 45.0, 70.0, 100.0, 124.0, 250.0, 450.0, 1000.0, 2499.0]
    checked = 0
    for h_freq in edges:
        if h_freq >= sfreq / 2 - 0.5:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MNE warns on short filters at low rates
            ref = mne.filter.create_filter(None, sfreq, None, h_freq, verbose=False)
        ours = lowpass_taps(sfreq, h_freq)
        assert ours.shape == ref.shape, (sfreq, h_freq)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        checked += 1
    assert checked >= 4


def test_an_edge_at_or_above_nyquist_is_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        lowpass_taps(500.0, 250.0)
    with pytest.raises(ValueError, match="Nyquist"):
        lowpass_taps(500.0, 0.0)


def test_clean_does_not_import_scipy_signal(tmp_path):
    """The start-up cost this design removes stays removed (a whole ``workbench clean``),
    with the cardiac pass running: its R-peak detector band-passes and picks peaks with
    :mod:`workbench.engine.dsp`, not scipy.signal (1-2 s to import)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from gradsynth import make_recording

    raw, _, meta = make_recording(duration=20, n_eeg=4)  # 30 beats or more: the pass runs
    src = tmp_path / "in_raw.fif"
    raw.save(src, fmt="single", verbose="error")
    side = tmp_path / "in.json"
    side.write_text(json.dumps(meta["sidecar"]))
    code = ("import sys; from workbench.cli.main import main; "
            f"rc = main(['clean', {str(src)!r}, {str(tmp_path / 'out_raw.fif')!r}, '--slice-timing', "
            f"{str(side)!r}]); assert rc == 0, rc; "
            "print(sorted(m for m in sys.modules if m.startswith('scipy.signal')))")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "out_raw.fif").is_file()
    assert "pulse artifact kept out of the templates" in out.stdout, out.stdout[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
