"""What a sweep runs: the seeds, the ``--set`` choices and ranges, and the trials they make (grid or random).

Every argument is checked before any trial starts, and a mistake names the argument it is in: a bad
``--seeds`` range, a ``--set`` without ``=``, a key the graph does not have (with the keys that exist),
or a value the graph's own validation refuses. A trial's name is a hash of its settings, so the same
command names the same trials and a rerun can skip those already finished.

Syntax of ``--set KEY=VALUES``:

- ``KEY`` is a dotted path into the graph (``regions.P.noise``, ``settle.steps``, ``experiment.trials``);
  a bare key (``trials``) is a key of the ``experiment:`` block, as for ``cortex run --set``;
- ``VALUES`` is one value or a comma-separated list of choices, each read as YAML (``0.5,1,2``;
  brackets keep a list whole: ``contrasts=[0.5,1],[1,2]``);
- ``regions.X=null`` leaves region X out (its value may also be a whole mapping, so a region can be
  added or removed as a choice);
- for random search (``--random K``) also ``uniform(A,B)``, ``loguniform(A,B)`` or ``randint(A,B)``
  (``B`` included).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import CortexError, SpecError

#: Top-level keys of a graph that a dotted ``--set`` key may start with; any other bare key is an experiment key.
TOP_KEYS = ("regions", "settle", "experiment", "inputs", "backend", "dtype", "seed", "name", "learning")
RANGES = ("uniform", "loguniform", "randint")
_RANGE = re.compile(r"^\s*(uniform|loguniform|randint)\s*\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*$")


class SweepError(CortexError, ValueError):
    """A sweep's arguments are wrong; the message names the argument and what is allowed."""


@dataclass(frozen=True)
class Range:
    """A range to draw from in random search: ``uniform``, ``loguniform`` or ``randint`` (both ends included)."""

    kind: str
    low: float
    high: float

    def draw(self, rng: np.random.Generator):
        if self.kind == "randint":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class Setting:
    """One ``--set``: the dotted key path and its choices (or one :class:`Range`)."""

    arg: str
    path: tuple[str, ...]
    choices: tuple = ()
    range: Range | None = None


@dataclass
class Trial:
    """One run of the sweep: its seed and settings (dotted key -> value); ``name`` is its folder under trials/."""

    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        digest = hashlib.sha256(json.dumps(sorted(self.settings.items()), default=str).encode()).hexdigest()[:10]
        return f"seed{self.seed}-{digest}"


def parse_seeds(text: str | None) -> list[int] | None:
    """``0-4``, ``0,2,7`` or ``3`` (and mixes: ``0-2,9``) -> the seeds in order, no repeats."""
    if text is None:
        return None
    seeds: list[int] = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise SweepError(f"--seeds {text!r}: {part.strip()!r} is not a seed or a range; write e.g. 0-4, 0,2,7 or 3")
        low = int(m.group(1))
        high = int(m.group(2)) if m.group(2) is not None else low
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    return seeds


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets and parentheses: ``[0,1],2`` -> ``['[0,1]', '2']``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += 1 if ch in "[{(" else -1 if ch in "]})" else 0
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def parse_setting(item: str) -> Setting:
    """One ``--set KEY=VALUES`` argument -> a :class:`Setting` (syntax only; keys are checked against the graph later)."""
    from ..yaml_source import load_yaml

    key, sep, values = item.partition("=")
    key = key.strip()
    if not sep or not key or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) for part in key.split(".")):
        raise SweepError(f"--set {item!r}: expected KEY=VALUES with KEY a dotted key of the graph "
                         "(e.g. regions.P.noise=0.5,1,2 or trials=16)")
    path = tuple(key.split("."))
    if len(path) == 1 and path[0] not in ("seed", "backend", "dtype"):
        path = ("experiment", *path)
    elif path[0] not in TOP_KEYS:
        raise SweepError(f"--set {item!r}: {path[0]!r} is not a top-level key of a graph "
                         f"(choose from {', '.join(TOP_KEYS)}); a bare key is a key of the experiment block")
    m = _RANGE.match(values)
    if m:
        try:
            low, high = float(m.group(2)), float(m.group(3))
        except ValueError:
            raise SweepError(f"--set {item!r}: the ends of {m.group(1)}(A,B) must be numbers") from None
        if not high > low or (m.group(1) == "loguniform" and low <= 0):
            raise SweepError(f"--set {item!r}: {m.group(1)}(A,B) needs A < B" +
                             (" and A > 0" if m.group(1) == "loguniform" else ""))
        return Setting(item, path, range=Range(m.group(1), low, high))
    if re.match(r"^\s*[a-z]+\s*\(", values):
        raise SweepError(f"--set {item!r}: unknown range; write {', '.join(r + '(A,B)' for r in RANGES)}")
    choices = []
    for raw in split_values(values):
        if raw == "":
            raise SweepError(f"--set {item!r}: an empty value in the list; separate the choices by single commas")
        try:
            choices.append(load_yaml(text=f"v: {raw}\n", name=f"--set {item}").data["v"])
        except CortexError as exc:
            raise SweepError(f"--set {item!r}: {raw!r} is not a YAML value ({exc})") from None
    return Setting(item, path, choices=tuple(choices))


def apply(data: dict, settings: dict) -> dict:
    """A copy of the graph's plain data with every dotted key replaced (missing mappings on the way are refused)."""
    out = copy.deepcopy(data)
    for dotted, value in settings.items():
        node, path = out, dotted.split(".")
        for depth, part in enumerate(path[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if not isinstance(nxt, dict):
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                where = ".".join(path[:depth + 1])
                raise SweepError(f"the graph has no mapping {where!r} (keys there: {known})")
            node = nxt
        if value is None and path[0] == "regions" and len(path) == 2:
            node.pop(path[-1], None)        # regions.X=null: region X left out (a structure search drops a level)
        else:
            node[path[-1]] = value
    return out


def validate(base: dict, settings: dict, label: str):
    """The spec of ``base`` with ``settings`` applied, validated like the YAML; errors name ``label``."""
    from ..spec import spec_from_dict

    try:
        return spec_from_dict(apply(base, settings), file=label)
    except SweepError as exc:
        raise SweepError(f"{label}: {exc}") from None
    except SpecError as exc:          # already located: key path, and the --set as its "file"
        raise SweepError(str(exc)) from None


def make_trials(base: dict, seeds: list[int] | None, items, random: int | None = None,
                random_seed: int = 0) -> list[Trial]:
    """The sweep's trials: every seed times every grid point, or times ``random`` draws; each one validated."""
    settings = [parse_setting(item) for item in items]
    dup = [s.arg for s in settings if sum(t.path == s.path for t in settings) > 1]
    if dup:
        raise SweepError(f"--set names the same key twice ({', '.join(dup)}); give one --set per key")
    if any(s.path == ("seed",) for s in settings):
        raise SweepError("--set seed=...: the seeds are given by --seeds (e.g. --seeds 0-4)")
    if random is None and any(s.range for s in settings):
        ranged = next(s.arg for s in settings if s.range)
        raise SweepError(f"--set {ranged!r}: a range is drawn from in random search only; add --random K "
                         "or list the values (e.g. 0.5,1,2)")
    keys = [".".join(s.path) for s in settings]
    first = {k: s.choices[0] if s.choices else s.range.low for k, s in zip(keys, settings)}
    for key, s in zip(keys, settings):      # each value with the others at their first, so an error names its --set
        for value in s.choices or (s.range.draw(np.random.default_rng(0)),):
            validate(base, {**first, key: value}, f"--set {s.arg}")
    if random is None:
        points = [dict(zip(keys, combo)) for combo in itertools.product(*(s.choices for s in settings))]
    else:
        rng = np.random.default_rng([random_seed, 14])
        points = [{k: (s.range.draw(rng) if s.range else s.choices[int(rng.integers(len(s.choices)))])
                   for k, s in zip(keys, settings)} for _ in range(random)]
    seeds = seeds if seeds is not None else [int(base.get("seed", 0))]
    trials = [Trial(seed, point) for point in points for seed in seeds]
    unique: dict[str, Trial] = {}
    for t in trials:
        if t.name not in unique and keys and t.seed == seeds[0]:     # every combination, once
            validate(base, t.settings, "--set " + " --set ".join(f"{k}={_show(v)}" for k, v in t.settings.items()))
        unique.setdefault(t.name, t)
    return list(unique.values())


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
