"""Frames settled one after another, with each region's state and the past of every delayed edge carried along.

A :class:`Stream` is what a model needs to live in time. Each frame it

1. forecasts, when asked: settles on context alone (every sensor input absent, noise off, from the carried
   state) and keeps each region's prediction: what the model expected this frame to be;
2. settles the frame itself for its own budget of settling steps (``settle.steps``), starting from the state
   the previous frame left (activity, fatigue, slow noise), its delayed edges reading the stream's ring buffers;
3. learns from it, when asked (one online, local update per frame: no epochs);
4. pushes this frame's activities and inputs into the ring buffers (an absent input's place is taken by what
   the model predicted it to be, so a forecast rolls forward on the model's own predictions).

Frames are the model's physical time; settling steps are inference inside a frame.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from tqdm.auto import tqdm

from cortex.api_checks import stimulus_array
from cortex.errors import StimulusError
from cortex.memory import check_settle
from cortex.threadpool import limited
from cortex.windows import cut, refuse_given, windows

from .history import History
from .result import FIELDS, Recorder, StreamResult

CARRY = ("activity", "slow")


class Stream:
    """A stream of frames through one model (see the module docstring).

    Parameters
    ----------
    model : the :class:`cortex.Model` whose graph settles the frames (and learns, with ``learn=True``).
    batch : parallel streams; None: taken from the first frames given.
    steps, rate, tol : each frame's settling budget, as for ``model.settle`` (None: the graph's ``settle`` block).
    noise : False turns the regions' noise off (forecasts always settle without it).
    carry : ``activity`` (default): a frame starts from the previous frame's settled state; ``slow``: only fatigue
        and slow noise carry over and the activity starts from the first guess.
    record : the :class:`StreamResult` fields to keep (default all); a long stream may keep only ``activity``.

    >>> stream = model.stream(batch=32)                              # doctest: +SKIP
    >>> seen = stream.run({"retina": frames}, learn=True, forecast=True)   # doctest: +SKIP
    >>> ahead = stream.forecast(5)                                   # doctest: +SKIP
    """

    def __init__(self, model, batch: int | None = None, *, steps: int | None = None, rate: float | None = None,
                 tol: float | None = None, noise: bool = True, carry: str = "activity", record=FIELDS):
        if carry not in CARRY:
            raise StimulusError(f"carry must be one of {', '.join(CARRY)}, got {carry!r}")
        self.model, self.backend = model, model.backend
        self.options = model.options(steps, rate=rate, tol=tol, noise=noise)
        self.carry, self.record = carry, tuple(record)
        Recorder(self.backend, self.record)          # check the field names now, not at the first frame
        self.batch = None if batch is None else _positive(batch, "batch")
        spec, compiled = model.spec, model.compiled
        self.teachers = {c.teacher for c in compiled.regions if c.teacher}
        self.sensors = [name for name in spec.inputs if name not in self.teachers]
        self.depths = spec.delays()
        self.sizes = {name: spec.size_of(name) for name in self.depths}
        self.shapes = {name: tuple(spec.inputs[name].shape) for name in spec.inputs}
        # who predicts each sensor input (undelayed input links): (region index, start, stop)
        self.readers = {name: [(j, link.start, link.stop) for j, c in enumerate(compiled.regions)
                               for link in c.in_links if link.is_input and not link.delay and link.source == name]
                        for name in spec.inputs}
        self.frame_seconds = spec.time.frame_seconds
        self.reset()

    # ----- state -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream's past: the next frame starts from the first guess, with empty ring buffers."""
        self.states, self._last = None, None
        self.history = None if self.batch is None else self._history(self.batch)
        self.frame = 0

    def _history(self, batch: int) -> History:
        return History(self.backend, self.depths, self.sizes, batch)

    def _bind_batch(self, batch: int) -> None:
        if self.batch is None:
            self.batch = batch
            self.history = self._history(batch)
        elif batch != self.batch:
            raise StimulusError(f"this stream runs a batch of {self.batch} but the frames have batch {batch}")

    # ----- what users call -------------------------------------------------------------------------
    @limited
    def run(self, frames: dict, *, learn: bool = False, forecast: bool = False, absent=None,
            progress: bool = False) -> StreamResult:
        """Settle ``frames`` one after another and return them with a frame axis.

        Parameters
        ----------
        frames : input name -> array (F, batch, *shape) or (F, batch, size); teacher inputs clamp their regions.
        learn : one online, local update after every frame.
        forecast : also record what the model predicted each frame would be before it came (``forecast``,
            ``forecast_error``, ``input_forecast``); costs one more settle per frame and changes nothing else.
        absent : inputs without evidence: a list of names (every frame), or name -> (F,) booleans (those frames).
            An input left out of ``frames`` must be named here.
        progress : a progress bar over the frames (on a terminal).
        """
        F, inputs, teachers, masks = self._validate(frames, absent)
        rec = Recorder(self.backend, self.record)
        for t in tqdm(range(F), desc="frames", unit="frame", disable=None if progress else True, leave=False):
            gone = frozenset(name for name, mask in masks.items() if mask[t])
            self._frame({n: a[t, ...] for n, a in inputs.items()}, {n: a[t, ...] for n, a in teachers.items()}, gone,
                        learn, forecast, rec)
        return rec.result(self.shapes, self.frame_seconds)

    @limited
    def step(self, stimuli: dict, *, learn: bool = False, forecast: bool = False, absent=()) -> StreamResult:
        """One frame: ``stimuli`` name -> (batch, *shape); a :class:`StreamResult` of one frame."""
        arrays = {name: np.asarray(value)[None] for name, value in stimuli.items()}
        return self.run(arrays, learn=learn, forecast=forecast, absent=list(absent))

    def forecast(self, k: int, *, noise: bool = False) -> StreamResult:
        """Roll the model forward ``k`` frames on its own predictions, every input absent, from where the stream is.

        Each frame settles on context alone; what the regions predict an input to be takes its place in the
        ring buffers, so the next frame's context is the model's own forecast. The stream itself is left as it
        was (the roll-out runs on copies of its state and buffers). ``noise``: keep the regions' noise on.
        """
        k = _positive(k, "k")
        if self.batch is None:
            raise StimulusError("forecast() needs a batch: run some frames first, or make the stream with batch=")
        saved = self.states, self._last, self.history, self.frame
        self.history = self.history.copy()
        try:
            rec = Recorder(self.backend, set(self.record) & {"activity", "prediction", "energy", "input_forecast"})
            zeros = {name: self.backend.zeros((self.batch, math.prod(self.shapes[name]))) for name in self.sensors}
            options = replace(self.options, noise=noise and self.options.noise)
            for _ in range(k):
                self._frame(dict(zeros), {}, frozenset(self.sensors), False, False, rec, options=options, rollout=True)
            return rec.result(self.shapes, self.frame_seconds)
        finally:
            self.states, self._last, self.history, self.frame = saved

    # ----- one frame ---------------------------------------------------------------------------------
    def _frame(self, inputs, teachers, absent, learn, forecast, rec, options=None, rollout=False) -> None:
        """One frame (see the module docstring); ``rollout``: a frame of :meth:`forecast`, whose settled predictions
        of the inputs are what it records as ``input_forecast``."""
        model, b, xp = self.model, self.backend, self.backend.xp
        compiled = model.compiled
        past = self.history.frames()
        carry = None if self.states is None else self.states
        keep = self.carry == "activity"
        expected = None
        if forecast:
            fopts = replace(self.options, noise=False, absent=frozenset(self.sensors))
            blank = {name: b.zeros(tuple(inputs[name].shape)) for name in self.sensors}
            frun = model.settler.run(blank, {}, past, fopts, carry=carry, keep_activity=keep)
            expected = [None if st.pred is None else b.copy(st.pred) for st in frun.device.states]
            for name, value in self._input_predictions(expected).items():
                rec.add("input_forecast", name, value)
        opts = replace(options or self.options, absent=absent)
        run = model.settler.run(inputs, teachers, past, opts, carry=carry, keep_activity=keep)
        device = run.device
        for c, st in zip(compiled.regions, device.states):
            c.region.end_frame(st)             # what evolves per frame (fatigue) moves by one frame
        if learn:
            model._learn(device)
        rec.frame(self.frame, int(run.per_step.shape[0]), bool(run.converged))
        settled = [st.pred for st in device.states]
        for j, c in enumerate(compiled.regions):
            st = device.states[j]
            rec.add("activity", c.name, st.a)
            rec.add("energy", c.name, run.by_region[j, ...])
            if st.pred is None:
                continue
            rec.add("prediction", c.name, st.pred)
            if expected is not None:
                rec.add("forecast", c.name, expected[j])
            if rec.wants("prediction_error") or (expected is not None and rec.wants("forecast_error")):
                X = compiled.inputs_of(j, device)[0]
                mask = compiled.present(j, absent)
                rec.add("prediction_error", c.name, _mse(xp, X, st.pred, mask))
                if expected is not None:
                    rec.add("forecast_error", c.name, _mse(xp, X, expected[j], mask))
        if rollout:
            for name, value in self._input_predictions(settled).items():
                rec.add("input_forecast", name, value)
        self._push(device, inputs, absent, settled)
        self.states, self._last = device.states, device
        self.frame += 1

    def _input_predictions(self, preds) -> dict:
        """Sensor input -> what the regions that explain it predict it is (their mean), from their predictions."""
        out = {}
        for name in self.sensors:
            parts = [preds[j][:, s0:s1] for j, s0, s1 in self.readers[name] if preds[j] is not None]
            if parts:
                total = parts[0] + 0.0
                for part in parts[1:]:
                    total += part
                out[name] = total / len(parts) if len(parts) > 1 else total
        return out

    def _push(self, device, inputs, absent, preds) -> None:
        """This frame into the ring buffers: region activities, inputs (an absent one: its prediction)."""
        if not self.depths:
            return
        index = self.model.compiled.index
        guessed = self._input_predictions(preds) if absent else {}
        values = {}
        for name in self.depths:
            if name in index:
                values[name] = device.states[index[name]].a
            elif name in absent:
                values[name] = guessed.get(name, inputs[name])
            else:
                values[name] = inputs[name]
        self.history.push(values)

    # ----- checking what users give ------------------------------------------------------------------
    def _validate(self, frames, absent):
        """(F, inputs name -> (F, B, size) device arrays, teachers likewise, input -> (F,) absent masks)."""
        spec = self.model.spec
        if not isinstance(frames, dict) or not frames:
            raise StimulusError("frames must be a non-empty dict of input name -> array (frames, batch, *shape)")
        unknown = sorted(set(frames) - set(spec.inputs))
        if unknown:
            raise StimulusError(f"unknown input(s) {unknown}; this graph's inputs are {sorted(spec.inputs)}")
        refuse_given(spec, list(frames) + list(absent or ()))
        arrays, F, B = {}, None, None
        for name, value in frames.items():
            shape = self.shapes[name]
            size = math.prod(shape)
            if not isinstance(value, (np.ndarray, list, tuple, int, float, complex, np.generic)):
                value = self.backend.to_numpy(value)
            arr = stimulus_array(name, value, self.backend.dtype_name)      # the API's dtype and magnitude policy
            if arr.ndim < 2 or tuple(arr.shape[2:]) not in (shape, (size,)):
                raise StimulusError(f"frames[{name!r}]: expected an array of shape (frames, batch, "
                                    f"{', '.join(map(str, shape))}) or (frames, batch, {size}), got {arr.shape}")
            if arr.shape[0] == 0 or arr.shape[1] == 0:
                raise StimulusError(f"frames[{name!r}]: no frames or an empty batch, shape {arr.shape}")
            if F is not None and arr.shape[:2] != (F, B):
                raise StimulusError(f"frames[{name!r}] has {arr.shape[0]} frames of batch {arr.shape[1]} but the "
                                    f"other inputs have {F} of batch {B}")
            F, B = arr.shape[:2]
            arrays[name] = arr.reshape(F, B, size)
        arrays.update(cut(spec, arrays))
        self._bind_batch(B)
        check_settle(spec, B, self.options.steps, False, sum(c.region.n for c in self.model.compiled.regions))
        masks = self._absent_masks(absent, F)
        # a window is absent in the frames its sensor is absent in
        masks.update({n: masks[w.of] for n, w in windows(spec).items() if w.of in masks})
        both = sorted(n for n in arrays if n in masks and masks[n].all())
        if both:
            raise StimulusError(f"input(s) {both} are given in frames and also absent in every frame; leave them out")
        missing = sorted(set(self.sensors) - set(arrays) - set(masks))
        if missing:
            raise StimulusError(f"frames give no input(s) {missing}; name them in absent=[...] to run without them")
        b = self.backend
        inputs, teachers = {}, {}
        for name in self.sensors:
            if name in arrays:
                inputs[name] = b.asarray(arrays[name])
            else:
                inputs[name] = b.zeros((F, B, math.prod(self.shapes[name])))
                masks[name] = np.ones(F, dtype=bool)
        for name in self.teachers & set(arrays):
            teachers[name] = b.asarray(arrays[name])
        return F, inputs, teachers, masks

    def _absent_masks(self, absent, F) -> dict:
        if absent is None:
            return {}
        items = {name: np.ones(F, dtype=bool) for name in absent} if not isinstance(absent, dict) else \
            {name: np.asarray(mask, dtype=bool) for name, mask in absent.items()}
        for name, mask in items.items():
            if name not in self.sensors:
                raise StimulusError(f"absent names {name!r}, which is not a sensor input of this graph "
                                    f"(sensor inputs: {', '.join(self.sensors)})")
            if mask.shape != (F,):
                raise StimulusError(f"absent[{name!r}] must have one boolean per frame ({F}), got shape {mask.shape}")
        return items


def _mse(xp, X, P, mask):
    """(B,) mean squared X - P over the columns where ``mask`` (None: all) is 1; NaN where none is."""
    D = X - P
    D *= D
    if mask is None:
        return xp.mean(D, axis=-1)
    total = float(xp.sum(mask))
    if total == 0.0:
        return xp.full((X.shape[0],), float("nan"), dtype=X.dtype)
    return xp.sum(D * mask, axis=-1) / total


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise StimulusError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
