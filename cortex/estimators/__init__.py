"""scikit-learn estimators over a region graph: a classifier read off a region's hypotheses, and settled features.

Why: cross-validation, grid search and pipelines are how a researcher compares a model with everything else,
and they all speak scikit-learn's protocol. These classes follow its conventions: ``__init__`` only stores
hyperparameters, everything learned ends in ``_``, ``fit`` builds a fresh model, ``partial_fit`` is the
online verb, and ``random_state`` becomes the graph's seed. Both pass scikit-learn's ``check_estimator``.

Graph keys are hyperparameters too: ``GraphClassifier("digits", IT__factors=4, settle__steps=30)`` overrides
``regions.IT.factors`` and ``settle.steps`` of the graph, so ``GridSearchCV`` can search them
(``{"IT__factors": [4, 8]}``). A key whose first part names a region or an input is looked up under
``regions`` or ``inputs``; any other key is a path from the top of the graph (``settle__rate``, ``dtype``).

>>> from sklearn.datasets import load_digits
>>> from sklearn.model_selection import cross_val_score
>>> from cortex.estimators import GraphClassifier
>>> X, y = load_digits(return_X_y=True)
>>> cross_val_score(GraphClassifier("digits", random_state=0), X / 16, y, cv=3)   # doctest: +SKIP
array([0.967, 0.968, 0.952])
"""
from .classifier import GraphClassifier
from .transformer import SPARSE_CODE, GraphTransformer

__all__ = ["GraphClassifier", "GraphTransformer", "SPARSE_CODE"]
