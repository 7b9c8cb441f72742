"""Rivalry figures: the two interpretations over time, dominance durations, and the contrast sweeps.

Every function reads results only, returns the Figure and writes a PNG when given ``path``.
"""
from __future__ import annotations

import numpy as np

from .core import plt, save_figure

COLOURS = ("tab:blue", "tab:orange")


def plot_dominance_trace(trace, margin: float = 0.0, names=("A", "B"), path=None, title="rivalry",
                         xlabel="settling step (after the warm-up)"):
    """The two hypotheses' activity over time, one panel per trial; the dominant side shades the background.

    trace : (steps, trials, 2) activity; ``margin`` is the lead a side needs to count as dominant.
    """
    trace = np.asarray(trace)
    steps, count, _ = trace.shape
    fig, axes = plt.subplots(count, 1, figsize=(10, 1.5 * count + 0.6), sharex=True, squeeze=False)
    t = np.arange(steps)
    edges = np.repeat(t, 2) + np.tile([-0.5, 0.5], steps)
    for row, ax in enumerate(axes[:, 0]):
        diff = trace[:, row, 0] - trace[:, row, 1]
        top = float(trace[:, row].max()) * 1.05 or 1.0
        for side, sign in ((0, 1), (1, -1)):
            # each step is drawn as [t - 0.5, t + 0.5], so a one-step dominance shows and a switch leaves no gap
            ax.fill_between(edges, 0, top, where=np.repeat(sign * diff > margin, 2), color=COLOURS[side],
                            alpha=0.12, lw=0)
            ax.plot(t, trace[:, row, side], color=COLOURS[side], lw=1.1, label=f"{names[side]}")
        ax.set_ylim(0, top)
        ax.set_xlim(0, steps - 1)
        ax.set_ylabel(f"trial {row}\nactivity", fontsize=8)
    axes[0, 0].legend(ncol=2, fontsize=8, loc="lower right", bbox_to_anchor=(1, 1))
    axes[-1, 0].set_xlabel(xlabel + "; shading: the dominant interpretation")
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_duration_histogram(durations, stats: dict, path=None, title="dominance durations", unit="settling steps"):
    """Histogram (density) of dominance durations with the fitted gamma and lognormal densities."""
    from scipy import stats as sps

    d = np.asarray(durations, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.hist(d, bins=min(60, max(10, d.size // 20)), density=True, color="0.75", edgecolor="white",
            label=f"model: mean {stats['mean']:.0f}, CV {stats['cv']:.2f}, skew {stats['skewness']:.2f}")
    x = np.linspace(0, np.percentile(d, 99.5) * 1.1, 400)[1:]
    g, ln = stats["gamma"], stats["lognormal"]
    ax.plot(x, sps.gamma.pdf(x, g["shape"], 0, g["scale"]), color="tab:red", lw=2,
            label=f"gamma: shape {g['shape']:.2f}, log-lik {g['loglik']:.0f}")
    ax.plot(x, sps.lognorm.pdf(x, ln["sigma"], 0, ln["scale"]), color="tab:blue", lw=2, ls="--",
            label=f"lognormal: sigma {ln['sigma']:.2f}, log-lik {ln['loglik']:.0f}")
    ax.set_xlim(0, x[-1])
    ax.set_xlabel(f"dominance duration ({unit})")
    ax.set_ylabel("probability density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _finish_sweep(fig, c, xlabel, title, path):
    """Both panels of a contrast sweep: log contrast axis ticked at the swept values, grid, title, save."""
    from matplotlib.ticker import NullFormatter

    for ax in fig.axes:
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
        ax.set_xticks(c)
        ax.set_xticklabels([f"{v:g}" for v in c], fontsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _plain_log_labels(axis):
    """Label a log axis 50, 100, 200, 500 ... instead of 5 x 10^1."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v, _):
        return f"{v:g}" if v > 0 and f"{v:.0e}"[0] in "125" else ""
    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_formatter(FuncFormatter(fmt))


def _column(table, key):
    return np.array([np.nan if r[key] is None else r[key] for r in table], dtype=np.float64)


def plot_strength_sweep(table: list[dict], fixed: float, path=None, title="one side's strength swept",
                        unit="settling steps"):
    """Left: the varied (left) side's predominance; right: each side's mean dominance duration, vs its contrast."""
    c = _column(table, "contrast_left")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(c, _column(table, "predominance_left"), "o-", color=COLOURS[0])
    ax1.axhline(0.5, color="0.6", lw=0.8, ls=":")
    ax1.axvline(fixed, color="0.6", lw=0.8, ls=":")
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("predominance of A (fraction of dominant time)")
    ax1.set_title("Levelt I: the stronger side predominates", fontsize=10)
    ax2.plot(c, _column(table, "mean_duration_left"), "o-", color=COLOURS[0], label="A (left eye, contrast varied)")
    ax2.plot(c, _column(table, "mean_duration_right"), "s-", color=COLOURS[1],
             label=f"B (right eye, contrast {fixed:g})")
    ax2.axvline(fixed, color="0.6", lw=0.8, ls=":")
    ax2.set_yscale("log")
    _plain_log_labels(ax2.yaxis)
    ax2.set_ylabel(f"mean dominance duration ({unit})")
    ax2.set_title("Levelt II: how each side's durations move", fontsize=10)
    ax2.legend(fontsize=8)
    return _finish_sweep(fig, c, "contrast of A (left eye)", title, path)


def plot_alternation_sweep(table: list[dict], path=None, title="both sides' strength swept", unit="settling steps"):
    """Left: alternation rate vs the contrast of both eyes; right: CV of durations and mixed fraction."""
    c = _column(table, "contrast_left")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(c, _column(table, "alternation_rate_per_1000_steps"), "o-", color="k")
    ax1.set_ylabel(f"alternations per 1000 {unit}")
    ax1.set_title("Levelt IV: alternation rate vs contrast", fontsize=10)
    cv = np.array([np.nan if r["durations"] is None else r["durations"]["cv"] for r in table])
    ax2.plot(c, cv, "s-", color="tab:green", label="CV of dominance durations")
    ax2.axhspan(0.4, 0.7, color="tab:green", alpha=0.1, label="human CV band (0.4-0.7)")
    ax2.plot(c, _column(table, "mixed_fraction"), "^--", color="tab:purple", label="mixed fraction of time")
    ax2.set_ylim(0, max(1.0, float(np.nanmax(cv)) * 1.1 if np.isfinite(cv).any() else 1.0))
    ax2.set_ylabel("CV / fraction")
    ax2.legend(fontsize=8)
    ax2.set_title("variability of durations, and mixed (fused) time", fontsize=10)
    return _finish_sweep(fig, c, "contrast of both eyes", title, path)
