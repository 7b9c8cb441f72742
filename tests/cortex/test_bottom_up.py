"""The bottom-up start (``settle: {start: bottom_up}``): each level settles before the levels above it join.

What a user relies on: it is the first-guess settle on a one-level graph; level by level it is exactly the graph
cut above that level, settled, then resumed; it refuses the graphs it cannot cut with a located error; and on a
deep stack it is what keeps the read-out right (the unreduced 4-8 level figures are in docs/depth.md).
"""
import numpy as np
import pytest
import yaml

import cortex
from cortex.balance import resolve_precisions
from cortex.compiled import CompiledGraph
from cortex.experiments import get_experiment_kind
from cortex.experiments.schedules import copy_weights, with_precisions
from cortex.model import Model
from cortex.settle import Settler
from cortex.spec import spec_from_dict


def digits_deep(**settle):
    data = yaml.safe_load(cortex.graph_path("digits_deep").read_text())
    data["settle"].update(settle)
    return data


def batch(n=24, seed=0):
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float32) / 16.0
    return X[np.random.default_rng(seed).choice(len(X), n, replace=False)]


def levels_settled_by_hand(model, X):
    """V1 settled on the graph cut above it, then V1-V2 on the graph cut above V2 (copies holding the weights)."""
    precisions = resolve_precisions(model.spec)
    cut1 = Model(with_precisions(model.spec, precisions, keep=["V1"]))
    cut2 = Model(with_precisions(model.spec, precisions, keep=["V1", "V2"]))
    copy_weights(cut1, model)
    copy_weights(cut2, model)
    inputs = {"retina": cut1.backend.asarray(X)}
    s1 = cut1.settler.run(inputs, {}, [], cut1.options(noise=False))
    return inputs, cut2.settler.run(inputs, {}, [], cut2.options(noise=False), carry=list(s1.device.states) + [None])


def test_one_level_graph_settles_the_same_from_either_start():
    model = cortex.load("digits")
    X = batch()
    a = model.settle({"retina": X}, noise=False)
    b = model.settle({"retina": X}, noise=False, start="bottom_up")
    assert np.array_equal(a.activity["IT"], b.activity["IT"]) and np.array_equal(a.energy, b.energy)


def test_each_level_starts_where_the_graph_cut_above_it_settles():
    """V1 settles as if V2 and IT did not exist, then V1-V2 without IT; IT (softmax) then settles alone over them,
    held where they settled; the whole graph resumes from there."""
    model = Model(spec_from_dict(digits_deep()))
    X = batch()
    inputs, s2 = levels_settled_by_hand(model, X)
    held = Settler(CompiledGraph(model.spec, model.graph, model.regions, model.backend, frozen=["V1", "V2"]), [])
    s3 = held.run(inputs, {}, [], model.options(noise=False), carry=list(s2.device.states) + [None])
    for j in (0, 1):      # held: not moved by IT
        np.testing.assert_array_equal(np.asarray(s3.device.states[j].a), np.asarray(s2.device.states[j].a))
    whole = model.settler.run(inputs, {}, [], model.options(noise=False), carry=list(s3.device.states))
    got = model.settle({"retina": X}, noise=False, start="bottom_up")
    for j, name in enumerate(model.compiled.names):
        np.testing.assert_array_equal(got.activity[name], np.asarray(whole.device.states[j].a))
    plain = model.settle({"retina": X}, noise=False)
    # not the first-guess settle: V1 settled on the pixels alone first (the reader above it pulls it elsewhere)
    assert np.abs(got.activity["V1"] - plain.activity["V1"]).max() > 1e-3


def test_the_same_start_on_array_api_strict():
    pytest.importorskip("array_api_strict")
    spec, X = spec_from_dict(digits_deep(start="bottom_up")), batch()
    here = Model(spec).settle({"retina": X}, noise=False)
    strict = Model(spec, backend="array_api_strict").settle({"retina": X}, noise=False)
    for name in ("V1", "V2", "IT"):
        np.testing.assert_allclose(strict.activity[name], here.activity[name], rtol=1e-4, atol=1e-5)


def test_the_spec_key_chooses_the_start_and_bad_values_are_refused(tmp_path):
    X = batch()
    spec = spec_from_dict(digits_deep(start="bottom_up"))
    assert spec.settle.start == "bottom_up"
    model = Model(spec)
    a = model.settle({"retina": X}, noise=False)
    b = model.settle({"retina": X}, noise=False, start="bottom_up")
    assert np.array_equal(a.activity["IT"], b.activity["IT"])
    with pytest.raises(cortex.CortexError, match="start must be one of auto, first_guess, bottom_up, levels_first"):
        model.settle({"retina": X}, start="sideways")
    bad = tmp_path / "bad.yaml"
    bad.write_text(cortex.graph_path("digits_deep").read_text().replace("start: first_guess}", "start: up}"))
    with pytest.raises(cortex.CortexError, match="settle.start") as err:
        cortex.load(bad)
    assert "bad.yaml" in str(err.value)


def test_auto_settles_the_levels_first_where_the_graph_has_levels_and_can_be_cut():
    """``start: auto`` (the default): a deep stack settles its levels bottom-up first (``levels_first``), a one-level
    graph or one that cannot be cut from first guesses, and nothing is refused for it."""
    data, X = digits_deep(), batch()
    data["settle"].pop("start")
    spec = spec_from_dict(data)
    assert spec.settle.start == "auto"
    model = Model(spec)
    assert model.auto_start == "levels_first"
    auto = model.settle({"retina": X}, noise=False)
    levels = model.settle({"retina": X}, noise=False, start="levels_first")
    first = model.settle({"retina": X}, noise=False, start="first_guess")
    assert np.array_equal(auto.activity["V1"], levels.activity["V1"])
    assert np.abs(auto.activity["V1"] - first.activity["V1"]).max() > 1e-3
    assert cortex.load("digits").auto_start == "first_guess"
    data["connections"] = [{"from": "IT", "to": "V1", "role": "context"}]     # cannot be cut: auto is first_guess
    uncut = Model(spec_from_dict(data))
    assert uncut.auto_start == "first_guess"
    a = uncut.settle({"retina": X}, noise=False)
    b = uncut.settle({"retina": X}, noise=False, start="first_guess")
    assert np.array_equal(a.activity["V1"], b.activity["V1"])


def test_levels_first_is_bottom_up_without_the_read_outs_turn_alone():
    """The levels below the top settle as for ``bottom_up``; the read-out then joins the whole-graph settle from its
    first guess over them, as the cut graphs settled and resumed by hand give."""
    model, X = Model(spec_from_dict(digits_deep())), batch()
    inputs, s2 = levels_settled_by_hand(model, X)
    whole = model.settler.run(inputs, {}, [], model.options(noise=False), carry=list(s2.device.states) + [None])
    got = model.settle({"retina": X}, noise=False, start="levels_first")
    for j, name in enumerate(model.compiled.names):
        np.testing.assert_array_equal(got.activity[name], np.asarray(whole.device.states[j].a))
    alone = model.settle({"retina": X}, noise=False, start="bottom_up")
    assert np.abs(alone.activity["IT"] - got.activity["IT"]).max() > 1e-4     # the read-out's turn alone mattered


def test_a_graph_that_cannot_be_cut_is_refused_with_its_edge_named():
    data = digits_deep(start="bottom_up")
    data["connections"] = [{"from": "IT", "to": "V1", "role": "context"}]     # V1 would read a level not yet settled
    with pytest.raises(cortex.CortexError, match=r"settle.start.*'V1' \(level 1\) reads 'IT' \(level 3\)"):
        spec_from_dict(data)
    data["connections"][0]["delay"] = 1                                        # last frame's IT: there already
    assert spec_from_dict(data).settle.start == "bottom_up"
    data["connections"][0].pop("delay")
    data["settle"]["start"] = "first_guess"
    model = Model(spec_from_dict(data))
    with pytest.raises(cortex.CortexError, match="'V1' \\(level 1\\) reads 'IT'"):
        model.settle({"retina": batch()}, start="bottom_up")


def test_learning_is_seen_by_the_cut_graphs():
    """The cut graphs hold the model's own regions: after learning, the bottom-up start uses the new weights."""
    model = Model(spec_from_dict(digits_deep(start="bottom_up")))
    X = batch(32, seed=1)
    before = model.settle({"retina": X}, noise=False).activity["V1"]
    for _ in range(3):
        model.learn(model.settle({"retina": X}), regions=["V1"])
    after = model.settle({"retina": X}, noise=False).activity["V1"]
    fresh = Model(spec_from_dict(digits_deep(start="bottom_up")))
    copy_weights(fresh, model)
    np.testing.assert_allclose(after, fresh.settle({"retina": X}, noise=False).activity["V1"], rtol=1e-6, atol=1e-7)
    assert np.abs(after - before).max() > 1e-3


def test_a_deep_stack_reads_the_digits_only_when_settled_bottom_up(tmp_path):
    """Six levels, reduced training (validation split): from first guesses the read-out drags the stack (0.75
    here), bottom-up it reads 0.95."""
    data = yaml.safe_load(cortex.graph_path("depth_sweep").read_text())
    data["experiment"].update({"depths": [6], "evaluate_on": "validation", "max_train": 600, "epochs": 2,
                               "pretrain": 1})
    out = {}
    for start in ("first_guess", "bottom_up"):
        data["settle"]["start"] = start
        spec = spec_from_dict(data)
        out[start] = get_experiment_kind("depth_sweep")(spec, spec.experiment).run(tmp_path / start, progress=False)
    plain, bottom_up = out["first_guess"]["accuracy_clean"][0], out["bottom_up"]["accuracy_clean"][0]
    assert bottom_up >= 0.9 and bottom_up >= plain + 0.07, (plain, bottom_up)
    assert out["bottom_up"]["energy_share_ratio"][0] <= 10
