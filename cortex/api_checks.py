"""The input policy of the Python API, in one place: what ``settle``, ``learn`` and results accept as arguments.

Why one module: the same bad value (a float step count, a complex stimulus, a ragged list) must get the same
message whichever call it reaches. Every refusal is a :class:`~cortex.errors.StimulusError` naming the argument
and what is accepted (docs/numerics.md). The policy:

- step counts are integers (``int``, a NumPy integer, or a float with an integral value), finite and >= 0;
- stimuli are real numbers: complex, boolean, object, text and structured arrays are refused, integers are cast,
  float64 is cast to the model's dtype after checking it fits, and every magnitude must be at most
  :data:`MAX_INPUT` (larger values overflow the energy ``pi r^2`` in float32 before any step is taken);
- a ragged list is refused with the row where its length changes.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import StimulusError

MAX_INPUT = 1e8
"""Largest stimulus magnitude accepted: ``pi * d * MAX_INPUT**2`` stays far inside float32 for the documented
ranges of ``precision`` (<= 1e6) and input sizes; rescale (standardise) data that is larger."""

_REFUSED_KINDS = {"c": "complex", "b": "boolean", "O": "object (Python objects)", "U": "text", "S": "bytes",
                  "V": "structured", "M": "datetime", "m": "timedelta"}


def count(value, name: str = "steps", minimum: int = 0) -> int:
    """``value`` as a step count: an integer >= ``minimum`` (an integral float such as 20.0 is accepted)."""
    if isinstance(value, (bool, np.bool_)):
        raise StimulusError(f"{name} must be an integer >= {minimum}, got the boolean {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    elif isinstance(value, (numbers.Real, np.floating)):
        v = float(value)
        if not math.isfinite(v) or not v.is_integer():
            raise StimulusError(f"{name} must be an integer >= {minimum}, got {value!r} (a whole number of steps; "
                                f"nan, infinity and fractions are refused)")
        out = int(v)
    else:
        raise StimulusError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if out < minimum:
        raise StimulusError(f"{name} must be an integer >= {minimum}, got {out}")
    return out


def real(value, name: str, minimum: float | None = None) -> float:
    """``value`` as a finite real number (``rate``, ``tol``): booleans, complex numbers and text are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise StimulusError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise StimulusError(f"{name} must be finite, got {v}")
    if minimum is not None and v < minimum:
        raise StimulusError(f"{name} must be >= {minimum}, got {v}")
    return v


def _ragged(name: str, value) -> str | None:
    """Where a nested list first changes length, as ``row i has m values, row 0 has k``; None if it does not."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    lengths = [len(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in value]
    first = lengths[0]
    for i, n in enumerate(lengths):
        if n != first:
            what = "is a number" if n is None else f"has {n} values"
            was = "is a number" if first is None else f"has {first} values"
            return f"input {name!r}: a ragged list: row {i} {what} but row 0 {was}; give equal-length rows"
    for i, v in enumerate(value):
        inner = _ragged(name, v)
        if inner is not None:
            return inner.replace(": a ragged list: row", f": a ragged list: in row {i}, row", 1)
    return None


def stimulus_array(name: str, value, dtype: str) -> np.ndarray:
    """A host array of the model's ``dtype`` from one stimulus, refused with a message when it breaks the policy."""
    if isinstance(value, (list, tuple)):
        where = _ragged(name, value)
        if where is not None:
            raise StimulusError(where)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise StimulusError(f"input {name!r}: not an array of numbers ({exc})") from None
    kind = arr.dtype.kind
    if kind in _REFUSED_KINDS:
        hint = " (take the real part or the magnitude yourself)" if kind == "c" else \
            " (cast it: X.astype('float32'))" if kind == "b" else ""
        raise StimulusError(f"input {name!r}: {_REFUSED_KINDS[kind]} values are refused; stimuli must be finite numbers "
                            f"of a real type (float32, float64 or integers){hint}")
    if kind not in "iuf":
        raise StimulusError(f"input {name!r}: dtype {arr.dtype} is not a real number type")
    target = np.dtype(dtype)
    if kind == "f" and arr.dtype != target or kind in "iu":
        with np.errstate(over="ignore", invalid="ignore"):
            if arr.size and not np.all(np.isfinite(arr)):
                raise StimulusError(f"input {name!r}: values must be finite numbers (found nan or infinity)")
            biggest = float(np.max(np.abs(arr.astype(np.float64)))) if arr.size else 0.0
        if biggest > np.finfo(target).max:
            raise StimulusError(f"input {name!r}: a value of magnitude {biggest:.3g} does not fit {target} "
                                f"(largest {np.finfo(target).max:.3g}); rescale the stimuli")
        arr = arr.astype(target)
    if arr.size and not np.all(np.isfinite(arr)):
        raise StimulusError(f"input {name!r}: values must be finite numbers (found nan or infinity)")
    if arr.size:
        biggest = float(np.max(np.abs(arr)))
        if biggest > MAX_INPUT:
            raise StimulusError(f"input {name!r}: a value of magnitude {biggest:.3g} is beyond the accepted "
                                f"{MAX_INPUT:.0e}; rescale (standardise) the stimuli (docs/numerics.md)")
    return arr


def past_list(past) -> list:
    """``past=`` as a list: None or a list/tuple of results; a single result is refused with how to pass it."""
    if past is None:
        return []
    if isinstance(past, (list, tuple)):
        return list(past)
    raise StimulusError(f"past must be a list of earlier SettleResults, oldest first, got {type(past).__name__}; "
                        f"pass past=[result] for a single frame")


def known(kind: str, name, choices) -> None:
    """Refuse ``name`` unless it is one of ``choices`` (a region, an input), listing the ones that exist."""
    choices = list(choices)
    if not isinstance(name, str) or name not in choices:
        raise StimulusError(f"unknown {kind} {name!r}; this graph's {kind}s are {sorted(choices)}")
