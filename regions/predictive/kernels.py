"""The predictive kind's equations, each written once, in place, on :class:`cortex.ops.Ops`.

Every function writes into buffers it is given. The region's own step (:mod:`.region`) calls them with the
buffers of one region, (B, ...); the fast paths call them with preallocated buffers, stacked (G, B, ...) for a
:class:`~.grouped.LinearGroup`, so a steady step allocates nothing. The equations (``docs/``):

- ``none`` / ``lateral``: ``dE/da = sparsity - psi(X - aW) pi W^T + cp (a - prior) + inhibition a L + g_ext``,
  then ``a <- max(0, (a - eta dE/da + sqrt(eta) sigma xi) / (1 + eta h))`` and ``h <- h + (kappa a - h) / tau``;
- ``softmax``: each hypothesis' energy ``e_i = sum pi rho(X - mu_i) (+ |z_i|^2 / 2)``, and a mirror-descent step
  ``log a <- (1 - s) log a + s log_softmax((-e - h + cp log_softmax(prior) + noise - g_ext) / T)``.
"""
from __future__ import annotations

TINY = 1e-30


def _scalar(ops, x):
    """A Python float as a backend scalar of the model's dtype (fused kernels take typed scalars)."""
    return ops.backend.dtype.type(x)


# ----------------------------------------------------------------------------------- none / lateral

def linear_gradient(ops, eps, Wt, out, tmp, sparsity, A=None, prior=None, context_precision=0.0, AL=None,
                    inhibition=0.0, g_ext=None):
    """out <- dE/da: ``sparsity - eps W^T (+ cp (A - prior)) (+ inhibition AL) (+ g_ext)``; ``eps`` the
    precision-weighted error, ``AL`` = A L (or None), ``tmp`` scratch of out's shape."""
    ops.matmul(eps, Wt, out)
    ops.subtract(sparsity, out, out)
    if prior is not None:
        ops.subtract(A, prior, tmp)
        tmp *= context_precision
        out += tmp
    if AL is not None:
        ops.multiply(AL, inhibition, tmp)
        out += tmp
    if g_ext is not None:
        out += g_ext
    return out


def descend(ops, A, G, eta, sqrt_eta, H, N, tmp):
    """A <- max((A - eta G (+ sqrt(eta) N)) / (1 + eta H), 0): a gradient step, Langevin noise, and the proximal
    step on the fatigue term ``h a^2 / 2`` (``H`` None: no fatigue). ``G`` and ``N`` are used as scratch."""
    if ops.fused is not None:
        H = 0 if H is None else H    # a scalar zero: 1 + eta * 0 = 1
        if N is None:
            k = ops.elementwise("cortex_descend", "T g, T eta, T h", "T a",
                                "a = max((a - eta * g) / (1 + eta * h), (T)0)")
            return k(G, eta, H, A)
        k = ops.elementwise("cortex_descend_noise", "T g, T eta, T sq, T h, T n", "T a",
                            "a = max((a - eta * g + sq * n) / (1 + eta * h), (T)0)")
        return k(G, eta, sqrt_eta, H, N, A)
    G *= eta
    A -= G
    if N is not None:
        N *= sqrt_eta
        A += N
    if H is not None:
        ops.multiply(H, eta, tmp)
        tmp += 1.0
        A /= tmp
    return ops.relu_(A)


def fatigue(ops, H, A, strength: float, tau: float, tmp):
    """H <- H + (strength A - H) / tau: fatigue follows activity with time constant tau steps."""
    if ops.fused is not None:
        k = ops.elementwise("cortex_fatigue", "T a, T s, T tau", "T h", "h = h + (s * a - h) / tau")
        return k(A, _scalar(ops, strength), _scalar(ops, tau), H)
    ops.multiply(A, strength, tmp)
    tmp -= H
    tmp /= tau
    H += tmp
    return H


def input_penalty(ops, R, pi, cauchy2, out_col, E2):
    """out_col (..., 1) <- sum_d pi rho(R) for the residual R = X - P: Gaussian r^2 / 2, or Cauchy
    c^2 / 2 log(1 + r^2 / c^2). ``pi`` is a scalar or spelled out to R's shape; ``E2`` scratch of R's shape."""
    unit = isinstance(pi, float) and pi == 1.0
    ops.multiply(R, R, E2)
    if cauchy2 is None:
        if not unit:
            E2 *= pi
        ops.rowsum(E2, out_col)
        out_col *= 0.5
    else:
        E2 /= cauchy2
        ops.log1p_(E2)
        if not unit:
            E2 *= pi
        ops.rowsum(E2, out_col)
        out_col *= 0.5 * cauchy2
    return out_col


def linear_energy(ops, R, A, pi, cauchy2, sparsity, out_col, E2, T, col, AL=None, inhibition=0.0, prior=None,
                  context_precision=0.0, activity_terms=None):
    """out_col (..., 1) <- each stimulus' energy of a none/lateral region: its input penalty, ``sparsity sum a``,
    ``inhibition / 2 a^T L a`` (from ``AL``) and ``cp / 2 |a - prior|^2``. ``T`` scratch like A, ``col`` like
    out_col; ``activity_terms`` (..., 1): the sparsity and lateral terms already summed by a fast path."""
    input_penalty(ops, R, pi, cauchy2, out_col, E2)
    if activity_terms is None:
        if AL is not None:     # sparsity and lateral terms in one pass: sum_i a_i (sparsity + inhibition / 2 (a L)_i)
            ops.multiply(AL, 0.5 * inhibition, T)
            T += sparsity
            T *= A
            ops.rowsum(T, col)
        else:
            ops.rowsum(A, col)
            col *= sparsity
        activity_terms = col
    out_col += activity_terms
    if prior is not None:
        ops.subtract(A, prior, T)
        T *= T
        ops.rowsum(T, col)
        col *= 0.5 * context_precision
        out_col += col
    return out_col


# ----------------------------------------------------------------------------------- softmax

def log_softmax_(ops, u, t, mx, lse):
    """u <- log_softmax(u) over the last axis, in place (``t`` scratch like u; ``mx``, ``lse`` (..., 1))."""
    ops.max_keep(u, mx)
    t[...] = mx          # spelled out: NumPy would buffer a broadcast operand
    u -= t
    ops.exp(u, t)
    ops.sum_keep(t, lse)
    ops.ln(lse, lse)
    t[...] = lse
    u -= t
    return u


def mean_energies(ops, X, pi, Mt, c, Xp, Xsq, q, t, e):
    """e (B, n) <- e_i = 1/2 sum pi X^2 - (X pi) m_i^T + c_i without factors (every stimulus sees mu_i = m_i):
    one (B, d) x (d, n) matmul instead of a (B, n, d) residual; ``c`` = 1/2 sum_d pi_d m_id^2 (B, n)."""
    ops.multiply(X, pi, Xp)
    ops.multiply(Xp, X, Xsq)
    ops.sum_keep(Xsq, q)
    q *= 0.5
    ops.matmul(Xp, Mt, t)
    ops.subtract_col(q, t, e)
    e += c
    return e


def hypothesis_residuals(ops, XT, MU, pi, cauchy2, RR, T3):
    """T3 (B, n, d) <- psi(X - mu_i) * pi per hypothesis (``XT``: X (B, 1, d) or repeated for every hypothesis)."""
    ops.subtract(XT, MU, RR)
    if cauchy2 is None:
        return ops.multiply(RR, pi, T3)
    ops.multiply(RR, RR, T3)
    T3 /= cauchy2
    T3 += 1.0
    ops.divide(RR, T3, T3)
    T3 *= pi
    return T3


def hypothesis_energies(ops, XT, MU, pi, cauchy2, R, T3, e, Z=None, Tk=None, ek=None):
    """e (B, n) <- e_i = sum_d pi_d rho(X_d - mu_id) (+ |z_i|^2 / 2 with factors ``Z`` (B, n, k))."""
    ops.subtract(XT, MU, R)
    if cauchy2 is None:
        ops.multiply(R, 0.5, T3)
        T3 *= R
    else:
        ops.multiply(R, R, T3)
        T3 /= cauchy2
        ops.log1p_(T3)
        T3 *= 0.5 * cauchy2
    T3 *= pi
    ops.sum_last(T3, e)
    if Z is not None:
        ops.multiply(Z, Z, Tk)
        ops.sum_last(Tk, ek)
        ek *= 0.5
        e += ek
    return e


def factor_step(ops, XT, MU, Z, F, Ft, MB, ETAZ, pi, cauchy2, RR, T3, GZ, Tk):
    """z <- z - eta_z (z - psi(X - mu) pi F^T); mu <- M + z F: each hypothesis' parameters descend its own energy
    (``MB``: M spelled out over the batch, ``ETAZ`` each hypothesis' step, ``GZ`` (B, n, 1, k) scratch)."""
    R = hypothesis_residuals(ops, XT, MU, pi, cauchy2, RR, T3)
    ops.matmul(R[:, :, None, :], Ft, GZ)
    ops.subtract(Z, GZ[:, :, 0, :], Tk)
    Tk *= ETAZ
    Z -= Tk
    hypothesis_predictions(ops, Z, F, MB, MU)


def hypothesis_predictions(ops, Z, F, MB, MU):
    """MU (B, n, d) <- m_i + z_i F_i: every hypothesis' own prediction, in one batched product."""
    ops.matmul(Z[:, :, None, :], F, MU[:, :, None, :])
    MU += MB
    return MU


def mirror_step(ops, A, e, H, temperature: float, s: float, u, t, mx, lse, prior_term=None, N=None, g_ext=None):
    """A <- the next distribution over hypotheses: ``u = (-e - h + prior_term + N) / T - g_ext / T``, a step of size
    ``s`` from the current A towards the minimiser ``softmax(u)`` in log space (mirror descent on the simplex)."""
    ops.subtract(0.0, e, u)        # u = -e - h
    u -= H
    if prior_term is not None:
        u += prior_term
    if N is not None:
        u += N
    u /= temperature
    if g_ext is not None:
        ops.divide(g_ext, temperature, t)
        u -= t
    if s < 1.0:                    # (1 - s) log a + s u
        ops.maximum(A, TINY, t)
        ops.ln(t, t)
        t *= 1.0 - s
        u *= s
        u += t
    log_softmax_(ops, u, t, mx, lse)
    ops.exp(u, A)
    return A


def mixture_energy(ops, A, e, temperature: float, u, t, out):
    """out (B,) <- sum_i a_i e_i + T a_i log a_i: the free energy of the mixture (``u``, ``t`` scratch like A)."""
    ops.multiply(A, e, u)
    ops.maximum(A, TINY, t)
    ops.ln(t, t)
    t *= A
    t *= temperature
    u += t
    ops.sum_last(u, out)
    return out


def mixture_prediction(ops, A, MU, P, general: bool):
    """P (B, d) <- sum_i a_i mu_i (``general``: mu per stimulus (B, n, d); else MU is M (n, d), one plain matmul)."""
    if general:
        ops.matmul(A[:, None, :], MU, P[:, None, :])
    else:
        ops.matmul(A, MU, P)
    return P


# ----------------------------------------------------------------------------------- context

def context_gradient(ops, A, target, context_precision: float, Vt, c, D, out):
    """out <- dE/dY of the context term ``cp/2 |a - f(Y c V)|^2`` (``target`` = f(prior): the prior itself for
    none/lateral, its softmax for softmax): ``-cp (A - target) V^T * c`` (``D`` scratch like A)."""
    ops.subtract(A, target, D)
    D *= -context_precision
    ops.matmul(D, Vt, out)
    out *= c
    return out
