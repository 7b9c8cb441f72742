"""A seeded fuzzer over region-graph YAML: the shipped graphs, mutated as a careless or hostile user would (wrong
types, lists and mappings where a scalar goes, huge numbers, quoted numbers, unknown keys, deleted keys), written
back to YAML and validated. Only two outcomes are allowed: a spec, or a ``CortexError`` with a message that says
where. Anything else (a ``TypeError``, a NumPy error, a hang in a traceback) is a crash.

The default run is small (seeded, a fixed number of examples, no deadline: the time of a loaded machine is never
asserted); ``-m slow`` runs 10,000 graphs.
"""
import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cortex import graph_path, shipped_graphs
from cortex.errors import CortexError, SpecError
from cortex.spec import load_spec, spec_from_dict
from cortex.yaml_source import load_yaml

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
GRAPHS = {name: load_yaml(graph_path(name)).data for name in shipped_graphs()}

SCALARS = st.one_of(
    st.integers(-3, 3), st.sampled_from([10**6, 10**12, 2**63, 10**40, -10**18, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e20, 1e-30, 1e308, -1e308, 0.0, -0.0]),
    st.booleans(), st.none(), st.text(max_size=8),
    st.sampled_from(["16", "1e-4", "0x10", "yes", "2 s", "10 ms", "-1", "nan", "predictive", "softmax", "input"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def paths(data, prefix=()):
    """Every key path of a nested value: mapping keys and list indices."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, prefix + (i,))
    return out


def at(data, path):
    for p in path:
        data = data[p]
    return data


def mutate(data, path, op, value):
    """One mutation at ``path``: replace, delete, add an unknown key beside it, quote it, or wrap it."""
    if not path:
        return data
    parent, last = at(data, path[:-1]), path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "unknown" and isinstance(parent, dict):
        parent[f"{last}_x"] = value
    elif op == "quote":
        parent[last] = str(parent[last])
    elif op == "wrap":
        parent[last] = [parent[last]] if isinstance(value, (int, float, type(None))) else {"kind": parent[last]}
    elif op == "scale" and isinstance(parent[last], (int, float)) and not isinstance(parent[last], bool):
        parent[last] = parent[last] * 10**30
    return data


@st.composite
def graphs(draw):
    name = draw(st.sampled_from(sorted(GRAPHS)))
    data = copy.deepcopy(GRAPHS[name])
    for _ in range(draw(st.integers(1, 4))):
        where = paths(data)
        path = where[draw(st.integers(0, len(where) - 1))]
        op = draw(st.sampled_from(["replace", "replace", "delete", "unknown", "quote", "wrap", "scale"]))
        data = mutate(data, path, op, draw(VALUES))
    return name, yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False)


def check_one(text: str) -> str:
    """Validate one mutated graph; a crash is any exception but a CortexError."""
    try:
        spec = load_spec(text=text)
    except CortexError as exc:
        message = str(exc)
        assert message.strip(), "an empty message"
        if isinstance(exc, SpecError):   # located: a key or a line
            assert all(e.key or e.line for e in getattr(exc, "errors", [exc])), message
        return "refused"
    assert spec_from_dict(spec.to_dict()) == spec            # what validates also round-trips (checkpoints)
    return "ok"


def run(n: int):
    outcomes = []

    @seed(20261202)
    @settings(max_examples=n, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(graphs())
    def fuzz(case):
        outcomes.append(check_one(case[1]))

    fuzz()
    return outcomes


def test_mutated_shipped_graphs_validate_or_are_refused_with_a_message():
    outcomes = run(100)
    assert len(outcomes) >= 100
    assert 0 < outcomes.count("refused") < len(outcomes)     # the fuzzer reaches both outcomes


HOSTILE = [0, -1, 3, 10**6, 10**12, 2**63, 10**40, -10**18, 10**400, 1e20, 1e-30, 1e308, -1e308, float("nan"),
           float("inf"), True, False, None, "", "x", "16", "1e-4", "yes", "2 s", "10 ms", "predictive", "input",
           [], [1, "a"], {}, {"kind": "x"}, {"a": [1, {"b": None}]}, [[[1]]]]


def random_graph(rng) -> str:
    """The same mutations as :func:`graphs`, drawn by a seeded ``random.Random`` (hypothesis's bookkeeping would
    make 10,000 examples take many minutes)."""
    data = copy.deepcopy(GRAPHS[rng.choice(sorted(GRAPHS))])
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(paths(data))
        op = rng.choice(["replace", "replace", "delete", "unknown", "quote", "wrap", "scale"])
        data = mutate(data, path, op, copy.deepcopy(rng.choice(HOSTILE)))
    return yaml.dump(data, Dumper=DUMPER, allow_unicode=True, sort_keys=False)


@pytest.mark.slow
def test_ten_thousand_mutated_graphs_never_crash_validation():
    import random

    rng = random.Random(20261202)
    outcomes = [check_one(random_graph(rng)) for _ in range(10_000)]
    assert len(outcomes) == 10_000 and 0 < outcomes.count("ok") < 10_000


def test_the_fuzzer_mutates_what_it_says():
    data = {"a": {"b": 1, "c": [1, 2]}}
    assert mutate(yaml.safe_load(yaml.safe_dump(data)), ("a", "b"), "quote", None) == {"a": {"b": "1", "c": [1, 2]}}
    assert mutate(yaml.safe_load(yaml.safe_dump(data)), ("a", "c", 1), "delete", None) == {"a": {"b": 1, "c": [1]}}
    assert mutate(yaml.safe_load(yaml.safe_dump(data)), ("a", "b"), "scale", None)["a"]["b"] == 10**30
    assert ("a", "c", 1) in paths(data) and len(paths(data)) == 6
    assert "digits" in GRAPHS and len(GRAPHS) == len(shipped_graphs())
