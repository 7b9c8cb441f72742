"""Figures of perception as a search: accuracy against settling steps, a camouflaged digit snapping into
place, and the filling-in of an occluded patch by the top-down prediction."""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from .core import plt, save_figure


def plot_accuracy_vs_steps(curves: dict, first_guess: dict | None = None, baselines: dict | None = None, path=None,
                           title="accuracy against settling steps"):
    """Accuracy after each number of settling steps, one line per condition (e.g. camouflaged, clean).

    curves : condition -> (steps, accuracy) sequences; steps >= 1 (drawn on a log axis).
    first_guess : condition -> accuracy of the feed-forward first guess (steps = 0), drawn dashed.
    baselines : condition -> {name: accuracy} of classifiers that do not settle, drawn dotted.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = plt.get_cmap("tab10")
    for i, (cond, (steps, acc)) in enumerate(curves.items()):
        c = colors(i)
        ax.plot(steps, acc, "o-", color=c, lw=1.8, ms=4, label=f"{cond}: settled")
        if first_guess and cond in first_guess:
            ax.axhline(first_guess[cond], color=c, ls="--", lw=1.2, label=f"{cond}: feed-forward first guess")
        for j, (name, value) in enumerate((baselines or {}).get(cond, {}).items()):
            ax.axhline(value, color=c, ls=":", lw=1.2 + 0.6 * j, label=f"{cond}: {name.replace('_', ' ')}")
    ax.set_xscale("log")
    ax.set_xlabel("settling steps")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_snapping(images, predictions, steps, image_shape, winners=None, labels=None, path=None,
                  title="top-down prediction during settling"):
    """Each stimulus, then what the read-out predicts it sees after each number of steps.

    images : (examples, d) stimuli; predictions : (examples, len(steps), d); winners : (examples, len(steps))
    the leading hypothesis at each of those steps; labels : (examples,) the true classes.
    """
    images, predictions = np.asarray(images), np.asarray(predictions)
    count, cols = images.shape[0], len(steps) + 1
    fig, axes = plt.subplots(count, cols, figsize=(1.25 * cols, 1.4 * count + 0.5), squeeze=False)
    for r in range(count):
        panels = [images[r]] + [predictions[r, j] for j in range(len(steps))]
        for c, img in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(np.asarray(img).reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_title(f"input (true {labels[r]})" if labels is not None else "input", fontsize=7)
            else:
                s = steps[c - 1]
                head = "first guess" if s == 0 else f"step {s}"
                ax.set_title(f"{head}: {winners[r, c - 1]}" if winners is not None else head, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _outline(ax, mask, image_shape):
    rows, cols = np.nonzero(np.asarray(mask).reshape(image_shape))
    if rows.size:
        ax.add_patch(Rectangle((cols.min() - 0.5, rows.min() - 0.5), cols.max() - cols.min() + 1,
                               rows.max() - rows.min() + 1, fill=False, ec="tab:red", lw=1.2))


def plot_filling_in(occluded, prediction, truth, mask, image_shape, labels=None, winners=None, path=None,
                    title="filling in an occluded patch"):
    """One row per stimulus: occluded input, the top-down prediction, the hidden truth (patch outlined in red)."""
    occluded, prediction, truth = map(np.asarray, (occluded, prediction, truth))
    count = occluded.shape[0]
    fig, axes = plt.subplots(count, 3, figsize=(4.2, 1.45 * count + 0.5), squeeze=False)
    for r in range(count):
        for c, (img, head) in enumerate(((occluded[r], "occluded input"), (prediction[r], "prediction"),
                                         (truth[r], "truth"))):
            ax = axes[r, c]
            ax.imshow(img.reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            _outline(ax, mask[r], image_shape)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 1 and winners is not None:
                head = f"prediction ({winners[r]})"
            if c == 2 and labels is not None:
                head = f"truth ({labels[r]})"
            ax.set_title(head, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_filling_error(sizes, errors: dict, curves: dict | None = None, path=None,
                       title="error of the filled-in patch"):
    """Mean squared error inside the occluded patch.

    sizes : patch sides in pixels; errors : method -> one error per size (e.g. model, mean image, class mean);
    curves : patch side -> (steps, error after that many steps), drawn in a second panel (log steps, 0 shown
    as the first guess at the left edge).
    """
    n_panels = 2 if curves else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(5.2 * n_panels, 3.8), squeeze=False)
    ax = axes[0, 0]
    styles = {"model": "o-", "first_guess": "s--"}
    for method, values in errors.items():
        ax.plot(sizes, values, styles.get(method, "^:"), label=method.replace("_", " "), lw=1.6, ms=5)
    ax.set_xticks(list(sizes))
    ax.set_xticklabels([f"{s}x{s}" for s in sizes])
    ax.set_xlabel("occluded patch")
    ax.set_ylabel("mean squared error inside the patch")
    ax.set_title("against baselines")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if curves:
        ax = axes[0, 1]
        for size, (steps, err) in curves.items():
            steps = np.asarray(steps, dtype=float)
            ax.plot(np.where(steps == 0, 0.5, steps), err, "o-", ms=3, label=f"{size}x{size}")
        ax.set_xscale("log")
        ax.set_xlabel("settling steps (leftmost: first guess)")
        ax.set_ylabel("mean squared error inside the patch")
        ax.set_title("model, during settling")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, title="patch")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
