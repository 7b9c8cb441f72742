"""Settling of one softmax predictive region in preallocated buffers, so a steady step allocates nothing.

The block calls the kind's :mod:`.kernels`, as the region's own step does, but keeps every buffer from one step
to the next, and computes each hypothesis' energy ``e`` only when the region's input X (or, with factors, its
hypothesis parameters z) moved: ``e`` is shared by the step and the energy bookkeeping, which the region's own
methods compute twice per sweep. Without factors and with a Gaussian error, every hypothesis predicts the same
mean image m_i for every stimulus, so ``e`` is one (B, d) x (d, n) matmul (:func:`.kernels.mean_energies`);
with factors or a Cauchy error the per-hypothesis residuals (B, n, d) live in buffers. Handled: either error,
factors or none, adaptation, white or coloured noise (the Ornstein-Uhlenbeck drive kept in a buffer), a teacher
clamp, and context: the prior term ``cp log_softmax((Y c) V)`` is recomputed only when Y moved, and the pull on
the context sources (:class:`SoftmaxContextPull`) reuses its softmax. On the CPU the mirror step and the energies
run fused (:mod:`.cpu_kernels`). The tests hold this block to the region's methods
(``tests/cortex/test_fast_paths.py``, ``tests/cortex/test_fused.py``).
"""
from __future__ import annotations

import math

from cortex.schedule import Block, register_fast_path

from . import kernels as K
from .params import fast_path_knows
from .region import Predictive


def eligible(region) -> bool:
    """Whether ``region`` can be stepped by a :class:`SoftmaxBlock`."""
    p = region.p
    return type(region) is Predictive and p.competition == "softmax" and fast_path_knows(p)


@register_fast_path(Predictive, accepts=eligible)
class SoftmaxBlock(Block):
    """One softmax region, stepped in place (see the module docstring)."""

    def __init__(self, members: list[int], compiled, backend):
        self.members = list(members)
        (self.j,) = self.members
        self.region, self.backend = compiled[self.j].region, backend
        # the sources whose updates change X (inputs and delayed frames are fixed during a settle call)
        self.sources = [link.source for link in compiled[self.j].in_links if not link.is_input and not link.delay]

    def begin(self, env, states, curv, rate):
        r, b, p, B = self.region, self.backend, self.region.p, env.batch
        n, d = r.n, r.d_x
        xp = b.xp
        z = lambda *shape: b.zeros(shape)   # noqa: E731
        self.src = [env.index[s] for s in self.sources]
        self.temperature = p.temperature
        self.s = min(1.0, rate * p.temperature / (p.temperature + curv[self.j]))
        # precision as a Python scalar when uniform, else spelled out to (B, d): NumPy runs a broadcast operand
        # through a ufunc buffer allocated on every call
        pi_host = b.to_numpy(r.pi)
        self.pi = float(pi_host[0]) if (pi_host == pi_host[0]).all() else z(B, d)
        if not isinstance(self.pi, float):
            self.pi[...] = r.pi
        M = r.weights["M"]
        self.M = M
        self.k, self.cauchy2 = r.k, r.cauchy2
        self.general = bool(self.k) or self.cauchy2 is not None      # per-hypothesis residuals (B, n, d)
        if self.general:
            self._begin_general(env, states, rate, B, n, d, z)
        else:
            self.c = z(B, n)
            self.c[...] = 0.5 * xp.sum(M * M * r.pi, axis=-1)      # 1/2 sum_d pi_d m_id^2, once per call
            # M^T in a buffer of its own, not a view: read across its rows, a (128, 10) operand made the matmul of
            # the energies 1.4x slower (14.6 against 10.3 us in W1); the weights stay fixed for the call
            self.Mt = z(d, n)
            self.Mt[...] = xp.moveaxis(M, -1, -2)
            self.Xp, self.Xsq = z(B, d), z(B, d)
            self.q = z(B, 1)
        self.e, self.u, self.t = z(B, n), z(B, n), z(B, n)
        self.mx, self.lse = z(B, 1), z(B, 1)
        self.gbuf, self.tbuf = z(B, n), z(B, n)
        self.N = z(B, n) if p.noise else None
        self.coloured = bool(p.noise and p.noise_tau)
        self.XI = z(B, n) if self.coloured else None
        st0 = states[self.j]
        self.fresh = self.coloured and st0.xi is None
        if self.coloured and not self.fresh:
            self.XI[...] = st0.xi
            st0.xi = self.XI
        if r.d_y:   # the context prior's term cp log_softmax((Y c) V), its softmax (the pull's target), e less the term
            self.PT, self.TG, self.eT, self.Yc = z(B, n), z(B, n), z(B, n), z(B, r.d_y)
            self.ykey = None
        self.en = z(B)
        self.clamped_at_start = states[self.j].clamped
        self._begin_jit(env, b, B)
        st = states[self.j]
        if self.general:
            self.MU[...], st.mu = st.mu, self.MU
            if self.k:
                self.Z[...], st.z = st.z, self.Z
        self.clamped = st.clamped
        self.A, self.H, self.P = z(B, n), z(B, n), z(B, d)
        self.A[...], self.H[...], self.P[...] = st.a, st.h, st.pred
        st.a, st.h, st.pred = self.A, self.H, self.P
        self.state = st
        self.key = None

    def _begin_jit(self, env, b, B):
        """The numba-fused CPU kernels (:mod:`.cpu_kernels`) for the mirror step and the energies, when allowed."""
        self.jit = None
        if not env.ops.jit:
            return
        from .cpu_kernels import kernels
        p = self.region.p
        self.jit = kernels()
        self.jpar = b.asarray([p.temperature, self.s, K.TINY, p.adaptation.strength, p.adaptation.tau,
                               math.log(K.TINY)])
        self.jmode = b.xp.zeros(5, dtype=b.xp.int64)     # noise, external, adapt, LA valid, prior
        self.jmode[4] = int(bool(self.region.d_y))
        self.LA = b.zeros((B, self.region.n))              # log max(a, tiny), kept by the fused mirror step
        self.jmode[2] = int(bool(p.adaptation.strength) and not self.clamped_at_start)
        self.half = b.dtype(0.5)
        self.pi_row = self.region.pi

    def _begin_general(self, env, states, rate, B, n, d, z):
        """Buffers for per-hypothesis predictions mu (B, n, d), with factors their parameters z (B, n, k)."""
        r, xp = self.region, self.backend.xp
        self.MU, self.XT, self.RR, self.T3 = z(B, n, d), z(B, n, d), z(B, n, d), z(B, n, d)
        self.MB = z(B, n, d)
        self.MB[...] = self.M                                        # M spelled out over the batch
        if not isinstance(self.pi, float):
            self.pi = z(B, n, d)
            self.pi[...] = r.pi
        if self.k:
            k = self.k
            self.F, self.Ft = r.weights["F"], xp.moveaxis(r.weights["F"], -1, -2)
            self.Z, self.Tk, self.GZ = z(B, n, k), z(B, n, k), z(B, n, 1, k)
            self.ETAZ = z(B, n, k)
            self.ETAZ[...] = xp.reshape(rate * r._steps(), (n, 1))   # each hypothesis' step for its parameters
            self.ek = z(B, n)
        self.xkey, self.zsteps = None, 0

    def _fresh_xt(self, env):
        """XT (B, n, d): X repeated for every hypothesis (a broadcast operand would make NumPy buffer)."""
        key = tuple(env.version[u] for u in self.src)
        if key != self.xkey:
            self.XT[...] = env.X(self.j)[:, None, :]
            self.xkey = key
        return key

    def _energies(self, env):
        """e (B, n): every hypothesis' prediction error on the current X, recomputed only when X (or z) moved."""
        if self.general:
            key = (self._fresh_xt(env), self.zsteps)
            if key != self.key:
                K.hypothesis_energies(env.ops, self.XT, self.MU, self.pi, self.cauchy2, self.RR, self.T3, self.e,
                                      *((self.Z, self.Tk, self.ek) if self.k else ()))
        else:
            key = tuple(env.version[u] for u in self.src)
            if key != self.key and self.jit is not None:     # one pass, the matmul, one pass
                k = self.jit["mean_energies"]
                k(env.X(self.j), self.pi_row, self.t, self.q, self.c, self.Xp, self.half, 0, self.e)
                env.ops.matmul(self.Xp, self.Mt, self.t)
                k(env.X(self.j), self.pi_row, self.t, self.q, self.c, self.Xp, self.half, 1, self.e)
            elif key != self.key:
                K.mean_energies(env.ops, env.X(self.j), self.pi, self.Mt, self.c, self.Xp, self.Xsq, self.q, self.t,
                                self.e)
        self.key = key
        return self.e

    def step(self, env):
        j, p, ops = self.j, self.region.p, env.ops
        external = env.external_gradient(j, self.gbuf, self.tbuf)
        if self.k:
            self._fresh_xt(env)
            K.factor_step(ops, self.XT, self.MU, self.Z, self.F, self.Ft, self.MB, self.ETAZ, self.pi, self.cauchy2,
                          self.RR, self.T3, self.GZ, self.Tk)
            self.zsteps += 1
        noise = self._noise(env) if self.N is not None and env.noise_streams else None   # drawn even while clamped
        if not self.clamped:
            e = self._energies(env)
            pt = self._prior(env) if self.region.d_y else None
            if self.jit is not None:     # the mirror step and fatigue: a pass per row, NumPy's exp, a pass per row
                self.jmode[0], self.jmode[1] = noise is not None, external
                self.jit["mirror_logits"](self.A, self.LA, e, self.H, pt if pt is not None else self.H,
                                          noise if noise is not None else self.H, self.gbuf, self.jpar, self.jmode)
                ops.exp(self.LA, self.A)
                self.jit["mirror_normalise"](self.A, self.LA, self.H, self.jpar, self.jmode)
                self.jmode[3] = 1
            else:
                K.mirror_step(ops, self.A, e, self.H, self.temperature, self.s, self.u, self.t, self.mx, self.lse,
                              pt, noise, self.gbuf if external else None)
        if self.k or not self.clamped:     # with factors the hypotheses' predictions moved, so does their mixture
            K.mixture_prediction(ops, self.A, self.MU if self.k else self.M, self.P, bool(self.k))
        ad = p.adaptation
        if ad.strength and not self.clamped and self.jit is None:
            K.fatigue(ops, self.H, self.A, ad.strength, ad.tau, self.t)
        env.version[j] += 1

    def _noise(self, env):
        """This step's noise: white draws, or the coloured drive xi <- rho xi + sqrt(1 - rho^2) N (N at first)."""
        env.noise_streams[self.j].normal_into(self.N, self.region.p.noise)
        if not self.coloured:
            return self.N
        if self.fresh:
            self.XI[...] = self.N
            self.state.xi, self.fresh = self.XI, False
        else:
            rho = math.exp(-1.0 / self.region.p.noise_tau)
            self.XI *= rho
            self.N *= math.sqrt(1.0 - rho * rho)
            self.XI += self.N
        return self.XI

    def _prior(self, env):
        """cp log_softmax((Y c) V) (B, n), recomputed when Y moved; ``TG`` keeps its softmax for the pull."""
        key = env.y_key(self.j)
        if key != self.ykey:
            ops, r = env.ops, self.region
            ops.multiply(env.Y(self.j), r.c, self.Yc)
            ops.matmul(self.Yc, r.weights["V"], self.PT)
            K.log_softmax_(ops, self.PT, self.t, self.mx, self.lse)
            ops.exp(self.PT, self.TG)
            self.PT *= r.p.context_precision
            self.ykey = key
        return self.PT

    def context_pull(self, env, member, start, stop):
        """The region's pull on a context source from the block's prior (:class:`SoftmaxContextPull`)."""
        r = self.region
        return SoftmaxContextPull(self, self.backend.xp.moveaxis(r.weights["V"][start:stop, :], -1, -2),
                                  r.c[start:stop])

    def energy(self, env, out):
        """sum_i a_i (e_i - prior term_i) + T a_i log a_i, per stimulus, into row ``j`` of ``out``."""
        e = self._energies(env)
        if self.region.d_y:
            e = env.ops.subtract(e, self._prior(env), self.eT)
        if self.jit is not None:
            self.jit["mixture_energy"](self.A, self.LA, e, self.jpar, int(self.jmode[3]), self.en)
        else:
            K.mixture_energy(env.ops, self.A, e, self.temperature, self.u, self.t, self.en)
        out[self.j, ...] = self.en

    def flops(self, batch: int) -> int:
        r = self.region
        if r.k:   # psi F^T and z F per hypothesis, and the mixture a mu
            return 2 * batch * r.n * r.d_x * (2 * r.k + 1)
        return 2 * 2 * batch * r.n * r.d_x      # e = (X pi) M^T once per sweep, and a M


class SoftmaxContextPull:
    """What a :class:`SoftmaxBlock` region sends to one context source: ``-cp (a - softmax(prior)) V^T c`` on that
    source's columns (:func:`.kernels.context_gradient`, as ``Predictive.context_gradient``), from the block's
    prior and a preallocated scratch."""

    def __init__(self, block, Vt, c):
        self.block, self.Vt, self.c = block, Vt, c
        self.D = None

    def add(self, env, j, out, tmp) -> None:
        blk = self.block
        blk._prior(env)
        if self.D is None or tuple(self.D.shape) != tuple(blk.A.shape):
            self.D = env.backend.zeros(tuple(blk.A.shape))
        K.context_gradient(env.ops, blk.A, blk.TG, blk.region.p.context_precision, self.Vt, self.c, self.D, tmp)
        out += tmp
