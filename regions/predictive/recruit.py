"""Recruited hypotheses: a predictive region grows when no hypothesis explains an input, and drops what it does not use.

A region with ``recruit:`` holds its per-hypothesis arrays with a capacity, a multiple of ``chunk``, and an active
mask; an inactive hypothesis carries an energy penalty (:data:`BIG`) so it never wins, never learns and never
predicts. After each learning update (:meth:`Growth.after_learn`):

- a stimulus is unexplained when its winning hypothesis' energy per input element is above ``threshold``, or its
  surprise (that energy's z-score against a running mean and variance) is above ``surprise``; the worst
  unexplained stimulus of the batch recruits a hypothesis initialised from it in one shot (its mean is the input;
  its factors are zero, since one input says nothing about how the concept varies), and so on up to
  ``per_batch``, skipping stimuli the new ones already explain;
- a hypothesis older than ``min_age`` stimuli whose usage (summed responsibility) is under ``prune_usage`` is
  pruned; when no slot is free the arrays grow by ``chunk`` up to ``max_hypotheses``, and beyond it the pair whose
  merge raises the squared error least (Ward: ``u_i u_j / (u_i + u_j) |m_i - m_j|^2``, same owner only) is merged;
- with ``consolidate``, each hypothesis' mean learns at rate 1/usage (a running mean), floored at ``lr``, so a
  well-used concept hardly moves while a new one is shaped quickly.

With a ``teacher``, the teacher input is a label (one-hot over any number of concepts), not a clamp: each
hypothesis has an owner, only the hypotheses the label owns compete (and so learn) while it is shown
(``owned``), and a label with no hypothesis yet recruits one from the mean of its stimuli in the batch, with
factors along their spread. The bookkeeping arrays (``active``, ``usage``, ``age``, ``owner``, ``growth``) are
part of the region's ``weights``, so checkpoints save a grown region and restore it at its size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from cortex.region import Strict

BIG = 1.0e4      # energy penalty of a hypothesis that may not win: exp(-BIG) is exactly 0 in float32 and float64
STATS = "growth"                             # (4,): stimuli seen, stimuli in the statistics, mean, variance
HYPOTHESIS_AXES = {"M": (0,), "F": (0,), "W": (0,), "R": (1,), "V": (1,), "L": (0, 1),
                   "active": (0,), "usage": (0,), "age": (0,), "owner": (0,)}   # where each array counts hypotheses


class Recruit(Strict):
    """The ``recruit:`` block of a predictive region (softmax or lateral competition)."""

    threshold: float | None = Field(None, gt=0)   # winner's energy per input element above which an input is new
    surprise: float | None = Field(None, gt=0)    # or: its z-score against the running distribution of that energy
    warmup: int = Field(0, ge=0)                  # stimuli seen before surprise may recruit
    max_hypotheses: int = Field(64, ge=1, le=100_000)
    chunk: int = Field(8, ge=1, le=4096)          # arrays grow by this many hypotheses at a time
    per_batch: int = Field(4, ge=1)               # most hypotheses recruited from one batch
    merge: bool = True                            # at max_hypotheses, merge the cheapest pair to make room
    prune_usage: float = Field(0.0, ge=0)         # prune hypotheses used less than this...
    min_age: int = Field(200, ge=0)               # ...once they have seen this many stimuli
    consolidate: bool = True                      # means learn at rate 1/usage (floored at lr)
    owned: bool = True                            # with a teacher, only the label's own hypotheses compete
    factor_init: Literal["zero", "random"] = "zero"   # factors of a hypothesis recruited from one input
    spread_scale: float = Field(1.0, gt=0)        # factors of one recruited from several: their spread times this

    @model_validator(mode="after")
    def _a_rule(self):
        if self.threshold is None and self.surprise is None:
            raise ValueError("recruit needs a threshold (energy per input element) or a surprise (z-score), or both")
        return self


def capacity_for(n: int, chunk: int, most: int) -> int:
    """The smallest multiple of ``chunk`` that holds ``n`` hypotheses (at least one chunk), at most ``most``."""
    return min(most, max(chunk, chunk * math.ceil(n / chunk)))


@dataclass(frozen=True)
class Event:
    """One change of a region's hypotheses: ``recruit``, ``prune``, ``merge`` (into ``other``) or ``grow``."""

    seen: int
    event: str
    hypothesis: int
    other: int = -1


class Growth:
    """The recruitment of one region: its mask, usage, owners and energy statistics, and what changed when."""

    def __init__(self, region, n_start: int):
        self.region, self.p = region, region.p.recruit
        self.limit = self.p.max_hypotheses          # an experiment may hold some capacity back for later
        b, cap, w = region.backend, region.n, region.weights
        w["active"] = b.zeros((cap,))
        w["active"][:n_start] = 1.0
        w["usage"], w["age"] = b.zeros((cap,)), b.zeros((cap,))
        w["owner"] = b.zeros((cap,)) - 1.0
        w[STATS] = b.zeros((4,))
        self.log: list[Event] = []
        self.history: list[tuple[int, int]] = [(0, n_start)]

    # ----- reading the bookkeeping -------------------------------------------------------------
    @property
    def w(self) -> dict:
        return self.region.weights

    def _host(self, key):
        return self.region.backend.to_numpy(self.w[key])

    @property
    def seen(self) -> int:
        return int(self._host(STATS)[0])

    def count(self) -> int:
        """Active hypotheses."""
        return int(self._host("active").sum())

    def penalty(self):
        """(n,) BIG for inactive hypotheses, 0 for active ones."""
        return BIG * (1.0 - self.w["active"])

    def label_penalty(self, labels):
        """(B, n) BIG where a hypothesis is inactive or not the stimulus' label's (``labels``: (B,) host ints)."""
        own = (self._host("owner")[None, :] == labels[:, None]) & (self._host("active")[None, :] > 0)
        return self.region.backend.asarray(BIG * (1.0 - own))

    def event_counts(self) -> dict[str, int]:
        """How many recruits, prunes, merges and growths happened."""
        return {e: sum(1 for x in self.log if x.event == e) for e in ("recruit", "prune", "merge", "grow")}

    # ----- the arrays ----------------------------------------------------------------------------
    def resize(self, capacity: int) -> None:
        """Reallocate every per-hypothesis array of the region for ``capacity`` hypotheses (the new ones inactive)."""
        r = self.region
        b, n, w = r.backend, r.n, r.weights
        for key, axes in HYPOTHESIS_AXES.items():
            if key not in w:
                continue
            old = w[key]
            shape = tuple(capacity if i in axes else s for i, s in enumerate(old.shape))
            new = b.zeros(shape)
            if key == "L":   # all-to-all inhibition, the initial L, for the new hypotheses too
                new = new + 1.0 - r.xp.eye(capacity, dtype=b.dtype)
            if key == "owner":
                new = new - 1.0
            keep = tuple(slice(0, min(n, capacity)) if i in axes else slice(None) for i in range(len(shape)))
            new[keep] = old[keep]
            w[key] = new
        r.n = capacity
        r.weights_changed()

    def init_hypothesis(self, j: int, x, spread=None) -> None:
        """Hypothesis j predicts ``x`` (one shot); its factors start at zero (or at random), or along ``spread``."""
        r = self.region
        w, xp = r.weights, r.xp
        if r.softmax:
            w["M"][j, ...] = x
            if r.k:
                w["F"][j, ...] = (r.rng.normal((r.k, r.d_x), r.p.init_scale) if self.p.factor_init == "random"
                                  else 0.0)
                if spread is not None:
                    m = min(r.k, spread.shape[0])
                    w["F"][j, :m, ...] = spread[:m, ...]
        else:
            w["W"][j, ...] = x / xp.maximum(xp.sqrt(xp.sum(x * x)), 1e-12)
        w["R"][:, j] = 0.0
        if "V" in w:
            w["V"][:, j] = 0.0
        r.weights_changed()

    def merge_into(self, i: int, j: int, ui: float, uj: float) -> None:
        """Hypothesis i takes over j: means averaged by usage (factors: the more used one's are kept)."""
        r = self.region
        w, xp = r.weights, r.xp
        key = "M" if r.softmax else "W"
        m = (ui * w[key][i, ...] + uj * w[key][j, ...]) / (ui + uj)
        if not r.softmax:
            m = m / xp.maximum(xp.sqrt(xp.sum(m * m)), 1e-12)
        w[key][i, ...] = m
        r.weights_changed()

    def solo_energy(self, X, j: int):
        """(B,) the energy of hypothesis j alone explaining X (its factor parameters at zero)."""
        r = self.region
        R = X - r.fields()[j, ...]
        if r.cauchy2 is None:
            rho = 0.5 * R * R
        else:
            rho = 0.5 * r.cauchy2 * r.xp.log1p(R * R / r.cauchy2)
        return r.xp.sum(rho * r.pi, axis=-1)

    # ----- changing the hypotheses -------------------------------------------------------------
    def _free_slot(self) -> int | None:
        act = self._host("active")
        if act.sum() < self.limit:
            free = (act == 0).nonzero()[0]
            if len(free):
                return int(free[0])
            if self.region.n < self.p.max_hypotheses:
                self.resize(min(self.p.max_hypotheses, self.region.n + self.p.chunk))
                self.log.append(Event(self.seen, "grow", self.region.n))
                return self._free_slot()
        return self._merge() if self.p.merge else None

    def _merge(self) -> int | None:
        """Merge the active pair (one owner) whose merge raises the squared error least; returns the freed slot."""
        r = self.region
        M = r.fields()
        sq = r.xp.sum(M * M, axis=1)
        dist = r.backend.to_numpy(sq[:, None] + sq[None, :] - 2.0 * (M @ r.xp.moveaxis(M, -1, -2)))
        u = self._host("usage").clip(min=1e-6)
        own, act = self._host("owner"), self._host("active") > 0
        D = dist.clip(min=0.0) * (u[:, None] * u[None] / (u[:, None] + u[None]))
        D[~(act[:, None] & act[None]) | (own[:, None] != own[None])] = math.inf
        D[range(len(D)), range(len(D))] = math.inf
        if D.min() == math.inf:
            return None
        i, j = divmod(int(D.argmin()), D.shape[1])
        i, j = (int(i), int(j)) if u[i] >= u[j] else (int(j), int(i))
        self.merge_into(i, j, float(u[i]), float(u[j]))
        self.w["usage"][i] = self.w["usage"][i] + self.w["usage"][j]
        self._retire(j, "merge", i)
        return j

    def _retire(self, j: int, event: str, other: int = -1) -> None:
        for key, value in (("active", 0.0), ("usage", 0.0), ("age", 0.0), ("owner", -1.0)):
            self.w[key][j] = value
        self.log.append(Event(self.seen, event, j, other))

    def add(self, x, owner: int = -1, spread=None) -> int | None:
        """Recruit one hypothesis predicting ``x`` (d,), optionally with factors along ``spread`` (k', d); its slot."""
        j = self._free_slot()
        if j is None:
            return None
        self.init_hypothesis(j, x, spread)
        for key, value in (("active", 1.0), ("usage", 1.0), ("age", 0.0), ("owner", float(owner))):
            self.w[key][j] = value
        self.log.append(Event(self.seen, "recruit", j, owner))
        return j

    def add_for_labels(self, X, lab) -> None:
        """Every label in the batch that owns no hypothesis recruits one from its stimuli (mean, factors on spread)."""
        xp = self.region.xp
        owned = set(self._host("owner")[self._host("active") > 0].astype(int).tolist())
        for label in sorted(set(lab.tolist()) - owned):
            rows = _rows(xp, X, (lab == label).nonzero()[0])
            m = xp.mean(rows, axis=0)
            spread = None
            if self.region.k and rows.shape[0] > 1:
                _, S, Vt = xp.linalg.svd(rows - m, full_matrices=False)
                spread = (self.p.spread_scale / math.sqrt(rows.shape[0])) * S[:, None] * Vt
            self.add(m, label, spread)

    # ----- what the region asks while settling and learning ----------------------------------
    def start(self, X, teacher):
        """(mask, labels, clamp) for a new settling state: the penalty of hypotheses that may not win, the teacher's
        labels (host ints; a label owning no hypothesis recruits one first) and the clamp (always None: a
        recruiting region's teacher names, it does not clamp)."""
        if teacher is None:
            return self.penalty(), None, None
        labels = self.region.backend.to_numpy(teacher).argmax(axis=1)
        self.add_for_labels(X, labels)
        return (self.label_penalty(labels) if self.p.owned else self.penalty()), labels, None

    def winner_energy(self, state, X):
        """(B,) energy of each stimulus' best explanation: the lowest masked hypothesis energy (softmax), or the
        energy of the reconstruction (none/lateral)."""
        r = self.region
        if r.softmax:
            e = r._masked_energies(X, state, r.backend.empty((X.shape[0], r.n)))
            return r.xp.min(e, axis=-1)
        R = X - state.pred
        rho = 0.5 * R * R if r.cauchy2 is None else 0.5 * r.cauchy2 * r.xp.log1p(R * R / r.cauchy2)
        return r.xp.sum(rho * r.pi, axis=-1)

    def mean_rates(self, a, floor: float):
        """(n, 1) each mean's learning rate under consolidation: 1 / its usage after this batch, at least ``floor``."""
        xp = self.region.xp
        return xp.maximum(1.0 / xp.maximum(self.w["usage"] + xp.sum(a, axis=0), 1.0), floor)[:, None]

    def name_by_examples(self, X, y, activity):
        """Owner of every active hypothesis: the label of the example it explains best (``activity`` (N, n) host, as
        settled; among equal activities the example of lowest energy under the hypothesis alone)."""
        r, b = self.region, self.region.backend
        Xd = b.asarray(X)
        names = self._host("owner") * 0.0 - 1.0
        for j in (self._host("active") > 0).nonzero()[0]:
            col = activity[:, j]
            top = (col == col.max()).nonzero()[0]               # the examples it explains best ...
            e = b.to_numpy(self.solo_energy(_rows(r.xp, Xd, top), int(j)))
            names[j] = y[top[e.argmin()]]                       # ... and of those the one it predicts best
        self.w["owner"] = b.asarray(names)
        return names.astype("int64")

    # ----- after each learning update ----------------------------------------------------------
    def _unexplained(self, e_win):
        """(B,) host bool: stimuli whose winner's energy per input element counts as unexplained; updates the stats."""
        e = self.region.backend.to_numpy(e_win).astype("float64") / self.region.d_x
        seen, n, mean, var = (float(v) for v in self._host(STATS))
        out = e != e                                    # all False
        if self.p.threshold is not None:
            out |= e > self.p.threshold
        if self.p.surprise is not None and seen >= self.p.warmup and n:
            out |= (e - mean) / math.sqrt(max(var, 1e-12)) > self.p.surprise
        n += len(e)                                   # exact at first, then exponential over ~1000 stimuli
        rate = max(len(e) / n, min(1.0, len(e) / 1000.0))
        d = float(e.mean()) - mean
        mean += rate * d
        var = (1.0 - rate) * (var + rate * d * d) + rate * float(e.var())
        self.w[STATS][...] = self.region.backend.asarray([seen + len(e), n, mean, var])
        return out

    def after_learn(self, X, e_win, a, labels=None) -> None:
        """Usage and age, then recruitment and pruning (``e_win`` (B,) winners' energies, ``a`` (B, n) activity,
        ``labels`` (B,) host ints of a teacher)."""
        r, xp, b, w = self.region, self.region.xp, self.region.backend, self.w
        B = X.shape[0]
        w["usage"] = w["usage"] + xp.sum(a, axis=0) * w["active"]
        w["age"] = w["age"] + B * w["active"]
        bad = self._unexplained(e_win)
        e = b.to_numpy(e_win) / r.d_x
        lab = labels
        todo = sorted(bad.nonzero()[0].tolist(), key=lambda i: -e[i])
        made = 0
        while todo and made < self.p.per_batch:
            i = todo.pop(0)
            j = self.add(X[i, ...], -1 if lab is None else int(lab[i]))
            if j is None:
                break
            made += 1
            if todo and self.p.threshold is not None:   # stimuli the new hypothesis explains need no other
                e_new = b.to_numpy(self.solo_energy(_rows(xp, X, todo), j)) / r.d_x
                todo = [k for k, ek in zip(todo, e_new)
                        if ek > self.p.threshold or (lab is not None and lab[k] != lab[i])]
        if self.p.prune_usage:
            act, age, use = self._host("active"), self._host("age"), self._host("usage")
            for j in ((act > 0) & (age > self.p.min_age) & (use < self.p.prune_usage)).nonzero()[0]:
                if self.count() > 1:
                    self._retire(int(j), "prune")
        self.history.append((self.seen, self.count()))


def _rows(xp, X, rows):
    """The rows ``rows`` (host ints) of the backend array X."""
    return xp.take(X, xp.asarray([int(i) for i in rows]), axis=0)


@dataclass(frozen=True)
class Concepts:
    """What a region's hypotheses stand for: how many are in use, their indices, and each one's label (host ints;
    -1: none yet). Read a label off a settle as ``concepts.owners[result.winners(name)]``."""

    count: int
    active: object
    owners: object


def concepts(region) -> Concepts:
    """:class:`Concepts` of ``region`` (without ``recruit``: every hypothesis in use, its own index its label)."""
    b = region.backend
    if region.growth is None:
        every = b.to_numpy(region.xp.arange(region.n))
        return Concepts(region.n, every, every)
    active = (b.to_numpy(region.weights["active"]) > 0).nonzero()[0]
    return Concepts(len(active), active, b.to_numpy(region.weights["owner"]).astype("int64"))
