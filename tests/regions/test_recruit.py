"""Recruited hypotheses: how many are recruited, pruned and merged, arrays that grow in chunks, label owners,
consolidation as a running mean, checkpoints of grown regions, and NumPy against array_api_strict."""
import numpy as np
import pytest

from cortex.checkpoint import load_checkpoint
from cortex.errors import SpecError
from cortex.model import Model
from cortex.spec import spec_from_dict

D, P = 16, 5          # input size, prototypes


def prototypes():
    """P well-separated binary patterns of D pixels (each lights its own block of 3)."""
    X = np.zeros((P, D), dtype=np.float32)
    for i in range(P):
        X[i, 3 * i:3 * i + 3] = 1.0
    return X


def stream(n_each=12, seed=0, noise=0.02):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(P), n_each)
    rng.shuffle(labels)
    X = prototypes()[labels] + rng.normal(0, noise, (len(labels), D)).astype(np.float32)
    return X, labels


def spec(teacher=False, backend="numpy", competition="softmax", **recruit):
    region = {"kind": "predictive", "hypotheses": 1, "inputs": ["x"], "competition": competition, "precision": 10.0,
              "lr": 0.05, "init_scale": 0.01,
              "recruit": {"threshold": 0.5, "max_hypotheses": 16, "chunk": 4, "per_batch": 4} | recruit}
    if competition == "softmax":
        region["factors"] = 2
    inputs = {"x": {"shape": [D]}}
    if teacher:
        region["teacher"] = "label"
        inputs["label"] = {"shape": [P]}
    return spec_from_dict({"name": "recruit", "seed": 1, "backend": backend, "inputs": inputs,
                           "regions": {"R": region}, "settle": {"steps": 15, "tol": 0}})


def train(model, X, labels=None, batch=10, epochs=1):
    eye = np.eye(P, dtype=np.float32)
    for _ in range(epochs):
        for i in range(0, len(X), batch):
            stimuli = {"x": X[i:i + batch]} | ({"label": eye[labels[i:i + batch]]} if labels is not None else {})
            model.learn(model.settle(stimuli))
    return model


def test_each_new_pattern_recruits_one_hypothesis_and_arrays_grow_in_chunks():
    model = Model(spec())
    R = model.regions["R"]
    assert (R.n, R.concepts().count) == (4, 1)              # capacity: one chunk; one hypothesis to start
    train(model, *stream()[:1])
    counts = R.growth.event_counts()
    assert R.concepts().count == 1 + P and counts["recruit"] == P   # the random start + one per pattern
    assert R.n == 8 and counts["grow"] == 1                   # grown once, by a chunk of 4
    assert all(R.weights[k].shape[0] == 8 for k in ("M", "F", "active", "usage", "owner"))
    assert R.weights["R"].shape[1] == 8
    # every pattern is now won by its own hypothesis, whose mean is that pattern
    win = model.settle({"x": prototypes()}, noise=False).winners("R")
    assert len(set(win.tolist())) == P
    np.testing.assert_allclose(np.asarray(R.fields())[win], prototypes(), atol=0.05)


def test_an_unused_hypothesis_is_pruned_once_old_enough():
    model = train(Model(spec(prune_usage=15.0, min_age=100)), *stream()[:1], epochs=2)
    R = model.regions["R"]
    # the random start explained the first batch or two (usage 12), nothing after: pruned; each pattern's kept (22)
    assert R.concepts().count == P and R.growth.event_counts()["prune"] == 1
    assert [e.hypothesis for e in R.growth.log if e.event == "prune"] == [0]


def test_at_the_cap_the_cheapest_pair_is_merged():
    model = train(Model(spec(max_hypotheses=3)), *stream()[:1])
    R = model.regions["R"]
    counts = R.growth.event_counts()
    assert R.concepts().count == 3 and R.n == 3               # capacity never beyond max_hypotheses
    assert counts["merge"] == counts["recruit"] - 2 >= 1        # each recruit past the cap merged a pair first


def test_without_merging_recruitment_stops_at_the_cap():
    model = train(Model(spec(max_hypotheses=3, merge=False)), *stream()[:1])
    R = model.regions["R"]
    assert R.concepts().count == 3 and R.growth.event_counts() | {} == {"recruit": 2, "prune": 0, "merge": 0,
                                                                          "grow": 0}


def test_a_lateral_region_recruits_too():
    model = train(Model(spec(competition="lateral")), *stream()[:1])
    R = model.regions["R"]
    assert 2 <= R.concepts().count <= 1 + P
    r = model.settle({"x": prototypes()}, noise=False)
    assert np.all(r.activity["R"][:, R.weights["active"] == 0] == 0)        # inactive hypotheses stay silent


def test_a_label_recruits_hypotheses_it_owns_and_reads_by_owner():
    X, y = stream()
    model = train(Model(spec(teacher=True)), X, y)
    R = model.regions["R"]
    owners = R.concepts().owners
    assert sorted(set(owners[R.concepts().active].tolist()) - {-1}) == list(range(P))
    read = owners[model.settle({"x": prototypes()}, noise=False).winners("R")]
    np.testing.assert_array_equal(read, np.arange(P))


def test_owned_hypotheses_learn_only_from_their_label():
    X, y = stream()
    model = train(Model(spec(teacher=True)), X[y < 3], y[y < 3])
    R = model.regions["R"]
    before = np.asarray(R.fields()).copy()
    old = R.concepts().active
    train(model, X[y >= 3], y[y >= 3])
    np.testing.assert_array_equal(np.asarray(R.fields())[old], before[old])   # old concepts untouched


def test_consolidated_means_are_running_means_of_their_inputs():
    X = np.random.default_rng(0).normal(0.5, 0.05, (40, D)).astype(np.float32)
    model = Model(spec(threshold=50.0))              # nothing is unexplained: the one hypothesis learns it all
    train(model, X)
    R = model.regions["R"]
    assert R.concepts().count == 1
    np.testing.assert_allclose(np.asarray(R.fields())[0], X.mean(0), atol=2e-3)


def test_surprise_recruits_for_an_outlier():
    X = np.tile(prototypes()[:1], (60, 1)) + np.random.default_rng(0).normal(0, 0.02, (60, D)).astype(np.float32)
    X[45] = prototypes()[3]
    model = Model(spec(threshold=None, surprise=4.0, warmup=20))
    train(model, X)
    R = model.regions["R"]
    recruits = [e.seen for e in R.growth.log if e.event == "recruit"]
    assert recruits and all(s >= 40 for s in recruits)     # only the odd one out, after the warm-up


def test_a_grown_region_round_trips_through_a_checkpoint(tmp_path):
    X, y = stream()
    model = train(Model(spec(teacher=True)), X, y)
    model.save(tmp_path / "grown.npz")
    back = load_checkpoint(tmp_path / "grown.npz")
    a, b = model.regions["R"], back.regions["R"]
    assert (b.n, b.concepts().count) == (a.n, a.concepts().count) and a.n > 4
    np.testing.assert_array_equal(b.concepts().owners, a.concepts().owners)
    for key in a.weights:
        np.testing.assert_array_equal(np.asarray(b.weights[key]), np.asarray(a.weights[key]))
    ra, rb = model.settle({"x": X[:20]}, noise=False), back.settle({"x": X[:20]}, noise=False)
    np.testing.assert_array_equal(ra.activity["R"], rb.activity["R"])
    train(back, *stream(seed=3))                     # and it keeps learning and growing
    assert back.regions["R"].concepts().count >= a.concepts().count


def test_numpy_and_array_api_strict_recruit_alike():
    pytest.importorskip("array_api_strict")
    X, y = stream()
    runs = [train(Model(spec(teacher=True, backend=name, prune_usage=1.0, min_age=20, max_hypotheses=6)), X, y)
            for name in ("numpy", "array_api_strict")]
    a, b = (m.regions["R"] for m in runs)
    assert [(e.event, e.hypothesis) for e in a.growth.log] == [(e.event, e.hypothesis) for e in b.growth.log]
    np.testing.assert_array_equal(a.concepts().owners, b.concepts().owners)
    np.testing.assert_allclose(a.backend.to_numpy(a.fields()), b.backend.to_numpy(b.fields()), atol=1e-4)


def test_recruit_needs_a_rule_and_room():
    with pytest.raises(SpecError, match="regions.R.recruit"):
        spec(threshold=None)
    data = spec().to_dict()
    data["regions"]["R"]["hypotheses"] = 20
    with pytest.raises(SpecError, match="cannot exceed recruit.max_hypotheses"):
        spec_from_dict(data)


def test_no_region_may_read_a_growing_one():
    data = spec().to_dict()
    data["regions"]["Top"] = {"kind": "predictive", "hypotheses": 2, "inputs": ["R"]}
    with pytest.raises(SpecError, match=r"regions.Top.inputs.*grows its hypotheses"):
        spec_from_dict(data)
    data = spec().to_dict()
    data["regions"]["Side"] = {"kind": "predictive", "hypotheses": 2, "inputs": ["x"]}
    data["connections"] = [{"from": "R", "to": "Side", "role": "context"}]
    with pytest.raises(SpecError, match=r"connections.*from.*grows its hypotheses"):
        spec_from_dict(data)


def test_a_recruiting_region_steps_through_its_own_methods():
    from cortex.schedule import Single

    model = Model(spec())
    assert all(type(block) is Single for block in model.compiled.schedule)
