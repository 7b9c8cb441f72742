"""The array backend seam: the one place that knows NumPy from CuPy.

Everything below the build (settling, learning, region kinds) receives a :class:`Backend` and does array
math only through ``backend.xp``. The module is chosen once, at build time, so the same code runs on
NumPy (the default), CuPy (``backend: cupy`` or ``auto`` with a usable GPU) and ``array_api_strict``
(used by the tests to catch portability bugs without a GPU).
"""
from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BackendError

log = logging.getLogger(__name__)

BACKENDS = ("numpy", "cupy", "auto", "array_api_strict")
DTYPES = ("float32", "float64")


def available_bytes() -> int:
    """The host's physical memory in bytes (a very large number where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


def cupy_usable() -> bool:
    """True when CuPy imports *and* a CUDA device answers (import alone succeeds without a GPU)."""
    try:
        cupy = importlib.import_module("cupy")
        return bool(cupy.cuda.is_available()) and cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver: all mean "not usable"
        return False


@dataclass(frozen=True)
class Backend:
    """An array module plus the dtype and random generator every array of one model uses."""

    name: str
    xp: Any
    dtype: Any
    seed: int

    def asarray(self, x) -> Any:
        """Move host or device data onto this backend, in the model's dtype."""
        if self.name == "cupy":
            return self.xp.asarray(x, dtype=self.dtype)
        # a copy, as on a GPU: the model must never share memory with the caller's arrays
        return self.xp.asarray(np.array(x, dtype=np.dtype(self.dtype_name), copy=True), dtype=self.dtype)

    def to_numpy(self, x) -> np.ndarray:
        """Copy an array of this backend to host NumPy (the only way results leave the device)."""
        if self.name == "cupy":
            return self.xp.asnumpy(x)
        if self.name == "array_api_strict":
            return np.from_dlpack(x).copy()
        return np.array(x, copy=True)   # a copy on every backend: results never alias the model's state

    @property
    def dtype_name(self) -> str:
        return "float32" if self.dtype == self.xp.float32 else "float64"

    def copy(self, x) -> Any:
        """A copy on the same device (CuPy's ``asarray`` has no ``copy`` argument)."""
        return x.copy() if self.name == "cupy" else self.xp.asarray(x, copy=True)

    def zeros(self, shape) -> Any:
        return self.xp.zeros(shape, dtype=self.dtype)

    def empty(self, shape) -> Any:
        """An array to be written whole before it is read (no pass to zero it)."""
        return self.xp.empty(shape, dtype=self.dtype)

    def rng(self, *stream: int) -> "Random":
        """A random stream derived from the model seed and ``stream`` (e.g. a region index)."""
        return Random(self, np.random.default_rng([self.seed, *stream]))


class Random:
    """Random numbers on the backend's device, drawn from one seeded stream (never global state)."""

    def __init__(self, backend: Backend, generator: np.random.Generator):
        self.backend, self.generator = backend, generator
        self._device = None
        if backend.name == "cupy":
            seed = int(generator.integers(2**63))
            self._device = backend.xp.random.default_rng(seed)

    def normal(self, shape, scale: float = 1.0):
        if self._device is not None:
            return self._device.standard_normal(shape, dtype=self.backend.dtype) * scale
        draw = self.generator.standard_normal(shape, dtype=np.float32 if self.backend.dtype_name == "float32" else np.float64)
        return self.backend.asarray(draw * scale)

    def normal_into(self, out, scale: float = 1.0):
        """Fill ``out`` with the numbers ``normal(out.shape, scale)`` would return, without a new device array."""
        if self._device is not None:
            self._device.standard_normal(dtype=self.backend.dtype, out=out)
            out *= scale
            return out
        if self.backend.name == "numpy":
            self.generator.standard_normal(dtype=out.dtype, out=out)
            out *= scale
            return out
        out[...] = self.normal(tuple(out.shape), scale)
        return out

    def uniform(self, shape, low: float = 0.0, high: float = 1.0):
        if self._device is not None:
            return self._device.uniform(low, high, shape).astype(self.backend.dtype)
        return self.backend.asarray(self.generator.uniform(low, high, shape))


def get_backend(name: str = "numpy", dtype: str = "float32", seed: int = 0) -> Backend:
    """Pick the array module once. ``auto`` means CuPy when a GPU is usable, else NumPy."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    if dtype not in DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    if name == "auto":
        name = "cupy" if cupy_usable() else "numpy"
        log.info("backend auto -> %s", name)
    if name == "cupy":
        try:
            xp = importlib.import_module("cupy")
        except ImportError as exc:
            raise BackendError("backend 'cupy' was asked for but CuPy is not installed; "
                               "install the extra: pip install 'cortex-sim[gpu]', or use backend: numpy") from exc
        if not cupy_usable():
            raise BackendError("backend 'cupy' was asked for but no CUDA device is usable here; "
                               "use backend: numpy or backend: auto")
    elif name == "array_api_strict":
        try:
            xp = importlib.import_module("array_api_strict")
        except ImportError as exc:
            raise BackendError("backend 'array_api_strict' needs: pip install array-api-strict") from exc
    else:
        xp = np
    return Backend(name=name, xp=xp, dtype=getattr(xp, dtype), seed=int(seed))
