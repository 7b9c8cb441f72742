"""The depth sweep's figure: clean accuracy and the energy-share ratio against the number of levels."""
from __future__ import annotations

import matplotlib.pyplot as plt

from .core import save_figure


def plot_depth_sweep(results: dict, path=None):
    """Two panels over ``results['depths']``: ``accuracy_clean`` and ``energy_share_ratio`` (log scale)."""
    d = results["depths"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(d, results["accuracy_clean"], marker="o")
    a.axhline(0.95, ls="--", c="grey", lw=0.8)
    a.set(xlabel="levels", ylabel="clean accuracy", title="accuracy against depth", ylim=(0, 1.02))
    b.plot(d, results["energy_share_ratio"], marker="o", label="per column")
    b.plot(d, results["energy_share_ratio_raw"], marker="s", label="raw")
    b.axhline(10, ls="--", c="grey", lw=0.8)
    b.set(xlabel="levels", ylabel="largest / smallest energy share", yscale="log", title="balance of the levels")
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
