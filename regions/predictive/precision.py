"""Learned precisions: each input connection's precision is 1 / its running error variance (``learn_precision``).

Why: a precision is the inverse variance of the noise a connection's prediction leaves, so the weight each error
term gets should follow how well it is predicted, per region and per connection, rather than be a number written
in the graph (docs/depth.md). The variance of connection ``k`` is a running mean, at ``rate``, of the batch's mean
squared error on the connection's columns after each learning update (for a softmax region, each hypothesis'
error weighed by its activity: the error of the hypothesis that explains the stimulus); the precision is its
inverse, clipped to [``min``, ``max``]. It starts at the precision the graph gives, so a first update of rate 1
would already set it to the measured inverse variance.

The variances live in the region's ``weights`` (key ``noise_var``), so checkpoints keep them; the column
precisions ``_pi`` and their maximum ``pi_max`` (the curvature bound the step sizes use) follow them. Nothing
changes during a settle call: precisions move only when the region learns, as its weights do.
"""
from __future__ import annotations

KEY = "noise_var"


def setup(region, sizes, base) -> None:
    """Give ``region`` (with ``learn_precision`` set) its running variances, one per input connection."""
    b, lp = region.backend, region.p.learn_precision
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    onehot = b.zeros((len(sizes), region.d_x))      # (links, d_X): which columns belong to which connection
    for k, (s, n) in enumerate(zip(starts, sizes)):
        onehot[k, s:s + n] = 1.0
    region._links_onehot, region._links_size = onehot, b.asarray([float(n) for n in sizes])
    region.weights[KEY] = b.asarray([1.0 / min(max(float(p), lp.min), lp.max) for p in base])
    apply(region)


def apply(region) -> None:
    """Set the column precisions and their maximum from the stored variances."""
    xp, lp = region.xp, region.p.learn_precision
    per_link = xp.clip(1.0 / region.weights[KEY], lp.min, lp.max)
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
