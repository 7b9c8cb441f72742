"""Generic figures: generative fields, energy curves, hypothesis competition (the region graph: :mod:`.graph`)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from ..atomic import atomic_write


def save_figure(fig, path):
    """Write ``fig`` as a PNG to ``path`` atomically (nothing when ``path`` is None); returns ``fig``."""
    if path is not None:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return fig


def plot_fields(fields, image_shape, path=None, title="generative fields", labels=None):
    """Each hypothesis' generative field as a small image, in a grid."""
    fields = np.asarray(fields)
    n = fields.shape[0]
    cols = min(n, 10)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.3 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if i < n:
            ax.imshow(fields[i].reshape(image_shape), cmap="gray_r")
            ax.set_title(str(labels[i]) if labels is not None else f"h{i}", fontsize=8)
        else:
            ax.axis("off")
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_lines(curves: dict, x=None, path=None, title="", xlabel="", ylabel="", logx=False, logy=False, marker=None):
    """One labelled line per named curve, over a shared ``x`` (default 1, 2, ...): sweeps, learning curves."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, y in curves.items():
        y = np.asarray(y)
        ax.plot(np.arange(1, len(y) + 1) if x is None else np.asarray(x), y, label=str(name), marker=marker)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_energy(curves: dict, path=None, title="energy", xlabel="settling step"):
    """One line per named energy curve (e.g. per region, or per condition)."""
    return plot_lines(curves, path=path, title=title, xlabel=xlabel, ylabel="energy per stimulus")


def plot_competition(trace, images=None, image_shape=None, labels=None, hypothesis_names=None, path=None,
                     title="hypotheses competing"):
    """Activity of every hypothesis over settling steps, one panel per stimulus (trace: steps x stimuli x hypotheses)."""
    trace = np.asarray(trace)
    steps, count, n = trace.shape
    names = hypothesis_names or [f"h{i}" for i in range(n)]
    has_img = images is not None
    fig, axes = plt.subplots(count, 2 if has_img else 1, figsize=(7.5 if has_img else 6, 1.9 * count), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 5]} if has_img else None)
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    for row in range(count):
        ax = axes[row, -1]
        for i in range(n):
            ax.plot(np.arange(steps), trace[:, row, i], color=cmap(i % cmap.N), label=names[i], lw=1.4)
        ax.set_ylabel("activity")
        ax.set_xlim(0, steps - 1)
        if labels is not None:
            ax.set_title(f"stimulus {row}: true {labels[row]}, winner {names[int(np.argmax(trace[-1, row]))]}", fontsize=9)
        if has_img:
            axes[row, 0].imshow(np.asarray(images[row]).reshape(image_shape), cmap="gray_r")
            axes[row, 0].set_xticks([]), axes[row, 0].set_yticks([])
    axes[-1, -1].set_xlabel("settling step (0 = feed-forward first guess)")
    axes[0, -1].legend(ncol=min(n, 10), fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.25))
    fig.suptitle(title, y=1.0 + 0.06 / max(count, 1))
    fig.tight_layout()
    return save_figure(fig, path)
