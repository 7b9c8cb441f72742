"""Grouped settling of linear predictive regions: G regions of equal shape stepped by one batched matmul.

A :class:`LinearGroup` holds the weights of its G member regions stacked as (G, n, d) arrays and their
settling state as (G, B, n) buffers, so one ``matmul`` call (one BLAS batch on the CPU, one kernel
launch on a GPU) serves all of them. Members are regions of the ``predictive`` kind with competition
``none`` or ``lateral`` and identical shapes and step parameters (a region with a teacher is a group of one:
its clamp is per call; white or coloured noise, the coloured drive kept in a buffer of the group); the schedule
(:func:`cortex.schedule.build_schedule`) only puts regions in one group when no energy term couples them,
so stepping them together is exactly the sequential (Gauss-Seidel) sweep, reordered. The group is
registered as the kind's fast path for those regions (:func:`cortex.schedule.register_fast_path`).

The members keep their per-region interface: ``region.weights[k]`` is a view of its slice of the stack
(learning and ``load_weights`` replace it with a new array, which the next settle copies back in), and
each member's ``State`` holds views of the group's buffers, so ``learn``, checkpoints and past frames
see ordinary (B, n) arrays. The equations are the kind's :mod:`.kernels`, called on the stacked buffers as the
region's own step calls them on one region's; two shortcuts are built on top (a uniform lateral inhibition
``L = c (1 - I)`` taken as ``c (sum(a) - a)``, and each context link's part of the prior recomputed only
when its source moved), and the tests hold the group to the region's own methods. On the CPU with numba the
elementwise work of a step runs fused (:mod:`.grouped_fused`); a group of one reads its X where the wiring has
it instead of a copy in its own buffer.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from cortex.schedule import Block, register_fast_path

from . import kernels as K
from .params import State, fast_path_knows
from .grouped_fused import FusedLinear
from .region import Predictive

# Parameters that enter a settling step (the rest act at start or in learning): members must agree on these.
STEP_FIELDS = ("competition", "precision", "context_precision", "sparsity", "inhibition", "error", "error_scale",
               "adaptation", "noise", "noise_tau")


def eligible(region) -> bool:
    """Whether ``region`` can be stepped by a :class:`LinearGroup`."""
    return (type(region) is Predictive and region.p.competition in ("none", "lateral") and fast_path_knows(region.p))


def signature(region) -> str:
    """Regions with equal signatures can share a group: same shapes, step parameters and precisions."""
    b = region.backend
    pi = b.to_numpy(region.pi).tolist()
    c = b.to_numpy(region.c).tolist() if region.d_y else []
    step = region.p.model_dump(include=set(STEP_FIELDS), mode="json")
    # a teacher clamps its region alone: a group of one (learned precisions may share a group: the group reads
    # each member's precisions at every call, so members whose precisions have moved apart still settle apart)
    alone = region.name if region.p.teacher else None
    return json.dumps([region.n, region.d_x, region.d_y, step, pi, c, alone], sort_keys=True)


@dataclass(frozen=True)
class ContextPart:
    """One context link of a member: its part of the prior, ``(a_u * c) @ V[rows]`` (B, n). ``source`` None: an
    input or a past frame, computed once per call; else region ``source``, recomputed when it moved
    (``scratch`` holds ``a_u * c``; ``stamp`` indexes the group's record of the version it was computed at)."""

    source: int | None
    part: Any
    scratch: Any = None
    V: Any = None
    c: float = 0.0
    stamp: int = 0


@dataclass(frozen=True)
class GroupContextPull:
    """What member ``member`` of ``group`` sends to one of its context sources: ``-cp (a - prior) V^T c`` from the
    group's own prior (the same equation as ``Predictive.context_gradient``, :func:`.kernels.context_gradient`)."""

    region: int
    group: Any
    member: int
    Vt: Any
    c: float

    def add(self, env, j, out, tmp) -> None:
        grp, k = self.group, self.member
        grp.fresh_prior(env, k)
        K.context_gradient(env.ops, env.states[self.region].a, grp.prior[k, ...], grp.p.context_precision, self.Vt,
                           self.c, grp.T[k, ...], tmp)
        out += tmp


@register_fast_path(Predictive, accepts=eligible, group_key=signature)
class LinearGroup(Block):
    """Settling of G mutually uncoupled linear predictive regions of equal shape (see the module docstring)."""

    def __init__(self, members: list[int], compiled, backend):
        self.members = list(members)
        self.regions = [compiled[j].region for j in self.members]
        r0 = self.regions[0]
        self.backend, self.xp, self.p = backend, backend.xp, r0.p
        self.n, self.d_x, self.d_y = r0.n, r0.d_x, r0.d_y
        p = r0.p
        self.lateral = p.competition == "lateral" and p.inhibition > 0 and "L" in r0.weights
        self.cauchy2 = None if p.error == "gaussian" else p.error_scale ** 2
        self.adapting = p.adaptation.strength > 0
        self.c = r0.c
        self.keys = ["W"] + (["L"] if self.lateral else []) + (["V"] if self.d_y else [])
        self.stack = {k: backend.zeros((self.G, *r0.weights[k].shape)) for k in self.keys}
        self._views: list[dict] = [{} for _ in self.members]
        self.sync()
        self.W = self.stack["W"]
        self.Wt = self.xp.moveaxis(self.W, -1, -2)
        self.L = self.stack.get("L")
        self.V = self.stack.get("V")
        self.c_lat = None         # the uniform lateral inhibition's c, found at each settle call (``begin``)

    def sync(self) -> None:
        """Copy into the stack any member weight that learning or ``load_weights`` replaced; members see views."""
        for i, region in enumerate(self.regions):
            for k in self.keys:
                w = region.weights[k]
                if w is self._views[i].get(k):
                    continue
                self.stack[k][i, ...] = w
                view = self.stack[k][i, ...]
                self._views[i][k] = view
                region.weights[k] = view

    # ----- per settle call ---------------------------------------------------------------------------
    def begin(self, env, states, curv, rate):
        """Allocate this call's buffers, move the first guess into them, hand members views of them."""
        self.sync()
        b, G, B, n, p = self.backend, self.G, env.batch, self.n, self.p
        z = lambda *shape: b.zeros(shape)   # noqa: E731
        jit = env.ops.jit
        self.A, self.H, self.P = z(G, B, n), z(G, B, n), z(G, B, self.d_x)
        # one member reads its X where the wiring has it (an input, a source's activity: no copy per step); several
        # are stacked into one buffer, which the wiring fills
        self.bound = G > 1
        self.X = z(G, B, self.d_x) if self.bound else None
        self._xsrc = self._xv = None
        self.E = z(G, B, self.d_x)
        self.E2, self.R = (None, None) if jit else (z(G, B, self.d_x), z(G, B, self.d_x))
        self.rkey, self.moves = None, 0
        pulled = any(env.compiled[j].predicted_by or env.compiled[j].context_of for j in self.members)
        # the fused step forms a sole residual pull inline (no gext) and needs T only to pull on context sources
        self.Gd = z(G, B, n)
        self.gext = z(G, B, n) if pulled and (not jit or G > 1) else None
        self.T = z(G, B, n) if not jit or self.d_y else None
        self.T2 = z(G, B, n) if pulled else None
        self.AL = z(G, B, n) if self.lateral else None
        self.c_lat = self._uniform_lateral() if self.lateral else None
        if self.c_lat is not None and jit:
            self.AL = None                         # the fused step takes c (S - a) inline
        self.S = z(G, B, 1) if self.c_lat is not None else None
        # NumPy / Array API with a uniform L: the lateral term goes into the update as a per-row column and
        # a rescaling of a (see ``_uniform_gradient``), and AL itself is never formed
        self.fold = self.c_lat is not None and env.ops.fused is None and not jit
        self.col = z(G, B, 1) if self.fold else None
        self.N = z(G, B, n) if p.noise else None
        self.coloured = bool(p.noise and p.noise_tau)
        olds = [states[j] for j in self.members]
        self.XI = z(G, B, n) if self.coloured else None
        self.fresh = [st.xi is None for st in olds] if self.coloured else []
        self.xi_fresh = all(self.fresh)
        self.clamped = any(st.clamped for st in olds)       # a teacher's region is a group of one
        if not jit:
            self.en1, self.tb1 = z(G, B, 1), z(G, B, 1)          # row sums land in (..., 1) columns
            self.en, self.tb = self.en1[..., 0], self.tb1[..., 0]
        if self.d_y:
            self.prior, self._stamps = z(G, B, n), []
            self._ctx = [self._context_links(env, j, i) for i, j in enumerate(self.members)]
            self._prior_ready = [False] * G
        # precision as a Python scalar when it is uniform (NumPy buffers a broadcast vector operand on every
        # call), else spelled out to the buffers' full shape
        # (read from the members at every call: an absent input masks a member's precision for one call)
        pi_host = [b.to_numpy(r.pi) for r in self.regions]
        if jit:
            self.pi_op = None
        elif all((h == pi_host[0][0]).all() for h in pi_host):
            self.pi_op = float(pi_host[0][0])
        else:
            self.pi_op = b.zeros((G, B, self.d_x))
            for i, r in enumerate(self.regions):
                self.pi_op[i, ...] = r.pi
        etas = [rate / (r._steps() + curv[j]) for j, r in zip(self.members, self.regions)]
        if env.ops.fused is None and len(set(etas)) == 1:     # one step size: a Python scalar (no broadcast operand)
            self.eta, self.sqrt_eta = etas[0], math.sqrt(etas[0])
        else:
            self.eta = b.asarray([[[e]] for e in etas])
            self.sqrt_eta = b.asarray([[[math.sqrt(e)]] for e in etas])
        if self.fold:    # 1 + eta * inhibition * c, per member
            k = [e * self.p.inhibition * self.c_lat for e in etas]
            self.one_k = 1.0 + k[0] if isinstance(self.eta, float) else b.asarray([[[1.0 + x]] for x in k])
        for i, (j, st) in enumerate(zip(self.members, olds)):
            self.A[i, ...], self.H[i, ...], self.P[i, ...] = st.a, st.h, st.pred
            xi = None
            if self.coloured and st.xi is not None:
                self.XI[i, ...] = st.xi
                xi = self.XI[i, ...]
            states[j] = State(a=self.A[i, ...], h=self.H[i, ...], pred=self.P[i, ...], xi=xi, clamped=st.clamped)
            if self.bound:
                env.bind(j, self.X[i, ...])
            env.own_context(j)
        if self.lateral:
            self._lateral(env.ops)
        self.jit = FusedLinear(self, env, etas) if jit else None

    def x3(self, env):
        """The members' X as one (G, B, d) array, up to date with its sources."""
        if self.bound:
            for j in self.members:
                env.fresh_x(j)
            return self.X
        x = env.X(self.members[0])
        if x is not self._xsrc:
            self._xsrc, self._xv = x, self.xp.expand_dims(x, axis=0)
        return self._xv

    def drive_started(self, env) -> None:
        """After the first step of a coloured drive: every member's state shows its drive from now on."""
        if not self.xi_fresh and not any(self.fresh):
            return
        for i, j in enumerate(self.members):
            env.states[j].xi = self.XI[i, ...]
        self.fresh = [False] * self.G
        self.xi_fresh = False

    def _uniform_lateral(self):
        """c when every member's L is c off the diagonal and 0 on it (the default all-to-all inhibition, c = 1),
        else None. Checked at every settle call, so learning or an in-place edit of L is always seen."""
        b, xp, n = self.backend, self.xp, self.n
        c = float(b.to_numpy(self.L[0, 0, 1:2])[0]) if n > 1 else 0.0
        ref = c * (xp.ones((n, n), dtype=b.dtype) - xp.eye(n, dtype=b.dtype))
        return c if bool(b.to_numpy(xp.all(self.L == ref))) else None

    def _lateral(self, ops):
        """AL <- A @ L; for a uniform L = c (1 - I) that is c (sum(A) - A): O(n) per row instead of O(n^2)."""
        if self.c_lat is None:
            ops.matmul(self.A, self.L, self.AL)
            return
        ops.rowsum(self.A, self.S)
        if self.fold or self.AL is None:
            return                                 # only S = sum(A) is needed
        ops.subtract_col(self.S, self.A, self.AL)
        if self.c_lat != 1.0:
            self.AL *= self.c_lat

    def context_pull(self, env, member, start, stop):
        """Member's pull on a context source, from the group's prior (see :class:`GroupContextPull`)."""
        k = self.members.index(member)
        Vt = self.xp.moveaxis(self.V[k, start:stop, :], -1, -2)     # (n_member, n_source)
        return GroupContextPull(member, self, k, Vt, float(self.backend.to_numpy(self.c[start:start + 1])[0]))

    def _context_links(self, env, j, i):
        """Member i's context as one :class:`ContextPart` per link: when a source moves, only its own part of the
        prior is recomputed (constant parts, from inputs and past frames, once per call)."""
        b, ops, B = self.backend, env.ops, env.batch
        parts = []
        for link in env.compiled[j].ctx_links:
            s0, s1 = link.start, link.stop
            part = b.zeros((B, self.n))
            V, c = self.V[i, s0:s1, :], float(self.backend.to_numpy(self.c[s0:s0 + 1])[0])   # one link, one precision
            if link.is_input or link.delay:
                if link.delay:
                    frame = env.past[-link.delay] if len(env.past) >= link.delay else None
                    if frame is None:
                        continue                      # no past frame yet: this part of the prior is zero
                    src = frame[link.source]
                else:
                    src = env.inputs[link.source]
                scratch = b.zeros((B, s1 - s0))
                ops.multiply(src, c, scratch)
                ops.matmul(scratch, V, part)
                parts.append(ContextPart(None, part))
            else:
                self._stamps.append(None)
                parts.append(ContextPart(env.index[link.source], part, b.zeros((B, s1 - s0)), V, c,
                                         len(self._stamps) - 1))
        return parts

    def fresh_prior(self, env, i=None):
        """Bring the context prior (Y * c) @ V of member ``i`` (or of all) up to date with its sources."""
        ops, stamps = env.ops, self._stamps
        for k in (range(self.G) if i is None else (i,)):
            parts = self._ctx[k]
            changed = False
            for cp in parts:
                u = cp.source
                if u is not None and stamps[cp.stamp] != env.version[u]:
                    ops.multiply(env.states[u].a, cp.c, cp.scratch)
                    ops.matmul(cp.scratch, cp.V, cp.part)
                    stamps[cp.stamp] = env.version[u]
                    changed = True
            if changed or not self._prior_ready[k]:
                prior = self.prior[k, ...]
                prior[...] = 0.0
                for cp in parts:
                    prior += cp.part
                self._prior_ready[k] = True

    # ----- the step ----------------------------------------------------------------------------------
    def step(self, env):
        ops, p = env.ops, self.p
        noise = None
        if self.N is not None and env.noise_streams:    # drawn even while clamped, as the region's own step does
            for i, j in enumerate(self.members):
                env.noise_streams[j].normal_into(self.N[i, ...], p.noise)
            noise = self.N
            if self.coloured and (self.clamped or self.jit is None or (any(self.fresh) and not self.xi_fresh)):
                noise = self._drive(ops)
        if self.clamped:                                 # a teacher holds the activity: nothing else moves
            if self.coloured and noise is not None:
                self.drive_started(env)
            for j in self.members:
                env.version[j] += 1
            return
        if self.d_y:
            self.fresh_prior(env)
        if self.jit is not None:
            self.jit.step(env, noise)
        else:
            self._step_numpy(env, noise)
        if self.adapting and self.jit is None:
            K.fatigue(ops, self.H, self.A, p.adaptation.strength, p.adaptation.tau, self.T)
        for j in self.members:
            env.version[j] += 1

    def _drive(self, ops):
        """The coloured drive xi <- rho xi + sqrt(1 - rho^2) N (N itself at a member's first step), in ``XI``."""
        rho = math.exp(-1.0 / self.p.noise_tau)
        s = math.sqrt(1.0 - rho * rho)
        for i in range(self.G):
            xi, n = self.XI[i, ...], self.N[i, ...]
            if self.fresh[i]:
                xi[...] = n
            else:
                xi *= rho
                n *= s
                xi += n
        return self.XI

    def _step_numpy(self, env, noise):
        ops, p = env.ops, self.p
        external = False
        if self.gext is not None:
            for i, j in enumerate(self.members):
                external |= env.external_gradient(j, self.gext[i, ...], self.T2[i, ...])
        eps = self._residual(env)
        if self.fold:
            ops.matmul(eps, self.Wt, self.Gd)
            self._uniform_gradient(ops, external)
        else:
            K.linear_gradient(ops, eps, self.Wt, self.Gd, self.T, p.sparsity, self.A,
                              self.prior if self.d_y else None, p.context_precision,
                              self.AL if self.lateral else None, p.inhibition, self.gext if external else None)
        if self.coloured and noise is not None:
            self.Gd -= noise                         # a fluctuating drive, in the gradient's units
            self.drive_started(env)
            noise = None
        K.descend(ops, self.A, self.Gd, self.eta, self.sqrt_eta, self.H if self.adapting else None, noise, self.T)
        ops.matmul(self.A, self.W, self.P)
        self.moves += 1
        if self.lateral:
            self._lateral(ops)

    def _uniform_gradient(self, ops, external):
        """Gd (holding eps W^T) -> the gradient less its -inhibition c a part, which goes into A instead.

        With L = c (1 - I) the gradient is sparsity + inhibition c (S - a) - eps W^T (+ context, + external),
        S = sum(a) per row. So a - eta grad = (1 + k) a - eta (sparsity + inhibition c S - eps W^T ...),
        k = eta inhibition c: A is rescaled by (1 + k) here and the rest is an ordinary gradient for ``update``.
        Two passes fewer than forming AL, and no AL array."""
        p, Gd, T = self.p, self.Gd, self.T
        if external:
            Gd -= self.gext
        if self.d_y:
            ops.subtract(self.A, self.prior, T)
            T *= p.context_precision
            Gd -= T
        ops.multiply(self.S, p.inhibition * self.c_lat, self.col)    # (G, B, 1): inhibition c S + sparsity
        self.col += p.sparsity
        ops.subtract_col(self.col, Gd, T)
        self.Gd, self.T = T, Gd                                      # swap the buffers instead of copying
        self.A *= self.one_k

    def _input_residual(self, env):
        """R <- X - P, unless neither X nor P moved since it was last computed (the energy bookkeeping at the
        end of a sweep computes it, and the next step finds it still valid)."""
        X = self.x3(env)
        key = (self.moves, tuple(env.x_key(j) for j in self.members))
        if key != self.rkey:
            env.ops.subtract(X, self.P, self.R)
            self.rkey = key
        return self.R

    def _residual(self, env):
        """psi(X - P) * pi, the precision-weighted prediction error the step projects back through W^T."""
        ops = env.ops
        if ops.fused is not None:                  # one fused kernel from X and P: nothing to reuse
            return ops.residual(self.x3(env), self.P, self.pi_op, self.E, self.E2, self.cauchy2)
        return ops.weigh(self._input_residual(env), self.pi_op, self.E, self.E2, self.cauchy2)

    def energy(self, env, out):
        """Each member's share of each stimulus' energy into rows ``members`` of ``out`` (regions, batch)."""
        if self.jit is not None:
            return self.jit.energy(env, out)
        ops, p = env.ops, self.p
        R = self._input_residual(env)
        if self.d_y:
            self.fresh_prior(env)
        terms = None
        if self.fold:    # L = c (1 - I): sparsity S + inhibition c / 2 (S^2 - sum a^2), S = sum(a)
            ops.multiply(self.A, self.A, self.T)
            ops.rowsum(self.T, self.tb1)
            ops.multiply(self.S, self.S, self.col)
            self.col -= self.tb1
            self.col *= 0.5 * p.inhibition * self.c_lat
            ops.multiply(self.S, p.sparsity, self.tb1)
            self.tb1 += self.col
            terms = self.tb1
        K.linear_energy(ops, R, self.A, self.pi_op, self.cauchy2, p.sparsity, self.en1, self.E2, self.T, self.tb1,
                        self.AL if self.lateral else None, p.inhibition, self.prior if self.d_y else None,
                        p.context_precision, activity_terms=terms)
        for i, j in enumerate(self.members):
            out[j, ...] = self.en[i, ...]

    def flops(self, batch: int) -> int:
        """Multiply-add work (2 flops each) of one step of the group's own matmuls."""
        per = 2 * batch * self.n * self.d_x * 2                 # eps W^T and a W
        if self.lateral and self.c_lat is None:
            per += 2 * batch * self.n * self.n
        if self.d_y:
            per += 2 * batch * self.d_y * self.n                # the prior, each link's part once its source moved
        return per * self.G
