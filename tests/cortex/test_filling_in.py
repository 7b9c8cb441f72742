"""Filling-in as `cortex run filling_in` runs it, on a reduced run: the top-down prediction restores the hidden block."""
import json

import numpy as np
import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.experiments.filling_in import FillingIn, patch_mse
from cortex.spec import spec_from_dict

REDUCED = dict(epochs=2, max_test=120, sizes=[2, 4], size=4, steps=100, curve_steps=[0, 10], examples=2)


def graph(**overrides):
    data = yaml.safe_load(cortex.graph_path("filling_in").read_text())
    data["experiment"].update(overrides)
    return data


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("filling_in")
    spec = spec_from_dict(graph(**REDUCED))
    return out, get_experiment_kind("filling_in")(spec, spec.experiment).run(out, progress=False)


def test_prediction_beats_filling_in_the_mean_image(reduced):
    small = reduced[1]["patch_mse"]["2x2"]
    assert small["model"] < 0.8 * small["mean_image"], small          # about 0.057 against 0.088


def test_where_the_class_is_found_the_fill_is_close_to_the_truth(reduced):
    big = reduced[1]["patch_mse"]["4x4"]
    assert big["model_when_class_right"] < 0.7 * big["mean_image"], big
    assert big["model"] < big["mean_image"], big


def test_the_occluder_is_discounted_not_copied(reduced):
    for size, row in reduced[1]["patch_mse"].items():
        assert row["model"] < 0.3 * row["occluder_left_in"], (size, row)   # the white block is not predicted
        assert row["model_visible_pixels"] < 0.04, (size, row)             # and what is visible is explained


def test_settling_does_the_filling_in(reduced):
    res = reduced[1]
    for size, row in res["patch_mse"].items():
        assert row["model"] < 0.6 * row["first_guess"], (size, row)
        assert res["mse_over_steps"][size]["10"] < res["mse_over_steps"][size]["0"]


def test_writes_results_figures_and_checkpoint(reduced):
    out, res = reduced
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["patch_mse"] == res["patch_mse"]
    assert set(res["patch_mse"]) == {"2x2", "4x4"} and res["test_examples"] == 120
    for name in ("filling_in", "filling_error", "competition"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cortex.load_checkpoint(out / "model.npz").spec.name == "filling_in"
    text = FillingIn.summary(res)
    assert "mean_image" in text and f"{res['patch_mse']['4x4']['model']:.4f}" in text


def test_patch_mse_counts_only_the_masked_pixels():
    truth = np.zeros((2, 4), np.float32)
    mask = np.array([[True, False, False, False], [False, False, True, True]])
    fill = np.array([[1.0, 9.0, 9.0, 9.0], [9.0, 9.0, 2.0, 0.0]], np.float32)
    assert patch_mse(fill, truth, mask) == pytest.approx((1 + 4 + 0) / 3)
    assert patch_mse(np.full(4, 0.5, np.float32), truth, mask) == pytest.approx(0.25)   # one image for all


@pytest.mark.parametrize("overrides, match", [
    ({"sizes": [4, 2]}, "increasing order"),
    ({"sizes": [2, 9]}, "1 to 8 pixels"),
    ({"size": 6}, "must be one of sizes"),
    ({"curve_steps": [-1, 5]}, "step counts >= 0"),
])
def test_bad_experiment_blocks_are_refused(overrides, match):
    with pytest.raises(SpecError, match=match):
        spec_from_dict(graph(**overrides))
