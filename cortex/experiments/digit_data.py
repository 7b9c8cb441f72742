"""What the digit experiments share: train / validation / test data, the graph checks, and training with a teacher.

The splits. The test split is the stratified, seeded ``test_size`` share of the images, exactly as
it always was, so the published figures stay comparable. ``evaluate_on: test`` (the default) trains
on all the other images and reports every figure on the test split. ``evaluate_on: validation`` cuts
a stratified, seeded ``validation_size`` share out of the training images, trains on the rest and
reports on that validation share, without ever touching the test split: that is the mode for tuning
a graph and for searches. ``results.json`` says under ``split`` which split its figures come from.

The data are the scikit-learn 8x8 digits, or (recognition only) a user's ``data: FILE.npz``
(:mod:`cortex.experiments.own_data`) with any sensor shape and any number of classes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field

from cortex.errors import StimulusError
from cortex.region import Strict

from .base import Experiment
from .trainer import batch_count, epoch_batches


class DigitParams(Strict):
    """Keys every digit experiment shares: which inputs and region to use, the splits and online training."""

    stimulus: str = "retina"
    label: str = "label"
    readout: str = "IT"
    test_size: float = Field(0.2, gt=0, lt=1)
    evaluate_on: Literal["test", "validation"] = "test"
    validation_size: float = Field(0.2, gt=0, lt=1)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    train_steps: int | None = Field(None, ge=0)
    max_train: int | None = Field(None, ge=10)
    learn_every: int | None = Field(None, ge=1)   # incremental learning (iPC): an update every N settling steps

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        return check_digit_graph(self, spec)


@dataclass(frozen=True)
class DigitData:
    """The examples a digit experiment trains on and is evaluated on (the test or the validation split).

    ``y_*`` are class indices into ``classes``; ``image_shape`` is (H, W) when an example is an image
    (occlusion and camouflage need one), else None; ``display_shape`` is how to draw one example.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    evaluated_on: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int] | None
    display_shape: tuple[int, ...]
    source: str
    record: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def load_digit_data(p, spec) -> DigitData:
    """The split ``p`` asks for, from the sklearn digits or from ``p.data``, cut to ``max_train`` / ``max_test``."""
    from sklearn.model_selection import train_test_split

    from cortex.stimuli.digits import load_digit_split

    shape = tuple(spec.inputs[p.stimulus].shape)
    if getattr(p, "data", None):
        X_tr, y_tr, X_te, y_te, classes, source = _own_data(p, spec)
    else:
        split = load_digit_split(test_size=p.test_size, seed=spec.seed)
        X_tr, y_tr, X_te, y_te = split.X_train, split.y_train, split.X_test, split.y_test
        classes, source = tuple(str(c) for c in range(split.n_classes)), "scikit-learn 8x8 digits"
    if p.evaluate_on == "validation":
        X_tr, X_ev, y_tr, y_ev = _stratified(train_test_split, X_tr, y_tr, p.validation_size, spec.seed,
                                             "validation_size", source)
    else:
        X_ev, y_ev = X_te, y_te
    X_tr, y_tr = X_tr[:p.max_train], y_tr[:p.max_train]
    n_eval = getattr(p, "max_test", None)
    X_ev, y_ev = X_ev[:n_eval], y_ev[:n_eval]
    record = {
        "evaluated_on": p.evaluate_on, "source": source, "classes": len(classes), "seed": spec.seed,
        "examples": {"train": int(len(y_tr)), p.evaluate_on: int(len(y_ev))},
        "test_size": p.test_size, **({"validation_size": p.validation_size} if p.evaluate_on == "validation" else {}),
        "stratified": True,
        "figures_from": f"every figure is measured on the {p.evaluate_on} split, the training energies on the "
                        "train split" + ("; the test split is not touched" if p.evaluate_on == "validation" else ""),
    }
    return DigitData(np.ascontiguousarray(X_tr), np.ascontiguousarray(y_tr), np.ascontiguousarray(X_ev),
                     np.ascontiguousarray(y_ev), p.evaluate_on, classes, shape if len(shape) == 2 else None,
                     shape if len(shape) in (2, 3) else (1, int(np.prod(shape))), source, record)


def _stratified(train_test_split, X, y, share, seed, key, source):
    try:
        a, b, ya, yb = train_test_split(X, y, test_size=share, random_state=seed, stratify=y)
    except ValueError as exc:
        raise StimulusError(f"{source}: cannot cut a stratified {key}={share} share ({exc}); give more examples "
                            "per class" + (", or X_test and y_test" if key == "test_size" else "")) from None
    return a, b, ya, yb


def _own_data(p, spec):
    """``p.data`` read, checked against the graph's input and read-out, with a test split cut if it has none."""
    from sklearn.model_selection import train_test_split

    from .own_data import class_indices, classes_of, read_labelled_npz

    arrays = read_labelled_npz(p.data)
    shape = tuple(spec.inputs[p.stimulus].shape)
    size = int(np.prod(shape))
    got = arrays["X"].shape[1:]
    if got != shape and got != (size,):
        listing = inputs_listing(spec)
        raise StimulusError(f"{p.data}: array 'X' holds examples of shape {list(got)} ({int(np.prod(got))} values), "
                            f"but input {p.stimulus!r} has shape {list(shape)}; give the graph an input of shape "
                            f"{list(got)} or name another with experiment.stimulus (inputs: {listing})")
    classes = classes_of(arrays)
    hypotheses, teacher = spec.regions[p.readout].hypotheses, spec.inputs[p.label].size
    if len(classes) != hypotheses or len(classes) != teacher:
        raise StimulusError(f"{p.data}: 'y' holds {len(classes)} classes ({', '.join(classes[:8])}"
                            f"{', ...' if len(classes) > 8 else ''}), but region {p.readout!r} has {hypotheses} "
                            f"hypotheses and input {p.label!r} {teacher} values; set both to {len(classes)}")
    X = arrays["X"].reshape(len(arrays["X"]), size)
    y = class_indices(p.data, arrays, "y")
    if "X_test" in arrays:
        X_te, y_te = arrays["X_test"].reshape(len(arrays["X_test"]), size), class_indices(p.data, arrays, "y_test")
        return X, y, X_te, y_te, classes, str(p.data)
    X_tr, X_te, y_tr, y_te = _stratified(train_test_split, X, y, p.test_size, spec.seed, "test_size", str(p.data))
    return X_tr, y_tr, X_te, y_te, classes, str(p.data)


def inputs_listing(spec) -> str:
    """``retina [8, 8], label [10]``: the graph's inputs and their shapes, for messages."""
    return ", ".join(f"{name} {list(i.shape)}" for name, i in spec.inputs.items())


def increasing(values: list[int], low: int, what: str = "step counts") -> list[int]:
    """A validator body: ``values`` must be distinct integers >= ``low`` in increasing order."""
    if any(v < low for v in values) or sorted(set(values)) != list(values):
        raise ValueError(f"must be {what} >= {low} in increasing order, got {values}")
    return values


def check_digit_graph(params, spec, *, predicts_stimulus: bool = False) -> list[tuple[str, str]]:
    """Cross-checks of a digit experiment's ``stimulus``, ``label`` and ``readout`` against the graph.

    With the sklearn digits the stimulus must have 64 values and the read-out 10 hypotheses; with
    ``data:`` the sizes come from the file and are checked when it is read. With ``predicts_stimulus``
    the read-out region must take the stimulus as its only input, so that its top-down prediction
    (``SettleResult.prediction``) is an image.
    """
    own = bool(getattr(params, "data", None))
    listing = inputs_listing(spec)
    out = []
    if params.stimulus not in spec.inputs or (not own and spec.inputs[params.stimulus].size != 64):
        what = "an input" if own else "an input of 8x8 = 64 values (the digits)"
        out.append((f"must name {what}, got {params.stimulus!r} (inputs: {listing})", "stimulus"))
    if params.readout not in spec.regions:
        out.append((f"must name a region, got {params.readout!r} (regions: {', '.join(spec.regions)})", "readout"))
    else:
        region = spec.regions[params.readout]
        if region.teacher != params.label:
            out.append((f"region {params.readout!r} must have teacher: {params.label} so training can clamp it to the "
                        "label", "readout"))
        elif not own and region.hypotheses != 10:
            out.append((f"region {params.readout!r} must have 10 hypotheses, one per digit class", "readout"))
        elif predicts_stimulus and [c.source for c in spec.sources(params.readout, "input")] != [params.stimulus]:
            out.append((f"region {params.readout!r} must take only {params.stimulus!r} as input (inputs: "
                        f"[{params.stimulus}]) so that its prediction of its input is an image", "readout"))
    if params.label not in spec.inputs or (not own and spec.inputs[params.label].size != 10):
        what = "an input (one-hot class)" if own else "an input of 10 values (one-hot digit class)"
        out.append((f"must name {what}, got {params.label!r} (inputs: {listing})", "label"))
    return out


class DigitExperiment(Experiment):
    """An experiment on labelled images: ``data()`` gives the split as ``data["digits"]``, trained with a teacher."""

    def data(self) -> dict:
        return {"digits": load_digit_data(self.p, self.spec)}

    def trainer(self, model, desc: str = "training", **settle):
        """The online training loop, learning every ``learn_every`` settling steps when the experiment says so
        (every loop of the run: pretraining, training, few-shot; docs/learning.md)."""
        return super().trainer(model, desc, learn_every=self.p.learn_every, **settle)

    def splits(self, data: dict) -> dict:
        return data["digits"].record

    def train(self, data: dict) -> dict:
        """One model trained on the training split (``"model"``) and its energy curve (``"curve"``)."""
        from cortex.model import Model

        d = data["digits"]
        model = Model(self.spec)
        return {"model": model, "curve": self.train_digits(model, d.X_train, d.y_train, self.rng())}

    @property
    def rate(self) -> float:
        """The settling rate of the test settles: the experiment's ``rate`` if it has one, else the graph's."""
        own = getattr(self.p, "rate", None)
        return self.spec.settle.rate if own is None else own

    def train_digits(self, model, X, y, rng: np.random.Generator, *, epochs: int | None = None,
                     desc: str = "training", regions=None) -> list[float]:
        """Settle each shuffled mini-batch with the label clamped to the one-hot class, then learn; the energy curve.
        ``X``: the experiment's stimulus, or a dict input name -> array (one row per example); ``regions``: only
        those learn."""
        p = self.p
        epochs = p.epochs if epochs is None else epochs
        eye = np.eye(self.spec.inputs[p.label].size, dtype=np.float32)
        X = X if isinstance(X, dict) else {p.stimulus: X}
        batches = ({**{k: v[i] for k, v in X.items()}, p.label: eye[y[i]]}
                   for i in epoch_batches(len(y), p.batch_size, epochs, rng))
        return self.trainer(model, desc, steps=p.train_steps, regions=regions).fit(batches, total=batch_count(len(y), p.batch_size,
                                                                                               epochs))
