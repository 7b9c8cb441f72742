"""``init: data``: a predictive region's hypotheses start from its first stimuli instead of small random weights.

Why: a softmax region learning without a teacher from random means near zero collapses. Every hypothesis explains
the first stimuli about equally badly, the one that gains a little moves towards the data's mean, explains more
of every stimulus and takes the next batch too, until one or two hypotheses hold everything (on the digits, 10
hypotheses: 2 in use, cluster purity 0.10-0.20 at seeds 0-2; docs/learning.md). Started on distinct stimuli, as k-means
and mixture models start, each hypothesis holds its own part of the input from the first update. A lateral region's
fields start the same way, as unit rows.

The first learning updates copy the batch's inputs into the hypotheses not yet seeded, in the batch's order (the
experiments shuffle it), one hypothesis per stimulus, and learn nothing else; once every hypothesis is seeded the
region learns as usual. How many are seeded lives in the region's ``weights`` (key ``seeded``), so a checkpoint
of a trained model does not seed again when it goes on learning.
"""
from __future__ import annotations

from .learning import unit_rows

KEY = "seeded"


def setup(region) -> None:
    """Give a region with ``init: data`` its count of seeded hypotheses, 0."""
    if region.p.init == "data":
        region.weights[KEY] = region.backend.zeros((1,))


def seed(region, X) -> bool:
    """Copy stimuli of the batch ``X`` (B, d_X) into the hypotheses not yet seeded. Returns whether it did (then
    the batch teaches nothing else); False once all are seeded, without ``init: data``, or while inputs are
    absent (a partial stimulus is not one to start from)."""
    if region.p.init != "data" or region._masked:
        return False
    xp, w = region.xp, region.weights
    done = int(region.backend.to_numpy(w[KEY])[0])
    if done >= region.n:
        return False
    k = min(region.n - done, X.shape[0])
    key = "M" if region.softmax else "W"
    rows = X[:k, ...] if region.softmax or not region.p.normalize else unit_rows(xp, X[:k, ...])
    w[key] = xp.concat([w[key][:done, ...], xp.astype(rows, w[key].dtype), w[key][done + k:, ...]], axis=0)
    w[KEY] = w[KEY] + float(k)
    region._step_cache = None
    return True
