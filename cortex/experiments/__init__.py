"""Experiments that ``cortex run`` executes, one module each, registered by name.

To add one, write ``cortex/experiments/NAME.py`` with a ``Params`` model and an
:class:`~cortex.experiments.base.Experiment` subclass decorated ``@register("NAME")``; the stages it
fills in are described in :mod:`cortex.experiments.base`. Nothing else needs editing.
"""
from cortex.registry import Registry

_registry = Registry(__name__, "experiment kind")
register = _registry.register
known_experiments = _registry.known
get_experiment_kind = _registry.get
