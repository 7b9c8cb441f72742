"""Checkpoints: save a model to one ``.npz`` file and build it again from one.

The file format (arrays, spec and versions, atomic writes, no pickle) is :mod:`cortex.archive`, which
:meth:`cortex.Model.save` writes through; this module adds the loader, which builds a model.
"""
from __future__ import annotations

import os

from .archive import FORMAT, Checkpoint, read_checkpoint, save_checkpoint
from .model import Model
from .spec import NetworkSpec

__all__ = ["FORMAT", "Checkpoint", "load_checkpoint", "read_checkpoint", "save_checkpoint"]


def load_checkpoint(path: str | os.PathLike, spec: NetworkSpec | None = None, backend: str | None = None) -> Model:
    """Rebuild the model saved at ``path``. With ``spec``, refuse a checkpoint made from a different spec."""
    checkpoint = read_checkpoint(path, spec)
    model = Model(checkpoint.spec, backend=backend)
    checkpoint.restore(model)
    return model
