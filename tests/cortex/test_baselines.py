"""Tests for cortex.baselines: the discriminative comparison points on the digits."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from cortex.baselines import BASELINES, fit_baselines, score_baselines
from cortex.errors import StimulusError
from cortex.stimuli.digits import few_shot, load_digit_split


@pytest.fixture(scope="module")
def split():
    return load_digit_split(test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def clean_models(split):
    return fit_baselines(split.X_train, split.y_train, seed=0)


def test_baselines_names(clean_models):
    assert BASELINES == ("logistic_regression", "mlp")
    assert tuple(clean_models) == BASELINES


def test_clean_test_accuracy(clean_models, split):
    scores = score_baselines(clean_models, split.X_test, split.y_test)
    assert set(scores) == set(BASELINES)
    assert all(isinstance(v, float) for v in scores.values())
    # measured (seed 0): logistic regression 0.967, MLP 0.975
    assert scores["logistic_regression"] >= 0.93, scores
    assert scores["mlp"] >= 0.93, scores


def test_few_shot_fit_runs_without_warnings(split):
    Xf, yf = few_shot(split.X_train, split.y_train, 5, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models = fit_baselines(Xf, yf, seed=0)
    scores = score_baselines(models, split.X_test, split.y_test)
    # 50 examples: well above chance (0.1), below the full-data scores; measured ~0.86 / ~0.84
    for name in BASELINES:
        assert 0.5 <= scores[name] <= 1.0, scores


def test_mlp_seeded(split):
    Xf, yf = few_shot(split.X_train, split.y_train, 5, np.random.default_rng(1))
    a = fit_baselines(Xf, yf, seed=3)["mlp"].predict_proba(split.X_test)
    b = fit_baselines(Xf, yf, seed=3)["mlp"].predict_proba(split.X_test)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("X, y, name", [
    (np.zeros((10, 8, 8)), np.arange(10) % 2, "X"),
    (np.zeros((10, 64)), np.arange(9) % 2, "len(y)"),
    (np.zeros((10, 64)), np.zeros(10, dtype=int), "2 classes"),
])
def test_fit_bad_arguments(X, y, name):
    with pytest.raises(StimulusError, match=name.replace("(", r"\(").replace(")", r"\)")):
        fit_baselines(X, y)


def test_score_bad_arguments(clean_models):
    with pytest.raises(StimulusError, match="len"):
        score_baselines(clean_models, np.zeros((5, 64)), np.zeros(4))
