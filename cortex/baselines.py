"""Discriminative baselines to compare the generative model against.

Why: a claim that the cortex model classifies, denoises or learns from few examples well only
means something next to standard discriminative classifiers trained on the same pixels. These
are deliberately plain scikit-learn models with fixed settings, so that the numbers are
reproducible and not tuned in the baselines' favour or against them.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from cortex import interrupts
from cortex.errors import StimulusError
from cortex.stimuli import checks
from cortex.threadpool import limited

__all__ = ["BASELINES", "EARLY_STOPPING_MIN_SAMPLES", "fit_baselines", "score_baselines"]

BASELINES: tuple[str, ...] = ("logistic_regression", "mlp")

#: The MLP holds out 10% of the data for early stopping only from this many examples on. Below
#: it the held-out set is too small to give a steady stopping signal (under ~50 per class for 10
#: classes) and the 10% is missed in training: on the digits' 1,437 training images early stopping
#: costs the MLP 1-4 points of test accuracy, while plain training converges well within
#: ``max_iter``.
EARLY_STOPPING_MIN_SAMPLES: int = 5000


@limited
def fit_baselines(X, y, seed: int = 0) -> dict:
    """Fit every baseline in ``BASELINES`` on raw pixels.

    Parameters
    ----------
    X : (n, p) features, e.g. pixels in [0, 1].
    y : (n,) class labels; at least two classes.
    seed : ``random_state`` of the MLP (weights init, batch order); logistic regression with
        lbfgs is deterministic.

    Returns
    -------
    dict mapping each name in ``BASELINES`` to its fitted scikit-learn estimator.

    Notes
    -----
    Tiny training sets (e.g. 5 per class) may stop the solvers before their tolerance; that is
    expected there, so ``ConvergenceWarning`` is silenced inside this call only.
    """
    arr, labels = checks.labelled(X, y, nonempty=True)
    if np.unique(labels).size < 2:
        raise StimulusError(f"y must hold at least 2 classes, got {np.unique(labels).tolist()}")
    models = {
        "logistic_regression": LogisticRegression(max_iter=2000),
        "mlp": MLPClassifier(hidden_layer_sizes=(128,), max_iter=600, random_state=seed,
                             early_stopping=arr.shape[0] >= EARLY_STOPPING_MIN_SAMPLES),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Training interrupted by user")
        for model in models.values():
            model.fit(arr, labels)
            interrupts.check()   # the MLP catches Ctrl-C and returns half-trained: the run must stop here instead
    return models


@limited
def score_baselines(models: dict, X, y) -> dict[str, float]:
    """Accuracy of each fitted baseline on ``(X, y)``.

    Parameters
    ----------
    models : as returned by ``fit_baselines``.
    X, y : held-out examples and their labels.

    Returns
    -------
    dict mapping each model name to its accuracy in [0, 1].
    """
    arr, labels = checks.labelled(X, y, nonempty=True)
    return {name: float(np.mean(model.predict(arr) == labels)) for name, model in models.items()}
