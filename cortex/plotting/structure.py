"""Figures of new concepts: the graph before and after structural plasticity, edge gains over the reviews,
and the number of hypotheses over training (recruitment). They read results only."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .core import save_figure
from .graph import plot_graph


def plot_gains(reviews: list[dict], min_gain: float | None = None, ax=None, title="candidate edges"):
    """Each candidate edge's held-out gain (energy per stimulus it would remove) at every review."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    names = sorted({k for r in reviews for k in r["scores"]})
    for name in names:
        x = [r["batch"] for r in reviews if name in r["scores"]]
        ax.plot(x, [r["scores"][name] for r in reviews if name in r["scores"]], marker="o", ms=3, label=name)
    if min_gain is not None:
        ax.axhline(min_gain, color="k", ls=":", lw=1, label="min_gain")
    ax.set_xlabel("training batch")
    ax.set_ylabel("held-out gain (nats / stimulus)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return fig or ax.figure


def plot_discovery(before, after, results: dict, path=None):
    """Graph before, graph after, and the candidates' gains at every review (``results`` of ``cortex run discover``)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    plot_graph(before, ax=axes[0], title="declared graph")
    plot_graph(after, ax=axes[1], title="after discovery: " + (", ".join(results["edges"]["discovered"]) or "no edges"))
    if results.get("reviews"):
        changes = results["edges"].get("changes", [])
        plot_gains(results["reviews"], ax=axes[2],
                   title=f"candidates ({len(changes)} change{'s' if len(changes) != 1 else ''})")
    else:
        axes[2].axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_hypothesis_counts(curves: dict, path=None, title="hypotheses over training", cap: int | None = None):
    """Active hypotheses against stimuli seen, one line per run (``{name: [(seen, count), ...]}``)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, points in curves.items():
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        ax.step(pts[:, 0], pts[:, 1], where="post", label=str(name), lw=1.2)
    if cap is not None:
        ax.axhline(cap, color="k", ls=":", lw=1, label="max_hypotheses")
    ax.set_xlabel("stimuli seen")
    ax.set_ylabel("active hypotheses")
    ax.set_title(title, fontsize=10)
    if len(curves) <= 12:
        ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)
