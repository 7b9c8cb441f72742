"""The reference settle loop: the same equations as :mod:`cortex.settle`, written the straightforward way.

One region at a time in top-down order, each region's input X and context Y gathered afresh every time
they are used, every region's energy recomputed from scratch after every step, fresh arrays for every
intermediate, and every region stepped through its own ``step`` (no fast path). This is the engine as it was
first written; the benchmark times it beside the engine (so a regression shows as a falling ratio) and the
tests check the engine against it (so an optimisation that changes the numbers shows as a failure).
"""
from __future__ import annotations

from cortex.compiled import gather
from cortex.settle import DeviceState, SettleOptions, SettleRun


def settle_reference(model, stimuli: dict, steps: int, *, rate: float | None = None, tol: float = 0.0,
                     noise: bool = True, record: bool = False, past=None) -> SettleRun:
    """Settle ``stimuli`` on ``model`` with the reference loop: what ``model.settle`` computes, as a
    :class:`~cortex.settle.SettleRun` of device arrays, for comparison."""
    options = model.options(steps, rate=rate, tol=tol, record=record, noise=noise)
    inputs, teachers = model._prepare(stimuli)
    batch = next(iter((inputs or teachers).values())).shape[0]
    past_frames = [model._frame(r, batch) for r in (past or [])]
    return run_reference(model.compiled, inputs, teachers, past_frames, options,
                         model.noise_streams if noise else None)


class ReferenceSettling:
    """The reference loop, prepared (first guess made); ``sweep()`` is one step plus every region's energy."""

    def __init__(self, graph, inputs, teachers, past, noise_streams):
        self.compiled, self.index, self.order_down, self.backend = graph.regions, graph.index, graph.down, graph.backend
        self.inputs, self.past, self.noise_streams = inputs, past, noise_streams
        self.B = next(iter(inputs.values())).shape[0]
        self.states = [None] * len(self.compiled)
        for j in graph.up:   # feed-forward first guess
            c = self.compiled[j]
            self.states[j] = c.region.start(self.X_of(j), self.Y_of(j), teachers.get(c.teacher) if c.teacher else None)
        self.curv = graph.curvatures()
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
            for t in c.predicted_by:
                gq = compiled[t.region].region.input_gradient(states[t.region], self.X_of(t.region))[:, t.start:t.stop]
                g = gq if g is None else g + gq
            for t in c.context_of:
                gq = compiled[t.region].region.context_gradient(states[t.region], self.Y_of(t.region))[:, t.start:t.stop]
                g = gq if g is None else g + gq
            sigma = c.region.noise_std()
            noise = self.noise_streams[j].normal((self.B, c.region.n), sigma) if sigma and self.noise_streams else None
            c.region.step(states[j], X, Y, g, self.curv[j], rate, noise)
        self.latest = self.energies()
        return self.backend.xp.mean(self.latest, axis=1)


def run_reference(graph, inputs, teachers, past, options: SettleOptions, noise_streams) -> SettleRun:
    backend = graph.backend
    xp = backend.xp
    s = ReferenceSettling(graph, inputs, teachers, past, noise_streams)
    start = xp.mean(s.latest, axis=1)
    trace = [[backend.copy(st.a) for st in s.states]] if options.record else None
    per_step, converged = [], False
    last_checked = float(backend.to_numpy(xp.sum(start)))
    for t in range(options.steps):
        per_step.append(s.sweep(options.rate))
        if options.record:
            trace.append([backend.copy(st.a) for st in s.states])
        if options.tol and (t + 1) % options.check_every == 0:
            now = float(backend.to_numpy(xp.sum(per_step[-1])))
            if abs(last_checked - now) <= options.tol * options.check_every * max(abs(now), 1e-12):
                converged = True
                break
            last_checked = now
    per_step = xp.stack(per_step) if per_step else backend.zeros((0, len(graph)))
    return SettleRun(DeviceState(s.states, inputs, list(past), s.B), per_step, start, xp.sum(s.latest, axis=0),
                     trace, converged)
