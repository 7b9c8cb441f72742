"""The oddball paradigm: a standard repeated, rare deviants and omissions, and new standards that repeat.

Frames are coded, not drawn: ``STANDARD``, ``DEVIANT``, ``OMISSION`` (the expected frame replaced by a blank),
and for the repetition block the index of a new standard. :func:`images` turns codes into frames with any
patterns (e.g. :func:`cortex.stimuli.sequences.symbol_patterns`), so the same sequence can be shown with the
standard and the deviant exchanged. Seeded, NumPy only, independent of the simulator.

>>> import numpy as np
>>> code = oddball_codes(1, 40, np.random.default_rng(0))
>>> sorted(set(code[:, 0].tolist())) <= [STANDARD, DEVIANT, OMISSION]
True
"""
from __future__ import annotations

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["STANDARD", "DEVIANT", "OMISSION", "oddball_codes", "new_standards", "images"]

STANDARD, DEVIANT, OMISSION = 0, 1, 2
FIRST_NEW = 3     # codes FIRST_NEW + i: the i-th new standard of a repetition block


def oddball_codes(streams: int, frames: int, rng: np.random.Generator, *, p_deviant: float = 0.1,
                  p_omission: float = 0.1, min_gap: int = 2) -> np.ndarray:
    """(F, B) codes: each frame after at least ``min_gap`` standards since the last rare event is a deviant with
    probability ``p_deviant``, an omission with ``p_omission``, else the standard (the first frames are standards)."""
    B, F = checks.integer(streams, "streams", 1), checks.integer(frames, "frames", 1)
    p_dev, p_om = checks.unit(p_deviant, "p_deviant"), checks.unit(p_omission, "p_omission")
    if p_dev + p_om >= 1:
        raise StimulusError(f"p_deviant + p_omission must be below 1, got {p_dev + p_om:g}")
    gap = checks.integer(min_gap, "min_gap", 0)
    rng = checks.rng(rng)
    draws = rng.random((F, B))
    code = np.full((F, B), STANDARD, dtype=np.int64)
    since = np.full(B, gap)            # standards since the last rare event (the stream opens with standards)
    for t in range(gap, F):            # a few hundred frames: bookkeeping, not a hot path
        free = since >= gap
        dev = free & (draws[t] < p_dev)
        om = free & ~dev & (draws[t] < p_dev + p_om)
        code[t, dev], code[t, om] = DEVIANT, OMISSION
        since = np.where(dev | om, 0, since + 1)
    return code


def new_standards(streams: int, count: int, repeats: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """A repetition block: ``count`` new standards, each shown ``repeats`` times in a row, with ``gap`` frames of the
    old standard between them. Returns (codes (F, B), repeat (F, B): 1..repeats on new standards, 0 elsewhere)."""
    B, n = checks.integer(streams, "streams", 1), checks.integer(count, "count", 1)
    reps, gap = checks.integer(repeats, "repeats", 1), checks.integer(gap, "gap", 0)
    code, rep = [], []
    for i in range(n):
        code += [STANDARD] * gap + [FIRST_NEW + i] * reps
        rep += [0] * gap + list(range(1, reps + 1))
    code_arr = np.repeat(np.asarray(code, dtype=np.int64)[:, None], B, axis=1)
    return code_arr, np.repeat(np.asarray(rep, dtype=np.int64)[:, None], B, axis=1)


def images(codes, standard, deviant, news=None) -> np.ndarray:
    """(F, B, pixels) frames for ``codes``: the ``standard`` and ``deviant`` patterns, a blank for an omission, and
    row i of ``news`` for code ``FIRST_NEW + i``."""
    codes = np.asarray(codes)
    standard, deviant = np.asarray(standard, dtype=np.float32), np.asarray(deviant, dtype=np.float32)
    if standard.ndim != 1 or standard.shape != deviant.shape:
        raise StimulusError(f"standard and deviant must be 1-D patterns of one size, got {standard.shape} and "
                            f"{deviant.shape}")
    table = [standard, deviant, np.zeros_like(standard)]
    if news is not None:
        news = checks.examples(news, "news")
        if news.shape[1] != standard.size:
            raise StimulusError(f"news rows must have {standard.size} values like the standard, got {news.shape[1]}")
        table += list(np.asarray(news, dtype=np.float32))
    if codes.size and (codes.min() < 0 or codes.max() >= len(table)):
        raise StimulusError(f"codes must be 0 .. {len(table) - 1} (standard, deviant, omission and {len(table) - 3} "
                            f"new standards), got {codes.min()} .. {codes.max()}")
    return np.stack(table)[codes]
