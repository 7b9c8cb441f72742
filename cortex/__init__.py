"""cortex-sim: competing generative models, settled and learned online.

>>> import cortex
>>> model = cortex.load("digits")          # a shipped graph name, or a path to a YAML file
"""
from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

from .checkpoint import load_checkpoint  # noqa: E402
from .errors import CortexError, SpecError  # noqa: E402
from .model import Model, SettleResult  # noqa: E402
from .runner import run  # noqa: E402
from .spec import NetworkSpec, load_spec  # noqa: E402



def graph_path(name_or_path: str | os.PathLike) -> Path:
    """A shipped graph name (``digits``) or a path to a YAML file -> the file's path."""
    from importlib import resources

    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    shipped = resources.files("cortex.regions") / "graphs" / f"{name_or_path}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    raise SpecError(f"no graph named {str(name_or_path)!r}: not a file, and not one of the shipped graphs "
                    f"({', '.join(shipped_graphs())})")


def shipped_graphs() -> list[str]:
    from importlib import resources

    folder = resources.files("cortex.regions") / "graphs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str | os.PathLike, backend: str | None = None) -> Model:
    """Read, validate and build a region graph: ``cortex.load("digits")`` or ``cortex.load("my.yaml")``."""
    return Model(load_spec(graph_path(name_or_path)), backend=backend)


__all__ = ["CortexError", "Model", "NetworkSpec", "SettleResult", "SpecError", "load", "load_checkpoint",
           "load_spec", "graph_path", "run", "shipped_graphs"]
