"""What the digit experiments share: online training with the label as a teacher, and the graph checks it needs.

Training is the recognition experiment's: mini-batches of digits, each settled with the read-out region
clamped to the one-hot label, then one local synaptic update (``model.learn``). Recognition, camouflage and
filling-in all train this way, so their models are comparable.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field
from tqdm.auto import tqdm

from cortex.region import Strict


class DigitParams(Strict):
    """Keys every digit experiment shares: which inputs and region to use, the split and online training."""

    stimulus: str = "retina"
    label: str = "label"
    readout: str = "IT"
    test_size: float = Field(0.2, gt=0, lt=1)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    train_steps: int | None = Field(None, ge=0)
    max_train: int | None = Field(None, ge=10)

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        return check_digit_graph(self, spec)


def digit_data(p: DigitParams, spec):
    """The seeded, stratified digit split, with training cut to ``p.max_train`` and test to ``p.max_test`` if set.

    Returns (split, X_train, y_train, X_test, y_test).
    """
    from cortex.stimuli.digits import load_digit_split

    split = load_digit_split(test_size=p.test_size, seed=spec.seed)
    n_train, n_test = p.max_train, getattr(p, "max_test", None)
    return split, split.X_train[:n_train], split.y_train[:n_train], split.X_test[:n_test], split.y_test[:n_test]


def increasing(values: list[int], low: int, what: str = "step counts") -> list[int]:
    """A validator body: ``values`` must be distinct integers >= ``low`` in increasing order."""
    if any(v < low for v in values) or sorted(set(values)) != list(values):
        raise ValueError(f"must be {what} >= {low} in increasing order, got {values}")
    return values


def train_online(model, X, y, *, stimulus: str, label: str, batch_size: int, epochs: int, rng: np.random.Generator,
                 steps: int | None = None, desc: str = "training", progress: bool = True) -> list[float]:
    """Settle each shuffled mini-batch with ``label`` clamped to the one-hot class, then learn from it.

    Parameters
    ----------
    model : a :class:`cortex.model.Model` whose read-out region has ``teacher: label``.
    X, y : (n, 64) digits and (n,) class labels 0..9.
    stimulus, label : the graph's input names for the image and the one-hot teacher.
    batch_size, epochs, rng : mini-batching (see :func:`cortex.stimuli.digits.batches`).
    steps : settling steps per batch (None: the graph's ``settle.steps``).

    Returns
    -------
    The final energy of every settled batch, in order (the training curve).
    """
    from cortex.stimuli.digits import batches

    eye = np.eye(10, dtype=np.float32)
    n_batches = epochs * -(-len(X) // batch_size)
    curve = []
    with tqdm(total=n_batches, desc=desc, unit="batch", disable=not progress, leave=False) as bar:
        for xb, yb in batches(X, y, batch_size, rng, epochs=epochs):
            result = model.settle({stimulus: xb, label: eye[yb]}, steps=steps)
            model.learn(result)
            curve.append(float(result.energy[-1]) if result.steps else result.start_energy)
            bar.update(1)
            bar.set_postfix(energy=f"{curve[-1]:.2f}")
    return curve


def check_digit_graph(params, spec, *, predicts_stimulus: bool = False) -> list[tuple[str, str]]:
    """Cross-checks of a digit experiment's ``stimulus``, ``label`` and ``readout`` against the graph.

    With ``predicts_stimulus`` the read-out region must take the stimulus as its only input, so that its
    top-down prediction (``SettleResult.prediction``) is an image.
    """
    out = []
    if params.stimulus not in spec.inputs or spec.inputs[params.stimulus].size != 64:
        out.append((f"must name an input of 8x8 = 64 values (the digits), got {params.stimulus!r}", "stimulus"))
    if params.readout not in spec.regions:
        out.append((f"must name a region, got {params.readout!r} (regions: {', '.join(spec.regions)})", "readout"))
    else:
        region = spec.regions[params.readout]
        if region.teacher != params.label:
            out.append((f"region {params.readout!r} must have teacher: {params.label} so training can clamp it to the "
                        "label", "readout"))
        elif region.hypotheses != 10:
            out.append((f"region {params.readout!r} must have 10 hypotheses, one per digit class", "readout"))
        elif predicts_stimulus and [c.source for c in spec.sources(params.readout, "input")] != [params.stimulus]:
            out.append((f"region {params.readout!r} must take only {params.stimulus!r} as input (inputs: "
                        f"[{params.stimulus}]) so that its prediction of its input is an image", "readout"))
    if params.label not in spec.inputs or spec.inputs[params.label].size != 10:
        out.append((f"must name an input of 10 values (one-hot digit class), got {params.label!r}", "label"))
    return out
