"""How much a context prior could lower a predictive region's energy: the score structure search ranks edges by.

A context edge u -> r adds to r's energy a term that is lowest when the prior predicts r's settled activity: for
a softmax region ``-cp sum_i a_i log softmax(Y V)_i`` (a cross-entropy), for a none/lateral one ``cp/2 |a - Y V|^2``.
Without the edge the prior is uniform (softmax: ``cp log n``) or zero. Fitting V on settled activity, the
prior's energy on held-out activity says what the edge would be worth (see :mod:`cortex.structure`).
"""
from __future__ import annotations

import math


def fit_context(region, Y_fit, A_fit, Y_eval, A_eval, steps: int = 200):
    """The context term a prior fitted to these activities would leave: ``(mean energy on the eval set, V)``.

    ``Y_*`` (N, m): precision-weighted context activities (None: no context, V = 0); ``A_*`` (N, n) this
    region's settled activities. Softmax: ``-cp sum_i a_i log softmax(Y V)_i``, V by gradient descent on the
    fit set (the same rule ``learn`` follows, run to convergence); none/lateral: ``cp/2 |a - Y V|^2``, V by
    ridge regression. Structure search (:mod:`cortex.structure`) scores a candidate edge by the energy it
    removes on held-out stimuli.
    """
    xp, b, cp = region.xp, region.backend, region.p.context_precision
    n = A_fit.shape[1]
    if Y_fit is None:
        if region.softmax:
            return cp * math.log(n), None
        return float(b.to_numpy(0.5 * cp * xp.mean(xp.sum(A_eval * A_eval, axis=1)))), None
    N, m = Y_fit.shape
    gram = Y_fit.T @ Y_fit / N
    ridge = 1e-3 * (float(b.to_numpy(xp.max(xp.linalg.eigvalsh(gram)))) + 1e-6)
    if region.softmax:
        V = b.zeros((m, n))
        lr = 1.0 / (0.5 * float(b.to_numpy(xp.max(xp.linalg.eigvalsh(gram)))) + ridge)
        for _ in range(steps):
            P = xp.exp(region._log_softmax(Y_fit @ V))
            V = V + lr * (Y_fit.T @ (A_fit - P) / N - ridge * V)
        E = -cp * xp.mean(xp.sum(A_eval * region._log_softmax(Y_eval @ V), axis=1))
    else:
        V = xp.linalg.solve(gram + ridge * xp.eye(m, dtype=b.dtype), Y_fit.T @ A_fit / N)
        R = A_eval - Y_eval @ V
        E = 0.5 * cp * xp.mean(xp.sum(R * R, axis=1))
    return float(b.to_numpy(E)), V
