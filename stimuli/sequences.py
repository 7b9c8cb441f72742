"""Streams of frames for sequence learning: a moving bar, digits in a fixed cycle, and high-order symbol sequences.

Every generator returns frames as (frames, streams, ...) arrays, many independent streams side by side (the
batch a stream of the simulator settles at once), and plain NumPy bookkeeping of what each frame is, so that
experiments, baselines and plots read the same arrays. All randomness comes from the Generator passed in; the
simulator is never imported.

>>> import numpy as np
>>> bars = moving_bars(2, 16, np.random.default_rng(0))
>>> bars.frames.shape, bars.phase[:3, 0].tolist()
((16, 2, 8, 8), [0, 1, 2])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["BarStream", "moving_bars", "DigitCycle", "digit_cycle", "symbol_patterns", "SymbolStream",
           "high_order"]


@dataclass(frozen=True)
class BarStream:
    """A full-length bar sweeping a square retina that wraps around (a torus).

    Attributes
    ----------
    frames : (F, B, size, size) float32, 1 on the bar, 0 elsewhere.
    phase : (F, B) the frame's index within its clip (0 = a new bar: position, direction and speed redrawn).
    position : (F, B) the bar's row (horizontal bar) or column (vertical bar).
    velocity : (F, B) signed speed in pixels per frame along the bar's normal.
    vertical : (F, B) whether the bar is vertical (it then moves left or right).
    """

    frames: np.ndarray
    phase: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    vertical: np.ndarray


def moving_bars(streams: int, frames: int, rng: np.random.Generator, *, size: int = 8, clip: int = 8,
                speeds=(1, 2)) -> BarStream:
    """Bars at random positions, orientations (vertical or horizontal), directions and speeds.

    Every ``clip`` frames each stream starts a new bar; within a clip the bar moves ``speed`` pixels per frame,
    wrapping at the edge. From one frame the next is ambiguous (which way, how fast); from two it is certain.
    """
    B, F = checks.integer(streams, "streams", 1), checks.integer(frames, "frames", 1)
    size, clip = checks.integer(size, "size", 2), checks.integer(clip, "clip", 1)
    speeds = np.asarray([checks.integer(s, "speeds", 1) for s in speeds], dtype=np.int64)
    if speeds.size == 0 or speeds.max() >= size:
        raise StimulusError(f"speeds must be 1 .. {size - 1} pixels per frame, got {speeds.tolist()}")
    rng = checks.rng(rng)
    clips = -(-F // clip)
    start = rng.integers(size, size=(clips, B))
    vertical = rng.random((clips, B)) < 0.5
    velocity = rng.choice(speeds, size=(clips, B)) * rng.choice([-1, 1], size=(clips, B))
    t = np.arange(F)
    phase = np.broadcast_to((t % clip)[:, None], (F, B)).copy()
    c = t // clip
    position = (start[c] + phase * velocity[c]) % size
    vert = vertical[c]
    grid = np.arange(size)
    on = position[:, :, None] == grid                                    # (F, B, size): the bar's index
    images = np.where(vert[:, :, None, None], on[:, :, None, :], on[:, :, :, None])
    images = np.broadcast_to(images, (F, B, size, size)).astype(np.float32)
    return BarStream(images, phase, position, velocity[c], vert)


@dataclass(frozen=True)
class DigitCycle:
    """Digit images in a fixed cyclic order: ``frames`` (F, B, pixels), ``labels`` (F, B) their classes."""

    frames: np.ndarray
    labels: np.ndarray


def digit_cycle(X, y, streams: int, frames: int, rng: np.random.Generator, order=tuple(range(10))) -> DigitCycle:
    """Each stream shows the classes of ``order`` over and over, from a random place in it, a random exemplar of
    the class (from ``X``, ``y``) every frame: what comes next is always known, how it looks is not."""
    X, y = checks.labelled(X, y, nonempty=True)
    B, F = checks.integer(streams, "streams", 1), checks.integer(frames, "frames", 1)
    rng = checks.rng(rng)
    order = np.asarray([checks.integer(c, "order", 0) for c in order], dtype=np.int64)
    by_class = {int(c): np.flatnonzero(y == c) for c in np.unique(order)}
    empty = [c for c, rows in by_class.items() if rows.size == 0]
    if order.size < 2 or empty:
        raise StimulusError(f"order must name at least two classes present in y; no examples of {empty}"
                                   if empty else f"order must name at least two classes, got {order.tolist()}")
    start = rng.integers(order.size, size=B)
    labels = order[(start[None, :] + np.arange(F)[:, None]) % order.size]         # (F, B)
    rows = np.empty((F, B), dtype=np.int64)
    for c, members in by_class.items():
        where = labels == c
        rows[where] = members[rng.integers(members.size, size=int(where.sum()))]
    return DigitCycle(np.asarray(X[rows], dtype=np.float32), labels)


def symbol_patterns(n: int, rng: np.random.Generator, *, size: int = 8, on: int = 16) -> np.ndarray:
    """(n, size * size) distinct random binary images with ``on`` pixels lit: the symbols of a sequence task."""
    n, size = checks.integer(n, "n", 1), checks.integer(size, "size", 2)
    on = checks.integer(on, "on", 1)
    if on >= size * size:
        raise StimulusError(f"on must be below {size * size} pixels, got {on}")
    rng = checks.rng(rng)
    out = np.zeros((n, size * size), dtype=np.float32)
    seen: set = set()
    for i in range(n):
        while True:
            lit = np.sort(rng.choice(size * size, on, replace=False))
            if tuple(lit) not in seen:
                seen.add(tuple(lit))
                break
        out[i, lit] = 1.0
    return out


@dataclass(frozen=True)
class SymbolStream:
    """Sequences of symbols drawn at random and shown back to back.

    Attributes
    ----------
    symbols : (F, B) index into ``alphabet`` of each frame's symbol.
    position : (F, B) the frame's position in its sequence (0 = first element).
    sequence : (F, B) which of the sequences the frame belongs to.
    alphabet : the symbols, in index order.
    """

    symbols: np.ndarray
    position: np.ndarray
    sequence: np.ndarray
    alphabet: str


def high_order(streams: int, frames: int, rng: np.random.Generator, sequences=("ABCD", "XBCY")) -> SymbolStream:
    """Each stream is a run of ``sequences`` picked at random (uniformly), back to back. With the default, "A B C D"
    and "X B C Y" share "B C": what follows C depends on the element two before it, a high-order dependence."""
    B, F = checks.integer(streams, "streams", 1), checks.integer(frames, "frames", 1)
    rng = checks.rng(rng)
    seqs = [str(s) for s in sequences]
    if len(seqs) < 1 or any(len(s) < 2 for s in seqs):
        raise StimulusError(f"sequences must be strings of at least two symbols, got {list(sequences)}")
    alphabet = "".join(dict.fromkeys("".join(seqs)))
    code = [np.asarray([alphabet.index(ch) for ch in s], dtype=np.int64) for s in seqs]
    symbols = np.zeros((F, B), dtype=np.int64)
    position = np.zeros((F, B), dtype=np.int64)
    sequence = np.zeros((F, B), dtype=np.int64)
    picks = rng.integers(len(seqs), size=(F // min(len(s) for s in seqs) + 2, B))
    for b in range(B):      # a few hundred frames: bookkeeping, not a hot path
        t, k = 0, 0
        while t < F:
            s = picks[k, b]
            n = min(len(seqs[s]), F - t)
            symbols[t:t + n, b] = code[s][:n]
            position[t:t + n, b] = np.arange(n)
            sequence[t:t + n, b] = s
            t, k = t + n, k + 1
    return SymbolStream(symbols, position, sequence, alphabet)
