"""Ambiguous images and the cues that come before them, for priming and context experiments.

An ambiguous image is a morph between an exemplar of class A and an exemplar of class B,
``weight * A + (1 - weight) * B`` plus optional Gaussian noise; at the weight where a reader without a
cue says "A" half of the time it has two readings. A cue is a discrete context signal that predicts
the class with a given validity: ``validity`` of the time it names the class, otherwise it names one
of the other classes at random, so that a learner can only pick up a statistical association.

Plain NumPy, independent of the simulator; all randomness comes from the ``numpy.random.Generator``
passed in. Works on any images given as rows (e.g. :mod:`cortex.stimuli.digits`).

>>> import numpy as np
>>> X = np.eye(4, dtype=np.float32); y = np.array([0, 1, 0, 1])
>>> morphs(X, y, 0, 1, 3, 0.5, np.random.default_rng(0)).shape
(3, 4)
"""
from __future__ import annotations

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["morphs", "cues", "one_hot"]


def morphs(X, y, a: int, b: int, n: int, weight, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    """``n`` morphs ``w * A + (1 - w) * B`` of a random exemplar A of class ``a`` and B of class ``b``.

    Parameters
    ----------
    X, y : (m, d) images as rows and their (m,) labels.
    a, b : the two classes to morph (must differ and both occur in ``y``).
    n : number of morphs; each draws its own pair of exemplars.
    weight : the weight of A, a number in [0, 1] or an array of ``n`` of them.
    rng : source of the exemplar choice and the noise.
    noise : standard deviation of Gaussian pixel noise added to each morph (not clipped).

    Returns (n, d) float32.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise StimulusError(f"X must be (m, d) and y (m,) with the same m, got {X.shape} and {y.shape}")
    n, rng = checks.integer(n, "n", 1), checks.rng(rng)
    if a == b:
        raise StimulusError(f"a and b must be different classes, got {a} twice")
    pools = []
    for cls in (a, b):
        idx = np.flatnonzero(y == cls)
        if idx.size == 0:
            raise StimulusError(f"class {cls!r} does not occur in y (classes: {sorted(np.unique(y).tolist())})")
        pools.append(idx)
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim == 0:
        w = np.full(n, checks.unit(float(w), "weight"), dtype=np.float32)
    elif w.shape != (n,) or not np.all((w >= 0) & (w <= 1)):
        raise StimulusError(f"weight must be a number in [0, 1] or an array of n={n} of them, got shape {w.shape}")
    noise = checks.real(noise, "noise", low=0.0)
    A = X[rng.choice(pools[0], size=n)]
    B = X[rng.choice(pools[1], size=n)]
    out = w[:, None] * A + (1.0 - w[:, None]) * B
    if noise:
        out = out + rng.normal(0.0, noise, size=out.shape)
    return out.astype(np.float32)


def cues(labels, n_cues: int, validity: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) int cue per label: the label itself with probability ``validity``, else another cue uniformly.

    ``labels`` must be integers in ``[0, n_cues)``: cue k is the one that predicts class k.
    """
    labels = np.asarray(labels)
    n_cues, validity, rng = checks.integer(n_cues, "n_cues", 2), checks.unit(validity, "validity"), checks.rng(rng)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise StimulusError(f"labels must be a 1-D integer array, got dtype {labels.dtype} and shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_cues):
        raise StimulusError(f"labels must lie in [0, {n_cues}), got values from {labels.min()} to {labels.max()}")
    other = (labels + rng.integers(1, n_cues, size=labels.shape)) % n_cues     # uniform over the other cues
    return np.where(rng.random(labels.shape) < validity, labels, other).astype(np.int64)


def one_hot(index, n: int) -> np.ndarray:
    """(len(index), n) float32 one-hot rows; an index of -1 gives a row of zeros (no cue)."""
    index = np.asarray(index)
    n = checks.integer(n, "n", 1)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer) or (index.size and (index.min() < -1 or index.max() >= n)):
        raise StimulusError(f"index must be a 1-D integer array with values in [-1, {n}), got {index!r}")
    out = np.zeros((index.size, n), dtype=np.float32)
    hit = index >= 0
    out[np.flatnonzero(hit), index[hit]] = 1.0
    return out
