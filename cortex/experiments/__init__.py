"""Experiments that ``cortex run`` executes, one module each, registered by name."""
from __future__ import annotations

import importlib
import pkgutil

from cortex.errors import SpecError

_KINDS: dict[str, type] = {}
_loaded = False


def register(name: str):
    """Class decorator: make an experiment available to YAML as ``experiment: {kind: name}``."""
    def wrap(cls):
        cls.kind_name = name
        _KINDS[name] = cls
        return cls
    return wrap


def known_experiments() -> list[str]:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return sorted(_KINDS)


def get_experiment_kind(name) -> type:
    """The experiment class for ``kind: name``; the error lists the known kinds."""
    known = known_experiments()
    if name not in _KINDS:
        raise SpecError(f"unknown experiment kind {name!r}; known kinds: {', '.join(known)}")
    return _KINDS[name]
