"""The ``predictive`` kind: competing generative hypotheses settled by energy descent (see :mod:`.region`).

- :mod:`.params`: the YAML parameters and the settling state;
- :mod:`.kernels`: the equations, each written once, in place;
- :mod:`.region`: the kind itself (:class:`Predictive`), whose own step calls the kernels;
- :mod:`.grouped`, :mod:`.softmax_block`: its fast paths, registered with the schedule on import.
"""
from cortex.regions import register

from . import grouped, softmax_block  # noqa: F401  (registers the fast paths)
from .kernels import TINY
from .params import KNOWN_FIELDS, Params, State
from .region import Predictive

register("predictive")(Predictive)

__all__ = ["KNOWN_FIELDS", "Params", "Predictive", "State", "TINY"]
