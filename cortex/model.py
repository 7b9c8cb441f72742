"""The compiled model a user holds: build from a spec, then settle, learn, save.

>>> import cortex
>>> model = cortex.load("digits")                       # doctest: +SKIP
>>> result = model.settle({"retina": X})                # doctest: +SKIP
>>> model.learn(result)                                 # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from . import settle as settling
from .backend import Backend, get_backend
from .errors import ResourceError, StimulusError
from .graph import bottom_up_order, build_graph
from .settings import setting
from .spec import NetworkSpec

DEFAULT_BATCH = 256


@dataclass
class SettleResult:
    """What settling a batch produced, as host NumPy arrays, plus the device state ``learn`` needs.

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
    """

    activity: dict[str, np.ndarray]
    energy: np.ndarray
    region_energy: dict[str, np.ndarray]
    start_energy: float
    stimulus_energy: np.ndarray
    steps: int
    converged: bool
    trace: dict[str, np.ndarray] | None = None
    _device: settling.SettleState | None = field(default=None, repr=False)
    _model_id: int = field(default=0, repr=False)
    _backend: Backend | None = field(default=None, repr=False)
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
                                for name, st in zip(self.activity, self._device.states)
                                if getattr(st, "pred", None) is not None}
        return self._prediction

    def winners(self, region: str) -> np.ndarray:
        """(batch,) index of the most active hypothesis of ``region`` (the label read off by analysis by synthesis)."""
        return np.argmax(self.activity[region], axis=1)

    def to_xarray(self, names: dict | None = None, attrs: dict | None = None):
        """This settle as an ``xarray.Dataset`` with labelled dimensions (see :func:`cortex.recording.to_dataset`)."""
        from .recording import to_dataset
        return to_dataset(self, names, attrs)


def estimate_bytes(spec: NetworkSpec, batch: int = DEFAULT_BATCH) -> int:
    """Memory to build the model and settle one batch: weights plus per-stimulus state and temporaries."""
    item = 4 if spec.dtype == "float32" else 8
    total = 0
    for name, p in spec.regions.items():
        d_x = sum(spec.size_of(c.source) for c in spec.sources(name, "input"))
        d_y = sum(spec.size_of(c.source) for c in spec.sources(name, "context"))
        n, k = p.hypotheses, getattr(p, "factors", 0)
        weights = n * d_x * (1 + k) + d_x * n + d_y * n + n * n
        per_stimulus = 6 * n + 3 * d_x + d_y
        if getattr(p, "competition", "") == "softmax":
            per_stimulus += 3 * n * d_x + 2 * n * k
        total += 3 * weights + 4 * batch * per_stimulus
    return total * item


def available_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


class Model:
    """A region graph compiled onto one array backend.

    Parameters
    ----------
    spec : a validated :class:`~cortex.spec.NetworkSpec` (see :func:`cortex.load`).
    backend : overrides ``spec.backend`` (e.g. ``"array_api_strict"`` in tests); without it the environment
        variable ``CORTEX_BACKEND`` does, when set (see :mod:`cortex.settings`).
    batch : the batch size the memory check plans for.
    group : step linear regions of equal shape together with batched matmuls (``False``: one region per
        block, the same numbers; for tests and benchmarks).
    """

    def __init__(self, spec: NetworkSpec, backend: str | None = None, batch: int = DEFAULT_BATCH,
                 group: bool = True):
        need, have = estimate_bytes(spec, batch), available_bytes()
        if need > have:
            raise ResourceError(f"the graph {spec.name!r} would need about {need / 2**30:.1f} GiB for a batch of {batch} "
                                f"but this machine has {have / 2**30:.1f} GiB; use fewer hypotheses or a smaller batch")
        self.spec = spec
        self.graph: nx.DiGraph = build_graph(spec)
        self.backend: Backend = get_backend(backend or setting("backend") or spec.backend, spec.dtype, spec.seed)
        from cortex.regions import get_kind

        names = list(spec.regions)
        self._index = {name: i for i, name in enumerate(names)}
        self._compiled: list[settling.CompiledRegion] = []
        self._noise = []
        for i, name in enumerate(names):
            params = spec.regions[name]
            ins, ctx = spec.sources(name, "input"), spec.sources(name, "context")
            cls = get_kind(params.kind)
            region = cls(name, params, self.backend,
                         in_sizes=[spec.size_of(c.source) for c in ins], in_precision=[c.precision for c in ins],
                         ctx_sizes=[spec.size_of(c.source) for c in ctx], ctx_precision=[c.precision for c in ctx],
                         rng=self.backend.rng(0, i))
            self._noise.append(self.backend.rng(1, i))
            self._compiled.append(settling.CompiledRegion(
                name, region, self._links(ins), self._links(ctx), params.teacher,
                d_x=sum(spec.size_of(c.source) for c in ins), d_y=sum(spec.size_of(c.source) for c in ctx)))
        for j, c in enumerate(self._compiled):
            for link in c.in_links:
                if not link.is_input:
                    self._compiled[self._index[link.source]].predicted_by.append((j, link.start, link.stop))
            for link in c.ctx_links:
                if not link.is_input and link.delay == 0:
                    self._compiled[self._index[link.source]].context_of.append((j, link.start, link.stop))
        self._up = [self._index[n] for n in bottom_up_order(self.graph)]
        self._down = self._up[::-1]
        self._schedule = settling.build_schedule(self._compiled, self._index, self._down, self.backend, group=group)

    def _links(self, conns) -> list[settling.Link]:
        links, start = [], 0
        for c in conns:
            size = self.spec.size_of(c.source)
            links.append(settling.Link(c.source, c.source in self.spec.inputs, start, start + size, c.delay))
            start += size
        return links

    # ----- what users call -----------------------------------------------------------------------
    @property
    def regions(self) -> dict:
        """Region name -> region object (its ``weights`` dict holds the learned arrays on the backend)."""
        return {c.name: c.region for c in self._compiled}

    def settle(self, stimuli: dict, steps: int | None = None, *, rate: float | None = None, tol: float | None = None,
               record: bool = False, noise: bool = True, past: list | None = None) -> SettleResult:
        """Settle a batch of stimuli into an interpretation.

        Parameters
        ----------
        stimuli : input name -> array (batch, *shape) or (batch, size). A region's ``teacher`` input, when
            given, clamps that region's activity (supervised training); leave it out at test time.
        steps, rate, tol : override the spec's ``settle`` block; ``steps=0`` returns the feed-forward first guess.
        record : keep every region's activity at every step in ``result.trace``.
        noise : ``False`` turns the regions' noise off for this call (e.g. for a deterministic test read-out).
        past : earlier frames' ``SettleResult``s, oldest first, feeding connections with ``delay``.
        """
        s = self.spec.settle
        steps = s.steps if steps is None else int(steps)
        if steps < 0:
            raise StimulusError(f"steps must be >= 0, got {steps}")
        rate = s.rate if rate is None else float(rate)
        if not 0 < rate <= 1:   # the step-size bounds guarantee descent only for rate in (0, 1], as the spec enforces
            raise StimulusError(f"rate must be in (0, 1], got {rate}")
        tol = s.tol if tol is None else float(tol)
        if not tol >= 0:
            raise StimulusError(f"tol must be >= 0, got {tol}")
        inputs, teachers = self._prepare(stimuli)
        batch = next(iter((inputs or teachers).values())).shape[0]
        past_frames = [self._frame(r, batch) for r in (past or [])]
        device, per_step, start, final, trace, converged = settling.run(
            self._schedule, self._compiled, self._index, self._up, self.backend, inputs, teachers, past_frames,
            steps, rate, tol, s.check_every,
            self._noise if noise else None, record)
        b, xp = self.backend, self.backend.xp
        energy = b.to_numpy(per_step)
        names = [c.name for c in self._compiled]
        return SettleResult(
            activity={n: b.to_numpy(st.a) for n, st in zip(names, device.states)},
            energy=energy.sum(axis=1),
            region_energy={n: energy[:, j] for j, n in enumerate(names)},
            start_energy=float(b.to_numpy(xp.sum(start))),
            stimulus_energy=b.to_numpy(final),
            steps=energy.shape[0], converged=converged,
            trace=({n: np.stack([b.to_numpy(frame[j]) for frame in trace]) for j, n in enumerate(names)}
                   if record else None),
            _device=device, _model_id=id(self), _backend=b)

    def learn(self, result: SettleResult) -> None:
        """One online, local synaptic update of every region from a settled batch."""
        if result._device is None or result._model_id != id(self):
            raise StimulusError("learn() needs a SettleResult returned by this model's settle()")
        d = result._device
        for j, c in enumerate(self._compiled):
            if c.region.p.lr or c.region.lr_ctx or c.region.lr_rec:
                c.region.learn(d.states[j], *self._xy(j, d))

    def _xy(self, j, d: settling.SettleState):
        c = self._compiled[j]
        X = settling.gather(self.backend, c.in_links, c.d_x, d.batch, d.inputs, d.states, self._index, d.past)
        Y = settling.gather(self.backend, c.ctx_links, c.d_y, d.batch, d.inputs, d.states, self._index, d.past)
        return X, Y

    def _frame(self, result: SettleResult, batch: int) -> dict:
        if not isinstance(result, SettleResult) or result._device is None:
            raise StimulusError("past must be a list of SettleResults from earlier frames")
        states = result._device.states
        if len(states) != len(self._compiled) or any(st.a.shape[1] != c.region.n for c, st in zip(self._compiled, states)):
            raise StimulusError("past frames must be SettleResults of a model with this graph (same regions and sizes)")
        if result._device.batch != batch:
            raise StimulusError(f"a past frame has batch {result._device.batch} but the stimuli have batch {batch}")
        return {c.name: st.a for c, st in zip(self._compiled, result._device.states)}

    def _prepare(self, stimuli: dict):
        """Check names, shapes and values of the stimuli; move them to the backend, flattened to (batch, size)."""
        if not isinstance(stimuli, dict):
            raise StimulusError(f"stimuli must be a dict of input name -> array, got {type(stimuli).__name__}")
        teacher_names = {c.teacher for c in self._compiled if c.teacher}
        known = set(self.spec.inputs)
        unknown = sorted(set(stimuli) - known)
        if unknown:
            raise StimulusError(f"unknown input(s) {unknown}; this graph's inputs are {sorted(known)}")
        missing = sorted(known - teacher_names - set(stimuli))
        if missing:
            raise StimulusError(f"missing stimuli for input(s) {missing}")
        inputs, teachers, batch = {}, {}, None
        for name, value in stimuli.items():
            shape = tuple(self.spec.inputs[name].shape)
            size = math.prod(shape)
            arr = np.asarray(self.backend.to_numpy(value) if not isinstance(value, (np.ndarray, list, tuple)) else value)
            if arr.ndim >= 1 and tuple(arr.shape[1:]) in (shape, (size,)):
                arr = arr.reshape(arr.shape[0], size)
            else:
                accepted = " or ".join(dict.fromkeys(f"(batch, {', '.join(map(str, sh))})" for sh in (shape, (size,))))
                raise StimulusError(f"input {name!r}: expected an array of shape {accepted}, got {arr.shape}")
            if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
                raise StimulusError(f"input {name!r}: values must be finite numbers")
            if arr.shape[0] == 0:
                raise StimulusError(f"input {name!r}: the batch is empty")
            if batch is not None and arr.shape[0] != batch:
                raise StimulusError(f"input {name!r} has batch {arr.shape[0]} but other inputs have {batch}")
            batch = arr.shape[0]
            (teachers if name in teacher_names else inputs)[name] = self.backend.asarray(arr)
        return inputs, teachers

    def sensor_fields(self, region: str) -> tuple[np.ndarray, str]:
        """Each hypothesis' generative field carried down, through the first input of each region, to a sensor.

        Returns (hypotheses x sensor size) and the sensor's name: what each hypothesis predicts the sensor
        sees when it is active alone (factor parameters at zero).
        """
        if region not in self._index:
            raise StimulusError(f"unknown region {region!r}; regions: {sorted(self._index)}")
        b, name = self.backend, region
        fields = b.to_numpy(self._compiled[self._index[name]].region.fields())
        for _ in range(len(self._compiled) + 1):
            link = self._compiled[self._index[name]].in_links[0]
            fields = fields[:, link.start:link.stop]
            if link.is_input:
                return fields, link.source
            name = link.source
            fields = fields @ b.to_numpy(self._compiled[self._index[name]].region.fields())
        raise StimulusError(f"region {region!r} reaches no sensor through its first inputs")

    def save(self, path: str | os.PathLike) -> None:
        """Write weights, spec and versions to one ``.npz`` file atomically (see :mod:`cortex.checkpoint`)."""
        from .checkpoint import save_checkpoint
        save_checkpoint(self, path)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.name}[{c.region.n}]" for c in self._compiled)
        return f"<Model {self.spec.name!r} on {self.backend.name}/{self.backend.dtype_name}: {parts}>"
