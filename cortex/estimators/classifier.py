"""GraphClassifier: classification by analysis by synthesis, as a scikit-learn classifier."""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils import check_scalar
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from cortex.errors import CortexError

from .base import GraphEstimator
from .graph_edit import fresh_name, set_sensor, teachers, top_regions


class GraphClassifier(ClassifierMixin, GraphEstimator):
    """Classify by analysis by synthesis: the read-out region's hypotheses compete and the winner is the class.

    Training is online, as in ``cortex run digits``: each shuffled mini-batch settles with the read-out
    region clamped to the one-hot labels (its teacher), then every region makes one local update.
    Prediction settles each stimulus without the teacher and reads the read-out's activity.

    Parameters
    ----------
    graph : str, path, NetworkSpec or dict, default="digits"
        The region graph: a shipped name, a YAML file, a validated spec or plain data.
    input : str, optional
        The input that ``X`` feeds. Inferred when the graph has one input besides teachers. Its shape
        becomes ``X.shape[1:]`` unless the sizes already agree (then the graph's shape is kept).
    readout : str, optional
        The region read out. Inferred as the one region with a ``teacher``, else the one top region
        (which is then given a teacher input). Its hypotheses become one per class.
    epochs : int, default=3
        Passes over the training data in ``fit``.
    batch_size : int, default=32
        Stimuli per online update.
    train_steps, test_steps : int, optional
        Settling steps while training and while predicting (default: the graph's ``settle.steps``).
        Prediction runs every step (``tol`` 0), so a stimulus' prediction never depends on its batch.
    fill_in : int, default=0
        Rounds of filling in from the top down at prediction, as ``experiment.fill_in`` in ``cortex run``: pixels
        the read-out's hypotheses, carried down to the image, do not explain over a ``fill_in_pool`` neighbourhood
        are filled by that prediction and the graph settles again (0: one settle). Needs a 2-D sensor.
    fill_in_quantile : float, default=0.9995
        A pixel is filled when its pooled residual tops this quantile of the same residuals on the images ``fit``
        (or the last ``partial_fit``) trained on.
    fill_in_pool : int, default=3
        Side of the neighbourhood the residual is averaged over.
    fill_in_candidates : int, default=1
        >1: each of the read-out's most probable hypotheses completes the image in turn, and per image the
        completion of lowest energy wins (docs/depth.md).
    fill_in_gate : float or None, default=None
        Fill in only the images whose residual is concentrated: its largest mean over a ``fill_in_gate_window``
        patch, over its mean, tops this quantile of the same ratio on the training images (None: every image).
        Noise spreads the residual and is left to one settle; an occluder piles it up (docs/depth.md).
    fill_in_gate_window : int, default=4
        Side of the patch the gate's concentration is measured over.
    random_state : int, RandomState or None, default=None
        The graph's seed (weights, noise, the order of mini-batches); None keeps the graph's own seed.
    verbose : int, default=0
        Show a progress bar while training when > 0.
    **overrides
        Graph keys written ``REGION__KEY``, ``INPUT__KEY`` or ``settle__KEY`` (``IT__factors=4``), checked
        by ``fit`` like the YAML; :meth:`get_params` returns them, so grid searches can vary them.

    Attributes
    ----------
    model_ : cortex.Model
        The trained model.
    classes_ : ndarray of shape (n_classes,)
        The class labels, in the order of the read-out's hypotheses.
    input_, readout_, teacher_ : str
        The input ``X`` feeds, the region read out and the input that clamps it while training.
    input_shape_ : tuple of int
        The sensor shape of one row of ``X``.
    n_features_in_ : int
        Number of features (``X.shape[1]``).
    training_energy_ : list of float
        Final energy of every settled training batch, in order.
    fill_in_threshold_ : float
        The calibrated threshold of filling in (only with ``fill_in`` > 0).

    See Also
    --------
    GraphTransformer : the settled activity of a region as features.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import cross_val_score
    >>> X, y = load_digits(return_X_y=True)
    >>> cross_val_score(GraphClassifier("digits", random_state=0), X / 16, y, cv=3)   # doctest: +SKIP
    array([0.967, 0.968, 0.952])
    """

    default_graph = "digits"

    def __init__(self, graph="digits", *, input=None, readout=None, epochs=3, batch_size=32, train_steps=None,
                 test_steps=None, fill_in=0, fill_in_quantile=0.9995, fill_in_pool=3, fill_in_candidates=1,
                 fill_in_gate=None, fill_in_gate_window=4, random_state=None, verbose=0, **overrides):
        self.graph = graph
        self.input = input
        self.readout = readout
        self.epochs = epochs
        self.batch_size = batch_size
        self.train_steps = train_steps
        self.test_steps = test_steps
        self.fill_in = fill_in
        self.fill_in_quantile = fill_in_quantile
        self.fill_in_pool = fill_in_pool
        self.fill_in_candidates = fill_in_candidates
        self.fill_in_gate = fill_in_gate
        self.fill_in_gate_window = fill_in_gate_window
        self.random_state = random_state
        self.verbose = verbose
        for key, value in overrides.items():
            setattr(self, key, value)

    def fit(self, X, y):
        """Build a fresh model for ``X``'s sensor shape and ``y``'s classes, then train it for ``epochs`` passes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sensor_shape)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : GraphClassifier
        """
        self._check_training_params()
        X, y = self._validate(X, reset=True, y=y)
        check_classification_targets(y)
        self._start(X, np.unique(y))
        self._passes(X, self.epochs, self._teacher(y))
        self._calibrate(X)
        return self

    def partial_fit(self, X, y, classes=None):
        """One online pass over ``X``; the first call builds the model and must name every class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sensor_shape)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Every class that will ever appear: required on the first call, checked on later ones.

        Returns
        -------
        self : GraphClassifier
        """
        first = not hasattr(self, "model_")
        if first:
            self._check_training_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._validate(X, reset=first, y=y)
        check_classification_targets(y)
        if first:
            self._start(X, np.unique(np.asarray(classes)))
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from the classes of the first partial_fit call "
                             f"{list(self.classes_)}")
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y holds labels {list(unseen)} that are not among classes {list(self.classes_)}")
        self._passes(X, 1, self._teacher(y))
        self._calibrate(X)
        return self

    def predict_proba(self, X):
        """Probability of each class: the read-out's hypothesis activity, normalised per stimulus.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sensor_shape)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``. A softmax read-out's activity already is a
            distribution; other kinds' non-negative activity is divided by its sum.
        """
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        if self.fill_in:
            from cortex.experiments.occluders import fill_in

            filled, _ = fill_in(self._settle_test, self._top_down, X.reshape(len(X), -1),
                                threshold=self.fill_in_threshold_, rounds=self.fill_in,
                                candidates=self.fill_in_candidates, gate=self.fill_in_gate_threshold_,
                                window=self.fill_in_gate_window)
            activity = filled.activity[self.readout_]
        else:
            activity = self._settled(X, self.readout_, self.test_steps)
        activity = np.clip(activity.astype(np.float64), 0.0, None)
        total = activity.sum(axis=1, keepdims=True)
        uniform = np.full_like(activity, 1.0 / activity.shape[1])
        return np.where(total > 0, activity / np.where(total > 0, total, 1.0), uniform)

    def predict(self, X):
        """The class whose hypothesis wins the competition for each stimulus.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, *sensor_shape)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ----- internals ---------------------------------------------------------------------------------------
    def _start(self, X, classes):
        data, where = self._graph_data()
        regions = data.get("regions") or {}
        readout = self._readout(data)
        taught = teachers(data)
        teacher = regions[readout].get("teacher")
        if not teacher:   # a graph without labels: the read-out gets a teacher input of its own
            teacher = fresh_name("label", set(data.get("inputs") or {}) | set(regions))
            regions[readout]["teacher"] = teacher
            taught.add(teacher)
        self.input_ = set_sensor(data, X.shape[1:], self.input, skip=taught)
        if teacher == self.input_:
            raise CortexError(f"input {self.input_!r} is the teacher of region {readout!r}; X must feed another input")
        regions[readout]["hypotheses"] = len(classes)
        data.setdefault("inputs", {})[teacher] = {"shape": [len(classes)]}
        self._build(data, where, X)
        self.classes_, self.readout_, self.teacher_ = classes, readout, teacher

    def _readout(self, data: dict) -> str:
        regions = data.get("regions") or {}
        if self.readout is not None:
            if self.readout not in regions:
                raise CortexError(f"readout={self.readout!r} is not a region of the graph; its regions are "
                                  f"{', '.join(regions)}")
            return self.readout
        taught = [n for n, p in regions.items() if isinstance(p, dict) and p.get("teacher")]
        candidates = taught or top_regions(data)
        if len(candidates) != 1:
            what = "regions with a teacher" if taught else "top regions"
            raise CortexError(f"cannot tell which region to read out: the graph has {len(candidates)} {what} "
                              f"({', '.join(candidates)}); name one with readout=")
        return candidates[0]

    # ----- filling in ---------------------------------------------------------------------------------------
    def _check_training_params(self) -> None:
        super()._check_training_params()
        check_scalar(self.fill_in, "fill_in", numbers.Integral, min_val=0, max_val=20)
        check_scalar(self.fill_in_quantile, "fill_in_quantile", numbers.Real, min_val=0, max_val=1,
                     include_boundaries="neither")
        check_scalar(self.fill_in_pool, "fill_in_pool", numbers.Integral, min_val=1, max_val=15)
        check_scalar(self.fill_in_candidates, "fill_in_candidates", numbers.Integral, min_val=1)
        if self.fill_in_gate is not None:
            check_scalar(self.fill_in_gate, "fill_in_gate", numbers.Real, min_val=0, max_val=1,
                         include_boundaries="neither")
        check_scalar(self.fill_in_gate_window, "fill_in_gate_window", numbers.Integral, min_val=1, max_val=15)

    def _calibrate(self, X) -> None:
        """With ``fill_in``: the threshold, a quantile of the pooled residuals on the clean images just learned."""
        if not self.fill_in:
            return
        from cortex.experiments.occluders import TopDown, calibrate

        sensor = tuple(self.model_.spec.inputs[self.input_].shape)
        if len(sensor) != 2:
            raise ValueError(f"fill_in={self.fill_in} fills in pixels by their neighbourhood and needs a 2-D sensor; "
                             f"input {self.input_!r} has shape {sensor}: pass images, or fill_in=0")
        if self.fill_in_candidates > len(self.classes_):
            raise ValueError(f"fill_in_candidates={self.fill_in_candidates} exceeds the {len(self.classes_)} classes "
                             "(the completions compete among the read-out's hypotheses)")
        try:
            self._top_down = TopDown(self.model_, readout=self.readout_, stimulus=self.input_,
                                     image_shape=sensor, pool=self.fill_in_pool)
        except CortexError as exc:
            raise ValueError(f"fill_in={self.fill_in}: {exc}; pass fill_in=0") from None
        self.fill_in_threshold_, self.fill_in_gate_threshold_ = calibrate(
            self._settle_test, self._top_down, X.reshape(len(X), -1), self.fill_in_quantile, self.fill_in_gate,
            self.fill_in_gate_window)

    def _settle_test(self, X):
        """Every row of ``X`` settled at the prediction's steps: what filling in settles with."""
        return self._settle_rows(X, self.test_steps)

    def _teacher(self, y):
        labels = np.searchsorted(self.classes_, y)
        eye = np.eye(len(self.classes_), dtype=np.float32)
        return lambda idx: {self.teacher_: eye[labels[idx]]}
