"""Camouflage: digits hidden in clutter made of fragments of OTHER digits.

Why this family: clutter built from the same strokes as the target is what makes camouflage hard. A
pixel-wise classifier sees a digit plus extra strokes of other digits; a generative model can instead
look for the one hypothesis that explains a coherent part of the image and leave the rest unexplained,
which takes a longer search. Each fragment is a ``fragment_size`` square cut from an image of a
different class than the target (where that image has ink), scaled by ``intensity`` and laid over the
target at a random position; overlapping strokes combine by taking the brighter pixel, as ink does.

Plain NumPy; all randomness from the ``numpy.random.Generator`` passed in: the same seed gives identical
arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cortex.errors import StimulusError

from . import checks
from .digits import IMAGE_SHAPE

__all__ = ["Camouflaged", "camouflage"]


class Camouflaged(NamedTuple):
    """A batch of camouflaged digits.

    images : (n, H*W) float32, the target digits with the clutter laid over them.
    clutter : (n, H*W) float32, the clutter layer alone (what was laid over each target).
    sources : (n, fragments) int, index into the pool of the image each fragment was cut from.
    """

    images: np.ndarray
    clutter: np.ndarray
    sources: np.ndarray


def camouflage(X, y, pool_X, pool_y, rng: np.random.Generator, fragments: int = 4, fragment_size: int = 3,
               intensity: float = 1.0, image_shape: tuple[int, int] = IMAGE_SHAPE) -> Camouflaged:
    """Hide each digit of ``X`` among ``fragments`` pieces of digits of other classes drawn from the pool.

    Parameters
    ----------
    X, y : (n, H*W) target images with pixels in [0, 1], and their (n,) labels.
    pool_X, pool_y : images the fragments are cut from, and their labels; a target's fragments come only
        from pool images whose label differs from the target's.
    rng : chooses the source images, where each fragment is cut (in proportion to the ink it holds) and
        where it lands on the target (uniformly, so it may overlap the digit).
    fragments : pieces laid over each target, >= 0 (0 returns the targets unchanged).
    fragment_size : side of the square pieces in pixels, 1 .. min(H, W).
    intensity : brightness of the clutter relative to its source, in [0, 1] (1: as bright as the digit).
    image_shape : (H, W) of one image.

    Returns
    -------
    :class:`Camouflaged` (images, clutter, sources); ``X`` is not modified.
    """
    arr, labels = checks.labelled(X, y)
    pool, pool_labels = checks.labelled(pool_X, pool_y)
    n_frag = checks.integer(fragments, "fragments", 0)
    H, W = checks.image_shape(image_shape)
    size = checks.integer(fragment_size, "fragment_size", 1)
    if size > min(H, W):
        raise StimulusError(f"fragment_size must be at most min(image_shape) = {min(H, W)}, got {size}")
    inten = checks.unit(intensity, "intensity")
    rng = checks.rng(rng)
    for name, a in (("X", arr), ("pool_X", pool)):
        checks.image_shape((H, W), a, name)
    n = arr.shape[0]
    out = arr.astype(np.float32).reshape(n, H, W)      # always a copy
    clutter = np.zeros_like(out)
    if n_frag == 0 or n == 0:
        return Camouflaged(out.reshape(n, H * W), clutter.reshape(n, H * W), np.zeros((n, 0), dtype=np.intp))
    if pool.shape[0] == 0:
        raise StimulusError("pool_X must hold at least one image to cut fragments from")

    # Which pool images may serve each target: those of another class.
    others = pool_labels[None, :] != labels[:, None]                          # (n, pool)
    lonely = ~others.any(axis=1)
    if lonely.any():
        raise StimulusError(f"the pool has no image of a class other than {sorted(set(labels[lonely].tolist()))}; "
                            "fragments must come from other digits")
    p_src = others / others.sum(axis=1, keepdims=True)
    sources = _sample_rows(p_src, n_frag, rng)                                # (n, fragments)

    # Where to cut: every size x size window of the source, chosen in proportion to its ink.
    P = np.clip(pool.astype(np.float32).reshape(-1, H, W), 0.0, None)
    windows = np.lib.stride_tricks.sliding_window_view(P, (size, size), axis=(1, 2))   # (pool, H-s+1, W-s+1, s, s)
    ink = windows.sum(axis=(-1, -2)).reshape(P.shape[0], -1) + 1e-6          # (pool, positions)
    p_cut = ink[sources] / ink[sources].sum(axis=-1, keepdims=True)          # (n, fragments, positions)
    cut = _sample_rows(p_cut.reshape(n * n_frag, -1), 1, rng).reshape(n, n_frag)
    n_cols = W - size + 1
    pieces = windows[sources, cut // n_cols, cut % n_cols] * np.float32(inten)   # (n, fragments, s, s)

    # Where to lay each piece: uniformly over the target.
    top = rng.integers(0, H - size + 1, size=(n, n_frag))
    left = rng.integers(0, W - size + 1, size=(n, n_frag))
    offs = np.arange(size)
    idx = np.arange(n)[:, None, None]
    for f in range(n_frag):                                                   # a handful of pieces: no hot loop
        rows = (top[:, f, None] + offs)[:, :, None]                           # (n, s, 1)
        cols = (left[:, f, None] + offs)[:, None, :]                          # (n, 1, s)
        clutter[idx, rows, cols] = np.maximum(clutter[idx, rows, cols], pieces[:, f])
    np.maximum(out, clutter, out=out)
    return Camouflaged(out.reshape(n, H * W), clutter.reshape(n, H * W), sources)


def _sample_rows(p: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, k) draws, with replacement, from each row's categorical distribution ``p`` (rows, m)."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random((p.shape[0], k)) * cdf[:, -1:]
    return np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(axis=-1), p.shape[1] - 1)
