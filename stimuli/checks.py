"""Argument checks every stimulus family (and the baselines) shares, so a bad argument reads the same everywhere.

Each check returns the value in its plain Python or NumPy form, or raises :class:`cortex.errors.StimulusError`
(also a ``ValueError``) naming the argument, what it must be and what it got. Booleans are refused where a
number belongs: ``True`` for a count is almost always a mistake.

>>> import numpy as np
>>> integer(3, "n", 1), real(0.5, "sigma", low=0), unit(1.0, "validity")
(3, 0.5, 1.0)
>>> rng(np.random.default_rng(0)) is not None
True
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cortex.errors import StimulusError

__all__ = ["integer", "real", "unit", "rng", "examples", "labelled", "image_shape", "names"]


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def integer(value, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; floats (even 2.0) and booleans are refused."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise StimulusError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise StimulusError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def real(value, name: str, low: float | None = None, high: float | None = None, *, open_low: bool = False,
         open_high: bool = False) -> float:
    """``value`` as a finite float, within ``[low, high]`` where given (open ends with ``open_low`` / ``open_high``)."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise StimulusError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise StimulusError(f"{name} must be finite, got {value!r}")
    below = low is not None and (out <= low if open_low else out < low)
    above = high is not None and (out >= high if open_high else out > high)
    if below or above:
        if high is None:
            raise StimulusError(f"{name} must be {'>' if open_low else '>='} {low:g}, got {value!r}")
        if low is None:
            raise StimulusError(f"{name} must be {'<' if open_high else '<='} {high:g}, got {value!r}")
        raise StimulusError(f"{name} must be in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}, "
                            f"got {value!r}")
    return out


def unit(value, name: str) -> float:
    """A probability or a mixing weight: a finite number in [0, 1]."""
    return real(value, name, 0.0, 1.0)


def rng(value, name: str = "rng") -> np.random.Generator:
    """Refuse anything but a Generator, so that no randomness leaks in from global state."""
    if not isinstance(value, np.random.Generator):
        raise StimulusError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
                            f"got {type(value).__name__}")
    return value


def examples(X, name: str = "X") -> np.ndarray:
    """``X`` as a 2-D numeric array: a batch of examples as rows (flattened images, feature vectors)."""
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise StimulusError(f"{name} must be 2-D (n_examples, n_values), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise StimulusError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr


def labelled(X, y, *, nonempty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: rows of examples and one label per row (and at least one row with ``nonempty``)."""
    arr = examples(X)
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise StimulusError(f"y must be 1-D, got shape {labels.shape}")
    if labels.shape[0] != arr.shape[0]:
        raise StimulusError(
            f"X and y must have the same length, got len(X)={arr.shape[0]}, len(y)={labels.shape[0]}")
    if nonempty and arr.shape[0] == 0:
        raise StimulusError("X must hold at least one example, got 0")
    return arr, labels


def image_shape(value, X: np.ndarray | None = None, name: str = "X") -> tuple[int, int]:
    """``(height, width)`` of one image, each >= 1; with ``X``, its rows must hold that many pixels."""
    try:
        H, W = value
    except (TypeError, ValueError):
        raise StimulusError(f"image_shape must be (height, width), got {value!r}") from None
    H, W = integer(H, "image_shape", 1), integer(W, "image_shape", 1)
    if X is not None and X.shape[1] != H * W:
        raise StimulusError(f"{name} rows must have image_shape {(H, W)} = {H * W} pixels, got {X.shape[1]}")
    return H, W


def names(value, known, what: str, minimum: int = 2) -> tuple[str, ...]:
    """A list of at least ``minimum`` distinct names, each one of ``known``; the error lists the known ones."""
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise StimulusError(f"{what} must be a list of names, got {value!r}")
    out = tuple(value)
    if len(out) < minimum:
        raise StimulusError(f"{what} needs at least {minimum} names, got {list(out)}")
    unknown = [n for n in out if n not in known]
    if unknown:
        raise StimulusError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    if len(set(out)) != len(out):
        raise StimulusError(f"{what} lists a name twice: {list(out)}")
    return out
