"""Online training, written once: settle each batch (teachers clamped), then one local update (or, with
``learn_every``, an update every few settling steps while it settles).

Every experiment trains this way; what differs is only what a batch holds (a digit and its label, a
cue too, two labels, freshly drawn gratings), so the batches come in as an iterable of input dicts.
:func:`epoch_batches` gives the usual shuffled mini-batches of a fixed training set.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import numpy as np
from tqdm.auto import tqdm

from cortex import interrupts


def epoch_batches(n: int, batch_size: int, epochs: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of shuffled mini-batches: each of ``n`` examples once per epoch, the last batch kept if partial.

    The permutation of an epoch is drawn when its first batch is taken, so an iterable that draws more
    from ``rng`` per batch (cues, say) interleaves exactly as a hand-written loop would.
    """
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def batch_count(n: int, batch_size: int, epochs: int = 1) -> int:
    """How many batches :func:`epoch_batches` yields."""
    return epochs * -(-n // batch_size)


class OnlineTrainer:
    """Settle every batch of inputs with ``model`` (teachers clamped where given), then ``model.learn`` from it.

    Parameters
    ----------
    model : the :class:`cortex.Model` to train.
    desc : what the progress bar says.
    progress : show a progress bar on a terminal (never when stderr is a file or a pipe).
    regions : only these regions learn (None: all).
    learn_every : learn every this many settling steps while a batch settles (incremental learning, iPC:
        :meth:`cortex.Model.settle_and_learn`); None: once, after it has settled.
    steps, tol, ... : passed to every ``model.settle`` call (None: the graph's ``settle:`` block).
    """

    def __init__(self, model, *, desc: str = "training", progress: bool = True, regions=None,
                 learn_every: int | None = None, **settle):
        self.model, self.desc, self.progress, self.settle, self.regions = model, desc, progress, settle, regions
        self.learn_every = learn_every

    def fit(self, batches: Iterable[dict], total: int | None = None) -> list[float]:
        """Train on every batch in order; returns the final energy of each settled batch (the training curve)."""
        curve: list[float] = []
        # disable=None: tqdm draws the bar only on a terminal, so logs written to files stay short
        with tqdm(total=total, desc=self.desc, unit="batch", disable=None if self.progress else True, leave=False,
                  file=sys.stderr) as bar:
            for inputs in batches:
                if self.learn_every:
                    result = self.model.settle_and_learn(inputs, self.learn_every, regions=self.regions, **self.settle)
                else:
                    result = self.model.settle(inputs, **self.settle)
                    self.model.learn(result, self.regions)
                curve.append(float(result.energy[-1]) if result.steps else result.start_energy)
                bar.update(1)
                bar.set_postfix(energy=f"{curve[-1]:.2f}", refresh=False)
                interrupts.check()
        return curve
