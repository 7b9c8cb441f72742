"""Tests for cortex.stimuli.ambiguous: morphs of two classes, cues with a validity, one-hot coding."""
from __future__ import annotations

import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli.ambiguous import cues, morphs, one_hot


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture
def data():
    X = np.zeros((6, 4), np.float32)
    X[:3, 0] = [1.0, 2.0, 3.0]          # class 0: mass on pixel 0
    X[3:, 1] = [10.0, 20.0, 30.0]       # class 1: mass on pixel 1
    return X, np.array([0, 0, 0, 1, 1, 1])


def test_morph_is_the_weighted_sum_of_one_exemplar_of_each_class(data):
    X, y = data
    m = morphs(X, y, 0, 1, 200, 0.25, rng())
    assert m.shape == (200, 4) and m.dtype == np.float32
    assert set(np.round(m[:, 0] / 0.25, 4)) <= {1.0, 2.0, 3.0}
    assert set(np.round(m[:, 1] / 0.75, 4)) <= {10.0, 20.0, 30.0}
    assert len(set(m[:, 0].tolist())) == 3                     # exemplars are drawn, not fixed


def test_weights_per_trial_noise_and_seed(data):
    X, y = data
    w = np.linspace(0, 1, 50)
    m = morphs(X, y, 0, 1, 50, w, rng())
    assert np.all(m[0, 0] == 0) and np.all(m[-1, 1] == 0)
    a, b = morphs(X, y, 0, 1, 500, 0.5, rng(7), noise=0.3), morphs(X, y, 0, 1, 500, 0.5, rng(7), noise=0.3)
    np.testing.assert_array_equal(a, b)
    assert abs(np.std(a[:, 2:]) - 0.3) < 0.03


def test_cues_have_the_asked_validity_and_spread_the_rest_evenly():
    labels = np.repeat(np.arange(10), 2000)
    c = cues(labels, 10, 0.75, rng())
    assert abs(np.mean(c == labels) - 0.75) < 0.01
    wrong = (c - labels)[c != labels] % 10
    counts = np.bincount(wrong, minlength=10)[1:]
    assert counts.min() > 0.8 * counts.mean()
    u = cues(labels, 10, 0.1, rng(1))
    assert abs(np.mean(u == labels) - 0.1) < 0.01                     # validity 1/n: the cue says nothing


def test_one_hot_with_no_cue():
    h = one_hot(np.array([2, -1, 0]), 3)
    np.testing.assert_array_equal(h, [[0, 0, 1], [0, 0, 0], [1, 0, 0]])


@pytest.mark.parametrize("call, message", [
    (lambda X, y: morphs(X, y, 0, 0, 3, 0.5, rng()), "different classes"),
    (lambda X, y: morphs(X, y, 0, 5, 3, 0.5, rng()), "does not occur"),
    (lambda X, y: morphs(X, y, 0, 1, 3, 1.5, rng()), "weight must be"),
    (lambda X, y: morphs(X, y, 0, 1, 3, [0.1, 0.2], rng()), "weight must be"),
    (lambda X, y: morphs(X, y[:2], 0, 1, 3, 0.5, rng()), "same m"),
    (lambda X, y: morphs(X, y, 0, 1, 0, 0.5, rng()), "n must be"),
    (lambda X, y: morphs(X, y, 0, 1, 3, 0.5, 0), "Generator"),
    (lambda X, y: morphs(X, y, 0, 1, 3, 0.5, rng(), noise=-1), "noise must be"),
    (lambda X, y: cues(y, 1, 0.5, rng()), "n_cues must be"),
    (lambda X, y: cues(y, 2, 1.2, rng()), "validity must be"),
    (lambda X, y: cues(y + 5, 2, 0.5, rng()), "labels must lie"),
    (lambda X, y: one_hot(np.array([3]), 3), "index must be"),
])
def test_bad_arguments_raise_clear_errors(data, call, message):
    with pytest.raises(StimulusError, match=message):
        call(*data)
