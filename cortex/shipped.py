"""The region graphs shipped inside the package (``regions/graphs/*.yaml``), found by name.

>>> import cortex
>>> model = cortex.load("digits")          # a shipped graph name, or a path to a YAML file
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import SpecError
from .model import Model
from .spec import load_spec


def graph_path(name_or_path: str | os.PathLike) -> Path:
    """A shipped graph name (``digits``) or a path to a YAML file -> the file's path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    shipped = resources.files("cortex.regions") / "graphs" / f"{name_or_path}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    raise SpecError(f"no graph named {str(name_or_path)!r}: not a file, and not one of the shipped graphs "
                    f"({', '.join(shipped_graphs())})")


def shipped_graphs() -> list[str]:
    """The names of the shipped graphs, sorted."""
    folder = resources.files("cortex.regions") / "graphs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str | os.PathLike, backend: str | None = None) -> Model:
    """Read, validate and build a region graph: ``cortex.load("digits")`` or ``cortex.load("my.yaml")``."""
    return Model(load_spec(graph_path(name_or_path)), backend=backend)
