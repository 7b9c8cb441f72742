"""Figures of the vision experiments: a grid of learned fields, the shares behind "oriented" and "localised",
and end-stopping tuning curves (bar length against response, with and without feedback)."""
from __future__ import annotations

import numpy as np

from .core import plt, save_figure


def plot_field_grid(fields: np.ndarray, shape, shares: dict | None = None, path=None, title="learned fields",
                    columns: int | None = None):
    """Every field as a small grey image in one mosaic (each scaled to its own largest magnitude, 0 mid-grey); with
    ``shares`` (from :func:`cortex.experiments.field_stats.field_summary`) a field neither oriented nor localised is
    framed red, one that is only one of them orange."""
    h, w = shape
    F = np.asarray(fields, float).reshape(len(fields), h, w)
    n = len(F)
    cols = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    gap = 1
    mosaic = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        m = float(np.max(np.abs(F[i]))) or 1.0
        mosaic[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = F[i] / m
    fig, ax = plt.subplots(figsize=(0.5 * cols + 0.4, 0.5 * rows + 0.7))
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    if shares is not None:
        from matplotlib.patches import Rectangle

        for i in range(n):
            good = int(shares["_orientation_share"][i] > 0.5) + int(shares["_localisation_share"][i] > 0.5)
            if good < 2:
                r, c = divmod(i, cols)
                ax.add_patch(Rectangle((gap + c * (w + gap) - 1, gap + r * (h + gap) - 1), w + 1, h + 1, fill=False,
                                       edgecolor="orange" if good else "red", lw=1.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title + ("  (red: neither oriented nor localised; orange: one of them)" if shares else ""),
                 fontsize=9)
    fig.tight_layout(pad=0.2)
    return save_figure(fig, path)


def plot_field_shares(shares: dict, band_deg: float, path=None):
    """Histograms of each method's per-field orientation share and localisation share; a field counts above 0.5."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    bins = np.linspace(0, 1, 26)
    for name, s in shares.items():
        axes[0].hist(s["_orientation_share"], bins, histtype="step", lw=1.6, label=name)
        axes[1].hist(s["_localisation_share"], bins, histtype="step", lw=1.6, label=name)
    axes[0].set_xlabel(f"spectrum energy within {band_deg:g} deg of the preferred orientation")
    axes[1].set_xlabel("energy inside the half-side window round the centroid")
    for ax in axes:
        ax.axvline(0.5, color="k", ls=":", lw=1)
        ax.set_ylabel("fields")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_tuning_curves(lengths, curves: dict, rf_length: float, path=None, title="responses to bars of growing length",
                       examples: int = 6):
    """Mean (over responding units, each scaled to its own peak) and a few single units' responses against bar
    length, one colour per condition; the classical receptive field's width is a dotted line."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    colors = plt.get_cmap("tab10")
    for i, (name, C) in enumerate(curves.items()):
        C = np.asarray(C, float)
        peak = np.maximum(C.max(axis=1, keepdims=True), 1e-12)
        norm = C / peak
        mean, sd = norm.mean(axis=0), norm.std(axis=0)
        axes[0].plot(lengths, mean, "o-", color=colors(i), label=name)
        axes[0].fill_between(lengths, mean - sd, mean + sd, color=colors(i), alpha=0.15)
        for j in range(min(examples, len(C))):
            axes[1].plot(lengths, C[j], "-", color=colors(i), lw=1, alpha=0.8, label=name if j == 0 else None)
    for ax in axes:
        ax.axvline(rf_length, color="k", ls=":", lw=1)
        ax.set_xlabel("bar length (pixels); dotted: the classical receptive field")
    axes[0].set_ylabel("response / the unit's peak (mean +- sd)")
    axes[1].set_ylabel("response (single units)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
