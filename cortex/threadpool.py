"""How many BLAS / OpenMP threads cortex computes with: one by default, chosen for small matmuls.

Why: cortex's matmuls are small (a 256 x 256 weight against a batch of 64-256), where a second BLAS
thread gains little and, on a machine whose cores are busy, loses a great deal: OpenBLAS's threads spin
while they wait for a core, and measured on a shared 2-core machine W1's step took 5x longer at 2 threads
than at 1, the digits MLP baseline 26x the CPU, and ``cortex run digits`` 5x the wall time. So every
computing call of cortex (``Model.settle``, ``learn``, ``run_stream``, the baselines, ``cortex.run`` and the
benchmark) runs inside a thread limit, set with threadpoolctl and restored when the call returns:

- ``cortex.set_threads(n)`` (process-wide) or ``with cortex.threads(n): ...`` (a block);
- else the environment variable ``CORTEX_THREADS`` (a count, or ``default``);
- else :data:`DEFAULT` (1).

``None`` (or ``default``) leaves the libraries at their own defaults (usually one thread per core).
Your own NumPy code outside cortex's calls is not affected.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from typing import Iterator

from .errors import CortexError
from .settings import setting

#: Threads per BLAS / OpenMP call when nothing else is chosen. One: a measurement on the benchmark's
#: workloads (docs/settling.md) showed no gain from more on a 2-core machine, and large losses when busy.
DEFAULT = 1

_UNSET = object()
_chosen: object = _UNSET          # what set_threads chose (an int, None for library defaults, or unset)
_active: list = []                # the limits of the cortex calls now running (innermost last)
_controller = None
_controller_key = -1


def check(n, where: str = "threads") -> int | None:
    """``n`` as a thread count (a positive int) or None (library defaults), or a CortexError naming ``where``."""
    if n is None or (isinstance(n, str) and n.strip().lower() in ("default", "")):
        return None
    try:
        value = int(n)
    except (TypeError, ValueError):
        value = 0
    if isinstance(n, bool) or value < 1 or (isinstance(n, float) and n != value):
        raise CortexError(f"{where}: expected a positive number of threads or 'default', got {n!r}")
    return value


def configured() -> int | None:
    """The thread count cortex's calls use now: ``set_threads``, else ``CORTEX_THREADS``, else :data:`DEFAULT`."""
    if _active:
        return _active[-1]
    if _chosen is not _UNSET:
        return _chosen
    env = setting("threads")
    if env is not None:
        from .settings import envvar
        return check(env, f"environment variable {envvar('threads')}")
    return DEFAULT


def set_threads(n: int | None) -> None:
    """Choose the thread count of every later cortex call in this process (None: the libraries' defaults)."""
    global _chosen
    _chosen = check(n, "set_threads")


def reset_threads() -> None:
    """Forget :func:`set_threads` (back to ``CORTEX_THREADS`` or the default)."""
    global _chosen
    _chosen = _UNSET


def _limiter():
    """A threadpoolctl controller over the libraries loaded now (rebuilt when more modules were imported)."""
    global _controller, _controller_key
    if _controller is None or _controller_key != len(sys.modules):
        from threadpoolctl import ThreadpoolController
        _controller, _controller_key = ThreadpoolController(), len(sys.modules)
    return _controller


@contextlib.contextmanager
def threads(n=_UNSET) -> Iterator[int | None]:
    """Run the block with ``n`` BLAS and OpenMP threads (default: :func:`configured`); restores them after.

    Nested cortex calls inside the block keep its limit, so ``with cortex.threads(2): model.settle(...)``
    settles on 2 threads. Yields the count (None: library defaults).
    """
    n = configured() if n is _UNSET else check(n)
    if _active and _active[-1] == n:     # already inside the same limit: nothing to set
        _active.append(n)
        try:
            yield n
        finally:
            _active.pop()
        return
    _active.append(n)
    try:
        if n is None:
            yield n
        else:
            with _limiter().limit(limits=n):
                yield n
    finally:
        _active.pop()


def limited(fn):
    """Decorator: run ``fn`` inside :func:`threads` (the configured count)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threads():
            return fn(*args, **kwargs)
    return wrapper


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded now (what threadpoolctl reports)."""
    from threadpoolctl import threadpool_info
    return [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
