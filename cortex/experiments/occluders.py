"""Finding an occluder from the top down, then settling on what is left: the recognition experiment's ``fill_in``.

Why: in a stack, V1's code is overcomplete (128 fields over 64 pixels), so it explains a white block as readily as
the digit, and a robust error at V1 has little residual left to discount. The read-out's hypotheses carried down
the whole stack (:meth:`cortex.model.Model.sensor_fields`) predict a digit and not a block. So after a settle,
the image is predicted from the read-out's posterior over those fields; a pixel whose mean absolute residual over
a ``pool`` x ``pool`` neighbourhood is larger than the model leaves on nearly every pixel of its clean training
images (occluders are spatially coherent, pixel noise is not) is taken as not the object's and replaced by the
prediction, and the graph settles again. It is one EM step per round over which pixels the object explains, done
with the graph's own generative chain (docs/depth.md). The threshold is a quantile of the model's own residuals,
so it follows how well the model has learned, on any graph.

With ``candidates`` K > 1 the pixels are not filled from the posterior's one prediction: each of the read-out's K
most probable hypotheses fills them with its own field, each completion settles, and per image the completion the
graph explains with the lowest energy wins. Filling in from the current favourite confirms it; competing
completions let a hypothesis that lost to the occluder win back its own reading of the image.

With a ``gate``, an image is filled in only when its residual is concentrated: the largest mean absolute residual
over a ``window`` x ``window`` patch, divided by the image's mean absolute residual, exceeds a quantile of that
ratio over the clean training images. An occluder piles the residual up in one place and raises the ratio; pixel
noise spreads it over the whole image and lowers it below nearly every clean image's, so a noisy image keeps its
single settle instead of having a tenth of its pixels replaced (docs/depth.md).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from cortex.errors import StimulusError


class TopDown:
    """The image a model's read-out predicts from its settled posterior, and the residual pooled around each pixel."""

    def __init__(self, model, *, readout: str, stimulus: str, image_shape: tuple[int, int], pool: int):
        self.fields, sensor = model.sensor_fields(readout)
        if sensor != stimulus:
            raise StimulusError(f"the read-out {readout!r} leads down to {sensor!r}, not to the stimulus "
                                f"{stimulus!r}, so its hypotheses predict no image to fill in from")
        self.readout, self.image_shape, self.pool = readout, tuple(image_shape), pool

    def _residual(self, res, X):
        predicted = (res.activity[self.readout] @ self.fields).astype(X.dtype)
        return predicted, np.abs(X - predicted).reshape(len(X), *self.image_shape)

    def predict(self, res, X):
        """(prediction (n, H*W), pooled absolute residual (n, H*W)) of settled ``res`` against ``X``."""
        predicted, residual = self._residual(res, X)
        return predicted, uniform_filter(residual, size=(1, self.pool, self.pool), mode="constant").reshape(X.shape)

    def concentration(self, res, X, window: int) -> np.ndarray:
        """(n,): each image's largest mean absolute residual over a ``window`` x ``window`` patch over its mean
        absolute residual: high where one place is unexplained (an occluder), low where noise is everywhere."""
        residual = self._residual(res, X)[1]
        patches = uniform_filter(residual, size=(1, window, window), mode="constant").reshape(len(X), -1)
        return patches.max(axis=1) / (residual.reshape(len(X), -1).mean(axis=1) + 1e-6)


def calibrate(settle, top_down: TopDown, X_clean: np.ndarray, quantile: float, gate: float | None = None,
              window: int = 4) -> tuple[float, float | None]:
    """(threshold, gate threshold) from one settle of clean images ``X_clean`` (the training images): the
    ``quantile`` of the pooled residuals over their pixels, above which a pixel is filled in, and with ``gate`` the
    ``gate`` quantile of their :meth:`TopDown.concentration` over ``window``, above which an image is filled in at
    all (None without)."""
    res = settle(X_clean)
    threshold = float(np.quantile(top_down.predict(res, X_clean)[1], quantile))
    return threshold, None if gate is None else float(np.quantile(top_down.concentration(res, X_clean, window), gate))


def fill_in(settle, top_down: TopDown, X: np.ndarray, *, threshold: float, rounds: int, candidates: int = 1,
            first=None, gate: float | None = None, window: int = 4):
    """Settle ``X`` (n, H*W) with ``settle(X) -> SettleResult`` (or start from its settled ``first``), then ``rounds``
    times replace the pixels whose pooled residual exceeds ``threshold`` by the read-out's prediction and settle
    again; with ``candidates`` K > 1, by each of its K most probable hypotheses' fields in turn, keeping per image
    the completion of lowest energy (:func:`compete`). With ``gate`` (from :func:`calibrate`), only the images whose
    first settle leaves a residual concentrated above it are filled in. Each round fills the image as seen, so one
    left with nothing to fill reads as its first settle, which it keeps instead of being settled again.

    Returns (the last SettleResult, the (n, H*W) bool mask of the pixels filled in the last round)."""
    first = settle(X) if first is None else first
    res, mask = first, np.zeros(X.shape, dtype=bool)
    active = np.ones(len(X), dtype=bool) if gate is None else top_down.concentration(res, X, window) > gate
    for _ in range(rounds):
        predicted, pooled = top_down.predict(res, X)
        mask = (pooled > threshold) & active[:, None]
        active = mask.any(axis=1)
        if not active.any():
            break
        if candidates > 1:
            filled = compete(settle, top_down, X[active], mask[active], res.activity[top_down.readout][active],
                             candidates)
        else:
            filled = settle(np.where(mask, predicted, X)[active])
        res = filled if active.all() else _join(first, filled, active)   # nothing to fill: the image as seen
    return res, mask


def compete(settle, top_down: TopDown, X: np.ndarray, mask: np.ndarray, posterior: np.ndarray, candidates: int):
    """Each image's ``candidates`` most probable hypotheses (by ``posterior``, (n, hypotheses)) fill its ``mask``ed
    pixels with their own fields; every completion settles, and per image the one of lowest ``stimulus_energy``
    wins. The n K completions settle as one batch. Returns a SettleResult whose per-image arrays are the winning
    completions' (its batch curves are the whole batch's, and it holds no device state: it cannot be learned
    from)."""
    fields, n = top_down.fields.astype(X.dtype), len(X)
    order = np.argsort(-posterior, axis=1, kind="stable")[:, :candidates]           # (n, K)
    K = order.shape[1]
    completions = np.where(mask[:, None, :], fields[order], X[:, None, :])         # (n, K, H*W)
    settled = settle(completions.reshape(n * K, -1))                               # one batch of n K completions
    best = np.argmin(settled.stimulus_energy.reshape(n, K), axis=1)
    pick = np.arange(n) * K + best
    return settled.with_stimuli({name: a[pick] for name, a in settled.activity.items()},
                                settled.stimulus_energy[pick])


def _join(res, filled, rows: np.ndarray):
    """``res`` with its ``rows`` replaced by the settles in ``filled`` (a SettleResult of those rows only)."""
    activity = {name: a.copy() for name, a in res.activity.items()}
    for name, a in activity.items():
        a[rows] = filled.activity[name]
    energy = np.array(res.stimulus_energy, copy=True)
    energy[rows] = filled.stimulus_energy
    return res.with_stimuli(activity, energy)
