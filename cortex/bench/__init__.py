"""``cortex bench``: how fast settling runs on this machine, against its own physical limit and references.

>>> from cortex.bench import run
>>> print(run(["W1"], quick=True).table())       # doctest: +SKIP

See :mod:`cortex.bench.workloads` for the workloads and :mod:`cortex.bench.runner` for the figures.
"""
from .runner import Report, run

__all__ = ["Report", "run"]
