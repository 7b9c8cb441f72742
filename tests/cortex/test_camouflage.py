"""Camouflage as `cortex run camouflage` runs it, on a reduced run: a longer search finds the hidden digit."""
import json

import numpy as np
import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.experiments.camouflage import Camouflage, accuracy_per_step
from cortex.spec import spec_from_dict

REDUCED = dict(epochs=1, max_test=120, draws=2, steps=[1, 5, 20, 50], snap_steps=[0, 50], baselines=False, examples=2)


def graph(**overrides):
    data = yaml.safe_load(cortex.graph_path("camouflage").read_text())
    data["experiment"].update(overrides)
    return data


def run(tmp_path, **overrides):
    spec = spec_from_dict(graph(**overrides))
    return get_experiment_kind("camouflage")(spec, spec.experiment).run(tmp_path, progress=False)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("camouflage")
    return out, run(out, **REDUCED)


def test_accuracy_rises_with_settling_steps(reduced):
    acc = reduced[1]["accuracy"]["camouflaged"]
    assert acc["50"] >= acc["1"] + 0.12, acc          # about 0.49 -> 0.70
    assert acc["5"] > acc["1"] and acc["20"] >= acc["5"] - 0.02 and acc["50"] >= acc["20"] - 0.02, acc


def test_the_feed_forward_first_guess_does_worse_than_settling(reduced):
    res = reduced[1]
    assert res["accuracy"]["camouflaged"]["50"] >= res["first_guess"]["camouflaged"] + 0.08, res["first_guess"]


def test_clutter_is_what_makes_it_hard(reduced, tmp_path):
    acc = reduced[1]["accuracy"]
    assert acc["clean"]["50"] >= 0.8
    assert acc["clean"]["50"] >= acc["camouflaged"]["50"] + 0.08
    faint = run(tmp_path, **REDUCED, clutter_intensity=0.05)["accuracy"]     # barely visible clutter: clean again
    assert abs(faint["camouflaged"]["50"] - faint["clean"]["50"]) < 0.05, faint


def test_writes_results_figures_and_checkpoint(reduced):
    out, res = reduced
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["accuracy"] == res["accuracy"] and on_disk["first_guess"] == res["first_guess"]
    assert res["test_examples"] == {"camouflaged": 240, "clean": 120}
    assert res["settle"]["tol"] == 0.0 and res["settle"]["steps"] == 50
    for name in ("accuracy", "snapping", "competition", "energy"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cortex.load_checkpoint(out / "model.npz").spec.name == "camouflage"
    text = Camouflage.summary(res)
    assert "first guess" in text and f"{res['accuracy']['camouflaged']['50']:.3f}" in text


def test_baselines_are_scored_on_the_camouflaged_images(reduced, tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression

    import cortex.baselines as baselines
    monkeypatch.setattr(baselines, "fit_baselines",     # a quick stand-in: the plumbing, not sklearn, is tested here
                        lambda X, y, seed=0: {"logistic_regression": LogisticRegression(max_iter=300).fit(X, y)})
    res = run(tmp_path, **{**REDUCED, "baselines": True, "steps": [1], "snap_steps": [0, 1]})
    lr = res["baselines"]
    assert set(lr) == {"camouflaged", "clean"}
    assert lr["clean"]["logistic_regression"] > 0.9 > lr["camouflaged"]["logistic_regression"]
    assert "logistic regression" in Camouflage.summary(res)


def test_accuracy_per_step_reads_the_winner_of_each_step():
    trace = np.zeros((3, 2, 10), np.float32)
    trace[0, :, 5] = 1          # step 0: both wrong
    trace[1, 0, 1] = 1          # step 1: first right
    trace[2, 0, 1] = trace[2, 1, 2] = 1
    np.testing.assert_array_equal(accuracy_per_step(trace, np.array([1, 2])), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("overrides, key", [
    ({"steps": [5, 2]}, "experiment.steps"),
    ({"steps": [0, 5]}, "experiment.steps"),
    ({"fragment_size": 9}, "experiment.fragment_size"),
    ({"readout": "V9"}, "experiment.readout"),
])
def test_bad_experiment_blocks_are_refused_with_the_key(overrides, key):
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        spec_from_dict(graph(**overrides))


def test_the_readout_must_predict_the_image():
    data = graph()
    data["regions"]["V1"] = {"kind": "predictive", "hypotheses": 16, "inputs": ["retina"]}
    data["regions"]["IT"]["inputs"] = ["V1"]
    with pytest.raises(SpecError, match="must take only 'retina' as input"):
        spec_from_dict(data)
