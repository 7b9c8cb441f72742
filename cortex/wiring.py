"""One settle call's wiring: every region's X and Y, and the gradients regions send each other.

A region's X (or Y) is one of three named things: an input array itself (:class:`InputAlias`), another region's
activity itself (:class:`RegionAlias`), or a buffer (:class:`Assembled`) whose constant columns (inputs, past
frames) are filled once per call and whose other columns (:class:`Slot`) are copied from their sources only
when a source moved (``version[u]`` counts region u's updates). What a region receives from the regions that
read it is a list of pulls: the residual form a kind declares (:class:`ResidualPull`, formed in place from the
cached prediction), or the kind's own gradient (:class:`InputPull`, :class:`ContextPull`), or what a fast-path
block offers for its members' context. This module is pure array code on ``backend.xp``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ops import Ops


@dataclass(frozen=True)
class InputAlias:
    """The region's X (or Y) is the input ``name`` as given."""

    name: str


@dataclass(frozen=True)
class RegionAlias:
    """The region's X (or Y) is region ``region``'s activity as it is."""

    region: int


@dataclass(frozen=True)
class Slot:
    """Columns [start, stop) of an assembled buffer, copied from region ``region``'s activity when it moved."""

    start: int
    stop: int
    region: int


@dataclass(frozen=True)
class Assembled:
    """A buffer holding several sources side by side; ``stamp`` indexes the freshness record in the wiring."""

    buffer: Any
    slots: tuple[Slot, ...]
    stamp: int


@dataclass(frozen=True)
class ResidualPull:
    """Region ``region`` reads this one as columns [start, stop) of its X, and its dE/dX there is the residual
    ``psi(a - pred) * precision`` (:class:`cortex.region.ResidualForm`); ``whole``: the columns are all of X."""

    region: int
    start: int
    stop: int
    precision: float
    cauchy2: float | None
    whole: bool

    def into(self, env, j, out) -> None:
        """``out`` <- the pull itself (when it is the region's only one and covers the whole prediction)."""
        if env.ops.residual_pull(env.states[j].a, env.states[self.region].pred, self.precision, self.cauchy2, out,
                                 False):
            return
        env.ops.residual(env.states[j].a, env.states[self.region].pred, self.precision, out, env.scratch[j],
                         self.cauchy2)

    def add(self, env, j, out, tmp) -> None:
        pred = env.states[self.region].pred[:, self.start:self.stop]
        if env.ops.residual_pull(env.states[j].a, pred, self.precision, self.cauchy2, out, True):
            return
        tmp[...] = pred   # strided: NumPy would buffer the ufunc
        env.ops.residual(env.states[j].a, tmp, self.precision, tmp, env.scratch[j], self.cauchy2)
        out += tmp


@dataclass(frozen=True)
class InputPull:
    """Region ``region`` reads this one as columns [start, stop) of its X: its ``input_gradient`` there."""

    region: int
    start: int
    stop: int

    def add(self, env, j, out, tmp) -> None:
        q = self.region
        out += env.compiled[q].region.input_gradient(env.states[q], env.X(q))[:, self.start:self.stop]


@dataclass(frozen=True)
class ContextPull:
    """Region ``region`` reads this one as columns [start, stop) of its Y: its ``context_gradient`` there."""

    region: int
    start: int
    stop: int

    def add(self, env, j, out, tmp) -> None:
        q = self.region
        out += env.compiled[q].region.context_gradient(env.states[q], env.Y(q))[:, self.start:self.stop]


class Env:
    """One settle call's wiring (see the module docstring); blocks read ``X(j)``, ``Y(j)`` and
    ``external_gradient(j, ...)`` and bump ``version[j]`` when region j moved."""

    def __init__(self, compiled, index, backend, inputs, past, states, batch, noise_streams, schedule):
        self.compiled, self.index, self.backend = compiled, index, backend
        self.inputs, self.past, self.states, self.batch = inputs, past, states, batch
        self.noise_streams = noise_streams
        self.block_of = {j: blk for blk in schedule for j in blk.members}
        self.ops = Ops(backend)
        R = len(compiled)
        self.version = [0] * R
        self._x = [None] * R
        self._y = [None] * R
        self._stamps: list = []
        self._bound_x: dict = {}
        self._own_context: set = set()

    # ----- what blocks say in ``begin`` --------------------------------------------------------------
    def bind(self, j, xview) -> None:
        """Region j's X lives in ``xview`` (e.g. a view of its group's stacked buffer): always assembled there."""
        self._bound_x[j] = xview

    def own_context(self, j) -> None:
        """Region j's block computes its context prior itself: the wiring assembles no Y for it."""
        self._own_context.add(j)

    def finish(self) -> None:
        """Wire every region: an alias for one undelayed source, else a buffer with its constant parts filled."""
        for j, c in enumerate(self.compiled):
            self._x[j] = self._wire(c.in_links, c.d_x, self._bound_x.get(j))
            self._y[j] = None if j in self._own_context else self._wire(c.ctx_links, c.d_y, None)
        self._pulls = [[self._predictor(t) for t in c.predicted_by] + [self._context_target(t) for t in c.context_of]
                       for c in self.compiled]
        self.scratch = [self.backend.zeros((self.batch, c.region.n)) if c.predicted_by else None
                        for c in self.compiled]

    def _wire(self, links, d, buf):
        if not links:
            return None
        if len(links) == 1 and links[0].delay == 0 and buf is None:
            link = links[0]
            return InputAlias(link.source) if link.is_input else RegionAlias(self.index[link.source])
        if buf is None:
            buf = self.backend.zeros((self.batch, d))
        slots = []
        for link in links:
            if link.delay:
                frame = self.past[-link.delay] if len(self.past) >= link.delay else None
                if frame is not None:
                    buf[:, link.start:link.stop] = frame[link.source]
            elif link.is_input:
                buf[:, link.start:link.stop] = self.inputs[link.source]
            else:
                slots.append(Slot(link.start, link.stop, self.index[link.source]))
        self._stamps.append(None)
        return Assembled(buf, tuple(slots), len(self._stamps) - 1)

    def _key(self, wire: Assembled) -> int:
        return sum(self.version[s.region] for s in wire.slots)

    def _fresh(self, wire: Assembled) -> None:
        key = self._key(wire)
        if key != self._stamps[wire.stamp]:
            buf = wire.buffer
            for s in wire.slots:
                buf[:, s.start:s.stop] = self.states[s.region].a
            self._stamps[wire.stamp] = key

    def x_key(self, j) -> int:
        """A number that changes whenever region j's input X may have changed (sum of its sources' versions)."""
        return self._wire_key(self._x[j])

    def x_fixed(self, j) -> bool:
        """Whether region j's X cannot change during this call (inputs and past frames only): ``x_key`` stays 0."""
        w = self._x[j]
        return w is None or isinstance(w, InputAlias) or (isinstance(w, Assembled) and not w.slots)

    def y_key(self, j) -> int:
        """As :meth:`x_key`, for region j's context Y."""
        return self._wire_key(self._y[j])

    def _wire_key(self, w) -> int:
        if w is None or isinstance(w, InputAlias):
            return 0
        if isinstance(w, RegionAlias):
            return self.version[w.region]
        return self._key(w)

    def fresh_x(self, j) -> None:
        """Bring region j's assembled X up to date with its sources."""
        w = self._x[j]
        if isinstance(w, Assembled):
            self._fresh(w)

    def _get(self, w):
        if w is None:
            return None
        if isinstance(w, InputAlias):
            return self.inputs[w.name]
        if isinstance(w, RegionAlias):
            return self.states[w.region].a
        self._fresh(w)
        return w.buffer

    def X(self, j):
        return self._get(self._x[j])

    def Y(self, j):
        return self._get(self._y[j])

    # ----- what other regions send to region j ------------------------------------------------------
    def _predictor(self, tap):
        region = self.compiled[tap.region].region
        form = region.residual_form(tap.start, tap.stop)
        if form is None:
            return InputPull(tap.region, tap.start, tap.stop)
        whole = tap.start == 0 and tap.stop == self.compiled[tap.region].d_x
        return ResidualPull(tap.region, tap.start, tap.stop, form.precision, form.cauchy_scale2, whole)

    def _context_target(self, tap):
        blk = self.block_of.get(tap.region)      # None: a frozen reader (cortex.bottom_up)
        pull = blk.context_pull(self, tap.region, tap.start, tap.stop) if blk is not None else None
        return pull if pull is not None else ContextPull(tap.region, tap.start, tap.stop)

    def pulled(self, j) -> bool:
        """Whether any region reads region j (as input or undelayed context): :meth:`external_gradient` has work."""
        return bool(self._pulls[j])

    def sole_residual_pull(self, j) -> ResidualPull | None:
        """The pull on region j when it is its only one and covers the reader's whole prediction (a fused step may
        then form it inline from the reader's ``pred``), else None. Known after :meth:`finish`."""
        pulls = self._pulls[j]
        if len(pulls) == 1 and isinstance(pulls[0], ResidualPull) and pulls[0].whole:
            return pulls[0]
        return None

    def external_gradient(self, j, out, tmp) -> bool:
        """Sum into ``out`` dE/da_j of the regions that take j as input or context; False when there are none."""
        pulls = self._pulls[j]
        if not pulls:
            return False
        if len(pulls) == 1 and isinstance(pulls[0], ResidualPull) and pulls[0].whole:
            pulls[0].into(self, j, out)        # the whole of q's prediction: straight into out
            return True
        out[...] = 0.0
        for pull in pulls:
            pull.add(self, j, out, tmp)
        return True
