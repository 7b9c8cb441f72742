"""In-place array operations behind the ``xp`` seam, so the settle loop allocates nothing per step.

NumPy and CuPy take ``out=`` arguments; other Array-API modules (``array_api_strict`` in the tests) get
the same result by assignment into the preallocated buffer, so one code path serves all of them. On
CuPy the elementwise pieces of a step are single fused kernels (``ElementwiseKernel``): one launch and
one pass over memory instead of four or five. The NumPy path never touches them.
"""
from __future__ import annotations


class Ops:
    """Elementwise and matrix operations writing into given buffers (``out``), for one backend."""

    def __init__(self, backend):
        self.backend, self.xp = backend, backend.xp
        self.native = backend.name in ("numpy", "cupy")
        self.np = backend.name == "numpy"     # NumPy: reductions straight through the ufunc (no Python wrapper)
        self.fused = _cupy_kernels(backend.xp) if backend.name == "cupy" else None
        self.log = None    # a list while the benchmark counts matmul shapes
        self._ones = {}


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
        if self.np:       # what np.mean does: a sum, then a division by the count
            self.xp.add.reduce(a, axis=-1, out=out)
            return self.xp.divide(out, a.shape[-1], out=out)
        if self.native:
            return self.xp.mean(a, axis=-1, out=out)
        out[...] = self.xp.mean(a, axis=-1)
        return out

    # ----- the elementwise pieces of a linear region's step ------------------------------------
    def residual(self, X, P, pi, out, tmp, scale2: float | None):
        """out <- psi(X - P) * pi: the precision-weighted prediction error (Cauchy-shrunk when ``scale2``)."""
        if self.fused is not None:
            if scale2 is None:
                return self.fused["residual_gauss"](X, P, pi, out)
            return self.fused["residual_cauchy"](X, P, pi, self.backend.dtype.type(1.0 / scale2), out)
        self.subtract(X, P, out)
        if scale2 is not None:      # r / (1 + r^2 / c^2)
            self.multiply(out, out, tmp)
            tmp *= 1.0 / scale2
            tmp += 1.0
            out /= tmp
        if not (isinstance(pi, float) and pi == 1.0):   # a unit precision: skip a pass that changes nothing
            out *= pi
        return out

    def update(self, A, G, eta, sqrt_eta, H, N, tmp):
        """A <- max((A - eta * G (+ sqrt(eta) * N)) / (1 + eta * H), 0): a gradient step, Langevin noise, and the
        proximal step on the fatigue term (``H`` None: no fatigue). ``G`` and ``N`` are used as scratch."""
        if self.fused is not None:
            if H is None:
                H = 0    # a scalar zero: 1 + eta * 0 = 1
            if N is None:
                return self.fused["update"](G, eta, H, A)
            return self.fused["update_noise"](G, eta, sqrt_eta, H, N, A)
        G *= eta
        A -= G
        if N is not None:
            N *= sqrt_eta
            A += N
        if H is not None:
            self.multiply(H, eta, tmp)
            tmp += 1.0
            A /= tmp
        return self.relu_(A)

    def adapt(self, H, A, strength: float, tau: float, tmp):
        """H <- H + (strength * A - H) / tau."""
        if self.fused is not None:
            dt = self.backend.dtype.type
            return self.fused["adapt"](A, dt(strength), dt(tau), H)
        self.multiply(A, strength, tmp)
        tmp -= H
        tmp /= tau
        H += tmp
        return H


def _transposed(b) -> bool:
    strides = getattr(b, "strides", None)
    return bool(strides) and len(strides) >= 2 and strides[-2] < strides[-1]


def _cupy_kernels(cupy):
    """Fused CuPy kernels for the elementwise parts of a step (compiled on first use)."""
    ek = cupy.ElementwiseKernel
    return {
        "residual_gauss": ek("T x, T p, T pi", "T out", "out = (x - p) * pi", "cortex_residual_gauss"),
        "residual_cauchy": ek("T x, T p, T pi, T inv_c2", "T out",
                              "T r = x - p; out = r / (1 + r * r * inv_c2) * pi", "cortex_residual_cauchy"),
        "update": ek("T g, T eta, T h", "T a", "a = max((a - eta * g) / (1 + eta * h), (T)0)", "cortex_update"),
        "update_noise": ek("T g, T eta, T sq, T h, T n", "T a", "a = max((a - eta * g + sq * n) / (1 + eta * h), (T)0)",
                           "cortex_update_noise"),
        "adapt": ek("T a, T s, T tau", "T h", "h = h + (s * a - h) / tau", "cortex_adapt"),
    }
