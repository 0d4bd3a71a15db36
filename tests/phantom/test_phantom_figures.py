"""Ground-truth figures render and are not blank (saved for people to look at)."""

from __future__ import annotations

import numpy as np

from workbench.engine.phantom.figures import plot_bold, plot_cardiac, plot_components


def test_figures_render(truth, artifacts_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, fig in (("components", plot_components(truth)), ("cardiac", plot_cardiac(truth)),
                      ("bold", plot_bold(truth))):
        path = artifacts_dir / f"phantom_{name}.png"
        fig.savefig(path, dpi=60)
        plt.close(fig)
        img = plt.imread(path)
        assert img.std() > 0.05 and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 50
