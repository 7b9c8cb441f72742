"""Experiments that ``cortex run`` executes, one module each, registered by name."""
from cortex.registry import Registry

_registry = Registry(__name__, "experiment kind")
register = _registry.register
known_experiments = _registry.known
get_experiment_kind = _registry.get
