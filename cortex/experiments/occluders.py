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
            raise StimulusError(f"experiment.fill_in: the read-out {readout!r} leads down to {sensor!r}, not to the "
                                f"stimulus {stimulus!r}, so its hypotheses predict no image to fill in from; set it "
                                "to 0")
        self.readout, self.image_shape, self.pool = readout, tuple(image_shape), pool

    def predict(self, res, X):
        """(prediction (n, H*W), pooled absolute residual (n, H*W)) of settled ``res`` against ``X``."""
        predicted = (res.activity[self.readout] @ self.fields).astype(X.dtype)
        residual = np.abs(X - predicted).reshape(len(X), *self.image_shape)
        return predicted, uniform_filter(residual, size=(1, self.pool, self.pool), mode="constant").reshape(X.shape)


def calibrate(settle, top_down: TopDown, X_clean: np.ndarray, quantile: float) -> float:
    """The ``quantile`` of the pooled residuals over the pixels of clean images ``X_clean`` (the training images):
    the threshold above which a pixel is filled in."""
    return float(np.quantile(top_down.predict(settle(X_clean), X_clean)[1], quantile))


def fill_in(settle, top_down: TopDown, X: np.ndarray, *, threshold: float, rounds: int, first=None):
    """Settle ``X`` (n, H*W) with ``settle(X) -> SettleResult`` (or start from its settled ``first``), then ``rounds``
    times replace the pixels whose pooled residual exceeds ``threshold`` by the read-out's prediction and settle
    again.

    Returns (the last SettleResult, the (n, H*W) bool mask of the pixels filled in the last round)."""
    res, mask = settle(X) if first is None else first, np.zeros(X.shape, dtype=bool)
    for _ in range(rounds):
        predicted, pooled = top_down.predict(res, X)
        mask = pooled > threshold
        res = settle(np.where(mask, predicted, X))
    return res, mask
