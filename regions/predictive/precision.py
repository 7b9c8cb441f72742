"""A predictive region's precisions: as the graph writes them, or learned as 1 / each input connection's running
error variance (``learn_precision``).

Why learn them: a precision is the inverse variance of the noise a connection's prediction leaves, so the weight
each error term gets should follow how well it is predicted, per region and per connection, rather than be a
number written in the graph (docs/depth.md). The variance of connection ``k`` is a running mean, at ``rate``, of
the batch's mean squared error on the connection's columns after each learning update (for a softmax region,
each hypothesis' error weighed by its activity: the error of the hypothesis that explains the stimulus); the
precision is its inverse, clipped to [``min``, ``max``]. It starts at the precision the graph gives, so a first
update of rate 1 would already set it to the measured inverse variance.

The variances live in the region's ``weights`` (key ``noise_var``), so checkpoints keep them; the column
precisions ``_pi`` and their maximum ``pi_max`` (the curvature bound the step sizes use) follow them. Nothing
changes during a settle call: precisions move only when the region learns, as its weights do.
"""
from __future__ import annotations

KEY = "noise_var"


def setup(region, inputs) -> tuple[int, ...]:
    """Give ``region`` its column precisions (``_pi``; ``pi``, the same with absent inputs' columns at 0 during a
    settle; their maximum ``pi_max``) as the graph writes them; with ``learn_precision`` also its running
    variances, one per input connection, starting there. Returns the connections' widths."""
    b, p, sizes = region.backend, region.p, tuple(inputs.sizes)
    region._pi = b.asarray(inputs.per_column()) * p.precision         # (d_X,) every column's precision
    region.pi, region._masked = region._pi, False
    region.pi_max = float(max(inputs.precisions)) * p.precision
    lp = p.learn_precision
    if lp is None:
        return sizes
    onehot = b.zeros((len(sizes), region.d_x))      # (links, d_X): which columns belong to which connection
    for k, n in enumerate(sizes):
        onehot[k, sum(sizes[:k]):sum(sizes[:k + 1])] = 1.0
    region._links_onehot, region._links_size = onehot, b.asarray([float(n) for n in sizes])
    start = [min(max(c * p.precision, lp.min), lp.max) for c in inputs.precisions]
    region.weights[KEY] = b.asarray([1.0 / v for v in start])
    apply(region)
    return sizes


def apply(region) -> None:
    """Set the column precisions and their maximum from the stored variances (nothing without ``learn_precision``)."""
    xp, lp = region.xp, region.p.learn_precision
    if lp is None:
        return
    per_link = xp.clip(1.0 / xp.maximum(region.weights[KEY], 1.0 / lp.max), lp.min, lp.max)   # a perfect fit: max
    region._pi = per_link @ region._links_onehot
    if not region._masked:
        region.pi = region._pi
    region.pi_max = float(region.backend.to_numpy(xp.max(per_link)))
    region._step_cache = None


def update(region, state, X) -> None:
    """One running-mean step of every connection's error variance from a settled batch, then :func:`apply`."""
    xp, lp = region.xp, region.p.learn_precision
    if region.softmax:
        r = X[:, None, :] - state.mu
        r2 = xp.sum(state.a[:, :, None] * (r * r), axis=1)            # (B, d) the explaining hypotheses' errors
    else:
        r = X - state.pred
        r2 = r * r
    measured = (region._links_onehot @ xp.mean(r2, axis=0)) / region._links_size      # (links,)
    var = region.weights[KEY]
    region.weights[KEY] = var + lp.rate * (measured - var)
    apply(region)


def link_precisions(region, sizes) -> list[float]:
    """Each input connection's precision now (``sizes``: the connections' widths, in the order of the inputs)."""
    pi = region.backend.to_numpy(region._pi)
    return [float(pi[sum(sizes[:k])]) for k in range(len(sizes))]
