"""Editing a region graph's plain data for an estimator: overrides, the sensor's shape, the seed, the hierarchy's top.

An estimator adapts a graph to the data it is fitted on (the input takes ``X``'s sensor shape, the read-out one
hypothesis per class) by editing the graph as plain data before it is validated, so every mistake is still
reported by the spec's own checks, with the key that is wrong.
"""
from __future__ import annotations

import copy
import difflib
import numbers
import os

import numpy as np
from sklearn.utils import check_random_state

from cortex.errors import CortexError, SpecError
from cortex.spec import NetworkSpec

#: top-level graph keys an override may start with (``settle__steps``); other first parts name a region or an input
TOP_LEVEL = ("seed", "backend", "dtype", "settle", "inputs", "regions", "connections")


def graph_data(graph) -> tuple[dict, str]:
    """A graph (shipped name, YAML path, NetworkSpec or dict) as a fresh plain-data copy, and a name for messages."""
    from cortex.shipped import graph_path
    from cortex.spec import load_spec

    if isinstance(graph, NetworkSpec):
        data, where = graph.to_dict(), f"graph {graph.name!r}"
    elif isinstance(graph, dict):
        data, where = copy.deepcopy(graph), f"graph {graph.get('name', '(dict)')!r}"
    elif isinstance(graph, (str, os.PathLike)):
        path = graph_path(graph)
        data, where = load_spec(path).to_dict(), str(path)
    else:
        raise CortexError(f"graph must be a shipped graph name, a YAML path, a NetworkSpec or a dict, "
                          f"got {type(graph).__name__}")
    data.pop("experiment", None)   # the estimator is the experiment now
    return data, where


def apply_override(data: dict, key: str, value, owner: str, params=()) -> None:
    """Write ``value`` at the graph path ``key``: ``IT__factors`` -> ``regions.IT.factors``, ``settle__steps``."""
    parts = key.split("__")
    head = parts[0]
    if head in (data.get("regions") or {}):
        parts = ["regions"] + parts
    elif head in (data.get("inputs") or {}):
        parts = ["inputs"] + parts
    elif head not in TOP_LEVEL:
        known = list(params) + list(data.get("regions") or {}) + list(data.get("inputs") or {}) + list(TOP_LEVEL)
        close = difflib.get_close_matches(head, known, n=1)
        raise SpecError(f"{owner}: unknown parameter {key!r}{'; did you mean ' + repr(close[0]) + '?' if close else ''} "
                        f"(parameters: {', '.join(params)}; graph keys start with a region "
                        f"({', '.join(data.get('regions') or {})}), an input or one of {', '.join(TOP_LEVEL)})")
    node = data
    for part in parts[:-1]:
        index = int(part) if isinstance(node, list) and part.isdigit() else part
        try:
            child = node[index]
        except (KeyError, IndexError, TypeError):
            child = None
        if not isinstance(child, (dict, list)):   # a new branch; the spec's checks judge it
            child = {}
            node[index] = child
        node = child
    last = parts[-1]
    node[int(last) if isinstance(node, list) and last.isdigit() else last] = value


def set_sensor(data: dict, shape: tuple, named: str | None, skip: set) -> str:
    """Choose the input the data feed (``named``, else the one input not in ``skip``) and give it ``shape``.

    The graph's own shape is kept when the sizes agree (a flattened 8x8 image still feeds an 8x8 retina).
    """
    inputs = data.get("inputs") or {}
    free = [n for n in inputs if n not in skip]
    if named is not None:
        if named not in inputs:
            raise CortexError(f"input={named!r} is not an input of the graph; its inputs are "
                              f"{', '.join(inputs) or '(none)'}")
        name = named
        if len(free) > 1:
            others = ", ".join(n for n in free if n != named)
            raise CortexError(f"X feeds input {named!r}, but the graph also needs {others}; an estimator feeds "
                              f"one input (remove the others from the graph, or settle the model yourself)")
    else:
        if len(free) != 1:
            raise CortexError(f"cannot tell which input X feeds: the graph has inputs {', '.join(free) or '(none)'} "
                              f"besides teachers; name one with input=")
        name = free[0]
    own = list(inputs[name].get("shape", []))
    if int(np.prod(own)) != int(np.prod(shape)):
        if len(shape) > 4:
            raise CortexError(f"X has {len(shape)} sensor dimensions {tuple(shape)}; an input has at most 4")
        inputs[name]["shape"] = list(shape)
    return name


def teachers(data: dict) -> set[str]:
    """Inputs that some region names as its ``teacher``."""
    return {p.get("teacher") for p in (data.get("regions") or {}).values() if isinstance(p, dict)} - {None}


def top_regions(data: dict) -> list[str]:
    """Regions no other region takes as input (the top of the hierarchy), in the order written."""
    regions = data.get("regions") or {}
    fed = {s for p in regions.values() if isinstance(p, dict) for s in p.get("inputs", [])}
    fed |= {c.get("from") for c in data.get("connections") or [] if isinstance(c, dict) and c.get("role") == "input"}
    return [n for n in regions if n not in fed]


def fresh_name(base: str, taken) -> str:
    """``base``, or ``base1``, ``base2``, ... whichever is not taken."""
    name, i = base, 1
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def seed_of(random_state) -> int | None:
    """``random_state`` -> the graph seed: None keeps the graph's, an int is the seed, a RandomState draws one."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
