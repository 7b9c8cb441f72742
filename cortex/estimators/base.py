"""What both estimators share: graph overrides as parameters, building the model, online passes, pickling."""
from __future__ import annotations

import numbers
import tempfile
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_scalar
from sklearn.utils.validation import validate_data
from tqdm.auto import tqdm

from cortex.errors import CortexError

from .graph_edit import apply_override, graph_data, seed_of

#: stimuli settled together at prediction time; every stimulus runs all its steps (``tol`` 0), so this
#: bounds memory and never changes a result
PREDICT_CHUNK = 1024
_NO_Y = "no_validation"


class GraphEstimator(BaseEstimator):
    """Base of :class:`GraphClassifier` and :class:`GraphTransformer` (not for direct use).

    Constructor arguments are the subclass's; any other keyword is a graph override (``IT__factors=4``),
    stored as an attribute of that name, returned by :meth:`get_params` and checked by ``fit``.
    """

    default_graph = None

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator: the constructor's arguments and every graph override (``REGION__KEY``)."""
        params = super().get_params(deep=deep)
        params.update(self._overrides())
        return params

    def set_params(self, **params):
        """Set constructor arguments or graph overrides (``IT__factors=4``); overrides are checked by ``fit``."""
        names = set(self._get_param_names())
        for key, value in params.items():
            if key not in names:
                setattr(self, key, value)
        own = {k: v for k, v in params.items() if k in names}
        return super().set_params(**own) if own else self

    def _overrides(self) -> dict:
        """Graph overrides: attributes that are neither constructor arguments, nor learned (``_`` last), nor private."""
        names = set(self._get_param_names())
        return {k: v for k, v in vars(self).items() if k not in names and not k.startswith("_") and not k.endswith("_")}

    # ----- building ---------------------------------------------------------------------------------------
    def _graph_data(self) -> tuple[dict, str]:
        """The graph as plain data with the overrides and the seed applied (validated later, by the build)."""
        data, where = graph_data(self.default_graph if self.graph is None else self.graph)
        for key, value in sorted(self._overrides().items()):
            apply_override(data, key, value, type(self).__name__, self._get_param_names())
        seed = seed_of(self.random_state)
        if seed is not None:
            data["seed"] = seed
        return data, where

    def _build(self, data: dict, where: str, X: np.ndarray) -> None:
        """Validate the edited graph, build the model, and start the learned state."""
        from cortex.model import Model
        from cortex.spec import spec_from_dict

        self.model_ = Model(spec_from_dict(data, file=f"{where} as {type(self).__name__}"))
        self.input_shape_ = tuple(X.shape[1:])
        self.rng_ = np.random.default_rng([self.model_.spec.seed, 1])   # mini-batch order, continued by partial_fit
        self.training_energy_ = []

    def _check_training_params(self) -> None:
        check_scalar(self.epochs, "epochs", numbers.Integral, min_val=1)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, min_val=1)
        for name in ("train_steps", "test_steps", "steps"):
            value = getattr(self, name, None)
            if value is not None:
                check_scalar(value, name, numbers.Integral, min_val=0)

    # ----- running ----------------------------------------------------------------------------------------
    def _passes(self, X: np.ndarray, epochs: int, teach=None, desc: str = "training") -> None:
        """Online learning: shuffled mini-batches, each settled (teacher clamped when given), then learned from."""
        n = len(X)
        energy = []
        with tqdm(total=epochs * -(-n // self.batch_size), desc=desc, unit="batch", disable=not self.verbose,
                  leave=False) as bar:
            for _ in range(epochs):
                order = self.rng_.permutation(n)
                for start in range(0, n, self.batch_size):
                    idx = order[start:start + self.batch_size]
                    stimuli = {self.input_: X[idx], **(teach(idx) if teach is not None else {})}
                    result = self.model_.settle(stimuli, steps=self.train_steps)
                    self.model_.learn(result)
                    energy.append(float(result.energy[-1]) if result.steps else result.start_energy)
                    bar.update(1)
        self.training_energy_ = self.training_energy_ + energy
        if not np.all(np.isfinite(energy)):
            raise CortexError(f"training diverged (energy {energy[-1]}); lower the learning rates or the precision")

    def _settled(self, X: np.ndarray, region: str, steps) -> np.ndarray:
        """(n, hypotheses) final activity of ``region`` for every row (see :meth:`_settle_rows`)."""
        return self._settle_rows(X, steps).activity[region]

    def _settle_rows(self, X: np.ndarray, steps=None):
        """One SettleResult for every row of ``X`` (any layout of the fitted sensor's values), settled in chunks
        without noise, every step run, in the model's dtype: rows settled in batches of other sizes agree to its
        precision (BLAS blocks a matmul by its shape), not to float64's. It holds no device state."""
        X = X.reshape(len(X), *self.input_shape_)
        parts = [self.model_.settle({self.input_: X[i:i + PREDICT_CHUNK]}, steps=steps, tol=0.0, noise=False)
                 for i in range(0, len(X), PREDICT_CHUNK)]
        activity = {name: np.concatenate([r.activity[name] for r in parts]) for name in parts[0].activity}
        for region, a in activity.items():
            if not np.all(np.isfinite(a)):
                raise CortexError(f"settling gave non-finite activity in region {region!r}")
        return parts[0].with_stimuli(activity, np.concatenate([r.stimulus_energy for r in parts]))

    def _validate(self, X, reset: bool, y=_NO_Y):
        """scikit-learn's checks (and messages) for X and y; any sensor shape, float32 for the model."""
        kw = dict(allow_nd=True, dtype=[np.float32, np.float64], reset=reset)
        no_y = isinstance(y, str) and y == _NO_Y
        X, y = (validate_data(self, X, **kw), None) if no_y else validate_data(self, X, y, **kw)
        if not reset and tuple(X.shape[1:]) != tuple(self.input_shape_):
            raise ValueError(f"X has sensor shape {tuple(X.shape[1:])}, but {type(self).__name__} was fitted on "
                             f"{tuple(self.input_shape_)}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        return X if no_y else (X, y)

    # ----- pickling: the model travels as a checkpoint (the array module inside it cannot be pickled) ------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None:
            with tempfile.TemporaryDirectory() as tmp:
                model.save(Path(tmp) / "model.npz")
                state["_checkpoint"] = (Path(tmp) / "model.npz").read_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        blob = state.pop("_checkpoint", None)
        if blob is not None:
            from cortex.checkpoint import load_checkpoint

            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "model.npz").write_bytes(blob)
                state["model_"] = load_checkpoint(Path(tmp) / "model.npz")
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
