"""Tests for cortex.stimuli.digits: split, corruptions, sampling, argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli.digits import (DigitSplit, add_noise, batches, few_shot, load_digit_split,
                                   occlude)


@pytest.fixture(scope="module")
def split() -> DigitSplit:
    return load_digit_split(test_size=0.2, seed=0)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- split

def test_split_sizes_and_metadata(split):
    assert split.X_train.shape == (1437, 64)
    assert split.X_test.shape == (360, 64)
    assert split.y_train.shape == (1437,)
    assert split.y_test.shape == (360,)
    assert split.image_shape == (8, 8)
    assert split.n_classes == 10


def test_split_dtypes_and_range(split):
    for X in (split.X_train, split.X_test):
        assert X.dtype == np.float32
        assert X.min() == 0.0 and X.max() == 1.0
        # pixel counts 0..16 divided by 16: every value is a multiple of 1/16
        np.testing.assert_array_equal(X * 16, np.round(X * 16))
    for y in (split.y_train, split.y_test):
        assert y.dtype == np.int64
        assert set(np.unique(y)) == set(range(10))


def test_split_is_stratified(split):
    y_all = np.concatenate([split.y_train, split.y_test])
    total = np.bincount(y_all, minlength=10)
    test = np.bincount(split.y_test, minlength=10)
    expected = total * 360 / 1797
    assert np.all(np.abs(test - expected) <= 1), (test, expected)


def test_split_is_deterministic_and_seeded(split):
    again = load_digit_split(test_size=0.2, seed=0)
    np.testing.assert_array_equal(split.X_train, again.X_train)
    np.testing.assert_array_equal(split.y_test, again.y_test)
    other = load_digit_split(test_size=0.2, seed=1)
    assert not np.array_equal(split.y_test, other.y_test)


def test_split_is_frozen(split):
    with pytest.raises(AttributeError):
        split.n_classes = 3


# --------------------------------------------------------------------------- noise

def test_add_noise_std_and_mean(split):
    X = split.X_train
    noisy = add_noise(X, 0.3, rng(1))
    assert noisy.dtype == np.float32 and noisy.shape == X.shape
    diff = noisy - X
    assert abs(diff.std() - 0.3) < 0.05 * 0.3
    assert abs(diff.mean()) < 0.01


def test_add_noise_clip_and_no_mutation(split):
    X = split.X_train.copy()
    clipped = add_noise(X, 0.5, rng(2), clip=True)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    np.testing.assert_array_equal(X, split.X_train)


def test_add_noise_zero_sigma_is_identity(split):
    np.testing.assert_array_equal(add_noise(split.X_test, 0.0, rng()), split.X_test)


def test_add_noise_deterministic(split):
    a = add_noise(split.X_test, 0.2, rng(5))
    b = add_noise(split.X_test, 0.2, rng(5))
    c = add_noise(split.X_test, 0.2, rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# --------------------------------------------------------------------------- occlusion

def test_occlude_quarter_is_a_4x4_block(split):
    X = split.X_test
    out, mask = occlude(X, 0.25, rng(3), value=1.0)
    assert out.dtype == np.float32 and mask.dtype == np.bool_
    assert out.shape == X.shape and mask.shape == X.shape
    assert np.all(mask.sum(axis=1) == 16)
    imgs = mask.reshape(-1, 8, 8)
    tops, lefts = [], []
    for m in imgs:
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        assert rows.size == 4 and cols.size == 4
        assert rows[-1] - rows[0] == 3 and cols[-1] - cols[0] == 3  # contiguous
        assert m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()  # filled square
        tops.append(rows[0])
        lefts.append(cols[0])
    # positions vary, and every legal position (0..4) is used over 360 images
    assert set(tops) == set(range(5)) and set(lefts) == set(range(5))


def test_occlude_values_inside_and_outside(split):
    X = split.X_test
    for value in (1.0, 0.0, 0.5):
        out, mask = occlude(X, 0.25, rng(4), value=value)
        assert np.all(out[mask] == np.float32(value))
        np.testing.assert_array_equal(out[~mask], X[~mask])
    assert out is not X


def test_occlude_other_fractions_and_shapes():
    X = np.zeros((50, 64), dtype=np.float32)
    _, full = occlude(X, 1.0, rng())
    assert full.all()
    _, small = occlude(X, 1 / 64, rng())
    assert np.all(small.sum(axis=1) == 1)
    Y = np.zeros((20, 6 * 10), dtype=np.float32)
    _, m = occlude(Y, 0.5, rng(), image_shape=(6, 10))
    assert np.all(m.sum(axis=1) == m[0].sum())
    assert abs(m[0].sum() / 60 - 0.5) <= 0.1


def test_occlude_deterministic(split):
    a = occlude(split.X_test, 0.25, rng(9))
    b = occlude(split.X_test, 0.25, rng(9))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# --------------------------------------------------------------------------- few-shot and batches

def test_few_shot_counts_and_membership(split):
    Xf, yf = few_shot(split.X_train, split.y_train, 5, rng(0))
    assert Xf.shape == (50, 64) and yf.shape == (50,)
    np.testing.assert_array_equal(np.bincount(yf, minlength=10), np.full(10, 5))
    # rows are real training examples with their own labels, drawn without replacement
    train_rows = {row.tobytes(): label for row, label in zip(split.X_train, split.y_train)}
    for row, label in zip(Xf, yf):
        assert train_rows[row.tobytes()] == label
    assert len({row.tobytes() for row in Xf}) == 50
    # shuffled: not grouped by class
    assert not np.all(np.diff(yf) >= 0)


def test_few_shot_deterministic(split):
    a = few_shot(split.X_train, split.y_train, 3, rng(7))
    b = few_shot(split.X_train, split.y_train, 3, rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_few_shot_too_few_examples():
    X = np.zeros((7, 4))
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(StimulusError, match="per_class"):
        few_shot(X, y, 4, rng())


def test_batches_cover_every_example_once_per_epoch():
    n, bs = 23, 5
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    out = list(batches(X, y, bs, rng(0), epochs=3))
    assert len(out) == 3 * 5
    assert [len(b[1]) for b in out] == [5, 5, 5, 5, 3] * 3
    orders = []
    for e in range(3):
        ys = np.concatenate([b[1] for b in out[e * 5:(e + 1) * 5]])
        np.testing.assert_array_equal(np.sort(ys), y)
        orders.append(ys)
    for Xb, yb in out:
        np.testing.assert_array_equal(Xb, X[yb])
    assert not np.array_equal(orders[0], orders[1])  # reshuffled each epoch


def test_batches_deterministic():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    a = [b[1] for b in batches(X, y, 6, rng(3), epochs=2)]
    b = [b[1] for b in batches(X, y, 6, rng(3), epochs=2)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


# --------------------------------------------------------------------------- bad arguments

X8 = np.zeros((10, 64), dtype=np.float32)
Y8 = np.arange(10) % 2


@pytest.mark.parametrize("call, name, bad", [
    (lambda: add_noise(X8, -0.1, rng()), "sigma", "-0.1"),
    (lambda: add_noise(X8, float("nan"), rng()), "sigma", "nan"),
    (lambda: add_noise(X8[0], 0.1, rng()), "X", "(64,)"),
    (lambda: occlude(X8, 0.0, rng()), "fraction", "0.0"),
    (lambda: occlude(X8, 1.5, rng()), "fraction", "1.5"),
    (lambda: occlude(X8, -0.2, rng()), "fraction", "-0.2"),
    (lambda: occlude(X8.reshape(10, 8, 8), 0.25, rng()), "X", "(10, 8, 8)"),
    (lambda: occlude(X8, 0.25, rng(), image_shape=(7, 7)), "image_shape", "49"),
    (lambda: occlude(X8, 0.25, rng(), image_shape=(0, 64)), "image_shape", "0"),
    (lambda: few_shot(X8, Y8, 0, rng()), "per_class", "0"),
    (lambda: few_shot(X8, Y8[:9], 1, rng()), "len(y)", "9"),
    (lambda: few_shot(X8[0], Y8, 1, rng()), "X", "(64,)"),
    (lambda: batches(X8, Y8, 0, rng()), "batch_size", "0"),
    (lambda: batches(X8, Y8, 2, rng(), epochs=0), "epochs", "0"),
    (lambda: batches(X8, Y8[:3], 2, rng()), "len(y)", "3"),
    (lambda: batches(X8, Y8, 2.5, rng()), "batch_size", "2.5"),
    (lambda: add_noise(X8, 0.1, np.random.RandomState(0)), "rng", "RandomState"),
    (lambda: load_digit_split(test_size=1.2), "test_size", "1.2"),
])
def test_bad_arguments_raise_stimulus_error(call, name, bad):
    with pytest.raises(StimulusError) as info:
        call()
    msg = str(info.value)
    assert name in msg and bad in msg, msg
    assert isinstance(info.value, ValueError)
