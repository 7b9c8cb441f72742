"""What ``model.settle`` returns: host NumPy arrays a user reads, plus the device state ``learn`` needs (opaque)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api_checks import known
from .errors import StimulusError
from .settle import DeviceState


@dataclass
class SettleResult:
    """What settling a batch produced, as host NumPy arrays.

    Attributes
    ----------
    activity : region name -> (batch, hypotheses) final activity.
    energy : (steps_run,) mean energy per stimulus after each step.
    region_energy : region name -> (steps_run,) that region's share of ``energy``.
    start_energy : energy of the first guess, before any step.
    stimulus_energy : (batch,) final energy of each stimulus.
    steps : steps actually run; ``converged`` says whether ``tol`` stopped it early.
    trace : region name -> (steps_run + 1, batch, hypotheses) activity at every step (``record=True``).
    prediction : region name -> (batch, d_X) the region's top-down prediction of its input X (its input
        sources concatenated in the order the graph lists them), read from the final state on first access.

    The settled device state (for ``model.learn`` and for ``past=``) is kept opaque, with the token of the
    model that settled it.
    """

    activity: dict[str, np.ndarray]
    energy: np.ndarray
    region_energy: dict[str, np.ndarray]
    start_energy: float
    stimulus_energy: np.ndarray
    steps: int
    converged: bool
    trace: dict[str, np.ndarray] | None = None
    _device: DeviceState | None = field(default=None, repr=False)
    _backend: Any = field(default=None, repr=False)
    _prediction: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def prediction(self) -> dict[str, np.ndarray]:
        """Region name -> (batch, d_X) host copy of what the region predicts its input X is (e.g. the image a
        read-out region fed by the retina expects, occluded parts included). Copied off the device only when
        first read, so settling pays nothing for it; regions whose kind keeps no prediction are left out."""
        if self._prediction is None:
            if self._device is None or self._backend is None:
                raise StimulusError("this SettleResult holds no settled state to read predictions from")
            self._prediction = {name: self._backend.to_numpy(st.pred)
                                for name, st in zip(self.activity, self._device.states) if st.pred is not None}
        return self._prediction

    def winners(self, region: str) -> np.ndarray:
        """(batch,) index of the most active hypothesis of ``region`` (the label read off by analysis by synthesis)."""
        known("region", region, self.activity)
        return np.argmax(self.activity[region], axis=1)

    def to_xarray(self, names: dict | None = None, attrs: dict | None = None):
        """This settle as an ``xarray.Dataset`` with labelled dimensions (see :func:`cortex.recording.to_dataset`)."""
        from .recording import to_dataset
        return to_dataset(self, names, attrs)

    def with_stimuli(self, activity: dict[str, np.ndarray], stimulus_energy: np.ndarray) -> SettleResult:
        """A copy holding these per-stimulus arrays instead (rows picked from this settle, or joined from several):
        host arrays only, no device state and no trace, so it can be read but not learned from or predicted from.
        Its batch curves (``energy``, ``region_energy``) stay this settle's."""
        return dataclasses.replace(self, activity=activity, stimulus_energy=stimulus_energy, trace=None, _device=None,
                                   _prediction=None)

    def settled_by(self, owner) -> bool:
        """Whether this result holds the device state of a settle by the model whose token is ``owner``."""
        return self._device is not None and self._device.owner is owner
