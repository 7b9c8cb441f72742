"""The reference settle loop: the same equations as :mod:`cortex.settle`, written the straightforward way.

One region at a time in top-down order, each region's input X and context Y gathered afresh every time
they are used, every region's energy recomputed from scratch after every step, fresh arrays for every
intermediate. This is the engine as it was first written; the benchmark times it beside the engine (so a
regression shows as a falling ratio) and the tests check the engine against it (so an optimisation that
changes the numbers shows as a failure).
"""
from __future__ import annotations

from cortex.settle import SettleState, gather


def settle_reference(model, stimuli: dict, steps: int, *, rate: float | None = None, tol: float = 0.0,
                     noise: bool = True, record: bool = False, past=None):
    """Settle ``stimuli`` on ``model`` with the reference loop.

    Returns (activity by region as device arrays, per-step mean energy by region as a list of (R,) device
    arrays, start energy by region, final energy per stimulus, trace, converged): what
    :func:`cortex.settle.run` computes, for comparison.
    """
    rate = model.spec.settle.rate if rate is None else float(rate)
    inputs, teachers = model._prepare(stimuli)
    batch = next(iter((inputs or teachers).values())).shape[0]
    past_frames = [model._frame(r, batch) for r in (past or [])]
    return run_reference(model._compiled, model._index, model._up, model._down, model.backend, inputs, teachers,
                         past_frames, steps, rate, tol, model.spec.settle.check_every,
                         model._noise if noise else None, record)


class ReferenceSettling:
    """The reference loop, prepared (first guess made); ``sweep()`` is one step plus every region's energy."""

    def __init__(self, compiled, index, order_up, order_down, backend, inputs, teachers, past, noise_streams):
        self.compiled, self.index, self.order_down, self.backend = compiled, index, order_down, backend
        self.inputs, self.past, self.noise_streams = inputs, past, noise_streams
        self.B = next(iter(inputs.values())).shape[0]
        self.states = [None] * len(compiled)
        for j in order_up:   # feed-forward first guess
            c = compiled[j]
            self.states[j] = c.region.start(self.X_of(j), self.Y_of(j), teachers.get(c.teacher) if c.teacher else None)
        self.curv = [sum(compiled[q].region.input_curvature() for q, _, _ in c.predicted_by)
                     + sum(compiled[q].region.context_curvature() for q, _, _ in c.context_of) for c in compiled]
        self.latest = self.energies()

    def X_of(self, j):
        c = self.compiled[j]
        return gather(self.backend, c.in_links, c.d_x, self.B, self.inputs, self.states, self.index, self.past)

    def Y_of(self, j):
        c = self.compiled[j]
        return gather(self.backend, c.ctx_links, c.d_y, self.B, self.inputs, self.states, self.index, self.past)

    def energies(self):   # (regions, batch): every region's share of every stimulus' energy
        return self.backend.xp.stack([c.region.energy(self.states[j], self.X_of(j), self.Y_of(j))
                                      for j, c in enumerate(self.compiled)])

    def sweep(self, rate):
        compiled, states = self.compiled, self.states
        for j in self.order_down:
            c = compiled[j]
            X, Y = self.X_of(j), self.Y_of(j)
            g = None
            for q, s0, s1 in c.predicted_by:
                gq = compiled[q].region.input_gradient(states[q], self.X_of(q))[:, s0:s1]
                g = gq if g is None else g + gq
            for q, s0, s1 in c.context_of:
                gq = compiled[q].region.context_gradient(states[q], self.Y_of(q))[:, s0:s1]
                g = gq if g is None else g + gq
            sigma = c.region.p.noise
            noise = self.noise_streams[j].normal((self.B, c.region.n), sigma) if sigma and self.noise_streams else None
            c.region.step(states[j], X, Y, g, self.curv[j], rate, noise)
        self.latest = self.energies()
        return self.backend.xp.mean(self.latest, axis=1)


def run_reference(compiled, index, order_up, order_down, backend, inputs, teachers, past, steps, rate, tol,
                  check_every, noise_streams, record):
    xp = backend.xp
    s = ReferenceSettling(compiled, index, order_up, order_down, backend, inputs, teachers, past, noise_streams)
    start = xp.mean(s.latest, axis=1)
    trace = [[backend.copy(st.a) for st in s.states]] if record else None
    per_step, converged = [], False
    last_checked = float(backend.to_numpy(xp.sum(start)))
    for t in range(steps):
        per_step.append(s.sweep(rate))
        if record:
            trace.append([backend.copy(st.a) for st in s.states])
        if tol and (t + 1) % check_every == 0:
            now = float(backend.to_numpy(xp.sum(per_step[-1])))
            if abs(last_checked - now) <= tol * check_every * max(abs(now), 1e-12):
                converged = True
                break
            last_checked = now
    return SettleState(s.states, inputs, list(past), s.B), per_step, start, xp.sum(s.latest, axis=0), trace, converged
