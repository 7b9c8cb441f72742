"""Colour x shape images: small RGB pictures of one object that has one colour and one shape.

Each image is ``size x size x 3`` (default 8 x 8 x 3) with a black background and one 5 x 5 glyph
drawn in one colour. To keep it from being trivial, every image gets its own position jitter, a
brightness and per-channel colour jitter, and Gaussian pixel noise. The two attributes are
independent by construction, so a model that reads them with separate regions can read a
colour-shape combination it never saw: :func:`latin_holdout` leaves out some combinations so that
every colour and every shape is still seen in training.

Plain NumPy, independent of the simulator; all randomness comes from the ``numpy.random.Generator``
passed in (same seed, same arrays).

>>> import numpy as np
>>> s = make_shapes(6, np.random.default_rng(0))
>>> s.images.shape, s.colour.shape
((6, 8, 8, 3), (6,))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["GLYPHS", "COLOURS", "ShapeSet", "make_shapes", "latin_holdout", "held_out_pairs"]


def _glyph(rows: str) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows.split()], dtype=np.float32)


GLYPHS: dict[str, np.ndarray] = {     # 5 x 5 binary masks
    "square": _glyph("##### #...# #...# #...# #####"),
    "plus": _glyph("..#.. ..#.. ##### ..#.. ..#.."),
    "cross": _glyph("#...# .#.#. ..#.. .#.#. #...#"),
    "diamond": _glyph("..#.. .#.#. #...# .#.#. ..#.."),
    "tee": _glyph("##### ..#.. ..#.. ..#.. ..#.."),
    "ell": _glyph("#.... #.... #.... #.... #####"),
    "aitch": _glyph("#...# #...# ##### #...# #...#"),
    "triangle": _glyph("..#.. .#.#. .#.#. #...# #####"),
}

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0),
    "orange": (1.0, 0.5, 0.0), "white": (1.0, 1.0, 1.0),
}

GLYPH_SIZE = 5


@dataclass(frozen=True)
class ShapeSet:
    """A batch of colour x shape images with both labels.

    Attributes
    ----------
    images : (n, size, size, 3) float32, RGB, background 0, noise not clipped.
    colour, shape : (n,) int64 indices into ``colours`` and ``shapes``.
    colours, shapes : the names of the colours and shapes used.
    """

    images: np.ndarray
    colour: np.ndarray
    shape: np.ndarray
    colours: tuple[str, ...]
    shapes: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def flat(self) -> np.ndarray:
        """(n, size * size * 3) the images as rows, the layout a model input of shape [size, size, 3] takes."""
        return self.images.reshape(len(self.images), -1)


def make_shapes(n: int, rng: np.random.Generator, colours=("red", "green", "blue", "yellow"),
                shapes=("square", "plus", "cross", "diamond"), pairs=None, size: int = 8, jitter: int = 1,
                brightness: float = 0.3, colour_jitter: float = 0.1, noise: float = 0.1) -> ShapeSet:
    """``n`` images, each of one (colour, shape) pair drawn uniformly from ``pairs``.

    Parameters
    ----------
    n : number of images.
    rng : source of every random choice (pair, position, brightness, colour jitter, noise).
    colours, shapes : names from :data:`COLOURS` and :data:`GLYPHS`.
    pairs : (k, 2) int array of allowed (colour index, shape index) pairs; ``None`` allows all.
    size : image side (>= 5, the glyph size).
    jitter : the glyph's top-left corner moves up to this many pixels from the centred position.
    brightness : each image's colour is scaled by a factor drawn from [1 - brightness, 1].
    colour_jitter : standard deviation of per-image, per-channel colour noise (the colour is then clipped to [0, 1]).
    noise : standard deviation of per-pixel Gaussian noise.
    """
    n = checks.integer(n, "n", 1)
    rng = checks.rng(rng)
    colours, shapes = checks.names(colours, COLOURS, "colours"), checks.names(shapes, GLYPHS, "shapes")
    size, jitter = checks.integer(size, "size", GLYPH_SIZE), checks.integer(jitter, "jitter", 0)
    brightness = checks.unit(brightness, "brightness")
    colour_jitter, noise = checks.real(colour_jitter, "colour_jitter", 0.0), checks.real(noise, "noise", 0.0)
    allowed = _pairs(pairs, len(colours), len(shapes))

    pick = allowed[rng.integers(0, len(allowed), size=n)]
    c_idx, s_idx = pick[:, 0].astype(np.int64), pick[:, 1].astype(np.int64)
    centre = (size - GLYPH_SIZE) // 2
    lo, hi = max(0, centre - jitter), min(size - GLYPH_SIZE, centre + jitter)
    top, left = rng.integers(lo, hi + 1, size=n), rng.integers(lo, hi + 1, size=n)
    rgb = np.array([COLOURS[c] for c in colours], dtype=np.float32)[c_idx]                  # (n, 3)
    rgb = rgb * rng.uniform(1.0 - brightness, 1.0, size=(n, 1)) + rng.normal(0.0, colour_jitter, size=(n, 3))
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    masks = np.stack([GLYPHS[s] for s in shapes])[s_idx]                                   # (n, 5, 5)
    canvas = np.zeros((n, size, size), dtype=np.float32)
    rows = top[:, None, None] + np.arange(GLYPH_SIZE)[None, :, None]
    cols = left[:, None, None] + np.arange(GLYPH_SIZE)[None, None, :]
    canvas[np.arange(n)[:, None, None], rows, cols] = masks
    images = canvas[..., None] * rgb[:, None, None, :]
    if noise:
        images = images + rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return ShapeSet(images.astype(np.float32), c_idx, s_idx, colours, shapes)


def _pairs(pairs, n_colours: int, n_shapes: int) -> np.ndarray:
    if pairs is None:
        return np.stack(np.meshgrid(np.arange(n_colours), np.arange(n_shapes), indexing="ij"), -1).reshape(-1, 2)
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise StimulusError(f"pairs must be a non-empty (k, 2) integer array of (colour, shape) indices, got shape {arr.shape}")
    if arr[:, 0].min() < 0 or arr[:, 0].max() >= n_colours or arr[:, 1].min() < 0 or arr[:, 1].max() >= n_shapes:
        raise StimulusError(f"pairs index past {n_colours} colours x {n_shapes} shapes: {arr.tolist()}")
    return arr


def latin_holdout(n_colours: int, n_shapes: int, per_colour: int = 1, rng: np.random.Generator | None = None) -> np.ndarray:
    """(n_colours, n_shapes) bool mask, True for the combinations left out of training.

    Colour c leaves out shapes ``(offset + c + j) % n_shapes`` for ``j < per_colour`` (a Latin square):
    every colour loses ``per_colour`` shapes and the losses spread evenly over the shapes, so every colour
    and every shape is still seen in training. ``rng`` draws the offset (0 without one).
    """
    n_colours, n_shapes = checks.integer(n_colours, "n_colours", 2), checks.integer(n_shapes, "n_shapes", 2)
    per_colour = checks.integer(per_colour, "per_colour", 1)
    if per_colour >= n_shapes:
        raise StimulusError(f"per_colour must be < n_shapes ({n_shapes}) so each colour keeps a shape, got {per_colour}")
    offset = int(checks.rng(rng).integers(0, n_shapes)) if rng is not None else 0
    mask = np.zeros((n_colours, n_shapes), dtype=bool)
    c = np.repeat(np.arange(n_colours), per_colour)
    s = (offset + c + np.tile(np.arange(per_colour), n_colours)) % n_shapes
    mask[c, s] = True
    if mask.all(axis=0).any():
        raise StimulusError("this holdout leaves some shape with no colour in training; use fewer per_colour")
    return mask


def held_out_pairs(mask) -> tuple[np.ndarray, np.ndarray]:
    """(seen, unseen): (k, 2) arrays of (colour, shape) index pairs from a :func:`latin_holdout` mask."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise StimulusError(f"mask must be 2-D (colours x shapes), got shape {mask.shape}")
    return np.argwhere(~mask), np.argwhere(mask)
