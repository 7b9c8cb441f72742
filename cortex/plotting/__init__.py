"""Figures drawn from results only (never from inside the settle loop), shared by the CLI and notebooks.

Every function returns the matplotlib Figure and, given ``path``, writes a PNG atomically. Generic
figures live in :mod:`cortex.plotting.core`, the region graph in :mod:`cortex.plotting.graph`; each experiment family's own figures in a module beside it.
"""
from .core import plot_competition, plot_energy, plot_fields, plot_lines, plt, save_figure
from .graph import graph_layout, plot_graph

__all__ = ["graph_layout", "plot_competition", "plot_energy", "plot_fields", "plot_graph", "plot_lines", "plt", "save_figure"]
