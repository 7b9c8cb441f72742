"""Figures drawn from results only (never from inside the settle loop), shared by the CLI and notebooks.

Every function returns the matplotlib Figure and, given ``path``, writes a PNG atomically. Generic
figures live in :mod:`cortex.plotting.core`; each experiment family's own figures in a module beside it.
"""
from .core import plot_competition, plot_energy, plot_fields, plot_graph, plot_lines, plt, save_figure

__all__ = ["plot_competition", "plot_energy", "plot_fields", "plot_graph", "plot_lines", "plt", "save_figure"]
