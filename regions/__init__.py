"""Region kinds, one module each, registered by name.

A new kind is one new file in this folder that defines a ``Params`` model (a subclass of
:class:`cortex.region.RegionParams`) and a region class decorated with :func:`register`. Every module
here is imported on first lookup, so nothing else needs editing.
"""
from cortex.registry import Registry

_registry = Registry(__name__, "region kind")
register = _registry.register
known_kinds = _registry.known
get_kind = _registry.get
