"""Sweeps: one experiment over many seeds and settings, on Ray, a process pool or here, with intervals.

>>> from cortex.sweep import sweep
>>> summary = sweep("rivalry", "runs/rivalry-seeds", seeds=[0, 1, 2, 3], workers=2)   # doctest: +SKIP
>>> summary["figures"]["durations.cv"]     # {'mean': ..., 'std': ..., 'ci95': [low, high], 'n': 4}   # doctest: +SKIP

``cortex sweep`` is the same from the command line (docs/sweeps.md); :mod:`cortex.sweep.plan` holds
the ``--set`` syntax, :mod:`cortex.sweep.executors` where trials run, :mod:`cortex.sweep.summary`
how figures are summarised.
"""
from .driver import sweep
from .plan import SweepError, parse_seeds

__all__ = ["SweepError", "parse_seeds", "sweep"]
