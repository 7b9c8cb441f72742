"""The checkpoint file: weights + the validated spec + versions in one ``.npz``, written atomically, read without
pickle.

This module reads and writes files; it never builds a model, so :mod:`cortex.model` can save through it
without an import circle. :func:`cortex.checkpoint.load_checkpoint` reads with :func:`read_checkpoint`, builds
the model, then restores it.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._version import __version__
from .atomic import atomic_write
from .errors import CheckpointError, SpecError
from .spec import NetworkSpec, spec_from_dict

FORMAT = 1


def save_checkpoint(model, path: str | os.PathLike) -> Path:
    """Write ``model`` (a :class:`cortex.Model`) to ``path`` (exactly that name); an existing file is replaced only
    once the new one is complete."""
    arrays = {}
    rng = {}
    for name, region in model.regions.items():
        for key, value in region.weights.items():
            arrays[f"{name}/{key}"] = model.backend.to_numpy(value)
        rng[name] = region.rng.generator.bit_generator.state
    noise = {name: stream.generator.bit_generator.state for name, stream in zip(model.regions, model.noise_streams)}
    meta = {"format": FORMAT, "cortex": __version__, "numpy": np.__version__, "backend": model.backend.name,
            "spec": model.spec.to_dict(), "rng": rng, "noise_rng": noise}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds, read and checked: the spec it was made from, its arrays and metadata."""

    path: Path
    spec: NetworkSpec
    arrays: dict
    meta: dict

    def restore(self, model) -> None:
        """Put the saved weights and random streams into ``model``, a fresh build of :attr:`spec`."""
        for name, region in model.regions.items():
            mine = {k.split("/", 1)[1]: v for k, v in self.arrays.items() if k.split("/", 1)[0] == name}
            if set(mine) != set(region.weights):
                raise CheckpointError(f"{self.path}: region {name!r} has arrays {sorted(mine)}, "
                                      f"expected {sorted(region.weights)}")
            try:
                region.load_weights(mine)
            except ValueError as exc:
                raise CheckpointError(f"{self.path}: {exc}") from None
            for key, streams in (("rng", {n: r.rng for n, r in model.regions.items()}),
                                 ("noise_rng", dict(zip(model.regions, model.noise_streams)))):
                saved_state = self.meta.get(key, {}).get(name) if isinstance(self.meta.get(key), dict) else None
                if saved_state is not None:
                    streams[name].generator.bit_generator.state = saved_state


def read_checkpoint(path: str | os.PathLike, spec: NetworkSpec | None = None) -> Checkpoint:
    """Read and check the checkpoint at ``path`` (without pickle). With ``spec``, refuse one made from another spec.

    :func:`cortex.checkpoint.load_checkpoint` builds the model from it; this function only reads.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a cortex checkpoint or corrupt ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("spec"), dict):
        raise CheckpointError(f"{path}: the checkpoint's metadata is malformed (no spec)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, this cortex-sim reads format {FORMAT}")
    try:
        saved = spec_from_dict(meta["spec"], file=f"{path}:spec")
    except SpecError as exc:
        raise CheckpointError(f"{path}: the spec stored in the checkpoint is invalid here: {exc}") from None
    if spec is not None and spec.to_dict() != saved.to_dict():
        diff = _differences(saved.to_dict(), spec.to_dict())
        raise CheckpointError(f"{path}: the checkpoint was made from a different spec; differing keys: {', '.join(diff[:10])}")
    return Checkpoint(path, saved, arrays, meta)


def _differences(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(k), b.get(k), f"{prefix}{'.' if prefix else ''}{k}")
        return out
    return [] if a == b else [prefix or "<root>"]
