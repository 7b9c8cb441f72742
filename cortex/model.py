"""The compiled model a user holds: build from a spec, then settle, learn, save.

>>> import cortex
>>> model = cortex.load("digits")                       # doctest: +SKIP
>>> result = model.settle({"retina": X})                # doctest: +SKIP
>>> model.learn(result)                                 # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import math
import os

import networkx as nx
import numpy as np

from . import api_checks as check
from .balance import auto_start, resolved_params
from .bottom_up import BottomUp
from .backend import Backend, get_backend
from .archive import save_checkpoint
from .compiled import CompiledGraph
from .divergence import check_weights
from .errors import StimulusError
from .graph import build_graph
from .memory import DEFAULT_BATCH, check_fits, check_settle, estimate_bytes  # noqa: F401 (estimate_bytes: API)
from .region import Sources, region_kinds
from .result import SettleResult
from .settings import setting
from .settle import DeviceState, SettleOptions, SettleRun, Settler
from .spec import CUT_STARTS, START, NetworkSpec
from .threadpool import limited
from .windows import cut, place, refuse_given, windows


class _Owner:
    """The token a model stamps on the results it settles (``learn`` accepts only its own)."""

    __slots__ = ()

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
        check_fits(spec, check.count(batch, "batch", minimum=1))
        self.spec = spec
        self.graph: nx.DiGraph = build_graph(spec)
        self.backend: Backend = get_backend(backend or setting("backend") or spec.backend, spec.dtype, spec.seed)
        regions, self._noise = {}, []
        resolved = resolved_params(spec)          # precision: auto inherited from the regions above
        for i, name in enumerate(spec.regions):
            params = resolved[name]
            ins, ctx = spec.sources(name, "input"), spec.sources(name, "context")
            sources = [Sources(tuple(spec.size_of(c.source) for c in conns), tuple(c.precision for c in conns))
                       for conns in (ins, ctx)]
            regions[name] = region_kinds.get(params.kind)(name, params, self.backend, *sources,
                                                          rng=self.backend.rng(0, i))
            self._noise.append(self.backend.rng(1, i))
        for region in regions.values():
            region.set_frame(spec.time.frame_seconds)
        self.compiled = CompiledGraph(spec, self.graph, regions, self.backend, group=group)
        """The graph compiled to flat indices and its settle schedule (for tests, benchmarks and new kinds)."""
        self._owner = _Owner()
        self.settler = Settler(self.compiled, self._noise, owner=self._owner)
        self._bottom_up = BottomUp(self)
        self.auto_start = auto_start(spec)
        """What ``start: auto`` means for this graph: ``levels_first`` (several levels, cuttable) or ``first_guess``."""

    # ----- what users call -----------------------------------------------------------------------
    @property
    def regions(self) -> dict:
        """Region name -> region object (its ``weights`` dict holds the learned arrays on the backend)."""
        return {c.name: c.region for c in self.compiled.regions}

    @property
    def noise_streams(self) -> list:
        """Each region's noise stream (in region order): checkpoints save and restore their state."""
        return list(self._noise)

    @limited
    def settle(self, stimuli: dict, steps: int | None = None, *, rate: float | None = None, tol: float | None = None,
               record: bool = False, noise: bool = True, past: list | None = None,
               absent: tuple | list | set = (), start: str | None = None) -> SettleResult:
        """Settle a batch of stimuli into an interpretation.

        Parameters
        ----------
        stimuli : input name -> array (batch, *shape) or (batch, size). A region's ``teacher`` input, when
            given, clamps that region's activity (supervised training); leave it out at test time.
        steps, rate, tol : override the spec's ``settle`` block; ``steps=0`` returns the feed-forward first guess.
        record : keep every region's activity at every step in ``result.trace``.
        noise : ``False`` turns the regions' noise off for this call (e.g. for a deterministic test read-out).
        past : earlier frames' ``SettleResult``s, oldest first, feeding connections with ``delay`` (at least as many
            as the longest delay; a stream, :meth:`stream`, keeps them for you). Delayed inputs read the stimuli
            those results were settled on.
        absent : inputs without evidence in this call (leave them out of ``stimuli``): their columns add no error
            term, so each region that reads them settles on its other inputs and its context, and its prediction
            there is a forecast.
        start : ``first_guess``, ``bottom_up`` (each level settled before the levels above it join, a softmax top
            alone first, :mod:`cortex.bottom_up`), ``levels_first`` (the same without the top's turn alone) or
            ``auto`` (``levels_first`` on a graph of several levels that can be cut, else ``first_guess``); default:
            the spec's ``settle.start``.
        """
        call = self._begin(stimuli, steps, rate, tol, record, noise, past, absent, start)
        return self._result(self.settler.run(*call))

    def _begin(self, stimuli, steps, rate, tol, record, noise, past, absent, start):
        """A settle call checked and started: (inputs, teachers, past frames, options, carried start state)."""
        start = self.spec.settle.start if start is None else start
        if start not in START:
            raise StimulusError(f"start must be one of {', '.join(START)}, got {start!r}")
        if start == "auto":
            start = self.auto_start
        options = self.options(steps, rate=rate, tol=tol, record=record, noise=noise, absent=absent)
        past = check.past_list(past)
        hint = past[-1]._device.batch if past and isinstance(past[-1], SettleResult) and past[-1]._device else None
        inputs, teachers = self._prepare(stimuli, options.absent, hint, options)
        batch = next(iter((inputs or teachers).values())).shape[0]
        longest = max(self.spec.delays().values(), default=0)
        if past and len(past) < longest:
            raise StimulusError(
                f"past holds {len(past)} frame(s) but this graph reads up to {longest} frames back "
                f"({self._longest_edge()}); pass at least {longest} earlier SettleResults, oldest first, or settle "
                f"frame after frame with model.stream(), which keeps them")
        past_frames = [self._frame(r, batch) for r in past]
        carry = (self._bottom_up.start(inputs, teachers, past_frames, options, readout_alone=start == "bottom_up")
                 if start in CUT_STARTS else None)
        return inputs, teachers, past_frames, options, carry

    @limited
    def settle_and_learn(self, stimuli: dict, every: int, steps: int | None = None, *, regions=None,
                         rate: float | None = None, tol: float | None = None, noise: bool = True,
                         start: str = "first_guess") -> SettleResult:
        """Settle a batch and learn while it settles (incremental predictive coding, iPC): every ``every`` settling
        steps each region (``regions``: only those named) takes one local update from the state so far, and settling
        resumes from that state under the new weights; ``steps`` in all (default: the spec's). Weights and
        activities so descend the energy together instead of the weights waiting for the activities to settle.
        ``every >= steps`` is exactly :meth:`settle` then :meth:`learn` from the same start. It starts from first
        guesses: a start that cuts the graph (``bottom_up``, ``levels_first``) settles the levels before the first
        update, which is what learning incrementally does away with (and, measured at 8 levels on the digits,
        loses accuracy: docs/depth.md). Other arguments as for :meth:`settle`; the result holds every step's
        energy and the final state."""
        every = check.count(every, "every", minimum=1)
        only = self._only(regions)
        clocked = [c.name for c in self.compiled.regions if c.region.frame_noise_std()]
        if clocked and noise:
            raise StimulusError(f"settle_and_learn resumes settling after every update, which would move the slow "
                                f"noise of {clocked} (noise_tau in time units: once per frame) at each; pass "
                                f"noise=False, or settle() then learn()")
        inputs, teachers, past, options, carry = self._begin(stimuli, steps, rate, tol, False, noise, None, (), start)
        runs, left = [], options.steps
        while True:
            part = dataclasses.replace(options, steps=min(every, left))
            runs.append(self.settler.run(inputs, teachers, past, part, carry=carry))
            self._learn(runs[-1].device, only)
            left -= part.steps
            if left <= 0:
                break
            carry = runs[-1].device.states
        per_step = self.backend.zeros((sum(r.per_step.shape[0] for r in runs), len(self.compiled.regions)))
        t = 0
        for r in runs:
            per_step[t:t + r.per_step.shape[0], ...] = r.per_step
            t += r.per_step.shape[0]
        return self._result(SettleRun(runs[-1].device, per_step, runs[0].start, runs[-1].final, None,
                                      runs[-1].converged, runs[-1].by_region))

    def _longest_edge(self) -> str:
        c = max((c for c in self.spec.connections if c.delay), key=lambda c: c.delay)
        return f"{c.source} -> {c.target}, delay {c.delay}"

    def _result(self, run) -> SettleResult:
        """A settle call's device outcome as a host :class:`SettleResult`."""
        b = self.backend
        energy = b.to_numpy(run.per_step)
        names = self.compiled.names
        return SettleResult(
            activity={n: b.to_numpy(st.a) for n, st in zip(names, run.device.states)},
            energy=energy.sum(axis=1),
            region_energy={n: energy[:, j] for j, n in enumerate(names)},
            start_energy=float(b.to_numpy(b.xp.sum(run.start))),
            stimulus_energy=b.to_numpy(run.final),
            steps=energy.shape[0], converged=run.converged,
            trace=({n: np.stack([b.to_numpy(frame[j]) for frame in run.trace]) for j, n in enumerate(names)}
                   if run.trace is not None else None),
            _device=run.device, _backend=b)

    def options(self, steps: int | None = None, *, rate: float | None = None, tol: float | None = None,
                record: bool = False, noise: bool = True, absent=()) -> SettleOptions:
        """The :class:`~cortex.settle.SettleOptions` of a call: the spec's ``settle`` block, overridden."""
        s = self.spec.settle
        if absent is None or not isinstance(absent, (str, list, tuple, set, frozenset)):
            raise StimulusError(f"absent must be an input name or a list of them, got {type(absent).__name__}; "
                                f"this graph's inputs are {sorted(self.spec.inputs)}")
        absent = frozenset([absent] if isinstance(absent, str) else absent)
        unknown = sorted(absent - set(self.spec.inputs))
        if unknown:
            raise StimulusError(f"absent names unknown input(s) {unknown}; this graph's inputs are {sorted(self.spec.inputs)}")
        refuse_given(self.spec, sorted(absent))
        absent |= {n for n, w in windows(self.spec).items() if w.of in absent}    # a window of an absent sensor
        return SettleOptions(steps=s.steps if steps is None else check.count(steps),
                             rate=s.rate if rate is None else check.real(rate, "rate"),
                             tol=s.tol if tol is None else check.real(tol, "tol"), check_every=s.check_every,
                             record=bool(record), noise=bool(noise), absent=absent)

    def stream(self, batch: int | None = None, **options):
        """A :class:`cortex.stream.Stream`: frames settled one after another with each region's state and the
        delayed edges' past frames carried inside it (``options`` as for :class:`~cortex.stream.Stream`)."""
        from .stream import Stream

        return Stream(self, batch=batch, **options)

    @limited
    def run_stream(self, frames: dict, *, learn: bool = False, forecast: bool = False, absent=None,
                   progress: bool = False, **options):
        """Settle ``frames`` (input name -> (frames, batch, *shape)) frame after frame from a fresh stream, learning
        online after every frame when ``learn``; returns a :class:`cortex.stream.StreamResult` with a frame axis.
        ``forecast``, ``absent`` and ``progress`` as for :meth:`cortex.stream.Stream.run`, ``options`` as for the
        :class:`~cortex.stream.Stream` (``steps``, ``noise``, ``carry``, ``record``, ...)."""
        return self.stream(**options).run(frames, learn=learn, forecast=forecast, absent=absent, progress=progress)

    @limited
    def learn(self, result: SettleResult, regions=None) -> None:
        """One online, local synaptic update of every region from a settled batch (``regions``: only those named,
        the others frozen, as a layerwise schedule trains only its top level)."""
        if not isinstance(result, SettleResult) or not result.settled_by(self._owner):
            got = "a SettleResult of another model" if isinstance(result, SettleResult) else type(result).__name__
            raise StimulusError(f"learn() needs a SettleResult returned by this model's settle(), got {got}")
        self._learn(result._device, self._only(regions))

    def _only(self, regions) -> frozenset | None:
        """The regions a learning call names, checked (None: every region)."""
        unknown = sorted(set(regions or ()) - set(self.compiled.index))
        if unknown:
            raise StimulusError(f"learn(regions=...) names unknown region(s) {unknown}; regions: "
                                f"{sorted(self.compiled.index)}")
        return None if regions is None else frozenset(regions)

    def _learn(self, d: DeviceState, only: frozenset | None = None) -> None:
        self.compiled.mask_inputs(d.absent)     # absent inputs teach nothing
        sizes = [c.region.n for c in self.compiled.regions]
        try:
            for j, c in enumerate(self.compiled.regions):
                if c.region.plastic() and (only is None or c.name in only):
                    c.region.learn(d.states[j], *self.compiled.inputs_of(j, d))
        finally:
            self.compiled.mask_inputs(frozenset())
        if sizes != [c.region.n for c in self.compiled.regions]:   # a region grew (recruit:): new blocks for it
            self.compiled.reschedule()
        check_weights(self.compiled, "learning")      # one number to the host per learn (cortex.divergence)

    def _frame(self, result: SettleResult, batch: int) -> dict:
        if not isinstance(result, SettleResult) or not isinstance(result._device, DeviceState):
            raise StimulusError("past must be a list of SettleResults from earlier frames")
        states, compiled = result._device.states, self.compiled.regions
        if len(states) != len(compiled) or any(st.a.shape[1] != c.region.n for c, st in zip(compiled, states)):
            raise StimulusError("past frames must be SettleResults of a model with this graph (same regions and sizes)")
        if result._device.batch != batch:
            raise StimulusError(f"a past frame has batch {result._device.batch} but the stimuli have batch {batch}")
        return {**result._device.inputs, **{c.name: st.a for c, st in zip(compiled, states)}}

    def _prepare(self, stimuli: dict, absent: frozenset = frozenset(), batch_hint: int | None = None,
                 options: SettleOptions | None = None):
        """Check names, shapes and values of the stimuli (:mod:`cortex.api_checks`) and, given ``options``, that the
        call fits in memory; move them to the backend, flattened to (batch, size). Absent inputs get zeros (their
        columns carry no evidence)."""
        if not isinstance(stimuli, dict):
            raise StimulusError(f"stimuli must be a dict of input name -> array, got {type(stimuli).__name__}")
        teacher_names = {c.teacher for c in self.compiled.regions if c.teacher}
        known = set(self.spec.inputs)
        unknown = sorted(set(stimuli) - known)
        if unknown:
            raise StimulusError(f"unknown input(s) {unknown}; this graph's inputs are {sorted(known)}")
        both = sorted(absent & set(stimuli))
        if both:
            raise StimulusError(f"input(s) {both} are given and also named absent; leave absent inputs out")
        refuse_given(self.spec, list(stimuli))
        missing = sorted(known - teacher_names - set(stimuli) - absent - set(windows(self.spec)))
        if missing:
            raise StimulusError(f"missing stimuli for input(s) {missing}; name them in absent=[...] to settle "
                                f"without them (their prediction is then a forecast from context)")
        host, batch = {}, None
        for name, value in stimuli.items():
            shape = tuple(self.spec.inputs[name].shape)
            size = math.prod(shape)
            if not isinstance(value, (np.ndarray, list, tuple, int, float, complex, np.generic)):
                value = self.backend.to_numpy(value)
            arr = check.stimulus_array(name, value, self.backend.dtype_name)
            if arr.ndim >= 1 and tuple(arr.shape[1:]) in (shape, (size,)):
                arr = arr.reshape(arr.shape[0], size)
            else:
                accepted = " or ".join(dict.fromkeys(f"(batch, {', '.join(map(str, sh))})" for sh in (shape, (size,))))
                raise StimulusError(f"input {name!r}: expected an array of shape {accepted}, got {arr.shape}")
            if arr.shape[0] == 0:
                raise StimulusError(f"input {name!r}: the batch is empty")
            if batch is not None and arr.shape[0] != batch:
                raise StimulusError(f"input {name!r} has batch {arr.shape[0]} but other inputs have {batch}")
            batch = arr.shape[0]
            host[name] = arr
        host.update(cut(self.spec, host))
        batch = batch if batch is not None else batch_hint
        if options is not None and batch is not None:    # before anything of this call is allocated on the device
            check_settle(self.spec, batch, options.steps, options.record, sum(c.region.n for c in self.compiled.regions))
        inputs, teachers = {}, {}
        for name, arr in host.items():
            (teachers if name in teacher_names else inputs)[name] = self.backend.asarray(arr)
        for name in sorted(absent - teacher_names):
            if batch is None:
                raise StimulusError("every input is absent and no past frame says the batch: give past=[...], or "
                                    "settle frame after frame with model.stream(), whose forecast() knows it")
            inputs[name] = self.backend.zeros((batch, self.spec.inputs[name].size))
        return inputs, teachers

    def sensor_fields(self, region: str) -> tuple[np.ndarray, str]:
        """Each hypothesis' generative field carried down to a sensor: what each hypothesis predicts the sensor sees
        when it is active alone (factor parameters at zero).

        The sensor is the one the first input of each region leads to. Every undelayed input pathway to that
        sensor adds its part, so the fields of a region over a retinotopic sheet (windows of one sensor, each
        explained by its own module) cover the whole sensor. Returns (hypotheses x sensor size) and its name.
        """
        compiled, index = self.compiled.regions, self.compiled.index
        if region not in index:
            raise StimulusError(f"unknown region {region!r}; regions: {sorted(index)}")
        b, name = self.backend, region
        order, entered, todo = [], set(), [(region, False)]     # regions under ``region`` in postorder: each
        while todo:                                               # after every region it reads
            node, done = todo.pop()
            if done:
                order.append(node)
                continue
            if node in entered:
                continue
            entered.add(node)
            todo.append((node, True))
            todo.extend((link.source, False) for link in compiled[index[node]].in_links
                        if not link.is_input and link.source not in entered)
        # each region's part of the hypotheses' prediction, in its own activity space, carried down once (linear)
        fields, carried = {}, {region: np.eye(compiled[index[region]].region.n, dtype=np.float32)}
        for node in reversed(order):
            if node not in carried:
                continue
            predicted = carried.pop(node) @ b.to_numpy(compiled[index[node]].region.fields())
            for link in compiled[index[node]].in_links:
                part = predicted[:, link.start:link.stop]
                if not link.is_input:
                    carried[link.source] = carried.get(link.source, 0) + part
                elif not link.delay:
                    sensor, part = place(self.spec, link.source, part)
                    fields[sensor] = fields.get(sensor, 0) + part

        for _ in range(len(compiled) + 1):          # the sensor the first inputs lead to
            link = compiled[index[name]].in_links[0]
            if link.is_input:
                sensor = self.spec.inputs[link.source].of or link.source
                break
            name = link.source
        else:
            raise StimulusError(f"region {region!r} reaches no sensor through its first inputs")
        if sensor not in fields:
            raise StimulusError(f"region {region!r} reaches its sensor {sensor!r} through delayed inputs only (a "
                                "window of past frames), so no field says what it predicts the sensor sees now")
        return fields[sensor], sensor

    def save(self, path: str | os.PathLike) -> None:
        """Write weights, spec and versions to one ``.npz`` file atomically (see :mod:`cortex.archive`; read it back
        with :func:`cortex.load_checkpoint`)."""
        check_weights(self.compiled, "saving")     # a model whose weights went non-finite is never written
        save_checkpoint(self, path)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c.name}[{c.region.n}]" for c in self.compiled.regions)
        return f"<Model {self.spec.name!r} on {self.backend.name}/{self.backend.dtype_name}: {parts}>"

