"""The three new-concepts experiments as `cortex run` runs them, on reduced runs: continual, concepts, discover."""
import json

import numpy as np
import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.spec import load_spec, spec_from_dict


def graph(name, **overrides):
    data = yaml.safe_load(cortex.graph_path(name).read_text())
    data["experiment"].update(overrides)
    return data


def run(name, out, **overrides):
    spec = spec_from_dict(graph(name, **overrides))
    return get_experiment_kind(name)(spec, spec.experiment).run(out, progress=False)


# ----------------------------------------------------------------------------------------------- continual

@pytest.fixture(scope="module")
def continual(tmp_path_factory):
    out = tmp_path_factory.mktemp("continual")
    return out, run("continual", out, tasks=[[0, 1], [2, 3], [4, 5]], epochs=1, mlp_passes=10, ablations=False)


def test_continual_keeps_old_classes_where_the_mlp_forgets(continual):
    res = continual[1]
    final, forgetting = res["final_accuracy"], res["forgetting"]
    assert final["model"] > 0.93 and forgetting["model"] < 0.03
    assert final["model"] > final["mlp_sequential"] + 0.3 and forgetting["mlp_sequential"] > 0.5   # it forgets
    assert final["joint"] > 0.9
    assert len(res["accuracy_after_task"]["model"]) == 3
    assert set(res["hypotheses"]["per_class"]) == {str(c) for c in range(10)}
    assert all(res["hypotheses"]["per_class"][str(c)] >= 1 for c in range(6))       # every class seen owns some
    assert all(res["hypotheses"]["per_class"][str(c)] == 0 for c in range(6, 10))   # unseen ones own none


def test_continual_writes_results_and_figure(continual):
    out, res = continual
    saved = json.loads((out / "results.json").read_text())
    assert saved["final_accuracy"]["model"] == pytest.approx(res["final_accuracy"]["model"])
    assert (out / "continual.png").stat().st_size > 1000
    assert "model / sequential MLP" in get_experiment_kind("continual").summary(saved)


@pytest.mark.slow
def test_continual_ablations_are_reported(tmp_path):
    res = run("continual", tmp_path, tasks=[[0, 1], [2, 3]], epochs=1, mlp_passes=5)
    curves = res["accuracy_after_task"]
    assert {"no_ownership", "no_consolidation", "no_recruitment", "first_guess"} <= set(curves)
    assert res["forgetting"]["first_guess"] > 0.3        # the feed-forward guess alone forgets like the MLP


def test_continual_tasks_are_validated():
    with pytest.raises(SpecError, match="experiment.tasks"):
        spec_from_dict(graph("continual", tasks=[[0, 1], [1, 2]]))
    with pytest.raises(SpecError, match="experiment.tasks"):
        spec_from_dict(graph("continual", tasks=[[0, 12]]))


# ----------------------------------------------------------------------------------------------- concepts

@pytest.fixture(scope="module")
def concepts(tmp_path_factory):
    out = tmp_path_factory.mktemp("concepts")
    return out, run("concepts", out, held_out=[6], epochs=1)


def test_concepts_recruits_pure_hypotheses_named_by_one_label(concepts):
    res = concepts[1]
    cap = load_spec(cortex.graph_path("concepts")).regions["IT"].recruit.max_hypotheses
    assert 20 <= res["hypotheses_recruited"] <= cap - 5
    assert res["purity"] > 0.85 and res["one_label_accuracy"] > 0.8
    history = res["hypotheses_over_training"]["6"]
    assert history[0] == [0, 1] and max(n for _, n in history[:-1]) <= cap - 5      # the reserve kept free
    assert history[-1][1] == res["by_held_out"]["6"]["hypotheses_after_new_class"] > res["hypotheses_recruited"]


def test_a_held_out_class_is_learned_from_five_examples(concepts):
    new = concepts[1]["new_class"]
    assert new["accuracy"] > 0.8 and new["old_drop"] < 0.03
    assert concepts[1]["by_held_out"]["6"]["hypotheses_after_new_class"] <= 40


def test_concepts_writes_its_figures(concepts):
    out, res = concepts
    assert set(res["figures"]) == {"hypotheses.png", "fields.png", "concepts.png"}
    assert "mean" in get_experiment_kind("concepts").summary(res)


def test_fixations_shift_each_image_a_pixel_each_way_without_wrapping():
    from cortex.stimuli.digits import fixations

    img = np.zeros((2, 64), np.float32)
    img[0, 3 * 8 + 3] = 1.0                      # a dot in the middle
    img[1, 0 * 8 + 7] = 1.0                      # a dot in the top right corner
    views = fixations(img, 1)
    assert views.shape == (10, 64) and views.dtype == np.float32
    where = [tuple(np.argwhere(v.reshape(8, 8) > 0)[0]) if v.any() else None for v in views]
    assert where[0::2] == [(3, 3), (3, 4), (3, 2), (4, 3), (2, 3)]     # in place, right, left, down, up
    assert where[1::2] == [(0, 7), None, (0, 6), (1, 7), None]         # shifted off the edge: gone, not wrapped
    assert fixations(img, 0) is img


def test_five_fixations_lift_the_new_classes_five_examples_miss(tmp_path):
    # 2 and 8 are among the held-out classes five examples seen once learn worst (validation split, seed 0, one
    # epoch: 0.75 and 0.93 seen once; 1.0 and 1.0 seen at five fixations): the shifted views must carry the new
    # hypothesis, or the mean falls back by about 0.16
    keys = dict(held_out=[2, 8], epochs=1, evaluate_on="validation")
    once = run("concepts", tmp_path / "once", new_shift=0, **keys)["new_class"]
    five = run("concepts", tmp_path / "five", **keys)["new_class"]
    assert five["accuracy"] > once["accuracy"] + 0.08 and five["worst"] > 0.85
    assert five["old_drop"] < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concepts_meets_its_bars_at_three_seeds(tmp_path, seed):
    # the shipped graph, all ten held-out classes (test split): 0.955 / 0.938 / 0.942 new class, 0.012 / 0.015 /
    # 0.014 old drop; its five examples seen once (new_shift: 0) it was 0.894 / 0.848 / 0.891, under the bar
    data = graph("concepts")
    data["seed"] = seed
    spec = spec_from_dict(data)
    res = get_experiment_kind("concepts")(spec, spec.experiment).run(tmp_path, progress=False)
    assert res["hypotheses_recruited"] <= 40 and res["purity"] >= 0.85 and res["one_label_accuracy"] >= 0.85
    assert res["new_class"]["accuracy"] >= 0.9 and res["new_class"]["old_drop"] <= 0.02


def test_concepts_needs_a_recruiting_read_out():
    data = graph("concepts")
    del data["regions"]["IT"]["recruit"]
    data["regions"]["IT"]["hypotheses"] = 10
    with pytest.raises(SpecError, match="experiment.readout.*recruit"):
        spec_from_dict(data)


# ----------------------------------------------------------------------------------------------- discover

@pytest.fixture(scope="module")
def discover(tmp_path_factory):
    out = tmp_path_factory.mktemp("discover")
    return out, run("discover", out, train_examples=800, stream=600, test_examples=400)


def test_discover_finds_exactly_the_related_senses(discover):
    edges = discover[1]["edges"]
    assert edges["precision"] == 1.0 and edges["recall"] == 1.0
    assert edges["discovered"] == ["Sight->Sound", "Sound->Sight"]
    assert [c["action"] for c in edges["changes"]] == ["add", "add"]


def test_discovered_edges_improve_recognition(discover):
    rec = discover[1]["recognition"]
    assert rec["after"]["Sight"] > rec["before"]["Sight"] + 0.03 and rec["after"]["Sound"] >= rec["before"]["Sound"]
    assert rec["control"] == rec["before"]                  # only context learns on the stream
    assert rec["after"]["Touch"] == rec["before"]["Touch"]  # nothing wired to touch


def test_the_discovered_graph_is_written_and_validates(discover):
    out, res = discover
    back = load_spec(out / "discovered.yaml")
    assert sorted(f"{c.source}->{c.target}" for c in back.connections) == res["edges"]["discovered"]
    assert res["files"] == ["discovered.yaml"]
