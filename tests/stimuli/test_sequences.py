"""Sequence stimuli: seeded, shaped as (frames, streams, ...), and holding the structure the experiments rely on."""
import numpy as np
import pytest

from cortex.errors import CortexError
from cortex.stimuli.digits import load_digit_split
from cortex.stimuli.sequences import digit_cycle, high_order, moving_bars, symbol_patterns


def test_bars_move_by_their_velocity_and_wrap():
    b = moving_bars(6, 24, np.random.default_rng(0), clip=8)
    assert b.frames.shape == (24, 6, 8, 8) and b.frames.dtype == np.float32
    assert (b.frames.sum(axis=(2, 3)) == 8).all()                    # one full-length bar
    same = b.phase[1:] > 0                                           # within a clip
    step = (b.position[1:] - b.position[:-1]) % 8
    assert (step[same] == b.velocity[1:][same] % 8).all()
    for t, s in ((3, 0), (11, 4)):                                   # a vertical bar lights one column
        col = b.frames[t, s].sum(axis=0) if b.vertical[t, s] else b.frames[t, s].sum(axis=1)
        assert col[b.position[t, s]] == 8
    assert set(np.abs(b.velocity).ravel()) <= {1, 2}
    np.testing.assert_array_equal(moving_bars(6, 24, np.random.default_rng(0)).frames, b.frames)


def test_digits_follow_the_cycle_with_fresh_exemplars():
    split = load_digit_split(seed=0)
    d = digit_cycle(split.X_train, split.y_train, 5, 30, np.random.default_rng(1))
    assert d.frames.shape == (30, 5, 64)
    assert ((d.labels[1:] - d.labels[:-1]) % 10 == 1).all()
    rows = [np.flatnonzero((split.X_train == d.frames[t, 0]).all(axis=1))[0] for t in range(30)]
    assert (split.y_train[rows] == d.labels[:, 0]).all()
    assert len(set(rows)) > 20                                       # exemplars vary
    with pytest.raises(CortexError, match="no examples of \\[42\\]"):
        digit_cycle(split.X_train, split.y_train, 2, 5, np.random.default_rng(0), order=[1, 42])


def test_high_order_sequences_are_whole_and_random():
    h = high_order(8, 400, np.random.default_rng(2))
    assert h.alphabet == "ABCDXY"
    word = {0: "ABCD", 1: "XBCY"}
    for b in range(8):
        for t in range(400):
            assert h.alphabet[h.symbols[t, b]] == word[h.sequence[t, b]][h.position[t, b]]
    starts = h.sequence[h.position == 0]
    assert 0.4 < starts.mean() < 0.6


def test_symbols_are_distinct_binary_patterns():
    P = symbol_patterns(6, np.random.default_rng(3), on=16)
    assert P.shape == (6, 64) and set(np.unique(P)) == {0.0, 1.0} and (P.sum(1) == 16).all()
    assert len({tuple(p) for p in P}) == 6
    with pytest.raises(CortexError, match="rng must be a numpy.random.Generator"):
        symbol_patterns(2, 0)
    with pytest.raises(CortexError, match="speeds must be 1 .. 7"):
        moving_bars(2, 4, np.random.default_rng(0), speeds=[8])
