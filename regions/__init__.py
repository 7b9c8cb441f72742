"""Region kinds, one module each, registered by name.

A new kind is one new file in this folder that defines a ``Params`` model (a subclass of
:class:`cortex.region.RegionParams`) and a region class decorated with :func:`register`. Every module
here is imported on first lookup, so nothing else needs editing.
"""
from __future__ import annotations

import importlib
import pkgutil

from cortex.errors import SpecError

_KINDS: dict[str, type] = {}
_loaded = False


def register(name: str):
    """Class decorator: make a region kind available to YAML as ``kind: name``."""
    def wrap(cls):
        if name in _KINDS and _KINDS[name] is not cls:
            raise ValueError(f"region kind {name!r} is registered twice")
        cls.kind_name = name
        _KINDS[name] = cls
        return cls
    return wrap


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def known_kinds() -> list[str]:
    _load_all()
    return sorted(_KINDS)


def get_kind(name: str, key: str | None = None) -> type:
    """The region class for ``kind: name``; the error lists the known kinds."""
    _load_all()
    try:
        return _KINDS[name]
    except KeyError:
        raise SpecError(f"unknown region kind {name!r}; known kinds: {', '.join(known_kinds())}",
                        key=key) from None
