"""Settling: block-coordinate descent on the energy of the whole region graph.

Each step updates the regions one at a time in top-down order (predictions before what they predict),
each from the current state of all others (Gauss-Seidel). Every block update lowers the energy when
noise and adaptation are off, so the whole trace is non-increasing; more steps never hurt.

The sweep is compiled once, at build time, into a schedule (:mod:`cortex.schedule`): levels of mutually
uncoupled regions, each stepped by its kind's fast path where one is registered, else through the region's
own ``step``. Per step, nothing is allocated by the fast paths: inputs are gathered into preallocated buffers
only when a source moved (:mod:`cortex.wiring`), and the convergence check copies one number to the host
every ``check_every`` steps. This module is pure array code on ``backend.xp``; it never imports NumPy or CuPy.

A :class:`Settler` settles batches on one compiled graph; :class:`SettleOptions` holds what one call may
change; :class:`SettleRun` is what it returns, with the device state kept opaque in a :class:`DeviceState`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .compiled import CompiledGraph, gather
from .divergence import settle_diverged
from .errors import StimulusError
from .wiring import Env


@dataclass(frozen=True)
class SettleOptions:
    """What one settle call may change: ``steps`` (0: the feed-forward first guess), ``rate`` in (0, 1] (the
    fraction of each curvature-bounded step), ``tol`` (stop when the relative energy change per step falls under
    it, checked every ``check_every`` steps; 0: never), ``record`` (keep every step's activity) and ``noise``."""

    steps: int
    rate: float
    tol: float = 0.0
    check_every: int = 10
    record: bool = False
    noise: bool = True
    absent: frozenset = frozenset()
    """Inputs without evidence in this call: their columns add no error term, so what settles there is the
    model's prediction of them from context (a forecast). The caller passes zeros for them in ``inputs``."""

    def __post_init__(self):
        if self.steps < 0:
            raise StimulusError(f"steps must be >= 0, got {self.steps}")
        if not 0 < self.rate <= 1:   # the step-size bounds guarantee descent only for rate in (0, 1]
            raise StimulusError(f"rate must be in (0, 1], got {self.rate}")
        if not self.tol >= 0:
            raise StimulusError(f"tol must be >= 0, got {self.tol}")


@dataclass(frozen=True)
class DeviceState:
    """What settling left on the device, for ``learn`` and for later frames: opaque to users.

    ``states`` holds each region's state (region order), ``inputs`` the stimuli on the backend, ``past`` the
    earlier frames' activities this call read, ``owner`` the token of the model that settled it, ``absent`` the
    inputs that gave no evidence (learning ignores their columns too).
    """

    states: list
    inputs: dict
    past: list
    batch: int
    owner: Any = field(default=None, repr=False)
    absent: frozenset = frozenset()


@dataclass(frozen=True)
class SettleRun:
    """One settle call's outcome on the device: the state, the mean energy per step and region
    (``per_step``, steps_run x R), the first guess's energy per region (``start``), the final energy per
    stimulus (``final``) and per region (``by_region``, R x B), every step's activities when recorded (``trace``), and
    whether ``tol`` stopped it."""

    device: DeviceState
    per_step: Any
    start: Any
    final: Any
    trace: list | None
    converged: bool
    by_region: Any = None     # (R, B) each region's share of each stimulus' final energy


PER_STEP_CHUNK = 1024


class Settling:
    """One settle call, prepared: the first guess made, buffers allocated and wired.

    ``sweep()`` is one settling step of every region followed by the energy bookkeeping; :meth:`Settler.run`
    loops it. The benchmark times ``sweep()`` on its own.
    """

    def __init__(self, graph: CompiledGraph, inputs, teachers, past, options: SettleOptions, noise_streams,
                 carry: list | None = None, keep_activity: bool = True):
        backend = graph.backend
        self.schedule, self.backend = graph.schedule, backend
        compiled, index = graph.regions, graph.index
        B = next(iter(inputs.values())).shape[0]
        R = len(compiled)
        graph.mask_inputs(options.absent)
        states = [None] * R
        for j in graph.up:   # feed-forward first guess, or the state carried from the previous frame
            c = compiled[j]
            X = gather(backend, c.in_links, c.d_x, B, inputs, states, index, past)
            Y = gather(backend, c.ctx_links, c.d_y, B, inputs, states, index, past)
            teacher = teachers.get(c.teacher) if c.teacher else None
            if carry is None or carry[j] is None:
                states[j] = c.region.start(X, Y, teacher)
            else:
                states[j] = c.region.resume(carry[j], X, Y, teacher, keep_activity=keep_activity)
            sigma = c.region.frame_noise_std()       # slow noise of a frame clock: one draw per frame
            noise = noise_streams[j].normal((B, c.region.n), sigma) if sigma and noise_streams else None
            c.region.begin_frame(states[j], noise)
        curv = graph.curvatures()
        self.env = env = Env(compiled, index, backend, inputs, past, states, B, noise_streams, self.schedule)
        for blk in self.schedule:
            blk.begin(env, states, curv, options.rate)
        env.finish()
        self.states, self.inputs, self.past, self.batch = states, inputs, past, B
        self.latest = backend.zeros((R, B))                    # every region's share of every stimulus' energy
        # energies per step, grown by doubling (a call that converges early never holds its whole budget)
        self.per_step = backend.zeros((min(max(options.steps, 1), PER_STEP_CHUNK), R))
        self.energies()
        self.start = backend.xp.mean(self.latest, axis=1)

    def energies(self):
        for blk in self.schedule:
            blk.energy(self.env, self.latest)

    def sweep(self, t: int = 0):
        """One settling step of every region, then every region's energy into row ``t`` of ``per_step``."""
        if t >= self.per_step.shape[0]:
            grown = self.backend.zeros((2 * self.per_step.shape[0], self.per_step.shape[1]))
            grown[:self.per_step.shape[0], ...] = self.per_step
            self.per_step = grown
        for blk in self.schedule:
            blk.step(self.env)
        self.energies()
        self.env.ops.mean_last(self.latest, self.per_step[t, ...])


class Settler:
    """Settles batches on one compiled graph with the model's noise streams; ``owner`` marks its results."""

    def __init__(self, graph: CompiledGraph, noise_streams: list, owner=None):
        self.graph, self.noise_streams, self.owner = graph, noise_streams, owner

    def prepare(self, inputs: dict, teachers: dict, past: list, options: SettleOptions, carry: list | None = None,
                keep_activity: bool = True) -> Settling:
        """The call set up (first guess or carried state, buffers, wiring) but not stepped."""
        return Settling(self.graph, inputs, teachers, past, options, self.noise_streams if options.noise else None,
                        carry, keep_activity)

    def run(self, inputs: dict, teachers: dict, past: list, options: SettleOptions, carry: list | None = None,
            keep_activity: bool = True) -> SettleRun:
        """Settle a batch: ``inputs``/``teachers`` name -> (B, size) backend arrays, ``past`` earlier frames'
        activities and inputs (name -> array, oldest first). ``carry``: the region states of the previous frame
        (a stream) or of a bottom-up start (:mod:`cortex.bottom_up`), resumed instead of a first guess (an entry
        None starts from its first guess); ``keep_activity`` False keeps only their slow variables (fatigue, slow
        noise) and starts the activity from the first guess."""
        try:
            return self._run(inputs, teachers, past, options, carry, keep_activity)
        finally:
            self.graph.mask_inputs(frozenset())     # masks hold for one call; ``learn`` sets them again

    def _run(self, inputs, teachers, past, options, carry, keep_activity) -> SettleRun:
        backend = self.graph.backend
        xp = backend.xp
        s = self.prepare(inputs, teachers, past, options, carry, keep_activity)
        states = s.states
        record = options.record
        trace = [[backend.copy(st.a) for st in states]] if record else None
        converged, ran = False, 0
        last_checked = float(backend.to_numpy(xp.sum(s.start)))
        if not math.isfinite(last_checked):     # the first guess already diverged (cortex.divergence)
            settle_diverged(self.graph, s.per_step, s.start, 0)
        checked = 0
        for t in range(options.steps):
            s.sweep(t)
            ran = t + 1
            if record:
                trace.append([backend.copy(st.a) for st in states])
            if options.tol and (t + 1) % options.check_every == 0:     # one device-to-host copy per check
                now = float(backend.to_numpy(xp.sum(s.per_step[t, ...])))
                checked = ran
                if not math.isfinite(now):                             # the same number watches for divergence
                    settle_diverged(self.graph, s.per_step, s.start, ran)
                if abs(last_checked - now) <= options.tol * options.check_every * max(abs(now), 1e-12):
                    converged = True
                    break
                last_checked = now
        if ran > checked and not math.isfinite(float(backend.to_numpy(xp.sum(s.per_step[checked:ran, ...])))):
            settle_diverged(self.graph, s.per_step, s.start, ran)     # one copy per call for the steps unchecked
        device = DeviceState(states, s.inputs, list(past), s.batch, self.owner, options.absent)
        return SettleRun(device, s.per_step[:ran, ...], s.start, xp.sum(s.latest, axis=0), trace, converged,
                         backend.copy(s.latest))
