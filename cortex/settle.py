"""Settling: block-coordinate descent on the energy of the whole region graph.

Each step updates the regions one at a time in top-down order (predictions before what they predict),
each from the current state of all others (Gauss-Seidel). Every block update lowers the energy when
noise and adaptation are off, so the whole trace is non-increasing; more steps never hurt.

The sweep is compiled once, at build time, into a schedule (:func:`build_schedule`): regions whose
energy terms do not touch each other can be updated in either order with the same result, so the
top-down sweep is cut into levels of mutually uncoupled regions, and within a level the linear
predictive regions of equal shape form one :class:`~cortex.grouped.LinearGroup`, stepped by batched
matmuls. The result is the top-down sweep's, reordered only where the order cannot matter.

Per step, nothing is allocated for grouped regions: inputs are gathered into preallocated buffers only
when a source moved, context priors are recomputed only when a context source moved, each region's
energy reuses its cached prediction and lateral term (elementwise work only), and the convergence check
copies one number to the host every ``check_every`` steps. This module is pure array code on
``backend.xp``; it never imports NumPy or CuPy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .grouped import LinearGroup, eligible, signature
from .ops import Ops
from .softmax_block import SoftmaxBlock
from .softmax_block import eligible as softmax_eligible


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


# ----------------------------------------------------------------------------------------- schedule

class Single:
    """A region stepped through its own interface (any kind; teacher-clamped and softmax regions)."""

    G = 1

    def __init__(self, j: int, compiled):
        self.members = [j]
        self.j, self.region = j, compiled[j].region

    def begin(self, env, states, curv, rate):
        self.curv, self.rate = curv[self.j], rate
        b = env.backend
        self.gbuf, self.tbuf = b.zeros((env.batch, self.region.n)), b.zeros((env.batch, self.region.n))

    def step(self, env):
        j, region = self.j, self.region
        X, Y = env.X(j), env.Y(j)
        g = self.gbuf if env.external_gradient(j, self.gbuf, self.tbuf) else None
        sigma = region.p.noise
        noise = env.noise_streams[j].normal((env.batch, region.n), sigma) if sigma and env.noise_streams else None
        region.step(env.states[j], X, Y, g, self.curv, self.rate, noise)
        env.version[j] += 1

    def energy(self, env, out):
        out[self.j, ...] = self.region.energy(env.states[self.j], env.X(self.j), env.Y(self.j))

    def flops(self, batch: int) -> int:
        r = self.region
        per = 4 * batch * r.n * r.d_x * (1 + getattr(r, "k", 0))
        return per + (2 * batch * r.d_y * r.n if r.d_y else 0)


def _single(j, compiled, backend):
    """A block for one ungroupable region: the in-place softmax block when it applies, else its own step."""
    if softmax_eligible(compiled[j].region):
        return SoftmaxBlock(j, compiled, backend)
    return Single(j, compiled)


def coupled_pairs(compiled, index) -> list[set]:
    """For each region, the regions that share an energy term with it (the order of their updates matters).

    r and u are coupled when one is an undelayed input or context source of the other, or both are
    undelayed context sources of the same region (its prior mixes them). Two input sources of one region
    are not coupled: its input term is a sum over input columns.
    """
    near = [set() for _ in compiled]
    for q, c in enumerate(compiled):
        ins = [index[l.source] for l in c.in_links if not l.is_input]
        ctx = [index[l.source] for l in c.ctx_links if not l.is_input and l.delay == 0]
        for u in ins + ctx:
            if u != q:
                near[q].add(u)
                near[u].add(q)
        for u in ctx:
            near[u].update(v for v in ctx if v != u)
    return near


def build_schedule(compiled, index, order_down, backend, group: bool = True) -> list:
    """The top-down sweep as a list of blocks (:class:`Single` or :class:`~cortex.grouped.LinearGroup`).

    Each region's level is one more than the highest level of the coupled regions before it in the
    sweep, so coupled regions keep their order and regions of one level are mutually uncoupled. With
    ``group=False`` every region is its own block, in sweep order (the grouped result must equal it).
    """
    if not group:
        return [LinearGroup([j], compiled, backend) if eligible(compiled[j].region) else _single(j, compiled, backend)
                for j in order_down]
    near = coupled_pairs(compiled, index)
    level: dict[int, int] = {}
    for j in order_down:
        level[j] = 1 + max((level[u] for u in near[j] if u in level), default=-1)
    blocks = []
    for lv in range(max(level.values(), default=-1) + 1):
        buckets: dict[str, list[int]] = {}
        for j in order_down:
            if level[j] != lv:
                continue
            if eligible(compiled[j].region):
                buckets.setdefault(signature(compiled[j].region), []).append(j)
            else:
                blocks.append(_single(j, compiled, backend))
        blocks += [LinearGroup(members, compiled, backend) for members in buckets.values()]
    return blocks


# ------------------------------------------------------------------------------------ settle-time wiring

class Env:
    """One settle call's wiring: input/context buffers refreshed only when a source moved, and the
    gradients regions send each other. ``version[j]`` counts region j's updates."""

    def __init__(self, compiled, index, backend, inputs, past, states, batch, noise_streams, groups):
        self.compiled, self.index, self.backend = compiled, index, backend
        self.inputs, self.past, self.states, self.batch = inputs, past, states, batch
        self.noise_streams, self.groups = noise_streams, groups      # region index -> (LinearGroup, member)
        self.ops = Ops(backend)
        R = len(compiled)
        self.version = [0] * R
        self._x = [None] * R
        self._y = [None] * R
        self._bound_x = {}

    def bind(self, j, xview):
        """A grouped region's input buffer is a view of its group's stacked buffer."""
        self._bound_x[j] = xview

    def finish(self):
        """Wire every region: an alias for one undelayed source, else a buffer with its constant parts filled."""
        for j, c in enumerate(self.compiled):
            self._x[j] = self._wire(c.in_links, c.d_x, self._bound_x.get(j), j in self.groups)
            self._y[j] = None if j in self.groups else self._wire(c.ctx_links, c.d_y, None, False)
        self._pred = [[self._predictor(q, s0, s1) for q, s0, s1 in c.predicted_by] for c in self.compiled]
        self._ctx = [[self._context_target(q, s0, s1) for q, s0, s1 in c.context_of] for c in self.compiled]
        self._tmp2 = [self.backend.zeros((self.batch, c.region.n)) if c.predicted_by else None for c in self.compiled]

    def _wire(self, links, d, buf, grouped):
        if not links:
            return None
        if len(links) == 1 and links[0].delay == 0 and not grouped:
            link = links[0]
            return ("alias", link.source if link.is_input else self.index[link.source])
        if buf is None:
            buf = self.backend.zeros((self.batch, d))
        dynamic = []
        for link in links:
            if link.is_input:
                buf[:, link.start:link.stop] = self.inputs[link.source]
            elif link.delay:
                frame = self.past[-link.delay] if len(self.past) >= link.delay else None
                if frame is not None:
                    buf[:, link.start:link.stop] = frame[link.source]
            else:
                dynamic.append((link.start, link.stop, self.index[link.source]))
        return ["buffer", buf, dynamic, [u for _, _, u in dynamic], None]

    def _key(self, wire):
        return sum(self.version[u] for u in wire[3])

    def _fresh(self, wire):
        key = self._key(wire)
        if key != wire[4]:
            buf = wire[1]
            for s0, s1, u in wire[2]:
                buf[:, s0:s1] = self.states[u].a
            wire[4] = key

    def x_key(self, j):
        """A number that changes whenever region j's input X may have changed (sum of its sources' versions)."""
        w = self._x[j]
        if w is None:
            return 0
        if w[0] == "alias":
            return 0 if isinstance(w[1], str) else self.version[w[1]]
        return self._key(w)

    def fresh_x(self, j):
        w = self._x[j]
        if w is not None and w[0] == "buffer":
            self._fresh(w)

    def _get(self, w):
        if w is None:
            return None
        if w[0] == "alias":
            return self.inputs[w[1]] if isinstance(w[1], str) else self.states[w[1]].a
        self._fresh(w)
        return w[1]

    def X(self, j):
        return self._get(self._x[j])

    def Y(self, j):
        return self._get(self._y[j])

    # ----- what other regions send to region j ------------------------------------------------------
    def _predictor(self, q, s0, s1):
        region = self.compiled[q].region
        simple = not (getattr(region, "softmax", False) and region.p.error != "gaussian") and hasattr(region, "pi")
        if not simple:
            return ("generic", q, s0, s1)
        scale2 = None if region.p.error == "gaussian" else region.p.error_scale ** 2
        pi = float(self.backend.to_numpy(region.pi[s0:s0 + 1])[0])       # one link: one precision, a scalar
        return ("residual", q, s0, s1, pi, scale2)

    def _context_target(self, q, s0, s1):
        if q in self.groups:
            grp, k = self.groups[q]
            Vt = self.backend.xp.moveaxis(grp.V[k, s0:s1, :], -1, -2)     # (n_q, n_j)
            return ("linear", q, grp, k, Vt, float(self.backend.to_numpy(grp.c[s0:s0 + 1])[0]))
        return ("generic", q, s0, s1)

    def external_gradient(self, j, out, tmp) -> bool:
        """Sum into ``out`` dE/da_j of the regions that take j as input or context; False when there are none."""
        preds, ctxs = self._pred[j], self._ctx[j]
        if not preds and not ctxs:
            return False
        ops, a = self.ops, self.states[j].a
        if len(preds) == 1 and not ctxs and preds[0][0] == "residual":
            _, q, s0, s1, pi, scale2 = preds[0]
            pred = self.states[q].pred
            if s0 == 0 and s1 == pred.shape[-1]:   # the whole of q's prediction: straight into out
                ops.residual(a, pred, pi, out, self._tmp2[j], scale2)
                return True
        out[...] = 0.0
        for entry in preds:
            if entry[0] == "residual":
                _, q, s0, s1, pi, scale2 = entry
                tmp[...] = self.states[q].pred[:, s0:s1]   # a strided operand would make NumPy buffer the ufunc
                ops.residual(a, tmp, pi, tmp, self._tmp2[j], scale2)
                out += tmp
            else:
                _, q, s0, s1 = entry
                out += self.compiled[q].region.input_gradient(self.states[q], self.X(q))[:, s0:s1]
        for entry in ctxs:
            if entry[0] == "linear":
                _, q, grp, k, Vt, c = entry
                grp.fresh_prior(self, k)
                d = grp.T[k, ...]
                ops.subtract(self.states[q].a, grp.prior[k, ...], d)
                d *= -grp.p.context_precision
                ops.matmul(d, Vt, tmp)
                tmp *= c
                out += tmp
            else:
                _, q, s0, s1 = entry
                out += self.compiled[q].region.context_gradient(self.states[q], self.Y(q))[:, s0:s1]
        return True


class Settling:
    """One settle call, prepared: the first guess made, buffers allocated and wired.

    ``sweep()`` is one settling step of every region followed by the energy bookkeeping; :func:`run`
    loops it. The benchmark times ``sweep()`` on its own.
    """

    def __init__(self, schedule, compiled, index, order_up, backend, inputs, teachers, past, steps, rate,
                 noise_streams):
        self.schedule, self.backend = schedule, backend
        B = next(iter(inputs.values())).shape[0]
        R = len(compiled)
        states = [None] * R
        for j in order_up:   # feed-forward first guess
            c = compiled[j]
            X = gather(backend, c.in_links, c.d_x, B, inputs, states, index, past)
            Y = gather(backend, c.ctx_links, c.d_y, B, inputs, states, index, past)
            states[j] = c.region.start(X, Y, teachers.get(c.teacher) if c.teacher else None)
        curv = [sum(compiled[q].region.input_curvature() for q, _, _ in c.predicted_by)
                + sum(compiled[q].region.context_curvature() for q, _, _ in c.context_of) for c in compiled]
        groups = {j: (blk, i) for blk in schedule if isinstance(blk, LinearGroup) for i, j in enumerate(blk.members)}
        self.env = env = Env(compiled, index, backend, inputs, past, states, B, noise_streams, groups)
        for blk in schedule:
            blk.begin(env, states, curv, rate)
        env.finish()
        self.states, self.inputs, self.past, self.batch = states, inputs, past, B
        self.latest = backend.zeros((R, B))                    # every region's share of every stimulus' energy
        self.per_step = backend.zeros((max(steps, 1), R))
        self.energies()
        self.start = backend.xp.mean(self.latest, axis=1)

    def energies(self):
        for blk in self.schedule:
            blk.energy(self.env, self.latest)

    def sweep(self, t: int = 0):
        """One settling step of every region, then every region's energy into row ``t`` of ``per_step``."""
        for blk in self.schedule:
            blk.step(self.env)
        self.energies()
        self.env.ops.mean_last(self.latest, self.per_step[t, ...])


def run(schedule, compiled, index, order_up, backend, inputs, teachers, past, steps, rate, tol, check_every,
        noise_streams, record):
    """Settle a batch.

    Returns (SettleState, mean energy per step per region as a (steps_run, R) device array, start energy
    per region, final energy per stimulus (B,), trace, converged).
    """
    xp = backend.xp
    s = Settling(schedule, compiled, index, order_up, backend, inputs, teachers, past, steps, rate, noise_streams)
    states = s.states
    trace = [[backend.copy(st.a) for st in states]] if record else None
    converged, ran = False, 0
    last_checked = float(backend.to_numpy(xp.sum(s.start)))
    for t in range(steps):
        s.sweep(t)
        ran = t + 1
        if record:
            trace.append([backend.copy(st.a) for st in states])
        if tol and (t + 1) % check_every == 0:     # one device-to-host copy every check_every steps
            now = float(backend.to_numpy(xp.sum(s.per_step[t, ...])))
            if abs(last_checked - now) <= tol * check_every * max(abs(now), 1e-12):
                converged = True
                break
            last_checked = now
    return (SettleState(states, s.inputs, list(past), s.batch), s.per_step[:ran, ...], s.start,
            xp.sum(s.latest, axis=0), trace, converged)
