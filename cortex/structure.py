"""Discovered connections (structural plasticity): context edges added where they lower the energy, pruned where not.

A context edge u -> r gives region r a prior from u's activity, and the prior's term in r's energy is lowest
when it predicts r's settled activity well. So the worth of a candidate edge can be read off activity the
model has already settled, without settling again: fit the edge's weights on one half of a buffer of settled
stimuli, and measure on the other half how much lower r's context term is with the edge than without it
(:meth:`RegionKind.context_fit`; held out, so an edge from an irrelevant region scores about zero or below,
never the positive amount fitting noise would give). Every ``every`` batches a :class:`Rewiring` reviews:

- each target's best candidate whose held-out gain exceeds ``min_gain`` is added, within ``budget`` discovered
  edges in all, its weights starting from the fit (so the edge helps at once);
- each discovered edge is scored again against the target's other context (the energy removing it would add);
  one under ``min_gain`` is pruned (declared edges too with ``prune_declared``).

Every change is logged (:attr:`Rewiring.log`), the model is rebuilt on the new graph with every weight carried
over (:func:`rewire`), and :func:`write_graph` writes the grown graph as YAML that :func:`cortex.load_spec` reads.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import SpecError
from .region import RegionKind
from .spec import StructureSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One edit of the graph: ``action`` is ``add`` or ``prune``; ``gain`` the held-out energy per stimulus."""

    batch: int
    action: str
    source: str
    target: str
    gain: float


@dataclass(frozen=True)
class Score:
    """A candidate (or present) edge's held-out gain, and the fitted weights of the target's whole context."""

    source: str
    target: str
    gain: float
    V: object = None      # backend array (context width x n), or None


class Rewiring:
    """Reviews a model's context edges from the activity it settles; adds and prunes edges within the budget.

    >>> rewiring = Rewiring(model)                                  # doctest: +SKIP
    >>> for batch in stream:                                        # doctest: +SKIP
    ...     result = rewiring.model.settle(batch); rewiring.model.learn(result)
    ...     rewiring.observe(result)                                # may rebuild rewiring.model
    """

    def __init__(self, model, params: StructureSpec | None = None):
        self.model = model
        self.p = params or model.spec.structure or StructureSpec()
        self.declared = {(c.source, c.target) for c in model.spec.connections if c.role == "context"}
        self.discovered: set[tuple[str, str]] = set()
        self.log: list[Change] = []
        self.reviews: list[dict] = []
        self.batches = 0
        self._buffer: dict[str, list[np.ndarray]] = {name: [] for name in model.regions}

    # ----- the stream ----------------------------------------------------------------------------
    def observe(self, result) -> bool:
        """Keep ``result``'s settled activity; review every ``every`` batches. True when the graph changed."""
        for name, a in result.activity.items():
            self._buffer[name].append(a)
        self.batches += 1
        kept = self._buffered()
        if kept > self.p.buffer:
            for name in self._buffer:
                rows = np.concatenate(self._buffer[name])[-self.p.buffer:]
                self._buffer[name] = [rows]
        if self.batches % self.p.every:
            return False
        return self.review()

    def _buffered(self) -> int:
        first = next(iter(self._buffer.values()))
        return sum(len(a) for a in first)

    def activity(self) -> dict[str, np.ndarray]:
        """Region name -> (N, n) the buffered settled activity (the most recent ``buffer`` stimuli)."""
        return {name: np.concatenate(parts) for name, parts in self._buffer.items() if parts}

    # ----- scoring -------------------------------------------------------------------------------
    def _context(self, target: str, extra: str | None = None, without: str | None = None) -> list[tuple[str, float]]:
        """(source, precision) of ``target``'s undelayed region context, with ``extra`` added, ``without`` left out."""
        spec = self.model.spec
        out = [(c.source, c.precision) for c in spec.sources(target, "context")
               if c.delay == 0 and c.source in spec.regions and c.source != without]
        return out + ([(extra, self.p.precision)] if extra else [])

    def _held_out(self, target: str, context: list[tuple[str, float]], act: dict) -> float:
        """``target``'s context energy per stimulus on the held-out share, with a prior from ``context`` fitted on
        the rest of the buffer."""
        Y, A = self._arrays(target, context, act)
        cut = int(round(len(act[target]) * (1.0 - self.p.holdout)))
        head = (lambda x: None if x is None else x[:cut, ...])      # noqa: E731
        tail = (lambda x: None if x is None else x[cut:, ...])      # noqa: E731
        return self.model.regions[target].context_fit(head(Y), head(A), tail(Y), tail(A))[0]

    def _arrays(self, target, context, act):
        """The buffer on the backend: Y (precision-weighted context activity, None without context) and A."""
        b = self.model.backend
        Y = b.asarray(np.concatenate([act[s] * p for s, p in context], axis=1)) if context else None
        return Y, b.asarray(act[target])

    def score(self, source: str, target: str, act: dict | None = None, base: float | None = None) -> Score:
        """Held-out energy per stimulus that adding ``source -> target`` would remove from ``target``'s context term
        (``base``: the target's held-out energy with its present context, when already known)."""
        act = self.activity() if act is None else act
        base = self._held_out(target, self._context(target), act) if base is None else base
        context = self._context(target, extra=source)
        gain = base - self._held_out(target, context, act)
        Y, A = self._arrays(target, context, act)
        return Score(source, target, gain, self.model.regions[target].context_fit(Y, A, Y, A)[1])

    def worth(self, source: str, target: str, act: dict | None = None) -> float:
        """Held-out energy per stimulus that removing the present edge ``source -> target`` would add."""
        act = self.activity() if act is None else act
        return (self._held_out(target, self._context(target, without=source), act)
                - self._held_out(target, self._context(target), act))

    def candidates(self) -> list[tuple[str, str]]:
        """Edges that may be added: region pairs not yet connected either way as input, nor as context."""
        spec = self.model.spec
        regions = list(spec.regions)
        sources = self.p.sources or regions
        targets = self.p.targets or regions
        linked = {(c.source, c.target) for c in spec.edges() if c.delay == 0}
        inputs = {(c.source, c.target) for c in spec.edges() if c.role == "input"}
        scorable = {r for r in targets if type(self.model.regions[r]).context_fit is not RegionKind.context_fit}
        return [(u, r) for r in targets for u in sources
                if u != r and (u, r) not in linked and (r, u) not in inputs and r in scorable
                and not spec.regions[u].grows()]

    # ----- reviews -------------------------------------------------------------------------------
    def review(self) -> bool:
        """Score every candidate and every discovered edge; add and prune (see the module docstring)."""
        act = self.activity()
        if not act or len(next(iter(act.values()))) < 16:
            return False
        changed = False
        for source, target in sorted(self.discovered | (self.declared if self.p.prune_declared else set())):
            gain = self.worth(source, target, act)
            if gain < self.p.min_gain:
                self._prune(source, target, gain)
                changed = True
        candidates = self.candidates()
        base = {r: self._held_out(r, self._context(r), act) for r in {r for _, r in candidates}}
        scores = [self.score(u, r, act, base[r]) for u, r in candidates]
        self.reviews.append({"batch": self.batches, "scores": {f"{s.source}->{s.target}": round(s.gain, 4)
                                                               for s in scores}})
        best: dict[str, Score] = {}
        for s in scores:
            if s.gain > self.p.min_gain and (s.target not in best or s.gain > best[s.target].gain):
                best[s.target] = s
        for s in sorted(best.values(), key=lambda s: -s.gain):
            if len(self.discovered) >= self.p.budget:
                break
            self._add(s)
            changed = True
        return changed

    def _add(self, s: Score) -> None:
        spec = self.model.spec.to_dict()
        spec["connections"].append({"from": s.source, "to": s.target, "role": "context", "precision": self.p.precision})
        self.model = rewire(self.model, spec, fitted={s.target: (s.source, s.V)})
        self.discovered.add((s.source, s.target))
        self._record("add", s.source, s.target, s.gain)

    def _prune(self, source: str, target: str, gain: float) -> None:
        spec = self.model.spec.to_dict()
        spec["connections"] = [c for c in spec["connections"]
                               if not (c["from"] == source and c["to"] == target and c["role"] == "context"
                                       and c.get("delay", 0) == 0)]
        self.model = rewire(self.model, spec)
        self.discovered.discard((source, target))
        self.declared.discard((source, target))
        self._record("prune", source, target, gain)

    def _record(self, action, source, target, gain) -> None:
        change = Change(self.batches, action, source, target, round(float(gain), 4))
        self.log.append(change)
        log.info("structure: %s %s -> %s (gain %.4f per stimulus, batch %d)", action, source, target, gain,
                 self.batches)

    def changes(self) -> list[dict]:
        """The log as plain dicts (for results.json)."""
        return [asdict(c) for c in self.log]


def rewire(model, spec_dict: dict, fitted: dict | None = None):
    """A new model on the graph ``spec_dict`` carrying over every weight of ``model``.

    Context weights follow their sources: rows of a source the region already had are copied, rows of a newly
    added source come from ``fitted`` (target -> (source, V for the whole new context), e.g. a :class:`Score`'s
    fit), and rows of a removed source are dropped. Random streams carry on where they were.
    """
    from .model import Model
    from .spec import spec_from_dict

    new = Model(spec_from_dict(spec_dict, file=f"<{model.spec.name}, rewired>"), backend=model.backend.name)
    b = new.backend
    fitted = fitted or {}
    for name, region in new.regions.items():
        old = model.regions[name]
        arrays = {k: b.to_numpy(v) for k, v in old.weights.items() if k != "V"}
        if "V" in region.weights:
            arrays["V"] = _context_rows(model, new, name, fitted.get(name))
        region.load_weights(arrays)
        region.rng.generator.bit_generator.state = old.rng.generator.bit_generator.state
    for mine, theirs in zip(new.noise_streams, model.noise_streams):
        mine.generator.bit_generator.state = theirs.generator.bit_generator.state
    return new


def _context_rows(old, new, name: str, fit) -> np.ndarray:
    """The new model's V for region ``name``: old rows moved to their sources' new places, new sources' from ``fit``."""
    b = new.backend
    V = np.zeros(tuple(new.regions[name].weights["V"].shape), dtype=np.float32)
    old_rows, start = {}, 0
    for c in old.spec.sources(name, "context"):
        size = old.spec.size_of(c.source)
        old_rows[(c.source, c.delay)] = (start, start + size)
        start += size
    fit_rows = None
    if fit is not None:
        fit_source, fit_V = fit
        fit_V, fit_rows, start = b.to_numpy(fit_V), {}, 0
        for c in new.spec.sources(name, "context"):
            if c.delay == 0 and c.source in new.spec.regions:
                size = new.spec.size_of(c.source)
                fit_rows[c.source] = (start, start + size)
                start += size
    start = 0
    V_old = b.to_numpy(old.regions[name].weights["V"]) if "V" in old.regions[name].weights else None
    for c in new.spec.sources(name, "context"):
        size = new.spec.size_of(c.source)
        key = (c.source, c.delay)
        if key in old_rows and V_old is not None:
            s0, s1 = old_rows[key]
            V[start:start + size] = V_old[s0:s1]
        elif fit_rows is not None and c.delay == 0 and c.source == fit_source:
            s0, s1 = fit_rows[c.source]
            V[start:start + size] = fit_V[s0:s1]
        start += size
    return V


def graph_yaml(spec) -> str:
    """``spec`` (e.g. a rewired model's) as YAML text that :func:`cortex.load_spec` reads back and validates."""
    import yaml

    from .spec import load_spec

    text = (f"# {spec.name}: the graph after structural plasticity (written by cortex.structure)\n"
            + yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=None, width=110))
    try:
        load_spec(text=text)
    except SpecError as exc:   # never hand out a graph that would not load
        raise SpecError(f"the rewired graph does not validate: {exc}") from None
    return text


def write_graph(spec, path: str | os.PathLike) -> Path:
    """Write :func:`graph_yaml` of ``spec`` to ``path`` (atomically)."""
    from .atomic import atomic_write

    path = Path(path)
    text = graph_yaml(spec)
    with atomic_write(path, "w") as f:
        f.write(text)
    return path
