"""Online learning of a predictive region: local updates, each bounded by the curvature of the energy it descends.

Every update here is a gradient step ``w <- w - lr g`` on the batch's mean energy in those weights. A gradient step
on a quadratic of curvature ``c`` overshoots the minimum when ``lr c > 1`` and diverges when ``lr c > 2``, so a
learning rate that is safe at one precision or input scale blows up at another (the composition graph at
``lr: 10``). As settling takes its step sizes from curvature bounds, learning does here: each update's rate is
``lr / max(1, lr c / 1.8)`` with ``c`` that curvature (or an upper bound of it) computed on the device from the
batch, so every mode of the update contracts (1.8 < 2, where a gradient step diverges). ``bounded_lr: false`` turns
it off, for the ablation in docs/numerics.md. Below the bound nothing changes. The bounds:

- softmax means ``M_i`` without factors: ``max_d pi_d sum_b a_bi psi'(r_bid) / B``, exact per hypothesis (psi' = 1
  for a Gaussian error; the positive part of the Cauchy error's psi'); with factors ``M_i`` and ``F_i`` together:
  ``pi_max lambda_max(sum_b a_bi s_bi [1, z_bi][1, z_bi]^T) / B`` with ``s_bi`` the largest psi' of that stimulus
  (n eigenproblems of (k + 1) x (k + 1)), one rate for both;
- linear fields ``W``: ``pi_max lambda_max(a^T a / B)``, bounded by the largest absolute row sum (Gershgorin);
  with unit rows (``normalize``, the default) the rows return to the sphere after each step, so the step is only
  kept shorter than a row (``LIMIT`` times the row's unit length);
- first-guess ``R`` and context ``V`` of a linear region: ``lambda_max(X^T X / B)`` bounded the same way; of a
  softmax region they take cross-entropy steps, whose gradients are bounded, and are left as they are.

Without factors and with a Gaussian error the softmax update ``sum_b a_bi pi (X_b - m_i)`` is formed as
``pi (a^T X - (sum_b a_bi) m_i)``: no (B, n, d) residuals, so learning needs no more memory than settling.
"""
from __future__ import annotations

from . import precision as learned_precision

LIMIT = 1.8
"""Largest ``rate * curvature`` an update may take: every mode of the quadratic then contracts by at least
``|1 - 1.8| = 0.8`` per update (2 is where a gradient step starts to diverge)."""


def _rate(xp, lr: float, curvature, bounded: bool):
    """lr, or LIMIT / c where lr c > LIMIT: a step on a quadratic of curvature c that always contracts."""
    if not bounded:
        return lr
    return lr / xp.maximum(lr * curvature / LIMIT, 1.0)


def _gram_bound(xp, A):
    """Upper bound of lambda_max(A^T A / B): the largest absolute row sum of |A|^T |A| / B (Gershgorin)."""
    Aa = xp.abs(A)
    return xp.max(Aa.T @ xp.sum(Aa, axis=1)) / A.shape[0]


def learn(region, state, X, Y) -> None:
    """Local updates from a settled batch: presynaptic activity times postsynaptic error (see the module)."""
    xp, p, w = region.xp, region.p, region.weights
    bounded = p.bounded_lr
    B = X.shape[0]
    a = state.a
    e_win = region.growth.winner_energy(state, X) if region.growth is not None else None
    if region.softmax:
        _learn_softmax(region, state, X, bounded)
        if region.lr_rec and not region._masked:    # the first guess learns from complete inputs only
            # a cross-entropy step: its gradient is bounded (|a - softmax| <= 1), so it cannot blow up; not bounded
            w["R"] = w["R"] + (region.lr_rec / B) * (X.T @ (a - xp.exp(region._log_softmax(X @ w["R"]))))
        if region.d_y and region.lr_ctx and Y is not None:
            Yc = Y * region.c
            w["V"] = w["V"] + (region.lr_ctx / B) * (Yc.T @ (a - xp.exp(region._log_softmax(Yc @ w["V"]))))
    else:
        if p.lr:   # lr 0 freezes W exactly (renormalising unit rows again would drift by rounding)
            eps = region.input_gradient(state, X)
            g = a.T @ eps
            if p.normalize:
                # unit rows put W back on the sphere after every step, so only a step longer than a row can do
                # harm: the curvature bound would only slow learning (a stacked V1 at inherited precision 30
                # learned nothing useful under it). Each row moves at most its own length.
                rate = _rate(xp, p.lr, xp.max(xp.sqrt(xp.sum(g * g, axis=1))) / B, bounded)
            else:
                rate = _rate(xp, p.lr, region.pi_max * _gram_bound(xp, a), bounded)
            W = w["W"] + (rate / B) * g
            w["W"] = unit_rows(xp, W) if p.normalize else W
        if region.lr_rec and not region._masked:
            rate = _rate(xp, region.lr_rec, _gram_bound(xp, X), bounded)
            w["R"] = w["R"] + (rate / B) * (X.T @ (a - xp.maximum(X @ w["R"], 0.0)))
        if region.d_y and region.lr_ctx and Y is not None:
            Yc = Y * region.c
            rate = _rate(xp, region.lr_ctx, _gram_bound(xp, Yc), bounded)
            w["V"] = w["V"] + (rate / B) * (Yc.T @ (a - Yc @ w["V"]))
        if "L" in w and p.inhibition_lr:
            co = (p.inhibition_lr / B) * (a.T @ a)
            L = xp.maximum(w["L"] + co, 0.0)
            w["L"] = L * (1.0 - xp.eye(region.n, dtype=region.backend.dtype))
    region._step_cache = None
    if region.growth is not None:
        region.growth.after_learn(X, e_win, a, state.labels)
    if p.learn_precision is not None and not region._masked:   # absent inputs measure no error
        learned_precision.update(region, state, X)


def _learn_softmax(region, state, X, bounded: bool) -> None:
    """The means M (and factor fields F) of a softmax region, each hypothesis' step bounded by its own curvature."""
    xp, p, w = region.xp, region.p, region.weights
    B, a = X.shape[0], state.a
    mass = xp.sum(a, axis=0)                                             # (n,) sum_b a_bi
    consolidate = region.growth is not None and p.recruit.consolidate    # a running mean of the inputs, rate 1/usage
    if not region.k and region.cauchy2 is None:
        M0 = state.mu[0, ...]                          # the means this state was settled with
        raw = a.T @ X - mass[:, None] * M0             # sum_b a_bi (X_b - m_i), (n, d)
        if consolidate:
            w["M"] = w["M"] + region.growth.mean_rates(a, p.lr / B) * (raw * xp.sign(region.pi))
        else:
            rate = _rate(xp, p.lr, (region.pi_max / B) * mass, bounded)
            w["M"] = w["M"] + ((rate[:, None] if bounded else rate) / B) * (raw * region.pi)
        return
    r = region._residuals(X, state)
    # the energy's curvature in m_id is pi_d sum_b a_bi psi'(r_bid) / B (psi' = 1 for a Gaussian error, the
    # Cauchy psi' = (1 - u) / (1 + u)^2 with u = r^2 / c^2, its positive part): exact per hypothesis and column
    weight = a[:, :, None] if region.cauchy2 is None else a[:, :, None] * _cauchy_slope(xp, X, state.mu,
                                                                                         region.cauchy2)
    if region.k:
        # M_i and F_i explain the input together, as m_i + z_i F_i: in column d the curvature in (m_id, f_i.d) is
        # pi_d sum_b a_bi psi'_bid [1, z_bi][1, z_bi]^T / B; with psi'_bid <= s_bi = max_d psi'_bid its largest
        # eigenvalue is at most pi_max lambda_max(sum_b a_bi s_bi [1, z_bi][1, z_bi]^T) / B, one rate for both
        s = a if region.cauchy2 is None else xp.max(weight, axis=-1)                  # (B, n) a_bi s_bi
        Z1 = region.backend.zeros((B, region.n, region.k + 1))
        Z1[..., 0] = 1.0
        Z1[..., 1:] = state.z
        Zs = xp.moveaxis(Z1 * s[:, :, None], 0, 1)                                     # (n, B, k + 1)
        C = xp.moveaxis(Zs, -1, -2) @ xp.moveaxis(Z1, 0, 1)                            # (n, k + 1, k + 1)
        curv = (region.pi_max / B) * xp.max(region.eigenvalues(C, "z"), axis=-1)
    else:
        curv = xp.max(xp.sum(weight, axis=0) * region.pi, axis=-1) / B                  # (n,)
    rate = _rate(xp, p.lr, curv, bounded)
    if consolidate:
        w["M"] = w["M"] + region.growth.mean_rates(a, p.lr / B) * xp.sum(a[:, :, None] * (r / region.pi), axis=0)
    else:
        w["M"] = w["M"] + ((rate[:, None] if bounded else rate) / B) * xp.sum(a[:, :, None] * r, axis=0)
    if region.k:
        az = xp.moveaxis(a[:, :, None] * state.z, 0, -1)                # (n, k, B)
        step = rate[:, None, None] if bounded else rate
        w["F"] = w["F"] + (step / B) * (az @ xp.moveaxis(r, 0, 1))     # (n, k, d)


def _cauchy_slope(xp, X, MU, cauchy2: float):
    """(B, n, d) max(psi'(X - mu_i), 0) of the Cauchy error: (1 - u) / (1 + u)^2, u = (X - mu_i)^2 / c^2."""
    u = X[:, None, :] - MU
    u = u * u / cauchy2
    return xp.maximum(1.0 - u, 0.0) / ((1.0 + u) * (1.0 + u))


def unit_rows(xp, W):
    """W with every row scaled to unit length (rows of zeros stay zero)."""
    return W / xp.maximum(xp.sqrt(xp.sum(W * W, axis=1, keepdims=True)), 1e-12)
