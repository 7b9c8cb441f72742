"""Figures of streams: frames beside their forecasts, next-frame errors, sequence accuracy, mismatch responses.

Every function reads results only (arrays and dicts), returns the Figure and writes a PNG when given ``path``.
"""
from __future__ import annotations

import numpy as np

from .core import plt, save_figure

BASELINES = (("model", "model (forecast)"), ("copy_last", "copy the last frame"), ("mean_frame", "mean frame"),
             ("no_transitions", "model without learned transitions"))


def plot_forecast_strip(frames, forecast, image_shape, path=None, title="frames and their forecasts"):
    """Three rows over frames: each frame, the model's forecast of it (made before it came), their difference."""
    frames = np.asarray(frames).reshape(len(frames), *image_shape)
    forecast = np.asarray(forecast).reshape(len(forecast), *image_shape)
    n = len(frames)
    fig, axes = plt.subplots(3, n, figsize=(0.9 * n + 0.8, 3.2), squeeze=False)
    top = max(float(frames.max()), float(forecast.max()), 1e-6)
    for t in range(n):
        for row, (img, cmap, lim) in enumerate(((frames[t], "gray_r", (0, top)), (forecast[t], "gray_r", (0, top)),
                                                (frames[t] - forecast[t], "coolwarm", (-top, top)))):
            ax = axes[row, t]
            ax.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1])
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, t].set_title(f"t={t}", fontsize=7)
    for row, name in enumerate(("frame", "forecast", "error")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_next_frame_errors(errors: dict, path=None, title="mean squared next-frame error"):
    """Grouped bars: per task, the model's forecast against copying the last frame and the mean frame."""
    tasks = list(errors)
    keys = [(k, label) for k, label in BASELINES if any(k in errors[t] for t in tasks)]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(tasks), 3.4))
    width = 0.8 / len(keys)
    for i, (k, label) in enumerate(keys):
        values = [errors[t].get(k, np.nan) for t in tasks]
        ax.bar(np.arange(len(tasks)) + (i - (len(keys) - 1) / 2) * width, values, width, label=label)
    for j, t in enumerate(tasks):
        ax.hlines(0.5 * errors[t]["copy_last"], j - 0.4, j + 0.4, colors="k", linestyles=":", lw=1)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("mean squared error per pixel")
    ax.set_title(title + " (dotted: half of copy-last)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_accuracy_by_position(by_position: dict, sequences, ambiguous: dict, path=None,
                              title="forecast accuracy by position in the sequence"):
    """Accuracy of the forecast at each position, one line per graph; the ambiguous accuracy in the legend."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, acc in by_position.items():
        x = [j for j, a in enumerate(acc) if a is not None]
        ax.plot(x, [acc[j] for j in x], marker="o", label=f"{name} (ambiguous {ambiguous[name]:.2f})")
    longest = max(len(s) for s in sequences)
    ax.set_xticks(range(longest), [" / ".join(s[j] if j < len(s) else "-" for s in sequences) for j in range(longest)])
    ax.axhline(0.5, color="k", ls=":", lw=1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("element being predicted")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_symbol_forecasts(forecasts: dict, patterns, truth, alphabet, image_shape, path=None,
                          title="what each graph predicted the next symbol would be"):
    """One row of forecast images per graph under the symbols that came."""
    names = list(forecasts)
    n = len(truth)
    fig, axes = plt.subplots(len(names) + 1, n, figsize=(0.9 * n + 1, 1.0 * (len(names) + 1) + 0.5), squeeze=False)
    for t in range(n):
        axes[0, t].imshow(np.asarray(patterns)[truth[t]].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        axes[0, t].set_title(alphabet[truth[t]], fontsize=8)
        for row, name in enumerate(names, start=1):
            axes[row, t].imshow(np.asarray(forecasts[name])[t].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("shown", fontsize=8)
    for row, name in enumerate(names, start=1):
        axes[row, 0].set_ylabel(name, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_mismatch(error: dict, swapped: dict | None, wave: dict, repetition, path=None,
                  title="prediction errors in the oddball paradigm"):
    """Three panels: error per kind of frame (and swapped), the difference wave, repetition suppression."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    kinds = list(error)
    x = np.arange(len(kinds))
    axes[0].bar(x - 0.2, [error[k] for k in kinds], 0.4, label="original")
    if swapped is not None:
        axes[0].bar(x + 0.2, [swapped[k] for k in kinds], 0.4, label="standard and deviant swapped")
    axes[0].set_xticks(x, kinds)
    axes[0].set_ylabel("forecast error (mean squared)")
    axes[0].legend(fontsize=7)
    frames = wave["frames"]
    for key, style in (("deviant", "-o"), ("standard", "-s"), ("difference", "-^")):
        vals = [np.nan if v is None else v for v in wave[key]]
        axes[1].plot(frames, vals, style, label=key if key != "difference" else "deviant - standard")
    axes[1].axvline(0, color="k", lw=0.8, ls=":")
    axes[1].set_xlabel("frame relative to the deviant")
    axes[1].set_title("mismatch response", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(range(1, len(repetition) + 1), repetition, "-o")
    axes[2].set_xlabel("repeat of a new standard")
    axes[2].set_xticks(range(1, len(repetition) + 1))
    axes[2].set_title("repetition suppression", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_error_trace(error, codes, block, path=None, title="forecast error frame by frame (one stream)",
                     names=("standard", "deviant", "omission")):
    """The prediction error of one stream over frames, rare frames marked, the repetition block shaded."""
    error, codes = np.asarray(error), np.asarray(codes)
    fig, ax = plt.subplots(figsize=(11, 3.0))
    t = np.arange(len(error))
    ax.plot(t, error, color="0.3", lw=0.9)
    for c, (name, colour) in enumerate(zip(names, ("tab:blue", "tab:red", "tab:purple"))):
        where = codes == c
        if c and where.any():
            ax.scatter(t[where], error[where], s=14, color=colour, label=name, zorder=3)
    new = codes >= len(names)
    if new.any():
        ax.scatter(t[new], error[new], s=10, color="tab:green", label="new standard", zorder=3)
    ax.axvspan(block - 0.5, len(error) - 0.5, color="tab:green", alpha=0.07)
    ax.set_xlabel("frame")
    ax.set_ylabel("forecast error")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    return save_figure(fig, path)
