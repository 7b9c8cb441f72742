"""The stages every experiment fills in; the runner (:mod:`cortex.runner`) calls them in order.

An experiment is one module in ``cortex/experiments/``: a ``Params`` model for its ``experiment:`` block
and a subclass of :class:`Experiment` registered by name. It writes no files, takes no time and opens no
folders itself. The stages, each returning a plain dict:

1. ``data()``: stimuli and splits, drawn from :meth:`Experiment.rng` (same seed, same arrays);
2. ``train(data)``: the trained models and their training curves; ``"model"`` is saved as ``model.npz``;
3. ``evaluate(data, trained)``: the numbers that go into ``results.json``; keys that start with ``_``
   (settled traces, say) are handed to ``figures`` and not written;
4. ``figures(data, trained, results)``: ``{name: matplotlib Figure}``, saved as ``name.png``; and
   ``files(data, trained, results)``: ``{file name: text}`` written beside them (default none);
5. ``summary(results)``: the lines ``cortex run`` prints (a static method: it also reads results.json).

The runner adds the seed, the provenance, the time of every stage, writes the run folder as one
transaction and turns Ctrl-C into a clean exit. A whole experiment, in one file::

    from typing import Literal

    import numpy as np

    from cortex.experiments import register
    from cortex.experiments.base import Experiment
    from cortex.experiments.trainer import epoch_batches
    from cortex.model import Model
    from cortex.plotting import plot_energy
    from cortex.region import Strict

    class Params(Strict):
        kind: Literal["mean_image"] = "mean_image"
        stimulus: str = "retina"

    @register("mean_image")
    class MeanImage(Experiment):
        Params = Params

        def data(self):
            return {"X": self.rng(1).random((100, self.spec.inputs[self.p.stimulus].size), dtype=np.float32)}

        def train(self, data):
            model = Model(self.spec)
            curve = self.trainer(model).fit({self.p.stimulus: data["X"][i]}
                                            for i in epoch_batches(100, 10, 2, self.rng(0)))
            return {"model": model, "curve": curve}

        def evaluate(self, data, trained):
            return {"energy_first_last": [trained["curve"][0], trained["curve"][-1]]}

        def figures(self, data, trained, results):
            return {"training": plot_energy({"batch": trained["curve"]})}
"""
from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Iterator

import numpy as np

from .trainer import OnlineTrainer


class Experiment:
    """Base of every experiment kind: holds the graph (``spec``), the validated ``experiment:`` block (``p``) and the seed."""

    Params: ClassVar[type]
    kind_name: ClassVar[str]      # set by ``@register(name)``

    def __init__(self, spec, params=None):
        self.spec = spec
        self.p = spec.experiment if params is None else params
        self.seed: int = spec.seed
        self.progress = True
        self.timer = None         # the runner's PhaseTimer while a run is in progress

    # ----- what stages may use ---------------------------------------------------------------------
    def rng(self, *keys: int) -> np.random.Generator:
        """A Generator for one purpose: ``rng()`` from the seed alone, ``rng(2, i)`` from ``[seed, 2, i]``."""
        return np.random.default_rng([self.seed, *keys] if keys else self.seed)

    def trainer(self, model, desc: str = "training", **settle) -> OnlineTrainer:
        """The online training loop for ``model``, with this run's progress setting; ``settle`` as for ``settle``."""
        return OnlineTrainer(model, desc=desc, progress=self.progress, **settle)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a named part of a stage (e.g. ``baselines`` inside ``evaluate``) apart in ``results['seconds']``."""
        if self.timer is None:
            yield
        else:
            with self.timer.phase(name):
                yield

    def run(self, out, progress: bool = True) -> dict:
        """Run every stage and write ``out`` (see :func:`cortex.runner.execute`); returns the results."""
        from cortex.runner import execute

        return execute(self, out, progress=progress)

    # ----- the stages --------------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """Stimuli and splits (default: none)."""
        return {}

    def train(self, data: dict) -> dict[str, Any]:
        """Trained models and curves; ``"model"`` (a :class:`cortex.Model`) is saved as ``model.npz``."""
        return {}

    def evaluate(self, data: dict, trained: dict) -> dict[str, Any]:
        """The results: JSON-ready numbers, lists and dicts (NumPy values are converted); ``_``-keys for figures only."""
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate(data, trained)")

    def figures(self, data: dict, trained: dict, results: dict) -> dict[str, Any]:
        """``{name: matplotlib Figure}``, each saved as ``name.png`` (default: none)."""
        return {}

    def files(self, data: dict, trained: dict, results: dict) -> dict[str, str]:
        """``{file name: text}`` written into the run folder beside results.json (a grown graph, say; default none)."""
        return {}

    def splits(self, data: dict) -> dict | None:
        """Which examples trained and which were evaluated, written as ``results['split']`` (default: none)."""
        return None

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints above the time line."""
        return ""
