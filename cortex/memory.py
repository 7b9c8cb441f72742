"""Memory estimates and the guards built on them: a graph, a batch or a settle call that would not fit is refused
with the estimate before anything is allocated.

One estimate serves ``cortex.load`` (building plus settling and learning one batch of ``DEFAULT_BATCH``),
``cortex validate`` (the same call, so the two never disagree) and ``model.settle`` (that plus the per-step
energies, and every step's activity when ``record``). Each kind says what it needs through
:meth:`cortex.region.RegionKind.memory_elements`; tests/cortex/test_memory.py holds the estimates within 2x of the
peak tracemalloc measures over several graph kinds.
"""
from __future__ import annotations

from .backend import available_bytes
from .errors import ResourceError
from .region import region_kinds

DEFAULT_BATCH = 256


def _item(spec) -> int:
    return 4 if spec.dtype == "float32" else 8


def estimate_bytes(spec, batch: int = DEFAULT_BATCH) -> int:
    """Memory to build the model and settle and learn one batch: weights plus per-stimulus state and temporaries."""
    total = 0
    for name, p in spec.regions.items():
        d_x = sum(spec.size_of(c.source) for c in spec.sources(name, "input"))
        d_y = sum(spec.size_of(c.source) for c in spec.sources(name, "context"))
        total += region_kinds.get(p.kind).memory_elements(p, d_x, d_y, batch)
    return total * _item(spec)


def settle_bytes(spec, batch: int, steps: int, record: bool = False, hypotheses: int | None = None) -> int:
    """A settle call's memory: :func:`estimate_bytes` at ``batch``, the (steps, regions) energies on the device and
    the host, and with ``record`` every step's activity (device copies, then one host stack)."""
    item, R = _item(spec), len(spec.regions)
    total = estimate_bytes(spec, batch) + 2 * max(steps, 1) * R * item
    if record:
        n = hypotheses if hypotheses is not None else sum(p.hypotheses for p in spec.regions.values())
        total += 2 * (steps + 1) * batch * n * item
    return total


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**27 else f"{n / 2**20:.1f} MiB"


def check_fits(spec, batch: int = DEFAULT_BATCH) -> int:
    """Refuse (``ResourceError``) a graph that would not fit for a batch of ``batch``; returns the estimate."""
    need, have = estimate_bytes(spec, batch), available_bytes()
    if need > have:
        raise ResourceError(f"the graph {spec.name!r} would need about {need / 2**30:.1f} GiB for a batch of {batch} "
                            f"but this machine has {have / 2**30:.1f} GiB; use fewer hypotheses or a smaller batch")
    return need


def check_settle(spec, batch: int, steps: int, record: bool = False, hypotheses: int | None = None) -> int:
    """Refuse (``ResourceError``) a settle call whose batch, steps or recording would not fit; returns the estimate."""
    need, have = settle_bytes(spec, batch, steps, record, hypotheses), available_bytes()
    if need > have:
        parts = [f"a batch of {batch}", f"{steps} steps"] + (["record=True"] if record else [])
        raise ResourceError(f"settling {', '.join(parts)} on the graph {spec.name!r} would need about {_gib(need)} "
                            f"but this machine has {_gib(have)}; use fewer steps (or tol to stop early), a smaller "
                            f"batch{', or record=False' if record else ''}")
    return need
