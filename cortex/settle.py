"""Settling: block-coordinate descent on the energy of the whole region graph.

Each step updates the regions one at a time in top-down order (predictions before what they predict),
each from the current state of all others (Gauss-Seidel). Every block update lowers the energy when
noise and adaptation are off, so the whole trace is non-increasing; more steps never hurt.
This module is pure array code on ``backend.xp``; it never imports NumPy or CuPy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Link:
    """One source feeding a slice [start, stop) of a region's input X or context Y."""

    source: str
    is_input: bool
    start: int
    stop: int
    delay: int = 0


@dataclass
class CompiledRegion:
    """A region with its wiring resolved to flat slices: no name lookups inside the loop."""

    name: str
    region: Any
    in_links: list[Link]
    ctx_links: list[Link]
    teacher: str | None
    predicted_by: list[tuple[int, int, int]] = field(default_factory=list)   # (region index, start, stop) in its X
    context_of: list[tuple[int, int, int]] = field(default_factory=list)     # (region index, start, stop) in its Y
    d_x: int = 0
    d_y: int = 0


@dataclass
class SettleState:
    """Everything settling produced on the device, kept so ``learn`` can use it without recomputation."""

    states: list
    inputs: dict
    past: list
    batch: int


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
    if link.is_input:
        return inputs[link.source]
    if link.delay:
        frame = past[-link.delay] if len(past) >= link.delay else None
        return None if frame is None else frame[link.source]
    st = states[index[link.source]]
    if st is None:   # not started yet during the first feed-forward sweep: no activity
        return backend.zeros((batch, link.stop - link.start))
    return st.a


def run(compiled, index, order_up, order_down, backend, inputs, teachers, past, steps, rate, tol, check_every,
        noise_streams, record):
    """Settle a batch.

    Returns (SettleState, mean energy per step per region (list of (R,) arrays), start energy per region,
    final energy per stimulus (B,), trace, converged).
    """
    xp = backend.xp
    B = next(iter(inputs.values())).shape[0]
    states = [None] * len(compiled)

    def X_of(j):
        c = compiled[j]
        return gather(backend, c.in_links, c.d_x, B, inputs, states, index, past)

    def Y_of(j):
        c = compiled[j]
        return gather(backend, c.ctx_links, c.d_y, B, inputs, states, index, past)

    for j in order_up:   # feed-forward first guess
        c = compiled[j]
        states[j] = c.region.start(X_of(j), Y_of(j), teachers.get(c.teacher) if c.teacher else None)

    curv = [sum(compiled[q].region.input_curvature() for q, _, _ in c.predicted_by)
            + sum(compiled[q].region.context_curvature() for q, _, _ in c.context_of) for c in compiled]

    def energies():   # (regions, batch): every region's share of every stimulus' energy
        return xp.stack([c.region.energy(states[j], X_of(j), Y_of(j)) for j, c in enumerate(compiled)])

    latest = energies()
    start = xp.mean(latest, axis=1)
    trace = [[backend.copy(s.a) for s in states]] if record else None
    per_step, converged = [], False
    last_checked = float(backend.to_numpy(xp.sum(start)))
    for t in range(steps):
        for j in order_down:
            c = compiled[j]
            X, Y = X_of(j), Y_of(j)
            g = None
            for q, s0, s1 in c.predicted_by:
                gq = compiled[q].region.input_gradient(states[q], X_of(q))[:, s0:s1]
                g = gq if g is None else g + gq
            for q, s0, s1 in c.context_of:
                gq = compiled[q].region.context_gradient(states[q], Y_of(q))[:, s0:s1]
                g = gq if g is None else g + gq
            sigma = c.region.p.noise
            noise = noise_streams[j].normal((B, c.region.n), sigma) if sigma and noise_streams else None
            c.region.step(states[j], X, Y, g, curv[j], rate, noise)
        latest = energies()
        per_step.append(xp.mean(latest, axis=1))
        if record:
            trace.append([backend.copy(s.a) for s in states])
        if tol and (t + 1) % check_every == 0:     # one device-to-host copy every check_every steps
            now = float(backend.to_numpy(xp.sum(per_step[-1])))
            if abs(last_checked - now) <= tol * check_every * max(abs(now), 1e-12):
                converged = True
                break
            last_checked = now
    return SettleState(states, inputs, list(past), B), per_step, start, xp.sum(latest, axis=0), trace, converged
