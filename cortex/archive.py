"""The checkpoint file: weights + the validated spec + versions in one ``.npz``, written atomically, read without
pickle.

This module reads and writes files; it never builds a model, so :mod:`cortex.model` can save through it
without an import circle. :func:`cortex.checkpoint.load_checkpoint` reads with :func:`read_checkpoint`, builds
the model, then restores it.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._version import __version__
from .atomic import atomic_write
from .errors import CheckpointError, SpecError, choices
from .npz_members import Archive
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


class CheckpointWarning(UserWarning):
    """A checkpoint that loads, with something worth knowing (it was saved by another cortex-sim version)."""


MAX_META = 16 << 20     # the JSON metadata (spec, random states): far below this for any real graph


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds, read and checked: the spec it was made from, its array headers and metadata.

    The arrays themselves are read by :meth:`restore`, each only once the fresh model says how big it may be.
    """

    path: Path
    spec: NetworkSpec
    members: dict
    meta: dict

    def restore(self, model) -> None:
        """Put the saved weights and random streams into ``model``, a fresh build of :attr:`spec`."""
        with Archive(self.path) as archive:
            for name, region in model.regions.items():
                mine = {k.split("/", 1)[1]: k for k in self.members if k.split("/", 1)[0] == name}
                if set(mine) != set(region.weights):
                    raise CheckpointError(f"{self.path}: region {name!r} has arrays {sorted(mine)}, "
                                          f"expected {sorted(region.weights)}")
                grow = _growth(region)
                arrays = {}
                for key, member in mine.items():
                    want = model.backend.to_numpy(region.weights[key])
                    limit = want.size * grow ** want.ndim * archive.members[member].dtype.itemsize
                    arrays[key] = _finite(archive.read(member, limit), want.dtype, self.path, member)
                try:
                    region.load_weights(arrays)
                except ValueError as exc:
                    raise CheckpointError(f"{self.path}: {exc}") from None
                for meta_key, streams in (("rng", {n: r.rng for n, r in model.regions.items()}),
                                          ("noise_rng", dict(zip(model.regions, model.noise_streams)))):
                    saved = self.meta.get(meta_key)
                    state = saved.get(name) if isinstance(saved, dict) else None
                    if state is not None:
                        try:
                            streams[name].generator.bit_generator.state = state
                        except (TypeError, ValueError, KeyError, OverflowError) as exc:
                            raise CheckpointError(f"{self.path}: the saved random state {meta_key}.{name} is "
                                                  f"malformed ({type(exc).__name__}: {exc})") from None


def _growth(region) -> int:
    """How many times its present size a recruiting region's arrays may be (1 for every other region)."""
    growth = getattr(region, "growth", None)
    if growth is None:
        return 1
    p = growth.p
    return max(1, math.ceil((p.max_hypotheses + getattr(p, "chunk", 0)) / max(1, region.n)))


def _finite(array: np.ndarray, dtype, path, name) -> np.ndarray:
    """``array`` in the model's dtype, refused when it holds NaN or infinity (or overflows on the way)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = array.astype(dtype, copy=False)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        raise CheckpointError(f"{path}: array {name!r} holds {bad} NaN or infinite value{'s' if bad > 1 else ''} "
                              f"(as {np.dtype(dtype).name}); a checkpoint's weights are finite")
    return out


def read_checkpoint(path: str | os.PathLike, spec: NetworkSpec | None = None) -> Checkpoint:
    """Read and check the checkpoint at ``path`` (without pickle). With ``spec``, refuse one made from another spec.

    Every array must belong to a region of the saved spec and hold real floating-point numbers; the arrays are
    read by :meth:`Checkpoint.restore`. :func:`cortex.checkpoint.load_checkpoint` builds the model from it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with Archive(path) as archive:
        if "__meta__" not in archive.members:
            raise CheckpointError(f"{path}: not a cortex checkpoint or corrupt (no __meta__ array)")
        m = archive.members["__meta__"]
        if m.dtype != np.uint8 or len(m.shape) != 1:
            raise CheckpointError(f"{path}: not a cortex checkpoint or corrupt (__meta__ is not JSON bytes)")
        try:
            meta = json.loads(archive.read("__meta__", MAX_META).tobytes().decode())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise CheckpointError(f"{path}: not a cortex checkpoint or corrupt ({exc})") from None
        members = dict(archive.members)
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
    for name, member in members.items():
        if name == "__meta__":
            continue
        region = name.split("/", 1)[0]
        if "/" not in name or region not in saved.regions:
            raise CheckpointError(f"{path}: array {name!r} belongs to no region of the saved spec "
                                  f"(regions: {choices(saved.regions)})")
        if member.dtype.kind != "f":
            raise CheckpointError(f"{path}: array {name!r} has dtype {member.dtype}; a checkpoint's weights are "
                                  "real floating-point numbers (float32 or float64)")
    if meta.get("cortex") != __version__:
        warnings.warn(f"{path}: saved by cortex-sim {meta.get('cortex')!r}, this is {__version__}; loading it anyway "
                      "(save it again to silence this)", CheckpointWarning, stacklevel=3)
    return Checkpoint(path, saved, members, meta)


def _differences(a, b, prefix="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(k), b.get(k), f"{prefix}{'.' if prefix else ''}{k}")
        return out
    return [] if a == b else [prefix or "<root>"]
