"""Composition as `cortex run composition` runs it, on a reduced run: unseen colour-shape combinations are read."""
import json

import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.spec import spec_from_dict

REDUCED = {"train_examples": 1200, "epochs": 2, "test_examples": 300, "trace_steps": 5}


def graph(**overrides):
    data = yaml.safe_load(cortex.graph_path("composition").read_text())
    data["experiment"].update(overrides)
    return data


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("composition")
    spec = spec_from_dict(graph(**REDUCED))
    return out, get_experiment_kind("composition")(spec, spec.experiment).run(out, progress=False)


def test_unseen_combinations_are_read_well_above_chance(reduced):
    res = reduced[1]
    acc, chance = res["accuracy"]["factors"], res["chance"]
    assert acc["seen"]["both"] > 0.9
    assert acc["unseen"]["both"] > 0.7 > 20 * chance["both"]
    assert acc["unseen"]["colour"] > 0.8 and acc["unseen"]["shape"] > 0.8
    assert len(res["unseen_combinations"]) == 6


def test_without_factors_the_shape_region_fails_on_unseen_combinations(reduced):
    """The ablation shows what does the work: the shape hypotheses absorbing colour through their factors."""
    acc = reduced[1]["accuracy"]
    assert acc["no factors"]["unseen"]["shape"] < 0.4
    assert acc["factors"]["unseen"]["shape"] > acc["no factors"]["unseen"]["shape"] + 0.4


def test_one_winner_per_region_and_both_regions_active_together(reduced):
    act = reduced[1]["activity"]["factors"]["unseen"]
    for region in ("colour", "shape"):
        assert act[region]["winner_mean"] > 0.85 and act[region]["rest_total_mean"] < 0.15
    assert act["both_winners_above_0.9"] > 0.5


def test_writes_results_and_figures(reduced):
    out, res = reduced
    assert json.loads((out / "results.json").read_text())["accuracy"] == res["accuracy"]
    for name in ("stimuli", "accuracy", "competition", "fields"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "unseen, settled (factors)" in get_experiment_kind("composition").summary(res)


@pytest.mark.parametrize("overrides, message", [
    ({"colours": ["red", "mauve"]}, "unknown colours"),
    ({"shapes": ["plus", "ell"]}, "one hypothesis per name"),
    ({"holdout_per_colour": 6}, "every colour keeps a shape"),
])
def test_bad_experiment_blocks_are_refused(overrides, message):
    with pytest.raises(SpecError, match=message):
        spec_from_dict(graph(**overrides))


def test_settling_beats_the_feed_forward_first_guess(reduced):
    res = reduced[1]
    assert res["accuracy"]["factors"]["unseen"]["both"] > res["first_guess_accuracy"]["unseen"]["both"] + 0.3
