"""Teaching dialog: random digitiser noise averages out with more points; a bias does not."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget
from superqt.utils import create_worker

from workbench.engine.coreg.figures import plot_noise_bias
from workbench.engine.coreg.synthetic import noise_vs_bias

TEXT = (
    "Each point is a simulated coregistration of this scalp: head-shape points digitised with "
    "3 mm random noise (blue) or with the same noise plus a constant 3 mm digitiser offset "
    "(orange). The y axis is the target registration error at the electrodes. Random errors "
    "average out as points are added; the bias stays, however many points you digitise."
)


class NoiseBiasDialog(QDialog):
    """Runs :func:`noise_vs_bias` in a worker and plots it."""

    def __init__(self, scalp: dict[str, Any], mri_fid: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Noise vs bias")
        self.scalp, self.fid = scalp, mri_fid
        self.result: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        self.label = QLabel(TEXT + "<br><i>computing…</i>", self)
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.fig = Figure(figsize=(5, 3.5))
        self.canvas = FigureCanvasQTAgg(self.fig)
        lay.addWidget(self.canvas)
        self.resize(560, 480)
        self._worker: Any = None

    def start(self, n_repeats: int = 6) -> None:
        self._worker = create_worker(noise_vs_bias, self.scalp, self.fid, n_repeats=n_repeats,
                                     _start_thread=False, _ignore_errors=True)
        self._worker.returned.connect(self._done)
        self._worker.start()

    def _done(self, res: dict[str, Any]) -> None:
        self.result = res
        self.label.setText(TEXT)
        plot_noise_bias(self.fig, res)
        self.canvas.draw()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        if self._worker is not None:
            self._worker.quit()
        super().closeEvent(event)
