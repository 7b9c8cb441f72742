"""numba-fused CPU kernels of the engine's own equations (a kind keeps its own, e.g. ``regions/predictive/cpu_kernels.py``).

``residual_pull`` is the residual pull of :class:`cortex.region.ResidualForm`, what a reader sends down to a source
it explains: ``psi(a - pred) * precision``, into or added to the source's gradient in one pass, reading the reader's
prediction columns in place (NumPy needs a copy of the strided slice, a subtraction, a product and an addition).
``row_means`` is the mean energy of every region that each settling step records: one call where NumPy makes two
(a sum and a division, 2 us of dispatch for a step that may take 15). Used through :class:`cortex.ops.Ops` when
``Ops.jit`` is on; built on first use, cached by numba.
"""
from __future__ import annotations

import functools


@functools.cache
def kernels():
    """The compiled kernels (numba imported on first call)."""
    return _build()


def _build():
    import numba

    @numba.njit(cache=True, nogil=True, fastmath={"contract", "nsz"})
    def residual_pull(a, pred, pi, c2, one, accumulate, out):
        """out (+)= psi(a - pred) * pi, psi the identity (``c2`` 0) or Cauchy r / (1 + r^2 / c2)."""
        B, n = out.shape
        for b in range(B):
            for i in range(n):
                r = a[b, i] - pred[b, i]
                if c2 > 0:
                    r = r / (one + r * r / c2)
                r = r * pi
                if accumulate:
                    out[b, i] += r
                else:
                    out[b, i] = r

    @numba.njit(cache=True, nogil=True)
    def row_means(a, out):
        """out (R,) <- the mean of each row of a (R, B), summed in float64."""
        R, B = a.shape
        for r in range(R):
            acc = 0.0
            for b in range(B):
                acc += a[r, b]
            out[r] = acc / B

    return {"residual_pull": residual_pull, "row_means": row_means}
