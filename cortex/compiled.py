"""The region graph compiled to flat indices: each region's wiring resolved to column slices, and the sweep order.

Built once per model from the validated spec and the built regions (:class:`CompiledGraph`), so nothing inside
the settle loop looks a name up. Region ``j`` is the j-th region of the spec; a :class:`Link` says which columns
of its X (or Y) a source fills, a :class:`Tap` the reverse (who reads region ``j``, and where). The schedule is
part of the compiled graph and can be rebuilt (:meth:`CompiledGraph.reschedule`) when the regions change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import bottom_up_order
from .schedule import build_schedule


@dataclass(frozen=True)
class Link:
    """One source feeding columns [start, stop) of a region's input X or context Y."""

    source: str
    is_input: bool
    start: int
    stop: int
    delay: int = 0


@dataclass(frozen=True)
class Tap:
    """Region ``region`` reads this region's activity as columns [start, stop) of its X (or its Y)."""

    region: int
    start: int
    stop: int


@dataclass(frozen=True)
class CompiledRegion:
    """A region with its wiring resolved: no name lookups inside the settle loop."""

    name: str
    region: Any
    in_links: tuple[Link, ...]
    ctx_links: tuple[Link, ...]
    teacher: str | None
    predicted_by: tuple[Tap, ...]     # regions that take this one as (undelayed) input
    context_of: tuple[Tap, ...]       # regions that take this one as undelayed context
    d_x: int
    d_y: int


def links(spec, conns) -> tuple[Link, ...]:
    """The connections into one region (one role), laid side by side in the order the spec lists them."""
    out, start = [], 0
    for c in conns:
        size = spec.size_of(c.source)
        out.append(Link(c.source, c.source in spec.inputs, start, start + size, c.delay))
        start += size
    return tuple(out)


def gather(backend, links, d, batch, inputs, states, index, past):
    """Assemble a region's X or Y from its sources (no copy when a single undelayed source feeds it)."""
    if not links:
        return None
    if len(links) == 1 and links[0].delay == 0:
        return _source(backend, links[0], batch, inputs, states, index, past)
    buf = backend.zeros((batch, d))
    for link in links:
        src = _source(backend, link, batch, inputs, states, index, past)
        if src is not None:
            buf[:, link.start:link.stop] = src
    return buf


def _source(backend, link, batch, inputs, states, index, past):
    if link.delay:     # a past frame of a region or of a sensor input (None before the stream has one)
        frame = past[-link.delay] if len(past) >= link.delay else None
        return None if frame is None else frame[link.source]
    if link.is_input:
        return inputs[link.source]
    st = states[index[link.source]]
    if st is None:   # not started yet during the first feed-forward sweep: no activity
        return backend.zeros((batch, link.stop - link.start))
    return st.a


class CompiledGraph:
    """Regions (spec order), ``index`` (name -> position), the sweep orders ``up`` (sensors upward, for the first
    guess) and ``down`` (top-down, for settling), and the ``schedule``: the top-down sweep as blocks, without the
    ``frozen`` regions (held at their first guess or carried state; :mod:`cortex.bottom_up` uses it)."""

    def __init__(self, spec, graph, regions: dict, backend, group: bool = True, frozen=()):
        names = list(regions)
        self.frozen = frozenset(frozen)      # regions held where they start: wired and read, never stepped
        self.backend, self.group = backend, group
        self.index = {name: i for i, name in enumerate(names)}
        ins = {n: links(spec, spec.sources(n, "input")) for n in names}
        ctx = {n: links(spec, spec.sources(n, "context")) for n in names}
        predicted_by = {n: [] for n in names}
        context_of = {n: [] for n in names}
        for j, n in enumerate(names):
            for link in ins[n]:
                if not link.is_input:
                    predicted_by[link.source].append(Tap(j, link.start, link.stop))
            for link in ctx[n]:
                if not link.is_input and link.delay == 0:
                    context_of[link.source].append(Tap(j, link.start, link.stop))
        self.regions = tuple(
            CompiledRegion(n, regions[n], ins[n], ctx[n], spec.regions[n].teacher, tuple(predicted_by[n]),
                           tuple(context_of[n]), d_x=sum(l.stop - l.start for l in ins[n]),
                           d_y=sum(l.stop - l.start for l in ctx[n]))
            for n in names)
        self._absent: frozenset = frozenset()
        self._masks: dict = {}
        self.up = [self.index[n] for n in bottom_up_order(graph)]
        self.down = self.up[::-1]
        self.reschedule(group)

    def reschedule(self, group: bool | None = None) -> None:
        """Rebuild the schedule (after regions were replaced or changed shape; ``group`` as in ``Model``)."""
        self.group = self.group if group is None else group
        down = [j for j in self.down if self.regions[j].name not in self.frozen]
        self.schedule = build_schedule(self.regions, self.index, down, self.backend, group=self.group)

    def mask_inputs(self, absent: frozenset) -> None:
        """Tell every region which of its input columns have no evidence (sensor inputs in ``absent``, undelayed;
        a delayed link reads the past frame, which is there). Regions reading none of them are told all is present."""
        if absent == self._absent:
            return
        masks = self._masks.get(absent)
        if masks is None:
            masks = self._masks[absent] = [self._present(c, absent) for c in self.regions]
        for c, mask in zip(self.regions, masks):
            c.region.mask_inputs(mask)
        self._absent = absent

    def present(self, j: int, absent: frozenset):
        """Region j's (d_X,) mask of input columns with evidence when ``absent`` inputs are missing (None: all)."""
        masks = self._masks.get(absent)
        return masks[j] if masks is not None else self._present(self.regions[j], absent)

    def _present(self, c: CompiledRegion, absent: frozenset):
        off = [link for link in c.in_links if link.is_input and not link.delay and link.source in absent]
        if not off:
            return None
        mask = [1.0] * c.d_x
        for link in off:
            mask[link.start:link.stop] = [0.0] * (link.stop - link.start)
        return self.backend.asarray(mask)

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.regions]

    def curvatures(self) -> list[float]:
        """For each region, the curvature the regions reading it add to its step-size bound."""
        return [sum(self.regions[t.region].region.input_curvature() for t in c.predicted_by)
                + sum(self.regions[t.region].region.context_curvature() for t in c.context_of)
                for c in self.regions]

    def inputs_of(self, j: int, device) -> tuple:
        """Region ``j``'s X and Y (Y None without context) in a settled state (``result._device``)."""
        c, b = self.regions[j], self.backend
        X = gather(b, c.in_links, c.d_x, device.batch, device.inputs, device.states, self.index, device.past)
        Y = gather(b, c.ctx_links, c.d_y, device.batch, device.inputs, device.states, self.index, device.past)
        return X, Y
