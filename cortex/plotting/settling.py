"""Watching a settle: hypothesis activity step by step, energy per region, a GIF of the whole graph, a scrubber.

All of these read a recorded :class:`~cortex.model.SettleResult` (``model.settle(..., record=True)``);
none of them reaches into the settle loop.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from ..atomic import atomic_write
from ..errors import StimulusError
from .core import save_figure
from .graph import graph_layout, plot_graph

STEP_LABEL = "settling step (0 = feed-forward first guess)"


def _trace(result, regions, stimulus):
    """region -> (steps + 1, hypotheses) activity of one stimulus, with clear errors for what is missing."""
    if getattr(result, "trace", None) is None:
        raise StimulusError("this figure needs the activity at every step: settle with record=True")
    regions = list(result.trace) if regions is None else [regions] if isinstance(regions, str) else list(regions)
    unknown = [r for r in regions if r not in result.trace]
    if unknown:
        raise StimulusError(f"unknown region(s) {unknown}; the result has {list(result.trace)}")
    batch = next(iter(result.trace.values())).shape[1]
    if not 0 <= stimulus < batch:
        raise StimulusError(f"stimulus {stimulus} is out of range: the batch has {batch} stimuli")
    return {r: np.asarray(result.trace[r][:, stimulus, :]) for r in regions}


def _names(names, region, n):
    given = (names or {}).get(region)
    if given is not None and len(given) != n:
        raise StimulusError(f"names for region {region!r}: expected {n}, got {len(given)}")
    return [str(x) for x in given] if given is not None else [f"h{i}" for i in range(n)]


def plot_hypothesis_activity(result, regions=None, stimulus: int = 0, names: dict | None = None, lines: int = 10,
                             path=None, title=None):
    """Each region's hypotheses over settling steps: a heat map (all of them) beside a line view (the strongest).

    Parameters
    ----------
    result : a SettleResult recorded with ``record=True``.
    regions : one region name, a list, or None for every region (one row each).
    stimulus : which stimulus of the batch to show.
    names : region -> hypothesis labels (default h0, h1, ...).
    lines : the line view draws the ``lines`` hypotheses with the highest peak activity.
    """
    traces = _trace(result, regions, stimulus)
    fig, axes = plt.subplots(len(traces), 2, figsize=(11, 2.6 * len(traces) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1.1, 1]})
    for row, (region, tr) in enumerate(traces.items()):
        steps, n = tr.shape
        labels = _names(names, region, n)
        heat, ax = axes[row]
        image = heat.imshow(tr.T, aspect="auto", origin="lower", cmap="magma_r", interpolation="nearest",
                            extent=(-0.5, steps - 0.5, -0.5, n - 0.5), vmin=0.0)
        fig.colorbar(image, ax=heat, label="activity", pad=0.01)
        heat.set_ylabel(f"{region}: hypothesis")
        if n <= 16:
            heat.set_yticks(range(n), labels, fontsize=7)
        heat.set_title(f"{region}: all {n} hypotheses", fontsize=9)
        top = np.argsort(-tr.max(axis=0), kind="stable")[:lines]
        cmap = plt.get_cmap("tab10" if len(top) <= 10 else "tab20")
        for rank, i in enumerate(top):
            ax.plot(np.arange(steps), tr[:, i], color=cmap(rank % cmap.N), lw=1.5, label=labels[i])
        ax.set_xlim(0, max(steps - 1, 1))
        ax.set_ylabel("activity")
        ax.set_title(f"{region}: the {len(top)} strongest (winner {labels[int(np.argmax(tr[-1]))]})", fontsize=9)
        ax.legend(fontsize=7, ncol=2 if len(top) > 5 else 1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel(STEP_LABEL)
    fig.suptitle(title or f"hypotheses competing while settling (stimulus {stimulus})")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_region_energy(result, path=None, title="energy per region while settling", log: bool = True):
    """The total energy and each region's share over settling steps (mean per stimulus)."""
    energy = np.asarray(result.energy)
    if energy.size == 0:
        raise StimulusError("the result has no settling steps (steps=0): there is no energy trace to draw")
    steps = np.arange(1, len(energy) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(np.concatenate([[0], steps]), np.concatenate([[result.start_energy], energy]), color="black", lw=2.2,
            label="total (step 0 = first guess)")
    for name, e in result.region_energy.items():
        ax.plot(steps, np.asarray(e), lw=1.4, label=name)
    if log and np.all(energy > 0) and all(np.all(np.asarray(e) > 0) for e in result.region_energy.values()):
        ax.set_yscale("log")
    ax.set_xlabel("settling step")
    ax.set_ylabel("energy per stimulus")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return save_figure(fig, path)


def _frame(fig, graph, pos, traces, names, t, vmax):
    """Draw step ``t``: the graph coloured by activity on the left, each region's hypotheses as bars on the right."""
    fig.clear()
    grid = fig.add_gridspec(len(traces), 2, width_ratios=[1.2, 1])
    plot_graph(graph, activity={r: tr[t] for r, tr in traces.items()}, ax=fig.add_subplot(grid[:, 0]), pos=pos,
               vmax=vmax, title=f"step {t}")
    for row, (region, tr) in enumerate(traces.items()):
        ax = fig.add_subplot(grid[row, 1])
        n = tr.shape[1]
        ax.bar(np.arange(n), tr[t], color=plt.get_cmap("magma_r")(0.25 + 0.6 * tr[t] / max(vmax, 1e-12)))
        ax.set_ylim(0, vmax)
        ax.set_ylabel(f"{region}\nactivity", fontsize=8)
        labels = _names(names, region, n)
        if n <= 16:
            ax.set_xticks(range(n), labels, fontsize=7)
        else:
            ax.set_xlabel("hypothesis", fontsize=8)


def animate_settling(result, graph, path, stimulus: int = 0, regions=None, names: dict | None = None,
                     every: int = 1, fps: float = 8.0) -> int:
    """Save a GIF of settling, one frame per ``every`` steps; returns the number of frames.

    ``graph`` is ``model.graph``. The file is written atomically, like every figure.
    """
    from PIL import Image

    traces = _trace(result, regions, stimulus)
    if every < 1:
        raise StimulusError(f"every must be >= 1, got {every}")
    steps = next(iter(traces.values())).shape[0]
    ticks = list(range(0, steps, every))
    if ticks[-1] != steps - 1:
        ticks.append(steps - 1)
    vmax = max(float(tr.max()) for tr in traces.values()) or 1.0
    pos = graph_layout(graph)
    fig = plt.figure(figsize=(9, 1.6 + 1.4 * len(traces)), dpi=80)
    frames = []
    try:
        for t in ticks:
            _frame(fig, graph, pos, traces, names, t, vmax)
            fig.canvas.draw()
            frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).convert(
                "P", palette=Image.Palette.ADAPTIVE))
    finally:
        plt.close(fig)
    with atomic_write(path, "wb") as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return len(frames)


def settling_explorer(result, graph, stimulus: int = 0, regions=None, names: dict | None = None):
    """A slider over settling steps in Jupyter (ipywidgets); elsewhere, the static final-step figure.

    Returns the widget (display it, or leave it as a cell's last expression) or a matplotlib Figure.
    """
    traces = _trace(result, regions, stimulus)
    steps = next(iter(traces.values())).shape[0]
    vmax = max(float(tr.max()) for tr in traces.values()) or 1.0
    pos = graph_layout(graph)
    if not _in_jupyter():
        fig = plt.figure(figsize=(9, 1.6 + 1.4 * len(traces)))
        _frame(fig, graph, pos, traces, names, steps - 1, vmax)
        return fig
    import ipywidgets as widgets

    out = widgets.Output()
    slider = widgets.IntSlider(value=steps - 1, min=0, max=steps - 1, description="step", continuous_update=False)

    def show(change=None):
        with out:
            out.clear_output(wait=True)
            fig = plt.figure(figsize=(9, 1.6 + 1.4 * len(traces)))
            _frame(fig, graph, pos, traces, names, slider.value, vmax)
            plt.show()

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, out])


def _in_jupyter() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed (not in a terminal IPython or a script)."""
    if os.environ.get("CORTEX_STATIC_FIGURES"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


__all__ = ["animate_settling", "plot_hypothesis_activity", "plot_region_energy", "settling_explorer", "STEP_LABEL"]
