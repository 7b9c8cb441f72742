"""cortex-sim: competing generative models, settled and learned online.

>>> import cortex
>>> model = cortex.load("digits")          # a shipped graph name, or a path to a YAML file

This module only re-exports; nothing inside the package imports it (so no module of it sits in an import circle).
"""
from __future__ import annotations

from ._version import __version__
from .checkpoint import load_checkpoint
from .errors import CortexError, SpecError
from .model import Model, SettleResult
from .runner import run
from .shipped import graph_path, load, shipped_graphs
from .spec import NetworkSpec, load_spec
from .threadpool import set_threads, threads

__all__ = ["CortexError", "Model", "NetworkSpec", "SettleResult", "SpecError", "__version__", "load",
           "load_checkpoint", "load_spec", "graph_path", "run", "set_threads", "shipped_graphs", "threads"]
