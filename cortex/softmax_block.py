"""Settling of one softmax predictive region: the equations of ``Predictive._step_softmax``
and ``Predictive.energy`` written into preallocated buffers, so a steady step allocates nothing.

Without factors every hypothesis predicts the same mean image m_i for every stimulus, so its energy is

    e_i(X) = 1/2 sum_d pi_d X_d^2 - (X pi) m_i^T + 1/2 sum_d pi_d m_id^2

(Gaussian error): one (B, d) x (d, n) matmul. ``e`` depends only on the region's input X, so it is
computed once per change of X and shared by the step and the energy bookkeeping (the region's own
methods compute it twice per sweep). Everything else is elementwise on (B, n).

With factors (each hypothesis' prediction m_i + z_i F_i settles per stimulus) or a Cauchy error, the
per-hypothesis residuals (B, n, d) live in preallocated buffers and ``e`` is recomputed when X or z moved.
Handled: either error, factors or none, adaptation, white noise (``noise_tau`` 0), a teacher clamp; a region
with context steps through its own methods (:class:`cortex.settle.Single`). The tests hold this block to
the region's methods (``tests/cortex/test_fast_paths.py``).
"""
from __future__ import annotations


from cortex.regions.predictive import TINY, Predictive

# Parameters this block implements (a new option of the kind makes the region fall back to its own step).
KNOWN_FIELDS = frozenset({
    "kind", "hypotheses", "inputs", "teacher", "competition", "factors", "precision", "context_precision",
    "sparsity", "inhibition", "inhibition_lr", "temperature", "error", "error_scale", "lr", "lr_context",
    "lr_recognition", "adaptation", "noise", "noise_tau", "first_guess", "normalize", "init_scale"})


def eligible(region) -> bool:
    """Whether ``region`` can be stepped by a :class:`SoftmaxBlock`."""
    p = region.p
    return (type(region) is Predictive and p.competition == "softmax" and not region.d_y and not p.noise_tau
            and set(type(p).model_fields) <= KNOWN_FIELDS)


class SoftmaxBlock:
    """One softmax region (no factors, Gaussian error), stepped in place; same interface as ``Single``."""

    G = 1

    def __init__(self, j: int, compiled, backend):
        self.members = [j]
        self.j, self.region, self.backend = j, compiled[j].region, backend
        # the sources whose updates change X (inputs and delayed frames are fixed during a settle call)
        self.sources = [link.source for link in compiled[j].in_links if not link.is_input and not link.delay]

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
        self.M, self.Mt = M, xp.moveaxis(M, -1, -2)
        self.k, self.cauchy2 = r.k, (None if p.error == "gaussian" else p.error_scale ** 2)
        self.general = bool(self.k) or self.cauchy2 is not None      # per-hypothesis residuals (B, n, d)
        if self.general:
            self._begin_general(env, states, rate, B, n, d, z)
        else:
            self.c = z(B, n)
            self.c[...] = 0.5 * xp.sum(M * M * r.pi, axis=-1)      # 1/2 sum_d pi_d m_id^2, once per call
            self.Xp, self.Xsq = z(B, d), z(B, d)
            self.q = z(B, 1)
        self.e, self.u, self.t = z(B, n), z(B, n), z(B, n)
        self.mx, self.lse = z(B, 1), z(B, 1)
        self.gbuf, self.tbuf = z(B, n), z(B, n)
        self.N = z(B, n) if p.noise else None
        self.en = z(B)
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

    def _psi_r(self, ops):
        """T3 <- psi(X - mu) * pi, per hypothesis (as ``Predictive._psi``)."""
        ops.subtract(self.XT, self.MU, self.RR)
        if self.cauchy2 is None:
            return ops.multiply(self.RR, self.pi, self.T3)
        ops.multiply(self.RR, self.RR, self.T3)
        self.T3 /= self.cauchy2
        self.T3 += 1.0
        ops.divide(self.RR, self.T3, self.T3)
        self.T3 *= self.pi
        return self.T3

    def _factor_step(self, env):
        """z <- z - eta_z (z - psi(X - mu) pi F^T); mu <- M + z F (as ``Predictive._step_softmax``)."""
        ops = env.ops
        self._fresh_xt(env)
        R = self._psi_r(ops)
        ops.matmul(R[:, :, None, :], self.Ft, self.GZ)
        ops.subtract(self.Z, self.GZ[:, :, 0, :], self.Tk)
        self.Tk *= self.ETAZ
        self.Z -= self.Tk
        ops.matmul(self.Z[:, :, None, :], self.F, self.MU[:, :, None, :])
        self.MU += self.MB
        self.zsteps += 1

    def _energies_general(self, env):
        """e_i = sum_d pi_d rho(X_d - mu_id) (+ |z_i|^2 / 2), recomputed only when X or z moved."""
        key = (self._fresh_xt(env), self.zsteps)
        if key == self.key:
            return self.e
        ops, R, T3 = env.ops, self.RR, self.T3
        ops.subtract(self.XT, self.MU, R)
        if self.cauchy2 is None:
            ops.multiply(R, 0.5, T3)
            T3 *= R
        else:
            ops.multiply(R, R, T3)
            T3 /= self.cauchy2
            ops.log1p_(T3)
            T3 *= 0.5 * self.cauchy2
        T3 *= self.pi
        ops.sum_last(T3, self.e)
        if self.k:
            ops.multiply(self.Z, self.Z, self.Tk)
            ops.sum_last(self.Tk, self.ek)
            self.ek *= 0.5
            self.e += self.ek
        self.key = key
        return self.e

    def _energies(self, env):
        """e (B, n): every hypothesis' prediction error on the current X, recomputed only when X moved."""
        if self.general:
            return self._energies_general(env)
        key = tuple(env.version[u] for u in self.src)
        if key == self.key:
            return self.e
        ops, X = env.ops, env.X(self.j)
        ops.multiply(X, self.pi, self.Xp)
        ops.multiply(self.Xp, X, self.Xsq)
        ops.sum_keep(self.Xsq, self.q)
        self.q *= 0.5
        ops.matmul(self.Xp, self.Mt, self.t)
        ops.subtract_col(self.q, self.t, self.e)
        self.e += self.c
        self.key = key
        return self.e

    def step(self, env):
        j, p, ops = self.j, self.region.p, env.ops
        external = env.external_gradient(j, self.gbuf, self.tbuf)
        if self.k:
            self._factor_step(env)
        e = self._energies(env)
        if self.clamped:
            if self.k:      # the hypotheses' predictions moved: so does their mixture
                ops.matmul(self.A[:, None, :], self.MU, self.P[:, None, :])
            env.version[j] += 1
            return
        u, t, T = self.u, self.t, self.temperature
        ops.subtract(0.0, e, u)        # u = -e - h
        u -= self.H
        if self.N is not None and env.noise_streams:
            env.noise_streams[j].normal_into(self.N, p.noise)
            u += self.N
        u /= T
        if external:
            ops.divide(self.gbuf, T, t)
            u -= t
        if self.s < 1.0:               # mirror descent: (1 - s) log a + s u
            ops.maximum(self.A, TINY, t)
            ops.ln(t, t)
            t *= 1.0 - self.s
            u *= self.s
            u += t
        # a = exp(log_softmax(u)), as the region writes it
        ops.max_keep(u, self.mx)
        t[...] = self.mx
        u -= t
        ops.exp(u, t)
        ops.sum_keep(t, self.lse)
        ops.ln(self.lse, self.lse)
        t[...] = self.lse
        u -= t
        ops.exp(u, self.A)
        if self.general:
            ops.matmul(self.A[:, None, :], self.MU, self.P[:, None, :])
        else:
            ops.matmul(self.A, self.M, self.P)
        ad = p.adaptation
        if ad.strength:
            ops.adapt(self.H, self.A, ad.strength, ad.tau, t)
        env.version[j] += 1

    def energy(self, env, out):
        """sum_i a_i e_i + T a_i log a_i, per stimulus, into row ``j`` of ``out``."""
        ops, e, t, u = env.ops, self._energies(env), self.t, self.u
        ops.multiply(self.A, e, u)
        ops.maximum(self.A, TINY, t)
        ops.ln(t, t)
        t *= self.A
        t *= self.temperature
        u += t
        ops.sum_last(u, self.en)
        out[self.j, ...] = self.en

    def flops(self, batch: int) -> int:
        r = self.region
        if r.k:   # psi F^T and z F per hypothesis, and the mixture a mu
            return 2 * batch * r.n * r.d_x * (2 * r.k + 1)
        return 2 * 2 * batch * r.n * r.d_x      # e = (X pi) M^T once per sweep, and a M
