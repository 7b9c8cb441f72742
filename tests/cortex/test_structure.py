"""Structural plasticity: context edges discovered on a graph whose right answer is known, budgets, pruning,
weights carried over a rewiring, and the grown graph written as YAML that validates."""
import numpy as np
import pytest

import cortex
from cortex.errors import SpecError
from cortex.model import Model
from cortex.spec import load_spec, spec_from_dict
from cortex.structure import Rewiring, StructureSpec, graph_yaml, rewire, write_graph

K, D = 4, 12


def graph(structure=None, connections=()):
    """Three softmax regions on three senses; A's and B's senses share a cause, C's is independent."""
    inputs = {s: {"shape": [D]} for s in "abc"} | {f"{s}_label": {"shape": [K]} for s in "abc"}
    regions = {s.upper(): {"kind": "predictive", "hypotheses": K, "inputs": [s], "competition": "softmax",
                           "teacher": f"{s}_label", "precision": 2.0, "context_precision": 0.5, "lr": 0.1}
               for s in "abc"}
    return spec_from_dict({"name": "senses", "seed": 0, "inputs": inputs, "regions": regions,
                           "connections": list(connections), "structure": structure or {"every": 5, "budget": 4},
                           "settle": {"steps": 20}})


def world(n, rng):
    protos = np.random.default_rng(7).normal(0, 1, (3, K, D)).astype(np.float32)
    cause, other = rng.integers(0, K, n), rng.integers(0, K, n)
    classes = {"a": cause, "b": cause, "c": other}
    senses = {s: protos[i][classes[s]] + rng.normal(0, 1.0, (n, D)).astype(np.float32) for i, s in enumerate("abc")}
    return senses, classes


def trained(spec):
    model, eye, rng = Model(spec), np.eye(K, dtype=np.float32), np.random.default_rng(1)
    senses, classes = world(600, rng)
    for i in range(0, 600, 30):
        batch = {s: x[i:i + 30] for s, x in senses.items()} | {f"{s}_label": eye[classes[s][i:i + 30]] for s in "abc"}
        model.learn(model.settle(batch))
    return model


def stream(rewiring, n=400, seed=2):
    senses, _ = world(n, np.random.default_rng(seed))
    for i in range(0, n, 20):
        result = rewiring.model.settle({s: x[i:i + 20] for s, x in senses.items()})
        rewiring.model.learn(result)
        rewiring.observe(result)
    return rewiring


@pytest.fixture(scope="module")
def discovered():
    return stream(Rewiring(trained(graph())))


def test_discovers_exactly_the_related_pair(discovered):
    found = {(c.source, c.target) for c in discovered.model.spec.connections}
    assert found == {("A", "B"), ("B", "A")}
    assert [c.action for c in discovered.log] == ["add", "add"]
    scores = discovered.reviews[0]["scores"]
    assert scores["A->B"] > 0.3 and scores["B->A"] > 0.3                  # nats per stimulus a true edge removes
    assert max(v for k, v in scores.items() if "C" in k) < 0.05            # held out: an irrelevant edge scores ~0


def test_discovered_edges_help_recognition(discovered):
    senses, classes = world(600, np.random.default_rng(9))
    plain = trained(graph())
    acc = {}
    for name, model in (("plain", plain), ("rewired", discovered.model)):
        r = model.settle(senses, noise=False)
        acc[name] = np.mean(r.winners("A") == classes["a"]) + np.mean(r.winners("B") == classes["b"])
    assert acc["rewired"] > acc["plain"] + 0.02


def test_budget_caps_the_discovered_edges():
    rewiring = stream(Rewiring(trained(graph({"every": 5, "budget": 1}))))
    assert len(rewiring.model.spec.connections) == 1 and len(rewiring.log) == 1


def test_an_irrelevant_declared_edge_is_pruned_and_logged():
    spec = graph({"every": 5, "budget": 0, "prune_declared": True}, [{"from": "C", "to": "A", "role": "context"}])
    rewiring = stream(Rewiring(trained(spec)))
    assert rewiring.model.spec.connections == []
    (change,) = rewiring.log
    assert (change.action, change.source, change.target) == ("prune", "C", "A") and change.gain < 0.05


def test_rewiring_to_the_same_graph_keeps_every_result():
    model = trained(graph())
    copy = rewire(model, model.spec.to_dict())
    senses, _ = world(50, np.random.default_rng(3))
    a, b = model.settle(senses, noise=False), copy.settle(senses, noise=False)
    for name in a.activity:
        np.testing.assert_array_equal(a.activity[name], b.activity[name])


def test_an_added_edge_starts_from_its_fit(discovered):
    V = discovered.model.regions["A"].weights["V"]
    assert V.shape == (K, K) and float(np.abs(np.asarray(V)).max()) > 0.1


def test_the_grown_graph_is_written_as_yaml_that_validates(discovered, tmp_path):
    path = write_graph(discovered.model.spec, tmp_path / "grown.yaml")
    back = load_spec(path)
    assert {(c.source, c.target) for c in back.connections} == {("A", "B"), ("B", "A")}
    assert back.to_dict() == discovered.model.spec.to_dict()
    assert graph_yaml(discovered.model.spec).startswith("# senses")


def test_structure_block_is_validated_with_its_key():
    data = graph().to_dict()
    data["structure"] = {"targets": ["A", "Nope"], "budget": -1}
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    assert "structure.budget" in str(info.value)
    data["structure"] = {"targets": ["A", "Nope"]}
    with pytest.raises(SpecError, match=r"structure.targets\[1\]|structure.targets.1"):
        spec_from_dict(data)
    assert StructureSpec().budget == 4


def test_shipped_discover_graph_declares_no_context():
    spec = load_spec(cortex.graph_path("discover"))
    assert spec.connections == [] and spec.structure is not None
