"""Binocular rivalry as `cortex run rivalry`, `rivalry_levelt2` and `rivalry_levelt4` run it, on reduced runs."""
import json

import numpy as np
import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.spec import load_spec, spec_from_dict

GRAPHS = ("rivalry", "rivalry_levelt2", "rivalry_levelt4")


def data(graph="rivalry"):
    return yaml.safe_load(cortex.graph_path(graph).read_text())


def run(out, graph="rivalry", region=None, **experiment):
    d = data(graph)
    d["experiment"].update(experiment)
    d["regions"]["P"].update(region or {})
    spec = spec_from_dict(d)
    kind = get_experiment_kind("rivalry")
    results = kind(spec, spec.experiment).run(out, progress=False)
    return results, kind.summary(results)


@pytest.fixture(scope="module")
def equal(tmp_path_factory):
    out = tmp_path_factory.mktemp("rivalry")
    return out, *run(out, trials=16, steps=6000)


@pytest.fixture(scope="module")
def one_side(tmp_path_factory):
    return run(tmp_path_factory.mktemp("levelt2"), "rivalry_levelt2", contrasts=[0.5, 1.0, 2.0], sweep_trials=12,
               steps=6000)[0]


@pytest.fixture(scope="module")
def both_sides(tmp_path_factory):
    return run(tmp_path_factory.mktemp("levelt4"), "rivalry_levelt4", contrasts=[0.5, 1.0, 2.0], sweep_trials=12,
               steps=6000)[0]


def test_the_region_learns_one_hypothesis_per_grating(equal):
    assert min(equal[1]["learned_field_cosine"]) > 0.99


def test_interpretations_alternate_with_human_like_durations(equal):
    _, res, _ = equal
    assert res["switches_per_trial"] >= 20                      # many alternations in every trial, not one or two
    st = res["durations"]
    assert st["n"] >= 300
    assert 0.35 <= st["cv"] <= 0.75, st["cv"]                    # human observers: about 0.4 to 0.7
    assert st["skewness"] > 0.4                                  # right-skewed
    assert st["gamma"]["shape"] > 2                              # gamma-like, not exponential (shape 1)
    assert np.isfinite(st["gamma"]["loglik"]) and np.isfinite(st["lognormal"]["loglik"])
    assert st["better_fit"] in ("gamma", "lognormal")
    assert 0.4 < res["predominance_left"] < 0.6                  # equal contrast: neither side is favoured
    assert res["mixed_fraction"] < 0.1                           # one interpretation at a time


def test_writes_results_and_figures(equal):
    out, res, text = equal
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["durations"] == res["durations"]
    for name in ("fields", "competition", "durations"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "CV=" in text and "gamma fit" in text and "lognormal fit" in text


def test_without_noise_alternation_is_clockwork(tmp_path):
    res, _ = run(tmp_path, region={"noise": 0.0}, trials=4, steps=6000)
    assert res["switches_per_trial"] >= 10                       # fatigue alone still alternates ...
    assert res["durations"]["cv"] < 0.1                          # ... but like a clock, not like an observer


def test_without_fatigue_nothing_alternates(tmp_path):
    res, text = run(tmp_path, region={"adaptation": {"strength": 0.0, "tau": 200}}, trials=8, steps=4000)
    assert res["switches_per_trial"] < 1
    assert res["durations"] is None and "at least" in res["note"]
    assert "no duration statistics" in text


def test_the_stronger_side_predominates(one_side):
    pred = [r["predominance_left"] for r in one_side["table"]]
    assert pred[0] < 0.25 < 0.4 < pred[1] < 0.6 < 0.75 < pred[2], pred


def test_levelt2_the_stronger_sides_durations_lengthen_most(one_side):
    """Brascamp, Klink & Levelt (2015); the original form (own durations unchanged) fails when A is stronger."""
    lv = one_side["levelt2"]
    stronger = lv["log_change_from_equal"]["varied_side_stronger"]
    assert stronger["varied"] > 0.5 and stronger["varied"] > abs(stronger["fixed"])
    weaker = lv["log_change_from_equal"]["varied_side_weaker"]
    assert weaker["fixed"] > 0.5 and weaker["fixed"] > abs(weaker["varied"])
    assert lv["revised_holds"] and not lv["original_holds"]


def test_levelt4_alternation_rises_with_both_contrasts(both_sides):
    rate = [r["alternation_rate_per_1000_steps"] for r in both_sides["table"]]
    assert rate[0] < rate[1] < rate[2] and rate[2] > 1.4 * rate[1], rate
    assert both_sides["levelt4"]["holds_overall"]


def test_the_three_graphs_share_one_model():
    specs = [load_spec(cortex.graph_path(g)) for g in GRAPHS]
    for s in specs[1:]:
        assert (s.seed, s.inputs, s.regions, s.settle) == (specs[0].seed, specs[0].inputs, specs[0].regions,
                                                           specs[0].settle)
    assert [s.experiment.sweep for s in specs] == ["none", "one", "both"]


@pytest.mark.parametrize("change,match", [
    ({"regions": {"P": {"competition": "softmax", "inhibition": 0.0}}}, "competition: lateral"),
    ({"regions": {"P": {"hypotheses": 3}}}, "teacher input"),
    ({"regions": {"P": {"inputs": ["right", "left"]}}}, r"inputs \[left, right\]"),
    ({"experiment": {"contrasts": [1.0, 0.5]}}, "increasing"),
    ({"experiment": {"region": "Q"}}, "must name a region"),
    ({"inputs": {"right": {"shape": [6, 6]}}}, "same size"),
])
def test_bad_graphs_are_refused_before_running(change, match):
    d = data()
    for key, body in change.items():
        for name, sub in body.items():
            if isinstance(d[key].get(name), dict) and isinstance(sub, dict):
                d[key][name].update(sub)
            else:
                d[key][name] = sub
    with pytest.raises(SpecError, match=match):
        spec_from_dict(d)


def test_the_trained_model_is_saved_and_alternates_when_reloaded(equal):
    out = equal[0]
    model = cortex.load_checkpoint(out / "model.npz")
    from cortex.stimuli.rivalry import gratings, rivalrous

    left, right = rivalrous(gratings(8), 1.0, 1.0, trials=4)
    trace = model.settle({"left": left, "right": right}, steps=3000, record=True).trace["P"]
    from cortex.dominance import dominance_periods

    assert len(dominance_periods(trace[500:], margin=0.1)) >= 8
