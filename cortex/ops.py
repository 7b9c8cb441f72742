"""In-place array operations behind the ``xp`` seam, so the settle loop allocates nothing per step.

NumPy and CuPy take ``out=`` arguments; other Array-API modules (``array_api_strict`` in the tests) get
the same result by assignment into the preallocated buffer, so one code path serves all of them. On
CuPy the elementwise pieces of a step are single fused kernels (``ElementwiseKernel``, see
:meth:`Ops.elementwise`): one launch and one pass over memory instead of four or five. The NumPy path never
touches them. Region kinds build their equations from these operations (``regions/predictive/kernels.py``).

On NumPy the same pieces can run as numba-compiled loops, one pass each (``Ops.jit``, see
``regions/predictive/cpu_kernels.py``): on when numba is importable and the environment variable ``CORTEX_FUSED``
is not ``0`` (read when a settle call starts), so plain NumPy stays the fallback and the reference.
"""
from __future__ import annotations

import importlib.util
import os

FUSED_ENV = "CORTEX_FUSED"


def fused_cpu_enabled() -> bool:
    """Whether numba-fused CPU kernels may be used: numba is installed and ``CORTEX_FUSED`` is not 0/off/false/no."""
    if os.environ.get(FUSED_ENV, "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    return _numba_installed()


_NUMBA: list = []


def _numba_installed() -> bool:
    if not _NUMBA:
        _NUMBA.append(importlib.util.find_spec("numba") is not None)
    return _NUMBA[0]


class Ops:
    """Elementwise and matrix operations writing into given buffers (``out``), for one backend."""

    def __init__(self, backend):
        self.backend, self.xp = backend, backend.xp
        self.native = backend.name in ("numpy", "cupy")
        self.np = backend.name == "numpy"     # NumPy: reductions straight through the ufunc (no Python wrapper)
        self.fused = _cupy_kernels(backend.xp) if backend.name == "cupy" else None
        self.jit = self.np and fused_cpu_enabled()   # numba-fused CPU kernels (a kind's ``cpu_kernels``) may run
        self.log = None    # a list while the benchmark counts matmul shapes
        self._ones = {}
        self._row_means = None

    def elementwise(self, name: str, in_params: str, out_params: str, body: str):
        """A fused CuPy kernel (compiled on first use, shared by every Ops of the process), or None off CuPy:
        kinds write their own elementwise pieces this way, with a plain path beside for the other backends."""
        if self.fused is None:
            return None
        if name not in _KERNELS:
            _KERNELS[name] = self.xp.ElementwiseKernel(in_params, out_params, body, name)
        return _KERNELS[name]

    # ----- plain operations --------------------------------------------------------------------
    def matmul(self, a, b, out):
        if self.log is not None:
            self.log.append((tuple(a.shape), tuple(b.shape), _transposed(b)))
        if self.native:
            return self.xp.matmul(a, b, out=out)
        out[...] = a @ b
        return out

    def subtract(self, a, b, out):
        if self.native:
            return self.xp.subtract(a, b, out=out)
        out[...] = a - b
        return out

    def multiply(self, a, b, out):
        if self.native:
            return self.xp.multiply(a, b, out=out)
        out[...] = a * b
        return out

    def relu_(self, a):
        """a <- max(a, 0) in place."""
        if self.native:
            return self.xp.maximum(a, 0.0, out=a)
        a[...] = self.xp.maximum(a, 0.0)
        return a

    def log1p_(self, a):
        if self.native:
            return self.xp.log1p(a, out=a)
        a[...] = self.xp.log1p(a)
        return a

    def sum_last(self, a, out):
        """out <- sum of ``a`` over its last axis."""
        if self.np:
            return self.xp.add.reduce(a, axis=-1, out=out)
        if self.native:
            return self.xp.sum(a, axis=-1, out=out)
        out[...] = self.xp.sum(a, axis=-1)
        return out

    def rowsum(self, a, out):
        """out (..., 1) <- sum of ``a`` over its last axis, as a matrix-vector product with ones: on the CPU a
        BLAS gemv is several times faster than NumPy's pairwise reduction. Not logged as matmul work."""
        n = a.shape[-1]
        ones = self._ones.get(n)
        if ones is None:
            ones = self._ones[n] = self.xp.ones((n, 1), dtype=self.backend.dtype)
        if self.native:
            return self.xp.matmul(a, ones, out=out)
        out[...] = a @ ones
        return out

    def sum_keep(self, a, out):
        """out <- sum of ``a`` over its last axis, keeping that axis (length 1)."""
        if self.np:
            return self.xp.add.reduce(a, axis=-1, keepdims=True, out=out)
        if self.native:
            return self.xp.sum(a, axis=-1, keepdims=True, out=out)
        out[...] = self.xp.sum(a, axis=-1, keepdims=True)
        return out

    def max_keep(self, a, out):
        if self.np:
            return self.xp.maximum.reduce(a, axis=-1, keepdims=True, out=out)
        if self.native:
            return self.xp.max(a, axis=-1, keepdims=True, out=out)
        out[...] = self.xp.max(a, axis=-1, keepdims=True)
        return out

    def subtract_col(self, col, a, out):
        """out <- col - a for a column ``col`` (..., 1) against ``a`` (..., n). NumPy would run a broadcast operand
        through a 32 KiB ufunc buffer allocated per call; a broadcast assignment followed by a same-shape
        subtraction allocates nothing (and is no slower)."""
        out[...] = col
        return self.subtract(out, a, out)

    def add(self, a, b, out):
        if self.native:
            return self.xp.add(a, b, out=out)
        out[...] = a + b
        return out

    def divide(self, a, b, out):
        if self.native:
            return self.xp.divide(a, b, out=out)
        out[...] = a / b
        return out

    def maximum(self, a, b, out):
        if self.native:
            return self.xp.maximum(a, b, out=out)
        out[...] = self.xp.maximum(a, b)
        return out

    def exp(self, a, out):
        if self.native:
            return self.xp.exp(a, out=out)
        out[...] = self.xp.exp(a)
        return out

    def ln(self, a, out):
        """out <- natural log of a (``log`` is the matmul shape log)."""
        if self.native:
            return self.xp.log(a, out=out)
        out[...] = self.xp.log(a)
        return out

    def mean_last(self, a, out):
        if self.jit and a.ndim == 2 and a.flags.c_contiguous:
            if self._row_means is None:
                from .fused_cpu import kernels
                self._row_means = kernels()["row_means"]
            self._row_means(a, out)
            return out
        if self.np:       # what np.mean does: a sum, then a division by the count
            self.xp.add.reduce(a, axis=-1, out=out)
            return self.xp.divide(out, a.shape[-1], out=out)
        if self.native:
            return self.xp.mean(a, axis=-1, out=out)
        out[...] = self.xp.mean(a, axis=-1)
        return out

    # ----- the residual form of :class:`cortex.region.ResidualForm` ---------------------------
    def residual(self, X, P, pi, out, tmp, scale2: float | None):
        """out <- psi(X - P) * pi: the precision-weighted prediction error (Cauchy-shrunk when ``scale2``)."""
        if self.fused is not None:
            if scale2 is None:
                return self.fused["residual_gauss"](X, P, pi, out)
            return self.fused["residual_cauchy"](X, P, pi, self.backend.dtype.type(scale2), out)
        self.subtract(X, P, out)
        return self.weigh(out, pi, out, tmp, scale2)

    def residual_pull(self, a, pred, pi: float, scale2: float | None, out, accumulate: bool) -> bool:
        """out (+)= psi(a - pred) * pi in one fused CPU pass (``pred`` may be a strided column slice); False when
        the fused kernels are off (the caller then takes the plain path)."""
        if not self.jit:
            return False
        from .fused_cpu import kernels

        dt = self.backend.dtype
        kernels()["residual_pull"](a, pred, dt(pi), dt(scale2 or 0.0), dt(1.0), accumulate, out)
        return True

    def weigh(self, R, pi, out, tmp, scale2: float | None):
        """psi(R) * pi for a residual R: identity or Cauchy ``r / (1 + r^2 / c^2)``, into ``out`` (``out`` may be R).
        A unit precision on a Gaussian error returns R itself: nothing to compute."""
        unit = isinstance(pi, float) and pi == 1.0   # a unit precision: skip a pass that changes nothing
        if scale2 is None:
            return R if unit else self.multiply(R, pi, out)
        self.multiply(R, R, tmp)
        tmp /= scale2
        tmp += 1.0
        self.divide(R, tmp, out)
        if not unit:
            out *= pi
        return out


def _transposed(b) -> bool:
    strides = getattr(b, "strides", None)
    return bool(strides) and len(strides) >= 2 and strides[-2] < strides[-1]


_KERNELS: dict = {}


def _cupy_kernels(cupy):
    """Fused CuPy kernels for the residual form (compiled on first use)."""
    ek = cupy.ElementwiseKernel
    return {
        "residual_gauss": ek("T x, T p, T pi", "T out", "out = (x - p) * pi", "cortex_residual_gauss"),
        "residual_cauchy": ek("T x, T p, T pi, T c2", "T out",
                              "T r = x - p; out = r / (1 + r * r / c2) * pi", "cortex_residual_cauchy"),
    }
