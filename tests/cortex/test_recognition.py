"""The recognition experiment as `cortex run digits` runs it: the accuracy bars of the engine issue."""
import json

import pytest
import yaml

import cortex
from cortex.experiments import get_experiment_kind
from cortex.spec import spec_from_dict


def run(tmp_path, **overrides):
    data = yaml.safe_load(cortex.graph_path("digits").read_text())
    data["experiment"].update(overrides)
    spec = spec_from_dict(data)
    return get_experiment_kind("recognition")(spec, spec.experiment).run(tmp_path, progress=False)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    return out, run(out)


def test_clean_accuracy_bar(full):
    _, res = full
    assert res["accuracy"]["clean"]["model"] >= 0.93


@pytest.mark.parametrize("condition", ["occlusion", "few_shot"])
def test_beats_both_baselines_where_generative_models_should(full, condition):
    row = full[1]["accuracy"][condition]
    assert row["model"] > row["logistic_regression"]
    assert row["model"] > row["mlp"]


def test_noise_degrades_gracefully(full):
    acc = full[1]["accuracy"]
    assert acc["noise"]["model"] >= 0.85
    assert acc["noise"]["model"] < acc["clean"]["model"]


def test_writes_results_figures_and_checkpoint(full):
    out, res = full
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["accuracy"] == res["accuracy"]
    for name in ("fields", "energy", "training", "competition"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = cortex.load_checkpoint(out / "model.npz")
    assert model.spec.name == "digits"


def test_training_lowers_the_energy(full):
    first, last = full[1]["train_energy_first_last"]
    assert last < 0.5 * first


def test_reduced_run_is_still_well_above_chance(tmp_path):
    res = run(tmp_path, max_train=200, epochs=1, few_shot=2, few_shot_epochs=3, baselines=False)
    assert res["train_examples"] == 200
    assert res["accuracy"]["clean"]["model"] > 0.6
    assert "logistic_regression" not in res["accuracy"]["clean"]
