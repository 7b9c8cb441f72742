"""Region kinds, one module or package each, registered by name.

A new kind is one new file (or folder) here that defines a ``Params`` model (a subclass of
:class:`cortex.region.RegionParams`) and a subclass of :class:`cortex.region.RegionKind` decorated with
:func:`register`. Every module here is imported on first lookup, so nothing else needs editing; a kind that
has fast paths registers them with :func:`cortex.schedule.register_fast_path` (see ``predictive/``).
"""
from cortex.region import region_kinds

register = region_kinds.register
known_kinds = region_kinds.known
get_kind = region_kinds.get
