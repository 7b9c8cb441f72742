"""Figures of new concepts, drawn from results only: the graph before and after structural plasticity with the edge
gains at every review, the number of hypotheses over training, the concepts experiment's per-class bars, and the
continual-learning curves."""
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


def plot_continual(results: dict, path=None):
    """Accuracy on the classes seen so far after each task (every method), and the model's accuracy per task."""
    curves, final = results["accuracy_after_task"], results["final_accuracy"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    x = np.arange(1, len(results["tasks"]) + 1)
    for name, c in curves.items():
        main = name in ("model", "mlp_sequential")
        ax.plot(x, c, marker="o", lw=2.0 if main else 1.0, ls="-" if main else "--", label=name, ms=4)
    ax.axhline(final["joint"], color="k", ls=":", lw=1, label="joint (upper bound)")
    ax.set_xticks(x, [f"{i}\n{'+'.join(map(str, t))}" for i, t in zip(x, results["tasks"])])
    ax.set_xlabel("after task (classes)")
    ax.set_ylabel("accuracy on seen classes")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("class-incremental digits, no replay", fontsize=10)
    M = np.asarray(results["task_accuracy"]["model"], dtype=float)
    mask = np.tril(np.ones_like(M, dtype=bool))
    im = bx.imshow(np.where(mask, M, np.nan), vmin=0, vmax=1, cmap="viridis")
    for i, j in zip(*np.nonzero(mask)):
        bx.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w" if M[i, j] < 0.6 else "k")
    bx.set_xticks(range(len(M)), [f"task {j + 1}" for j in range(len(M))], fontsize=7)
    bx.set_yticks(range(len(M)), [f"after {i + 1}" for i in range(len(M))], fontsize=7)
    bx.set_title("model: accuracy on each task's classes", fontsize=10)
    fig.colorbar(im, ax=bx, shrink=0.8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_concepts(results: dict, path=None):
    """Per held-out class: purity and one-label accuracy of the recruited hypotheses, and the new class's accuracy."""
    runs = results["by_held_out"]
    names = list(runs)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5.5, 0.7 * len(names) + 2), 3.6))
    series = {"purity": [runs[h]["purity"] for h in names],
              "one-label accuracy": [runs[h]["one_label_accuracy"] for h in names],
              "new class from few examples": [runs[h]["new_class"]["accuracy"] for h in names]}
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - 1) * width, values, width, label=label)
    ax.set_xticks(x, names)
    ax.set_xlabel("held-out class (learned last, from few labelled examples)")
    ax.set_ylim(0, 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"mean: purity {results['purity']:.3f}, one-label {results['one_label_accuracy']:.3f}, new class "
                 f"{results['new_class']['accuracy']:.3f} (old drop {results['new_class']['old_drop']:.3f})",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
