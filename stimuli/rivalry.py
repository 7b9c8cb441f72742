"""Binocular rivalry stimuli: two incompatible patterns, one per eye, from a seed.

Two oriented sinusoidal gratings (by default +45 and -45 degrees) are the two interpretations. During
training the two eyes see the *same* grating (ordinary, unambiguous binocular viewing), so a region
can learn one hypothesis per grating. The rivalrous stimulus shows grating A to the left eye and grating
B to the right eye at the same time: no single learned hypothesis explains both eyes, and the two
that explain one eye each are incompatible. The strength of a side is the contrast of its grating.

Gratings are zero-mean (luminance modulation around the mean grey) with unit root-mean-square at
contrast 1, so contrast is the RMS of the image. Everything is plain NumPy; all randomness comes from
the ``numpy.random.Generator`` passed in.

>>> import numpy as np
>>> from cortex.stimuli.rivalry import gratings, rivalrous
>>> A, B = gratings(8)
>>> left, right = rivalrous((A, B), contrast_left=[0.5, 0.8], contrast_right=0.5)
>>> left.shape, round(float(np.sqrt(np.mean(left[1] ** 2))), 3)
((2, 8, 8), 0.8)
"""
from __future__ import annotations

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["grating", "gratings", "binocular_training", "rivalrous", "contrast_grid"]


def _contrasts(value, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise StimulusError(f"{name} must be a finite number or a 1-D list of them, got {value!r}")
    if np.any(arr < 0):
        raise StimulusError(f"{name} must be >= 0 (a contrast), got {value!r}")
    if n is not None and arr.ndim == 1 and arr.size not in (1, n):
        raise StimulusError(f"{name} has {arr.size} values but there are {n} trials")
    return arr


def grating(size: int, orientation: float, cycles: float = 2.0, phase: float = 0.0) -> np.ndarray:
    """A (size, size) float32 sinusoidal grating with zero mean and unit RMS.

    Parameters
    ----------
    size : pixels per side (>= 4).
    orientation : degrees; 0 gives vertical bars (luminance varies along x).
    cycles : periods across the image width.
    phase : degrees.
    """
    size = checks.integer(size, "size", 4)
    orientation = checks.real(orientation, "orientation")
    cycles = checks.real(cycles, "cycles", 0.5)
    phase = checks.real(phase, "phase")
    y, x = np.mgrid[0:size, 0:size] / size
    theta = np.deg2rad(orientation)
    g = np.sin(2 * np.pi * cycles * (x * np.cos(theta) + y * np.sin(theta)) + np.deg2rad(phase))
    g = g - g.mean()
    rms = np.sqrt(np.mean(g * g))
    if rms < 1e-6:
        raise StimulusError(f"a grating of {cycles} cycles at phase {phase} degrees is blank on {size}x{size} pixels; "
                            "change the phase or the number of cycles")
    return (g / rms).astype(np.float32)


def gratings(size: int = 8, orientations=(45.0, -45.0), cycles: float = 2.0, phase: float = 45.0) -> np.ndarray:
    """(2, size, size): the two rival patterns, gratings of the two ``orientations``."""
    if len(orientations) != 2:
        raise StimulusError(f"orientations must name exactly two angles (the two rival patterns), got {orientations!r}")
    return np.stack([grating(size, o, cycles, phase) for o in orientations])


def _check_patterns(patterns) -> np.ndarray:
    arr = np.asarray(patterns, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[0] != 2:
        raise StimulusError(f"patterns must have shape (2, height, width), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise StimulusError("patterns must be finite")
    return arr


def binocular_training(patterns, n: int, rng: np.random.Generator, contrast=(0.3, 1.0), noise: float = 0.05):
    """Unambiguous presentations: both eyes see the same pattern, at a random contrast, with pixel noise.

    Returns (left, right, label): (n, h, w), (n, h, w) float32 and (n,) int64 in {0, 1}, the pattern shown.
    """
    P = _check_patterns(patterns)
    n = checks.integer(n, "n", 1)
    rng = checks.rng(rng)
    lo, hi = (checks.real(c, "contrast", 0.0) for c in contrast)
    if hi < lo:
        raise StimulusError(f"contrast must be a (low, high) range with low <= high, got {contrast!r}")
    noise = checks.real(noise, "noise", 0.0)
    label = rng.integers(0, 2, n)
    c = rng.uniform(lo, hi, n).astype(np.float32)[:, None, None]
    images = c * P[label]
    left = images + noise * rng.standard_normal(images.shape, dtype=np.float32)
    right = images + noise * rng.standard_normal(images.shape, dtype=np.float32)
    return left.astype(np.float32), right.astype(np.float32), label


def rivalrous(patterns, contrast_left=1.0, contrast_right=1.0, trials: int | None = None,
              rng: np.random.Generator | None = None, noise: float = 0.0):
    """Pattern A to the left eye, pattern B to the right eye: (left, right), each (trials, h, w) float32.

    ``contrast_left`` / ``contrast_right`` are numbers or one value per trial (a sweep in one batch);
    ``trials`` defaults to the length of those lists (or 1). With ``noise > 0`` each trial gets its own
    static pixel noise drawn from ``rng``.
    """
    A, B = _check_patterns(patterns)
    cl = _contrasts(contrast_left, "contrast_left", trials)
    cr = _contrasts(contrast_right, "contrast_right", trials)
    sizes = {a.size for a in (cl, cr) if a.ndim == 1} - {1}
    if len(sizes) > 1:
        raise StimulusError(f"contrast_left and contrast_right have different lengths {cl.size} and {cr.size}")
    n = checks.integer(trials, "trials", 1) if trials is not None else (sizes.pop() if sizes else 1)
    cl = np.broadcast_to(cl.reshape(-1), (n,)) if cl.ndim else np.full(n, float(cl))
    cr = np.broadcast_to(cr.reshape(-1), (n,)) if cr.ndim else np.full(n, float(cr))
    left = (cl[:, None, None] * A).astype(np.float32)
    right = (cr[:, None, None] * B).astype(np.float32)
    noise = checks.real(noise, "noise", 0.0)
    if noise:
        if not isinstance(rng, np.random.Generator):
            raise StimulusError("noise > 0 needs rng, a numpy.random.Generator")
        left = left + noise * rng.standard_normal(left.shape, dtype=np.float32)
        right = right + noise * rng.standard_normal(right.shape, dtype=np.float32)
    return left, right


def contrast_grid(low: float, high: float, count: int) -> np.ndarray:
    """``count`` contrasts evenly spaced on a log scale from ``low`` to ``high`` (float64)."""
    low, high = checks.real(low, "low", 0.0), checks.real(high, "high", 0.0)
    count = checks.integer(count, "count", 2)
    if not 0 < low < high:
        raise StimulusError(f"need 0 < low < high, got low={low}, high={high}")
    return np.geomspace(low, high, count)
