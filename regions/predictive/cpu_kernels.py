"""numba twins of the predictive kind's elementwise chain: one pass over memory per piece, on the CPU.

On CuPy the elementwise pieces of a step are fused ``ElementwiseKernel`` launches (:mod:`.kernels`); on NumPy each
piece is four to ten ufunc calls, each a pass over memory and a Python dispatch. These kernels do what those calls
do, row by row, in one pass: :func:`residual_energy` (the precision-weighted error and the input term of the energy
from one read of X and P), :func:`linear_update` (external gradient, inhibition, context, coloured or Langevin noise,
the proximal fatigue step, rectification, fatigue, and the row sums the energy needs) and :func:`activity_energy`.
The matmuls between them stay in BLAS. They are built on first use (:func:`kernels`) and cached on disk by numba;
:class:`cortex.ops.Ops` says when they may be used (``ops.jit``: NumPy backend, numba importable, ``CORTEX_FUSED``
not ``0``), and the NumPy path beside them stays the reference the tests hold them to.

Scalars reach the kernels as arrays of the model's dtype (``par``) or as typed scalars, so float32 math stays
float32 (a Python float would promote it). ``mode`` is a small int array of switches (see :data:`MODE`).
"""
from __future__ import annotations

import functools

# positions in the per-member parameter rows ``par`` (G, len(PAR)) and in the switches ``mode``
PAR = ("eta", "sqrt_eta", "sparsity", "cp", "inhibition", "c_lat", "pi_q", "cauchy2_q", "rho", "sqrt_1_rho2",
       "strength", "tau", "one", "half")
MODE = ("external", "lateral", "prior", "noise", "xi_fresh", "adapt", "activity")
"""external: 0 none, 1 summed into E, 2 inline from Q (one whole residual pull); lateral: 0 none, 1 AL given,
2 uniform c (S - a); prior: 0/1; noise: 0 none, 1 Langevin N, 2 coloured (xi <- rho xi + sqrt(1 - rho^2) N);
xi_fresh: the coloured drive starts as N; adapt: fatigue on; activity: write the activity terms of the energy."""

_CACHE = True


@functools.cache
def kernels():
    """The compiled kernels (numba imported and the functions jitted on first call; compiled per dtype on first use)."""
    return _build()


def _build():
    import math

    import numba

    jit = numba.njit(cache=_CACHE, nogil=True, fastmath={"reassoc", "contract", "nsz"})

    @jit
    def residual_energy(X, P, pi, c2, one, half, want, eps, ein):
        """eps <- psi(X - P) pi (G, B, d); with ``want``, ein (G, B) <- sum_d pi rho(X - P). ``c2`` 0: Gaussian."""
        G, B, d = eps.shape
        for g in range(G):
            for b in range(B):
                acc = c2 - c2
                if c2 > 0:
                    for k in range(d):
                        r = X[g, b, k] - P[g, b, k]
                        q = r * r / c2
                        eps[g, b, k] = r / (one + q) * pi[g, k]
                        if want:
                            acc += pi[g, k] * math.log1p(q)
                    if want:
                        ein[g, b] = half * c2 * acc
                else:
                    for k in range(d):
                        r = X[g, b, k] - P[g, b, k]
                        eps[g, b, k] = r * pi[g, k]
                        acc += pi[g, k] * (r * r)
                    if want:
                        ein[g, b] = half * acc

    @jit
    def linear_update(A, H, Gd, E, Q, XI, N, PR, AL, S, ACT, par, mode):
        """A <- max((A - eta grad (+ sqrt(eta) N)) / (1 + eta H), 0), grad = sparsity - Gd + cp (A - PR) + inhibition
        (AL | c (S - A)) + external - xi; then H <- H + (strength A - H) / tau; S <- sum A; ACT <- activity terms.

        Row by row: the gradient is gathered in the row of Gd (L1-resident) by short loops, each with its switch
        outside, so every loop vectorises; then one loop updates A and H and sums the row."""
        G, B, n = A.shape
        ext, lat, has_prior, noise, fresh, adapt, act = (mode[0], mode[1], mode[2], mode[3], mode[4], mode[5],
                                                         mode[6])
        for g in range(G):
            eta, sq, sparsity, cp, inh, clat = par[g, 0], par[g, 1], par[g, 2], par[g, 3], par[g, 4], par[g, 5]
            piq, c2q, rho, srho, strength, tau = par[g, 6], par[g, 7], par[g, 8], par[g, 9], par[g, 10], par[g, 11]
            one, half = par[g, 12], par[g, 13]
            zero = one - one
            for b in range(B):
                a, d = A[g, b], Gd[g, b]
                for i in range(n):
                    d[i] = sparsity - d[i]
                if has_prior:
                    pr = PR[g, b]
                    for i in range(n):
                        d[i] += cp * (a[i] - pr[i])
                if lat == 1:
                    al = AL[g, b]
                    for i in range(n):
                        d[i] += inh * al[i]
                elif lat == 2:
                    s_old = S[g, b]
                    for i in range(n):
                        d[i] += inh * (clat * (s_old - a[i]))
                if ext == 1:
                    e = E[g, b]
                    for i in range(n):
                        d[i] += e[i]
                elif ext == 2:
                    q = Q[g, b]
                    if c2q > 0:
                        for i in range(n):
                            r = a[i] - q[i]
                            d[i] += r / (one + r * r / c2q) * piq
                    else:
                        for i in range(n):
                            d[i] += (a[i] - q[i]) * piq
                if noise == 2:
                    xi, nz = XI[g, b], N[g, b]
                    if fresh:
                        for i in range(n):
                            xi[i] = nz[i]
                    else:
                        for i in range(n):
                            xi[i] = rho * xi[i] + srho * nz[i]
                    for i in range(n):
                        d[i] -= xi[i]
                s_new = zero
                sq_new = zero
                if noise == 1:
                    nz = N[g, b]
                    if adapt:
                        h = H[g, b]
                        for i in range(n):
                            v = (a[i] - eta * d[i] + sq * nz[i]) / (one + eta * h[i])
                            v = zero if v < zero else v
                            a[i] = v
                            h[i] = h[i] + (strength * v - h[i]) / tau
                            s_new += v
                            sq_new += v * v
                    else:
                        for i in range(n):
                            v = a[i] - eta * d[i] + sq * nz[i]
                            v = zero if v < zero else v
                            a[i] = v
                            s_new += v
                            sq_new += v * v
                elif adapt:
                    h = H[g, b]
                    for i in range(n):
                        v = (a[i] - eta * d[i]) / (one + eta * h[i])
                        v = zero if v < zero else v
                        a[i] = v
                        h[i] = h[i] + (strength * v - h[i]) / tau
                        s_new += v
                        sq_new += v * v
                else:
                    for i in range(n):
                        v = a[i] - eta * d[i]
                        v = zero if v < zero else v
                        a[i] = v
                        s_new += v
                        sq_new += v * v
                if lat == 2:
                    S[g, b] = s_new
                if act:
                    t = sparsity * s_new
                    if lat == 2:
                        t += half * inh * clat * (s_new * s_new - sq_new)
                    ACT[g, b] = t

    @jit
    def activity_energy(A, AL, PR, par, mode, ACT):
        """ACT (G, B) <- sum_i a_i (sparsity + inhibition / 2 (AL | c (S - a))_i) + cp / 2 |a - PR|^2."""
        G, B, n = A.shape
        lat, has_prior = mode[1], mode[2]
        for g in range(G):
            sparsity, cp, inh, clat, half = par[g, 2], par[g, 3], par[g, 4], par[g, 5], par[g, 13]
            zero = half - half
            for b in range(B):
                s, sq, lal, pe = zero, zero, zero, zero
                for i in range(n):
                    a = A[g, b, i]
                    s += a
                    sq += a * a
                    if lat == 1:
                        lal += a * AL[g, b, i]
                    if has_prior:
                        dp = a - PR[g, b, i]
                        pe += dp * dp
                t = sparsity * s
                if lat == 1:
                    t += half * inh * lal
                elif lat == 2:
                    t += half * inh * clat * (s * s - sq)
                if has_prior:
                    t += half * cp * pe
                ACT[g, b] = t

    @jit
    def mean_energies(X, pi, Mt_out, q, c, Xp, half, stage, e):
        """Softmax hypotheses without factors: stage 0, Xp <- X pi and q <- 1/2 sum pi X^2 (before the matmul
        Xp M^T into ``Mt_out``); stage 1, e <- q - Xp M^T + c (B, n)."""
        B, d = X.shape
        if stage == 0:
            for b in range(B):
                x, xp = X[b], Xp[b]
                acc = half - half
                for k in range(d):
                    v = x[k] * pi[k]
                    xp[k] = v
                    acc += v * x[k]
                q[b, 0] = acc * half
        else:
            n = e.shape[1]
            for b in range(B):
                for i in range(n):
                    e[b, i] = (q[b, 0] - Mt_out[b, i]) + c[b, i]

    @jit
    def mirror_logits(A, LA, e, H, PT, N, GX, par, mode):
        """The first half of the mirror step A <- softmax((1 - s) log a + s u), u = (-e - h + PT + N - g_ext) / T
        (kernels.mirror_step), row by row: LA <- the logits less their row's maximum. The exponential is NumPy's
        (``exp(LA, out=A)``, SIMD: 7 ns an element as a scalar call here, W1's softmax region spent 19 us on it),
        then :func:`mirror_normalise`. ``par``: T, s, tiny, strength, tau, log(tiny).

        ``LA`` keeps log max(a, tiny) from the softmax itself (mode ``la``: it is valid; else it is taken from A),
        so a step takes no logarithm per hypothesis."""
        B, n = A.shape
        T, s, tiny = par[0], par[1], par[2]
        has_noise, has_ext, la, has_prior = mode[0], mode[1], mode[3], mode[4]
        one = T / T
        for b in range(B):
            a, ee, h, lg = A[b], e[b], H[b], LA[b]
            mx = one - one
            for i in range(n):
                u = (-ee[i]) - h[i]
                if has_prior:
                    u += PT[b, i]
                if has_noise:
                    u += N[b, i]
                u = u / T
                if has_ext:
                    u -= GX[b, i] / T
                if s < one:
                    ln = lg[i] if la else math.log(a[i] if a[i] > tiny else tiny)
                    u = u * s + (one - s) * ln
                lg[i] = u                     # the row's logits, held in LA until the softmax
                if i == 0 or u > mx:
                    mx = u
            for i in range(n):
                lg[i] = lg[i] - mx

    @jit
    def mirror_normalise(A, LA, H, par, mode):
        """The second half of the mirror step, A holding exp(LA): A <- A / sum(A), LA <- max(LA - log sum(A),
        log tiny); then (mode adapt) H <- H + (strength A - H) / tau."""
        B, n = A.shape
        strength, tau, logtiny = par[3], par[4], par[5]
        adapt = mode[2]
        for b in range(B):
            a, h, lg = A[b], H[b], LA[b]
            tot = a[0] - a[0]
            for i in range(n):
                tot += a[i]
            lse = math.log(tot)
            for i in range(n):
                a[i] = a[i] / tot
                v = lg[i] - lse
                lg[i] = v if v > logtiny else logtiny
            if adapt:
                for i in range(n):
                    h[i] = h[i] + (strength * a[i] - h[i]) / tau

    @jit
    def mixture_energy(A, LA, e, par, la, out):
        """out (B,) <- sum_i a_i e_i + T a_i log max(a_i, tiny) (the log from ``LA`` when ``la``)."""
        B, n = A.shape
        T, tiny = par[0], par[2]
        for b in range(B):
            acc = T - T
            for i in range(n):
                a = A[b, i]
                ln = LA[b, i] if la else math.log(a if a > tiny else tiny)
                acc += a * e[b, i] + T * (a * ln)
            out[b] = acc

    @jit
    def small_step(E, W, A, H, Gd, Ext, Q, XI, N, PR, AL, S, ACT, par, mode, X, P, pi, c2, one, half, ein):
        """A whole step of a group of small regions whose X is fixed: Gd <- E W^T, :func:`linear_update`,
        P <- A W, then :func:`residual_energy` (the energy's input term and the next step's E). The products are
        loops here: for a few hypotheses a BLAS call costs more than its work."""
        G, B, n = A.shape
        d = W.shape[2]
        for g in range(G):
            w = W[g]
            for b in range(B):
                e, gd = E[g, b], Gd[g, b]
                for i in range(n):
                    acc = one - one
                    for k in range(d):
                        acc += e[k] * w[i, k]
                    gd[i] = acc
        linear_update(A, H, Gd, Ext, Q, XI, N, PR, AL, S, ACT, par, mode)
        for g in range(G):
            w = W[g]
            for b in range(B):
                a, p = A[g, b], P[g, b]
                for k in range(d):
                    p[k] = one - one
                for i in range(n):
                    ai = a[i]
                    for k in range(d):
                        p[k] += ai * w[i, k]
        residual_energy(X, P, pi, c2, one, half, 1, E, ein)

    return {"residual_energy": residual_energy, "linear_update": linear_update, "activity_energy": activity_energy,
            "small_step": small_step,
            "mean_energies": mean_energies, "mirror_logits": mirror_logits,
            "mirror_normalise": mirror_normalise, "mixture_energy": mixture_energy}
