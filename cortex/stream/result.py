"""What a stream returns: per-frame arrays with a frame axis, as host NumPy arrays.

Frames are recorded on the device as they settle and copied to the host once, when the run ends, so a long
stream on a GPU is not synchronised frame by frame. ``record`` chooses what is kept (a rivalry stream of twenty
thousand frames needs only the activity).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..api_checks import known

FIELDS = ("activity", "prediction", "prediction_error", "energy", "forecast", "forecast_error", "input_forecast")


@dataclass
class StreamResult:
    """Frames settled one after another; every array's first axis is the frame.

    Attributes
    ----------
    frames : (F,) index of each frame in its stream (0 = the stream's first frame).
    time : (F,) the end of each frame in seconds (``time.frame`` of the graph), or None without a frame clock.
    steps : (F,) settling steps each frame ran; ``converged`` (F,) whether ``tol`` ended it early.
    activity : region -> (F, batch, hypotheses) settled activity.
    prediction : region -> (F, batch, d_X) the region's settled top-down prediction of its input X.
    prediction_error : region -> (F, batch) mean squared X - prediction over the columns with evidence (NaN where
        none of the region's input was present).
    energy : region -> (F, batch) the region's share of the energy at the end of the frame.
    forecast : region -> (F, batch, d_X) its prediction of X made before the frame, from context alone
        (``forecast=True``; for :meth:`~cortex.stream.Stream.forecast` the same as ``prediction``).
    forecast_error : region -> (F, batch) mean squared X - forecast: the surprise each frame brought.
    input_forecast : input -> (F, batch, *shape) what the regions that explain the input predicted it would be,
        averaged over them (before each frame with ``forecast=True``; every frame of a :meth:`~cortex.stream.Stream.forecast`).
    """

    frames: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    time: np.ndarray | None = None
    activity: dict[str, np.ndarray] = field(default_factory=dict)
    prediction: dict[str, np.ndarray] = field(default_factory=dict)
    prediction_error: dict[str, np.ndarray] = field(default_factory=dict)
    energy: dict[str, np.ndarray] = field(default_factory=dict)
    forecast: dict[str, np.ndarray] = field(default_factory=dict)
    forecast_error: dict[str, np.ndarray] = field(default_factory=dict)
    input_forecast: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def winners(self, region: str) -> np.ndarray:
        """(F, batch) index of the most active hypothesis of ``region`` in every frame."""
        known("region", region, self.activity)
        return np.argmax(self.activity[region], axis=-1)

    def to_xarray(self, names: dict | None = None, attrs: dict | None = None):
        """The stream as an ``xarray.Dataset``: dimensions ``frame``, ``stream`` (the batch), ``R_hypothesis`` and
        ``R_input`` per region R, ``I_value`` per input I; ``names``: region -> hypothesis names (coordinates);
        ``time`` (seconds) is a coordinate of ``frame`` when the graph has a frame clock."""
        import xarray as xr

        names = dict(names or {})
        F = len(self)
        B = next((v.shape[1] for field in (self.activity, self.energy, self.input_forecast) for v in field.values()),
                 0)
        coords = {"frame": self.frames, "stream": np.arange(B)}
        if self.time is not None:
            coords["time"] = ("frame", self.time, {"units": "s"})
        data = {"steps": ("frame", self.steps, {"long_name": "settling steps each frame ran"})}
        for region, a in self.activity.items():
            dim = f"{region}_hypothesis"
            coords[dim] = list(names.get(region, range(a.shape[-1])))
            data[region] = (("frame", "stream", dim), a, {"long_name": f"settled activity of {region}"})
        for field, what in (("prediction", "settled top-down prediction of its input"),
                            ("forecast", "prediction of its input before the frame, from context alone")):
            for region, v in getattr(self, field).items():
                data[f"{region}_{field}"] = (("frame", "stream", f"{region}_input"), v, {"long_name": f"{region}'s {what}"})
        for field, what in (("prediction_error", "mean squared error of the settled prediction"),
                            ("forecast_error", "mean squared error of the forecast"), ("energy", "energy")):
            for region, v in getattr(self, field).items():
                data[f"{region}_{field}"] = (("frame", "stream"), v, {"long_name": f"{region}: {what}"})
        for name, v in self.input_forecast.items():
            data[f"{name}_forecast"] = (("frame", "stream", f"{name}_value"), v.reshape(F, B, -1),
                                        {"long_name": f"what the regions explaining {name} predicted it would be"})
        from cortex._version import __version__

        return xr.Dataset(data, coords=coords, attrs={"frames": F, "cortex_version": __version__, **(attrs or {})})


class Recorder:
    """Collects per-frame device arrays for the chosen fields; :meth:`result` stacks and copies them once."""

    def __init__(self, backend, record):
        unknown = sorted(set(record) - set(FIELDS))
        if unknown:
            from cortex.errors import StimulusError

            raise StimulusError(f"record names unknown field(s) {unknown}; known: {', '.join(FIELDS)}")
        self.backend, self.record = backend, frozenset(record)
        self.data: dict[str, dict[str, list]] = {f: {} for f in FIELDS}
        self.frames: list[int] = []
        self.steps: list[int] = []
        self.converged: list[bool] = []

    def wants(self, name: str) -> bool:
        return name in self.record

    def add(self, name: str, key: str, value) -> None:
        """One frame's ``value`` (a device array, copied) of field ``name`` for region or input ``key``."""
        if name in self.record:
            self.data[name].setdefault(key, []).append(self.backend.copy(value))

    def frame(self, index: int, steps: int, converged: bool) -> None:
        self.frames.append(index)
        self.steps.append(steps)
        self.converged.append(converged)

    def result(self, shapes: dict[str, tuple], frame_seconds: float | None) -> StreamResult:
        """Everything recorded, stacked along a frame axis on the device, then copied to the host."""
        b = self.backend
        out = {}
        for name, per_key in self.data.items():
            out[name] = {}
            for key, values in per_key.items():
                arr = b.to_numpy(b.xp.stack(values))
                if name == "input_forecast":
                    arr = arr.reshape(arr.shape[:2] + shapes[key])
                out[name][key] = arr
        frames = np.asarray(self.frames, dtype=np.int64)
        time = None if frame_seconds is None else (frames + 1) * frame_seconds
        return StreamResult(frames=frames, steps=np.asarray(self.steps, dtype=np.int64),
                            converged=np.asarray(self.converged, dtype=bool), time=time, **out)
