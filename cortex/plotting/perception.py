"""Figures of the context-and-priming and composition experiments, drawn from their results only.

Every function returns the Figure and writes a PNG when given ``path``.
"""
from __future__ import annotations

import numpy as np

from .core import plt, save_figure

CUE_COLOURS = ("tab:blue", "tab:gray", "tab:orange")


# ----- priming --------------------------------------------------------------------------------------
def plot_psychometric(curves: dict, cue_names, path=None, title="reading of A/B morphs under each cue"):
    """P(read A) against the morph weight of A, one line per cue, one panel per pair; the PSE dotted.

    curves : "A/B" -> {"weights": (points,), "p_a": (cues, points), "pse": float}.
    """
    n = len(curves)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), squeeze=False, sharey=True)
    for ax, (pair, c) in zip(axes[0], curves.items()):
        a, b = pair.split("/")
        for j, name in enumerate(cue_names):
            ax.plot(c["weights"], c["p_a"][j], "o-", ms=3, color=CUE_COLOURS[j % 3], label=name)
        ax.axvline(c["pse"], color="k", ls=":", lw=1, label=f"PSE {c['pse']:.2f}")
        ax.axhline(0.5, color="k", lw=0.5, alpha=0.3)
        ax.set_xlabel(f"morph weight of {a} (1 - weight of {b})")
        ax.set_title(f"{a} vs {b}")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("P(read A)")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_priming(pairs: list, cue_names, path=None, title="priming at the point of subjective equality"):
    """P(read A) under each cue at the PSE, per pair, with binomial standard errors; control model hatched."""
    n = len(pairs)
    keys = ("p_a_cue_a", "p_a_no_cue", "p_a_cue_b")
    has_control = all("control" in r for r in pairs)
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * n * (2 if has_control else 1), 3.6))
    width = 0.8 / (6 if has_control else 3)
    x = np.arange(n)
    for j, (key, name) in enumerate(zip(keys, cue_names)):
        vals = np.array([r[key] for r in pairs])
        err = np.sqrt(vals * (1 - vals) / np.array([r["trials"] for r in pairs]))
        ax.bar(x + (j - 2.5 if has_control else j - 1) * width, vals, width, yerr=err, color=CUE_COLOURS[j], label=name,
               capsize=2)
        if has_control:
            cv = np.array([r["control"][key] for r in pairs])
            ax.bar(x + (j + 0.5) * width, cv, width, color=CUE_COLOURS[j], alpha=0.45, hatch="//",
                   label=f"{name} (control: uninformative cues)")
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    ax.set_xticks(x, [f"{r['a']} vs {r['b']}\nPSE {r['pse']:.2f}" for r in pairs])
    ax.set_ylabel("P(read A)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    return save_figure(fig, path)


def plot_cue_competition(curves: dict, cue_names, image_shape, path=None,
                         title="hypotheses A and B competing for one morph, under each cue"):
    """Activity of hypotheses A (solid) and B (dashed) over settling steps, one row per pair, one column per cue.

    curves : "A/B" -> {"trace": (steps + 1, cues, hypotheses), "image": (d,), "a": int, "b": int}.
    """
    rows = len(curves)
    cols = len(cue_names)
    fig, axes = plt.subplots(rows, cols + 1, figsize=(2.0 + 3.0 * cols, 2.1 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [0.7] + [2] * cols})
    for r, (pair, c) in enumerate(curves.items()):
        a, b, tr = c["a"], c["b"], np.asarray(c["trace"])
        axes[r, 0].imshow(np.asarray(c["image"]).reshape(image_shape), cmap="gray_r")
        axes[r, 0].set_xticks([]), axes[r, 0].set_yticks([])
        axes[r, 0].set_title(f"morph {pair}", fontsize=8)
        steps = np.arange(tr.shape[0])
        for j, name in enumerate(cue_names):
            ax = axes[r, j + 1]
            others = [i for i in range(tr.shape[2]) if i not in (a, b)]
            for i in others:
                ax.plot(steps, tr[:, j, i], color="0.8", lw=0.8)
            ax.plot(steps, tr[:, j, a], color="tab:blue", lw=1.8, label=f"hypothesis {a} (A)")
            ax.plot(steps, tr[:, j, b], color="tab:orange", lw=1.8, ls="--", label=f"hypothesis {b} (B)")
            winner = int(np.argmax(tr[-1, j]))
            ax.set_title(f"{name}: reads {winner}", fontsize=9)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            if r == rows - 1:
                ax.set_xlabel("settling step (0 = first guess)")
            if j == 0:
                ax.set_ylabel("activity")
            if j == cols - 1:
                ax.legend(fontsize=7, loc="center right")
    fig.suptitle(title + " (grey: other hypotheses)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_context_weights(V, path=None, title="learned context weights"):
    """The context weight matrix (cue x hypothesis) as a heat map."""
    V = np.asarray(V)
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    lim = float(np.abs(V).max()) or 1.0
    im = ax.imshow(V, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_xlabel("hypothesis (digit)")
    ax.set_ylabel("cue")
    ax.set_xticks(range(V.shape[1])), ax.set_yticks(range(V.shape[0]))
    fig.colorbar(im, ax=ax, label="prior logit per unit cue")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


# ----- composition ----------------------------------------------------------------------------------
def _rgb(image, shape):
    return np.clip(np.asarray(image).reshape(shape), 0.0, 1.0)


def plot_shape_examples(images, colours, shapes, held_out, path=None, title="colour x shape stimuli"):
    """One example per (colour, shape) cell; the combinations left out of training framed in red.

    images : (n_colours, n_shapes, H, W, 3); held_out : (n_colours, n_shapes) bool.
    """
    images = np.asarray(images)
    nc, ns = images.shape[:2]
    fig, axes = plt.subplots(nc, ns, figsize=(1.05 * ns + 0.8, 1.05 * nc + 0.6), squeeze=False)
    for i in range(nc):
        for j in range(ns):
            ax = axes[i, j]
            ax.imshow(_rgb(images[i, j], images.shape[2:]), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if held_out[i, j]:
                for side in ax.spines.values():
                    side.set_color("red"), side.set_linewidth(3)
            if i == 0:
                ax.set_title(shapes[j], fontsize=8)
            if j == 0:
                ax.set_ylabel(colours[i], fontsize=8)
    fig.suptitle(title + " (red frame: never seen in training)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_composition_accuracy(accuracy: dict, chance: dict, path=None, title="reading colour and shape"):
    """Grouped bars: accuracy per attribute (colour, shape, both) on seen and unseen combinations, chance marked.

    accuracy : model name -> {"seen": {attr: acc}, "unseen": {attr: acc}}; chance : attr -> chance level.
    """
    attrs = list(chance)
    groups = [(m, s) for m in accuracy for s in ("seen", "unseen")]
    fig, ax = plt.subplots(figsize=(2.2 + 1.4 * len(attrs) * len(accuracy), 3.6))
    width = 0.8 / len(groups)
    x = np.arange(len(attrs))
    palette = {"seen": "tab:green", "unseen": "tab:purple"}
    for g, (model, subset) in enumerate(groups):
        vals = [accuracy[model][subset][a] for a in attrs]
        alt = g >= 2
        bars = ax.bar(x + (g - (len(groups) - 1) / 2) * width, vals, width, color=palette[subset],
                      alpha=0.45 if alt else 1.0, hatch="//" if alt else None, label=f"{subset} combinations ({model})")
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    for i, a in enumerate(attrs):
        ax.plot([i - 0.45, i + 0.45], [chance[a]] * 2, "k:", lw=1.2, label="chance" if i == 0 else None)
    ax.set_xticks(x, attrs)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.1)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return save_figure(fig, path)


def plot_two_region_competition(traces: dict, names: dict, images, labels, image_shape, path=None,
                                title="colour and shape hypotheses over settling", line_colours: dict | None = None):
    """One row per stimulus: the image, then every region's hypothesis activity over settling steps.

    traces : region -> (steps + 1, stimuli, hypotheses); names : region -> hypothesis names;
    labels : per stimulus a caption (e.g. "red tee (unseen)"); line_colours : region -> one colour per
    hypothesis (default: the tab10 cycle).
    """
    regions = list(traces)
    count = len(labels)
    fig, axes = plt.subplots(count, 1 + len(regions), figsize=(2.0 + 4.2 * len(regions), 1.9 * count), squeeze=False,
                             gridspec_kw={"width_ratios": [0.6] + [2] * len(regions)})
    for r in range(count):
        axes[r, 0].imshow(_rgb(images[r], image_shape), interpolation="nearest")
        axes[r, 0].set_xticks([]), axes[r, 0].set_yticks([])
        axes[r, 0].set_title(labels[r], fontsize=8)
        for j, region in enumerate(regions):
            tr = np.asarray(traces[region])
            ax = axes[r, j + 1]
            cmap = plt.get_cmap("tab10")
            colours = (line_colours or {}).get(region) or [cmap(i % 10) for i in range(len(names[region]))]
            for i, name in enumerate(names[region]):
                ax.plot(np.arange(tr.shape[0]), tr[:, r, i], "o-", ms=2.5, color=colours[i], lw=1.5, label=name)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            ax.set_title(f"{region}: reads {names[region][int(np.argmax(tr[-1, r]))]}", fontsize=9)
            if r == 0:
                ax.legend(fontsize=7, ncol=min(3, len(names[region])), loc="lower left", bbox_to_anchor=(0, 1.18),
                          title=f"{region} hypotheses", title_fontsize=7)
            if r == count - 1:
                ax.set_xlabel("settling step (0 = first guess)")
            if j == 0:
                ax.set_ylabel("activity")
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_rgb_fields(fields: dict, image_shape, path=None, title="mean generative field of each hypothesis"):
    """Each region's hypotheses' mean fields as RGB images (one row per region), rescaled to [0, 1] per field."""
    rows = len(fields)
    cols = max(len(v[0]) for v in fields.values())
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 0.6, 1.3 * rows + 0.4), squeeze=False)
    for r, (region, (F, labels)) in enumerate(fields.items()):
        for j in range(cols):
            ax = axes[r, j]
            ax.set_xticks([]), ax.set_yticks([])
            if j >= len(F):
                ax.axis("off")
                continue
            f = np.asarray(F[j]).reshape(image_shape)
            f = np.clip(f, 0, None) / max(float(f.max()), 1e-6)
            ax.imshow(f, interpolation="nearest")
            ax.set_title(str(labels[j]), fontsize=8)
            if j == 0:
                ax.set_ylabel(region, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
