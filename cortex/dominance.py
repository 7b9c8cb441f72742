"""Dominance periods of two competing hypotheses, and the statistics psychophysics reports about them.

Works on any recording of two activities over time (the predictive region's trace, a spiking
population's rates): plain NumPy and SciPy, read-only, independent of the simulator.

A side is *dominant* while its activity exceeds the other's by more than ``margin``; in between the
percept is *mixed*. A dominance period of side i starts when i becomes dominant after the other side
was, and ends the last time i is dominant before the other side takes over: a mixed stretch followed
by the same side again is flicker inside one period, not a switch, and a mixed stretch between two
sides belongs to neither. The first period of a trial (it starts with the trial) and the last (the
trial cuts it off) are incomplete and are dropped.

>>> import numpy as np
>>> a = np.zeros((12, 2)); a[:, 0] = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]; a[:, 1] = 1 - a[:, 0]
>>> dominance_periods(a)
[(1, 3.0), (0, 3.0)]
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import CortexError

__all__ = ["DominanceError", "Periods", "find_periods", "dominance_periods", "duration_stats",
           "predominance", "alternation_rate", "MIN_DURATIONS"]

MIN_DURATIONS = 5   # fewer complete periods than this cannot support a distribution fit


class DominanceError(CortexError, ValueError):
    """An activity recording or a set of durations cannot give the statistic asked for."""


@dataclass(frozen=True)
class Periods:
    """Complete dominance periods of a batch of trials, as parallel arrays (one entry per period).

    Attributes
    ----------
    trial, side : (m,) int arrays: the trial and the dominant side (0 or 1) of each period.
    start, duration : (m,) float arrays in units of ``dt``.
    switches : (B,) number of changes of the dominant side in each trial (complete periods or not).
    dominant_time : (B, 2) time each side was dominant in each trial (mixed time excluded).
    trial_time : total time of each trial (all trials have the same length).
    """

    trial: np.ndarray
    side: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    switches: np.ndarray
    dominant_time: np.ndarray
    trial_time: float

    def durations(self, side: int | None = None) -> np.ndarray:
        """All durations, or only those of ``side``."""
        return self.duration if side is None else self.duration[self.side == side]


def _as_trials(activity) -> np.ndarray:
    arr = np.asarray(activity)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise DominanceError(f"activity must have shape (time, 2) or (time, trials, 2), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise DominanceError("activity must hold finite numbers")
    if arr.shape[0] < 2:
        raise DominanceError(f"activity needs at least 2 time points, got {arr.shape[0]}")
    return arr


def _check_dt_margin(dt, margin):
    def number(x):
        return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)
    if not (number(dt) and dt > 0):
        raise DominanceError(f"dt must be a positive number, got {dt!r}")
    if not (number(margin) and margin >= 0):
        raise DominanceError(f"margin must be a number >= 0, got {margin!r}")
    return float(dt), float(margin)


def find_periods(activity, dt: float = 1.0, margin: float = 0.0) -> Periods:
    """Complete dominance periods of every trial of ``activity`` (time, 2) or (time, trials, 2)."""
    arr = _as_trials(activity)
    dt, margin = _check_dt_margin(dt, margin)
    T, B, _ = arr.shape
    diff = arr[..., 0].astype(np.float64) - arr[..., 1]
    label = np.where(diff > margin, 0, np.where(diff < -margin, 1, -1))          # (T, B); -1 = mixed
    dominant_time = np.stack([(label == 0).sum(axis=0), (label == 1).sum(axis=0)], axis=1) * float(dt)
    cols = {k: [] for k in ("trial", "side", "start", "duration")}
    switches = np.zeros(B, dtype=np.int64)
    for b in range(B):   # per trial: a handful of array operations, no loop over time
        t = np.flatnonzero(label[:, b] >= 0)
        if t.size == 0:
            continue
        lab = label[t, b]
        change = np.flatnonzero(lab[1:] != lab[:-1]) + 1       # indices into t where a new side takes over
        switches[b] = change.size
        first = np.r_[0, change]
        last = np.r_[change - 1, t.size - 1]
        start, stop = t[first], t[last] + 1
        keep = slice(1, -1)                                     # drop the incomplete first and last period
        n = max(first.size - 2, 0)
        cols["trial"].append(np.full(n, b))
        cols["side"].append(lab[first][keep])
        cols["start"].append(start[keep] * float(dt))
        cols["duration"].append((stop - start)[keep] * float(dt))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    return Periods(trial=cat["trial"].astype(np.int64), side=cat["side"].astype(np.int64),
                   start=cat["start"].astype(np.float64), duration=cat["duration"].astype(np.float64),
                   switches=switches, dominant_time=dominant_time, trial_time=T * float(dt))


def dominance_periods(activity, dt: float = 1.0, margin: float = 0.0) -> list[tuple[int, float]]:
    """Complete dominance periods as a list of (side, duration), trial after trial, in time order.

    Parameters
    ----------
    activity : (time, 2) or (time, trials, 2) activity of two competing hypotheses.
    dt : time between samples (durations are in its unit).
    margin : a side is dominant only while it leads by more than this; mixed stretches are not switches.
    """
    p = find_periods(activity, dt, margin)
    return [(int(s), float(d)) for s, d in zip(p.side, p.duration)]


def predominance(activity, margin: float = 0.0) -> np.ndarray:
    """(2,) the fraction of dominant time (mixed time excluded) that each side was dominant, over all trials."""
    p = find_periods(activity, 1.0, margin)
    total = p.dominant_time.sum()
    if total == 0:
        raise DominanceError("neither side is ever dominant; lower the margin or check the activity")
    return p.dominant_time.sum(axis=0) / total


def alternation_rate(activity, dt: float = 1.0, margin: float = 0.0) -> float:
    """Changes of the dominant side per unit time, averaged over trials."""
    p = find_periods(activity, dt, margin)
    return float(p.switches.sum() / (p.switches.size * p.trial_time))


def duration_stats(durations) -> dict:
    """Mean, spread, skew and maximum-likelihood gamma and lognormal fits of dominance durations.

    Both fits have two free parameters (location fixed at 0), so their log-likelihoods compare directly.
    Returns a dict: ``n, mean, sd, cv, skewness, median, gamma {shape, scale, loglik}, lognormal {sigma,
    scale, loglik}, better_fit``.
    """
    from scipy import stats

    d = np.asarray(durations, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise DominanceError("durations must be finite and > 0")
    if d.size < MIN_DURATIONS:
        raise DominanceError(f"need at least {MIN_DURATIONS} complete dominance periods to fit a distribution, "
                             f"got {d.size}; run longer trials or more of them")
    sd = float(d.std(ddof=1))
    if sd == 0:
        raise DominanceError(f"all {d.size} durations are equal ({d[0]}); a distribution cannot be fitted")
    shape, _, scale = stats.gamma.fit(d, floc=0)
    sigma, _, ln_scale = stats.lognorm.fit(d, floc=0)
    ll_gamma = float(np.sum(stats.gamma.logpdf(d, shape, 0, scale)))
    ll_lognorm = float(np.sum(stats.lognorm.logpdf(d, sigma, 0, ln_scale)))
    mean = float(d.mean())
    return {
        "n": int(d.size), "mean": mean, "sd": sd, "cv": sd / mean, "median": float(np.median(d)),
        "skewness": float(stats.skew(d, bias=False)),
        "gamma": {"shape": float(shape), "scale": float(scale), "loglik": ll_gamma},
        "lognormal": {"sigma": float(sigma), "scale": float(ln_scale), "loglik": ll_lognorm},
        "better_fit": "gamma" if ll_gamma >= ll_lognorm else "lognormal",
    }
