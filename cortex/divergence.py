"""Watching settling and learning for non-finite values, cheaply, and saying who diverged.

The watch rides on numbers already reduced on the device: settling's per-step energy (every region's share, a
NaN or infinity anywhere in a region's activity or prediction reaches it) is read at the convergence checks
that copy one number to the host anyway, and once at the end of a call; learning reduces ``sum(w * 0)`` over
every weight (0 when all are finite, NaN otherwise) into one number per ``learn`` call. Only when that number is
not finite are the per-region values copied to find the region and the step (the slow path runs once, to raise).
Kinds name their likely culprits through ``divergence_suspects`` (docs/numerics.md).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import DivergenceError

LEARNING_KEYS = {"W": "lr", "M": "lr", "F": "lr", "R": "lr_recognition", "V": "lr_context", "L": "inhibition_lr"}
"""Which learning rate moves which weight of the predictive kind (others: the kind's ``lr``)."""


def _suspects(region, when: str) -> tuple[str, ...]:
    hook = getattr(region, "divergence_suspects", None)
    return tuple(hook(when)) if hook is not None else ()


def _describe(region, names) -> str:
    p = getattr(region, "p", None)
    parts = [f"{n}={getattr(p, n)!r}" if p is not None and hasattr(p, n) else n for n in names]
    return ", ".join(parts) if parts else "its parameters"


def check_weights(compiled, when: str) -> None:
    """Raise :class:`DivergenceError` when any weight of any region is not finite (one host copy in all)."""
    b = compiled.backend
    xp = b.xp
    total = None
    for c in compiled.regions:
        for w in c.region.weights.values():
            flag = xp.sum(w * 0.0)
            total = flag if total is None else total + flag
    if total is None or math.isfinite(float(b.to_numpy(total))):
        return
    for c in compiled.regions:
        bad = [k for k, w in c.region.weights.items() if not np.all(np.isfinite(b.to_numpy(w)))]
        if bad:
            names = tuple(dict.fromkeys(LEARNING_KEYS.get(k, "lr") for k in bad)) + _suspects(c.region, "learning")
            names = tuple(dict.fromkeys(names))
            act = "will not save a model whose" if when == "saving" else "learning made the"
            raise DivergenceError(
                f"region {c.name!r}: {act} weights {bad} hold nan or infinity; learning diverged, most likely "
                f"through {_describe(c.region, names)} (lower it; ranges in docs/numerics.md)",
                region=c.name, step=None, parameters=names)


def settle_diverged(compiled, per_step, start, ran: int) -> None:
    """Raise :class:`DivergenceError` for a settle whose energies went non-finite: ``per_step`` (steps, R) and
    ``start`` (R,) on the device, ``ran`` steps taken. Called only when a reduced energy was not finite."""
    b = compiled.backend
    first = np.asarray(b.to_numpy(start))
    rows = np.asarray(b.to_numpy(per_step[:ran, ...])) if ran else np.zeros((0, len(compiled)))
    table = np.vstack([first[None, :], rows])            # row 0: the first guess
    bad = ~np.isfinite(table)
    if not bad.any():
        return
    step = int(np.argmax(bad.any(axis=1)))
    js = [int(j) for j in np.nonzero(bad[step])[0]]
    names = [compiled.regions[j].name for j in js]
    region = compiled.regions[js[0]].region
    weights_bad = any(not np.all(np.isfinite(b.to_numpy(w))) for w in region.weights.values())
    when = "learning" if weights_bad else ("start" if step == 0 else "settling")
    suspects = _suspects(region, when)
    where = "at the first guess (step 0)" if step == 0 else f"at settling step {step}"
    why = ("its weights are already non-finite (an earlier learn or a loaded checkpoint)" if weights_bad
           else f"most likely through {_describe(region, suspects)}")
    also = f" (also {names[1:]})" if len(names) > 1 else ""
    raise DivergenceError(f"region {names[0]!r}{also}: the energy became nan or infinite {where}; {why} "
                          f"(ranges in docs/numerics.md)", region=names[0], step=step, parameters=suspects)
