"""A :class:`~.grouped.LinearGroup` step on the CPU with numba-fused elementwise work (:mod:`.cpu_kernels`).

A step is then two BLAS matmuls and one fused pass: ``eps W^T``, :func:`linear_update` (external gradient,
inhibition, context, noise, the proximal fatigue step, rectification, fatigue, and the activity's row sums for the
energy), ``a W``. The energy bookkeeping is one more pass, :func:`residual_energy`, which also leaves the next step's
precision-weighted error ``eps``: it stays valid while neither X nor the prediction moved (the key of
``LinearGroup._input_residual``), as they do not between the end of one sweep and this region's next step. The
group's NumPy path (``CORTEX_FUSED=0``, or numba missing) computes the same numbers from the :mod:`.kernels`
equations; the tests hold the two equal.
"""
from __future__ import annotations

import math

from .cpu_kernels import MODE, PAR, kernels

SMALL = 8
"""Up to this many hypotheses on a fixed X a step is one fused call, products included (``small_step``)."""


class FusedLinear:
    """The fused CPU step and energy of one :class:`~.grouped.LinearGroup` for one settle call."""

    def __init__(self, grp, env, etas):
        b, G, B, n, p = grp.backend, grp.G, env.batch, grp.n, grp.p
        z = lambda *shape: b.zeros(shape)   # noqa: E731
        self.grp, self.k = grp, kernels()
        self.d3, self.d2 = z(1, 1, 1), z(1, 1)    # stand-ins for the arrays a configuration has no use for
        self.ein, self.act = z(G, B), z(G, B)
        self.S2 = grp.S[..., 0] if grp.S is not None else self.d2
        self.pi2 = z(G, grp.d_x)
        for i, r in enumerate(grp.regions):
            self.pi2[i, ...] = r.pi
        self.c2 = b.dtype(grp.cauchy2 or 0.0)
        self.one, self.half = b.dtype(1.0), b.dtype(0.5)
        rho = math.exp(-1.0 / p.noise_tau) if grp.coloured else 0.0
        row = {"sparsity": p.sparsity, "cp": p.context_precision, "inhibition": p.inhibition,
               "c_lat": grp.c_lat or 0.0, "rho": rho, "sqrt_1_rho2": math.sqrt(1.0 - rho * rho),
               "strength": p.adaptation.strength, "tau": p.adaptation.tau, "one": 1.0, "half": 0.5}
        self.par = b.zeros((G, len(PAR)))
        for i, eta in enumerate(etas):
            vals = row | {"eta": eta, "sqrt_eta": math.sqrt(eta)}
            self.par[i, ...] = b.asarray([vals.get(name, 0.0) for name in PAR])
        self.mode = b.xp.zeros(len(MODE), dtype=b.xp.int64)
        lat = 0 if not grp.lateral else (2 if grp.c_lat is not None else 1)
        self._set(lateral=lat, prior=int(bool(grp.d_y)), adapt=int(grp.adapting),
                  activity=int(not grp.d_y and lat != 1))
        self.ekey = self.act_at = self.switches = self.fixed = self.small = None
        self.rows = [(self.ein[i, ...], self.act[i, ...]) for i in range(G)]
        self.out, self.outs = None, None
        self.ext = None        # the external gradient's form, found at the first step (the wiring is finished then)
        self.q = self.qv = None
        self.call = None       # (noise, Q, the kernel's arguments): rebuilt only when noise or Q is another array

    def _set(self, **kw):
        for name, v in kw.items():
            self.mode[MODE.index(name)] = v

    # ----- pieces ------------------------------------------------------------------------------------
    def eps(self, env, want: bool):
        """The precision-weighted error (G, B, d) for the current X and P; with ``want``, the input term too."""
        grp = self.grp
        if self.fixed is None:      # X made of inputs and past frames only: the key is the group's own moves
            self.fixed = all(env.x_fixed(j) for j in grp.members)
        key = grp.moves if self.fixed else (grp.moves, tuple(env.x_key(j) for j in grp.members))
        if key != self.ekey or (want and not self.ewant):
            self.k["residual_energy"](grp.x3(env), grp.P, self.pi2, self.c2, self.one, self.half, int(want), grp.E,
                                      self.ein)
            self.ekey, self.ewant = key, want
        return grp.E

    def _external(self, env):
        """0: no gradient from readers; 1: summed by the wiring into ``gext``; 2: the sole residual pull, inline."""
        grp = self.grp
        if self.ext is None:
            pull = env.sole_residual_pull(grp.members[0]) if grp.G == 1 else None
            if pull is not None:
                self.ext, self.pull = 2, pull
                self.par[0, PAR.index("pi_q")] = pull.precision
                self.par[0, PAR.index("cauchy2_q")] = pull.cauchy2 or 0.0
            else:
                self.ext = 1 if any(env.pulled(j) for j in grp.members) else 0
                if self.ext and grp.gext is None:
                    grp.gext = grp.backend.zeros(tuple(grp.A.shape))
            self._set(external=self.ext)
        if self.ext == 2:
            pred = env.states[self.pull.region].pred
            if pred is not self.q:
                self.q, self.qv = pred, env.backend.xp.expand_dims(pred, axis=0)
            return self.qv
        if self.ext == 1:
            for i, j in enumerate(grp.members):
                env.external_gradient(j, grp.gext[i, ...], grp.T2[i, ...])
        return self.d3

    def _args(self, env, eps, Q, noise):
        """The arguments of ``linear_update`` (of ``small_step``, the products' and the energy's around them)."""
        grp = self.grp
        args = (grp.A, grp.H, grp.Gd, grp.gext if self.ext == 1 else self.d3, Q,
                grp.XI if grp.XI is not None else self.d3, noise if noise is not None else self.d3,
                grp.prior if grp.d_y else self.d3, grp.AL if grp.AL is not None else self.d3, self.S2, self.act,
                self.par, self.mode)
        if self.small:     # X is fixed for the call (inputs and past frames only), so its array is too
            return (eps, grp.W, *args, grp.x3(env), grp.P, self.pi2, self.c2, self.one, self.half, self.ein)
        return args

    # ----- the step and the energy -------------------------------------------------------------------
    def step(self, env, noise):
        grp, ops = self.grp, env.ops
        Q = self._external(env)
        eps = self.eps(env, False)
        if self.small is None:     # X made of inputs only, few hypotheses, no lateral or context matmul
            self.small = bool(self.fixed) and grp.n <= SMALL and not grp.d_y and (not grp.lateral or
                                                                                  grp.c_lat is not None)
        mode = 0 if noise is None else (2 if grp.coloured else 1)
        # a drive the group already formed (members starting unequally) is taken as it stands: xi <- N = XI
        switches = (mode, int(grp.xi_fresh or noise is grp.XI))
        if switches != self.switches:           # set only when they change (an item write costs a microsecond)
            self._set(noise=switches[0], xi_fresh=switches[1])
            self.switches = switches
        if self.call is None or self.call[0] is not noise or self.call[1] is not Q:
            self.call = (noise, Q, self._args(env, eps, Q, noise))   # the buffers stay for the call: built once
        args = self.call[2]
        if self.small:        # a few hypotheses on a fixed X: the products, the update and the energy in one call
            if ops.log is not None:
                ops.log += [(tuple(eps.shape), tuple(grp.Wt.shape), True), (tuple(grp.A.shape), tuple(grp.W.shape),
                                                                             False)]
            self.k["small_step"](*args)
        else:
            ops.matmul(eps, grp.Wt, grp.Gd)
            self.k["linear_update"](*args)
            ops.matmul(grp.A, grp.W, grp.P)
        if mode == 2 and (grp.xi_fresh or noise is grp.XI):
            grp.drive_started(env)
        grp.moves += 1
        self.act_at = grp.moves
        if self.small:
            self.ekey, self.ewant = grp.moves, True
        if grp.lateral and grp.c_lat is None:
            ops.matmul(grp.A, grp.L, grp.AL)

    def energy(self, env, out):
        grp, ops = self.grp, env.ops
        self.eps(env, True)
        if grp.d_y:
            grp.fresh_prior(env)
        if not self.mode[MODE.index("activity")] or self.act_at != grp.moves:
            self.k["activity_energy"](grp.A, grp.AL if grp.AL is not None else self.d3,
                                      grp.prior if grp.d_y else self.d3, self.par, self.mode, self.act)
        if out is not self.out:     # the rows of ``out`` this group writes, as views kept for the call
            self.out, self.outs = out, [out[j, ...] for j in grp.members]
        for (ein, act), row in zip(self.rows, self.outs):
            ops.add(ein, act, row)
