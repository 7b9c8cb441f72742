"""The Model API: build, settle, learn; result shapes, stimulus checks, anytime settling, frames, the graph."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import cortex
from cortex.errors import SpecError, StimulusError
from cortex.graph import bottom_up_order, predictors, top_down_order
from cortex.model import Model, SettleResult
from cortex.spec import load_spec, spec_from_dict

TWO_LEVEL = """
name: two
seed: 1
inputs:
  retina: {shape: [8, 8]}
regions:
  V1: {kind: predictive, hypotheses: 12, inputs: [retina], competition: lateral, inhibition: 0.1,
       precision: 1.0, sparsity: 0.02}
  IT: {kind: predictive, hypotheses: 5, inputs: [V1], competition: softmax, factors: 2, precision: 2.0}
connections:
  - {from: IT, to: V1, role: context, precision: 0.5}
settle: {steps: 30, rate: 0.5, tol: 0}
"""


@pytest.fixture(scope="module")
def digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0)


@pytest.fixture
def model():
    return Model(load_spec(text=TWO_LEVEL))


def batch(digits, n=16, start=0, train=True):
    X = digits.X_train if train else digits.X_test
    return X[start:start + n]


# ------------------------------------------------------------------------------------------- results

def test_result_shapes_and_types(model, digits):
    X = batch(digits, 16)
    r = model.settle({"retina": X}, steps=7, record=True)
    assert isinstance(r, SettleResult)
    assert set(r.activity) == {"V1", "IT"}
    for name, n in (("V1", 12), ("IT", 5)):
        a = r.activity[name]
        assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (16, n)
        assert r.trace[name].shape == (8, 16, n) and r.trace[name].dtype == np.float32
        np.testing.assert_array_equal(r.trace[name][-1], a)
        assert r.region_energy[name].shape == (7,)
    assert r.energy.shape == (7,) and r.energy.dtype == np.float32
    assert r.steps == 7 and r.converged is False
    assert isinstance(r.start_energy, float)
    assert r.stimulus_energy.shape == (16,)
    np.testing.assert_allclose(r.energy, r.region_energy["V1"] + r.region_energy["IT"], rtol=1e-6)
    np.testing.assert_allclose(r.stimulus_energy.mean(), r.energy[-1], rtol=1e-5)
    assert np.all(r.activity["V1"] >= 0)
    np.testing.assert_allclose(r.activity["IT"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(r.winners("IT"), np.argmax(r.activity["IT"], axis=1))
    assert model.settle({"retina": X}, steps=3).trace is None


def test_image_and_flat_stimuli_give_identical_results(digits):
    X = batch(digits, 10)
    results = []
    for stim in (X.reshape(10, 8, 8), X, X.tolist(), X.astype(np.float64)):
        m = Model(load_spec(text=TWO_LEVEL))
        r = m.settle({"retina": stim}, steps=10)
        m.learn(r)
        results.append((r, m.settle({"retina": X}, steps=5)))
    for (r, after) in results[1:]:
        for name in r.activity:
            np.testing.assert_array_equal(r.activity[name], results[0][0].activity[name])
            np.testing.assert_array_equal(after.activity[name], results[0][1].activity[name])
        np.testing.assert_array_equal(r.energy, results[0][0].energy)


def test_results_do_not_alias_the_model_state(digits):
    """Editing a result (or the stimulus array) after settling must not change what learn() learns, on any backend."""
    X = batch(digits, 16)
    spec = load_spec(text=TWO_LEVEL)
    clean, dirty = Model(spec), Model(spec)
    clean.learn(clean.settle({"retina": X.copy()}, steps=10))
    mine = X.copy()
    r = dirty.settle({"retina": mine}, steps=10)
    r.activity["V1"][:] = 0.0
    r.activity["IT"][:] = 1.0
    mine[:] = 0.0
    dirty.learn(r)
    for name in clean.regions:
        for key, w in clean.regions[name].weights.items():
            np.testing.assert_array_equal(dirty.backend.to_numpy(dirty.regions[name].weights[key]),
                                          clean.backend.to_numpy(w), err_msg=f"{name}.{key}")


# ------------------------------------------------------------------------------------------- stimulus errors

def test_unknown_input_name(model, digits):
    with pytest.raises(StimulusError, match=r"unknown input\(s\) \['eye'\].*retina"):
        model.settle({"retina": batch(digits), "eye": batch(digits)})


def test_missing_input():
    m = Model(load_spec(text="""
name: two-inputs
inputs: {left: {shape: [4]}, right: {shape: [4]}}
regions:
  R: {kind: predictive, hypotheses: 3, inputs: [left, right]}
"""))
    with pytest.raises(StimulusError, match=r"missing stimuli for input\(s\) \['right'\]"):
        m.settle({"left": np.ones((2, 4))})
    with pytest.raises(StimulusError, match="has batch 3 but other inputs have 2"):
        m.settle({"left": np.ones((2, 4)), "right": np.ones((3, 4))})


@pytest.mark.parametrize("shape", [(16, 60), (16, 8, 7), (64,), (8, 8), (16, 64, 1), ()])
def test_wrong_shape_names_the_expected_shape(model, shape):
    with pytest.raises(StimulusError) as info:
        model.settle({"retina": np.zeros(shape, np.float32)})
    msg = str(info.value)
    assert "'retina'" in msg and "(batch, 8, 8)" in msg and "(batch, 64)" in msg and str(shape) in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(model, digits, bad):
    X = batch(digits, 4).copy()
    X[2, 17] = bad
    with pytest.raises(StimulusError, match="finite"):
        model.settle({"retina": X})


def test_other_bad_stimuli(model, digits):
    with pytest.raises(StimulusError, match="dict"):
        model.settle([batch(digits)])
    with pytest.raises(StimulusError, match="empty"):
        model.settle({"retina": np.zeros((0, 64))})
    with pytest.raises(StimulusError, match="finite numbers"):
        model.settle({"retina": np.full((2, 64), "a")})
    with pytest.raises(StimulusError, match="steps"):
        model.settle({"retina": batch(digits)}, steps=-1)
    for rate in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(StimulusError, match="rate"):
            model.settle({"retina": batch(digits)}, rate=rate)
    with pytest.raises(StimulusError, match="tol"):
        model.settle({"retina": batch(digits)}, tol=-1e-3)


def test_mismatched_batches_with_a_teacher(digits):
    m = cortex.load("digits")
    with pytest.raises(StimulusError, match="batch 5 but other inputs have 8"):
        m.settle({"retina": batch(digits, 8), "label": np.eye(10, dtype=np.float32)[:5]})


def test_learn_refuses_a_result_from_another_model(digits):
    spec = load_spec(text=TWO_LEVEL)
    a, b = Model(spec), Model(spec)
    r = a.settle({"retina": batch(digits)}, steps=3)
    with pytest.raises(StimulusError, match="this model's settle"):
        b.learn(r)
    with pytest.raises(StimulusError):
        b.learn(SettleResult({}, np.zeros(0), {}, 0.0, np.zeros(0), 0, False))
    a.learn(r)   # its own result is fine


# ------------------------------------------------------------------------------------------- settling

def test_steps_zero_returns_the_first_guess(model, digits):
    X = batch(digits, 8)
    r = model.settle({"retina": X}, steps=0, record=True)
    assert r.energy.shape == (0,) and r.steps == 0 and not r.converged
    assert r.region_energy["V1"].shape == (0,)
    assert r.trace["V1"].shape == (1, 8, 12)
    # the first guess is the feed-forward sweep through the recognition weights
    w = {n: {k: model.backend.to_numpy(v) for k, v in reg.weights.items()} for n, reg in model.regions.items()}
    v1 = np.maximum(X @ w["V1"]["R"], 0)
    u = r.activity["V1"] @ w["IT"]["R"]
    it = np.exp(u - u.max(axis=1, keepdims=True))
    np.testing.assert_allclose(r.activity["V1"], v1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(r.activity["IT"], it / it.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert np.isfinite(r.start_energy) and r.start_energy > 0
    np.testing.assert_allclose(r.stimulus_energy.mean(), r.start_energy, rtol=1e-5)
    later = model.settle({"retina": X}, steps=5, noise=False)
    assert later.start_energy == r.start_energy
    assert later.energy[-1] < r.start_energy


def test_tol_stops_early_on_an_easy_case(digits):
    m = cortex.load("digits")
    X = batch(digits, 32)
    r = m.settle({"retina": X}, steps=500, noise=False)           # the graph's tol 1e-5, checked every 10 steps
    assert r.converged is True
    assert r.steps < 500 and r.steps % m.spec.settle.check_every == 0
    assert r.energy.shape == (r.steps,)
    e = np.r_[r.start_energy, r.energy]
    k = m.spec.settle.check_every
    assert abs(e[-1 - k] - e[-1]) <= m.spec.settle.tol * k * abs(e[-1])     # the rule that stopped it
    full = m.settle({"retina": X}, steps=r.steps + 50, tol=0, noise=False)
    assert full.converged is False and full.steps == r.steps + 50
    np.testing.assert_array_equal(full.energy[:r.steps], r.energy)            # same path, stopped early
    assert (r.energy[-1] - full.energy[-1]) <= 1e-3 * abs(r.energy[-1])      # little was left to gain


def test_more_steps_never_give_higher_final_energy(model, digits):
    X = batch(digits, 16, 100)
    for _ in range(3):
        model.learn(model.settle({"retina": X}, steps=10))
    finals, longest = [], model.settle({"retina": X}, steps=80, tol=0, noise=False)
    for steps in (1, 2, 5, 10, 20, 40, 80):
        r = model.settle({"retina": X}, steps=steps, tol=0, noise=False)
        np.testing.assert_array_equal(r.energy, longest.energy[:steps])
        finals.append(r.energy[-1])
    assert all(b <= a for a, b in zip(finals, finals[1:])), finals
    assert finals[-1] < finals[0]


def test_learning_on_digits_lowers_held_out_energy(digits):
    data = cortex.load_spec(cortex.graph_path("digits")).to_dict()
    data["regions"]["IT"]["factors"] = 4
    data["settle"]["steps"] = 20
    m = Model(spec_from_dict(data))
    held_out, labels = digits.X_test[:64], digits.y_test[:64]
    before = m.settle({"retina": held_out}, noise=False)
    eye = np.eye(10, dtype=np.float32)
    for i in range(30):
        sl = slice(32 * i, 32 * i + 32)
        m.learn(m.settle({"retina": digits.X_train[sl], "label": eye[digits.y_train[sl]]}))
    after = m.settle({"retina": held_out}, noise=False)
    assert after.energy[-1] < 0.5 * before.energy[-1], (before.energy[-1], after.energy[-1])
    assert np.median(after.stimulus_energy) < np.median(before.stimulus_energy)
    assert (after.winners("IT") == labels).mean() > 0.7        # chance is 0.1


def _weights(m):
    return {f"{n}.{k}": m.backend.to_numpy(v) for n, reg in m.regions.items() for k, v in reg.weights.items()}


def test_learning_rates_are_per_weight_kind(digits):
    spec = load_spec(text=TWO_LEVEL.replace(
        "sparsity: 0.02}", "sparsity: 0.02, lr: 0, lr_recognition: 0.2, lr_context: 0}").replace(
        "precision: 2.0}", "precision: 2.0, lr: 0.1, lr_recognition: 0}"))
    m = Model(spec)
    before = _weights(m)
    for i in range(3):
        m.learn(m.settle({"retina": batch(digits, 16, 16 * i)}, steps=10))
    after = _weights(m)
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {"V1.R", "IT.M", "IT.F"}, changed


def test_recognition_weights_learn_to_guess_the_settled_state(digits):
    """R caches what settling found: after training, the first guess is closer to the settled state and has lower energy."""
    m = Model(load_spec(text=TWO_LEVEL))
    X = batch(digits, 64, 0, train=False)

    def gap():
        guess, settled = m.settle({"retina": X}, steps=0), m.settle({"retina": X}, steps=30, noise=False)
        return np.abs(guess.activity["V1"] - settled.activity["V1"]).mean(), guess.start_energy

    gap0, e0 = gap()
    for i in range(40):
        m.learn(m.settle({"retina": batch(digits, 32, 32 * i)}, steps=30))
    gap1, e1 = gap()
    assert gap1 < 0.7 * gap0, (gap0, gap1)
    assert e1 < e0, (e0, e1)


# ------------------------------------------------------------------------------------------- frames

SEQUENCE = """
name: seq
seed: 2
inputs: {eye: {shape: [4]}}
regions:
  S: {kind: predictive, hypotheses: 4, inputs: [eye], competition: none, first_guess: false}
connections:
  - {from: S, to: S, role: context, delay: 1}
settle: {steps: 300, rate: 1.0, tol: 0}
"""


def test_past_feeds_delayed_context():
    """With W = V = I the settled state is known in closed form: a_t = (x_t + a_{t-1}) / 2
    (minimum of |x_t - a|^2/2 + |a - a_{t-1}|^2/2); without a past the context is silent, a_{-1} = 0."""
    m = Model(load_spec(text=SEQUENCE))
    m.regions["S"].load_weights({"W": np.eye(4, dtype=np.float32), "V": np.eye(4, dtype=np.float32)})
    rng = np.random.default_rng(0)
    xs = rng.random((4, 3, 4)).astype(np.float32)          # 4 frames of a batch of 3
    frames, expected, prev = [], [], np.zeros((3, 4))
    for x in xs:
        frames.append(m.settle({"eye": x}, past=frames[-1:]))
        prev = (x + prev) / 2
        expected.append(prev)
    for r, e in zip(frames, expected):
        np.testing.assert_allclose(r.activity["S"], e, rtol=1e-4, atol=1e-5)
    # the same frame after another past: the result moves by half the difference of the pasts
    other = m.settle({"eye": xs[3]}, past=[frames[0]])
    np.testing.assert_allclose(other.activity["S"] - frames[3].activity["S"],
                               (frames[0].activity["S"] - frames[2].activity["S"]) / 2, rtol=1e-4, atol=1e-5)
    assert np.abs(other.activity["S"] - frames[3].activity["S"]).max() > 0.01
    # delay 1 reads the latest of the given frames; the same past gives the same result
    np.testing.assert_array_equal(m.settle({"eye": xs[3]}, past=frames[:3]).activity["S"], frames[3].activity["S"])
    np.testing.assert_array_equal(m.settle({"eye": xs[3]}, past=[frames[2]]).activity["S"], frames[3].activity["S"])


def test_past_is_checked():
    m = Model(load_spec(text=SEQUENCE))
    x = np.ones((3, 4), np.float32)
    r = m.settle({"eye": x}, steps=2)
    with pytest.raises(StimulusError, match="past"):
        m.settle({"eye": x}, past=[r.activity])
    with pytest.raises(StimulusError, match="batch 3 but the stimuli have batch 2"):
        m.settle({"eye": x[:2]}, past=[r])
    other = Model(load_spec(text=TWO_LEVEL)).settle({"retina": np.zeros((3, 64))}, steps=1)
    with pytest.raises(StimulusError, match="same regions"):
        m.settle({"eye": x}, past=[other])


# ------------------------------------------------------------------------------------------- loading

def test_load_by_name_and_by_path(digits):
    by_name = cortex.load("digits")
    path = cortex.graph_path("digits")
    assert path.is_file() and path.name == "digits.yaml"
    for other in (cortex.load(path), cortex.load(str(path))):
        assert other.spec == by_name.spec
        for key, w in by_name.regions["IT"].weights.items():
            np.testing.assert_array_equal(other.backend.to_numpy(other.regions["IT"].weights[key]),
                                          by_name.backend.to_numpy(w))
    assert "digits" in cortex.shipped_graphs()
    assert by_name.regions["IT"].n == 10 and by_name.backend.name == "numpy"
    r = by_name.settle({"retina": batch(digits, 4)}, steps=2)
    assert r.activity["IT"].shape == (4, 10)


def test_load_unknown_name_lists_shipped_graphs(tmp_path):
    with pytest.raises(SpecError, match="digits"):
        cortex.load("no-such-graph")
    copy = Path(tmp_path) / "mine.yaml"
    copy.write_text(TWO_LEVEL)
    assert cortex.load(copy).spec.name == "two"


# ------------------------------------------------------------------------------------------- graph

GRAPH = """
name: g
inputs:
  retina: {shape: [8, 8]}
  cue: {shape: [3]}
regions:
  V1: {kind: predictive, hypotheses: 12, inputs: [retina]}
  IT: {kind: predictive, hypotheses: 5, inputs: [V1], competition: softmax, factors: 2}
  PFC: {kind: predictive, hypotheses: 3, inputs: [cue]}
connections:
  - {from: IT, to: V1, role: context, precision: 0.5}
  - {from: PFC, to: IT, role: context, precision: 2.0}
  - {from: IT, to: IT, role: context, delay: 1, precision: 0.25}
  - {from: retina, to: IT, role: input, precision: 0.3}
"""


def test_graph_nodes_and_edges():
    m = Model(load_spec(text=GRAPH))
    g = m.graph
    assert isinstance(g, nx.DiGraph) and g.graph["name"] == "g"
    assert set(g.nodes) == {"retina", "cue", "V1", "IT", "PFC"}
    assert g.nodes["retina"] == {"type": "input", "size": 64, "shape": (8, 8)}
    assert g.nodes["cue"]["type"] == "input" and g.nodes["cue"]["size"] == 3
    for name, size in (("V1", 12), ("IT", 5), ("PFC", 3)):
        assert g.nodes[name]["type"] == "region" and g.nodes[name]["size"] == size
    assert g.nodes["IT"]["competition"] == "softmax" and g.nodes["IT"]["factors"] == 2
    edges = {(u, v): d for u, v, d in g.edges(data=True)}
    assert edges == {
        ("retina", "V1"): {"role": "input", "delay": 0, "precision": 1.0},
        ("V1", "IT"): {"role": "input", "delay": 0, "precision": 1.0},
        ("cue", "PFC"): {"role": "input", "delay": 0, "precision": 1.0},
        ("IT", "V1"): {"role": "context", "delay": 0, "precision": 0.5},
        ("PFC", "IT"): {"role": "context", "delay": 0, "precision": 2.0},
        ("IT", "IT"): {"role": "context", "delay": 1, "precision": 0.25},
        ("retina", "IT"): {"role": "input", "delay": 0, "precision": 0.3},
    }
    assert sorted(predictors(g, "retina")) == ["IT", "V1"]
    assert predictors(g, "V1") == ["IT"]
    # the model's input widths follow the graph: IT explains V1 (12) and the retina (64)
    assert m.regions["IT"].d_x == 76 and m.regions["IT"].d_y == 3 + 5


def test_order_on_a_three_level_chain():
    # names chosen so that alphabetical order is not the hierarchy's order; top-down context must not reorder it
    spec = load_spec(text="""
name: chain
inputs: {retina: {shape: [4]}}
regions:
  top: {kind: predictive, hypotheses: 2, inputs: [mid]}
  mid: {kind: predictive, hypotheses: 3, inputs: [bottom]}
  bottom: {kind: predictive, hypotheses: 4, inputs: [retina]}
connections:
  - {from: top, to: bottom, role: context}
  - {from: top, to: mid, role: context}
""")
    m = Model(spec)
    assert bottom_up_order(m.graph) == ["bottom", "mid", "top"]
    assert top_down_order(m.graph) == ["top", "mid", "bottom"]
    assert [list(m.regions)[i] for i in m.compiled.up] == ["bottom", "mid", "top"]
    r = m.settle({"retina": np.ones((2, 4))}, steps=3)
    assert {k: v.shape for k, v in r.activity.items()} == {"top": (2, 2), "mid": (2, 3), "bottom": (2, 4)}


# ------------------------------------------------------------------------------------------- predictions

def test_prediction_is_each_regions_top_down_prediction_of_its_input(model, digits):
    X = batch(digits, 8)
    w = {n: {k: model.backend.to_numpy(v) for k, v in reg.weights.items()} for n, reg in model.regions.items()}
    first = model.settle({"retina": X}, steps=0)
    assert set(first.prediction) == {"V1", "IT"}
    for name, d_x in (("V1", 64), ("IT", 12)):
        p = first.prediction[name]
        assert type(p) is np.ndarray and p.dtype == np.float32 and p.shape == (8, d_x)
    # linear region: the shared reconstruction a W; softmax region at rest (z = 0): the mixture of mean fields a M
    np.testing.assert_allclose(first.prediction["V1"], first.activity["V1"] @ w["V1"]["W"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first.prediction["IT"], first.activity["IT"] @ w["IT"]["M"], rtol=1e-5, atol=1e-6)
    settled = model.settle({"retina": X}, steps=10, noise=False)
    np.testing.assert_allclose(settled.prediction["V1"], settled.activity["V1"] @ w["V1"]["W"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(settled.prediction["IT"], first.prediction["IT"])   # factors moved with settling


def test_prediction_is_a_cached_host_copy(model, digits):
    X = batch(digits, 8)
    r = model.settle({"retina": X}, steps=5, noise=False)
    p = r.prediction
    assert r.prediction is p
    p["V1"][:] = 7.0                      # editing the copy leaves the settled state (and learning) alone
    clean = Model(load_spec(text=TWO_LEVEL))
    clean.learn(clean.settle({"retina": X}, steps=5, noise=False))
    model.learn(r)
    for name in clean.regions:
        for key, value in clean.regions[name].weights.items():
            np.testing.assert_array_equal(model.backend.to_numpy(model.regions[name].weights[key]),
                                          clean.backend.to_numpy(value), err_msg=f"{name}.{key}")


def test_trained_prediction_reconstructs_the_input(digits):
    data = cortex.load_spec(cortex.graph_path("digits")).to_dict()
    data["regions"]["IT"]["factors"] = 4
    m = Model(spec_from_dict(data))
    eye = np.eye(10, dtype=np.float32)
    for i in range(20):
        sl = slice(32 * i, 32 * i + 32)
        m.learn(m.settle({"retina": digits.X_train[sl], "label": eye[digits.y_train[sl]]}, steps=20))
    X = digits.X_test[:64]
    guess, settled = m.settle({"retina": X}, steps=0), m.settle({"retina": X}, steps=30, tol=0, noise=False)
    err = lambda r: float(np.mean((r.prediction["IT"] - X) ** 2))
    mean_image = float(np.mean((digits.X_train.mean(axis=0) - X) ** 2))
    assert err(settled) < 0.5 * err(guess)
    assert err(settled) < 0.6 * mean_image, (err(settled), mean_image)   # about 0.03 against 0.07


def test_prediction_needs_a_settled_state():
    r = SettleResult(activity={}, energy=np.zeros(0), region_energy={}, start_energy=0.0,
                     stimulus_energy=np.zeros(0), steps=0, converged=False)
    with pytest.raises(StimulusError, match="no settled state"):
        r.prediction
