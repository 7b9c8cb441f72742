"""Context and priming as `cortex run priming` runs it, on a reduced run: the cue effect's sign and size."""
import json

import numpy as np
import pytest
import yaml

import cortex
from cortex.errors import SpecError
from cortex.experiments import get_experiment_kind
from cortex.model import Model
from cortex.spec import spec_from_dict

REDUCED = {"max_train": 600, "epochs": 2, "pairs": [[1, 7], [3, 8]], "curve_points": 7, "curve_trials": 40,
           "trials": 200, "trace_steps": 5}


def graph(**overrides):
    data = yaml.safe_load(cortex.graph_path("priming").read_text())
    data["experiment"].update(overrides)
    return data


def run(tmp_path, **overrides):
    spec = spec_from_dict(graph(**{**REDUCED, **overrides}))
    return get_experiment_kind("priming")(spec, spec.experiment).run(tmp_path, progress=False)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("priming")
    return out, run(out)


def test_cue_a_raises_and_cue_b_lowers_the_reading_of_a(reduced):
    for r in reduced[1]["pairs"]:
        assert r["p_a_cue_a"] > r["p_a_no_cue"] + 0.1 > r["p_a_cue_b"] + 0.2
        assert r["effect"] > 0.4 and r["effect"] > 5 * r["effect_se"]
        assert 0.3 < r["p_a_no_cue"] < 0.7                     # calibrated: the morph is ambiguous without a cue


def test_uninformative_cues_give_no_effect(reduced):
    """The control model saw the same cues, unrelated to the digits: it must not be primed."""
    for r in reduced[1]["pairs"]:
        assert abs(r["control"]["effect"]) < 0.1
    lo = reduced[1]["context_log_odds"]
    assert abs(lo["control"]) < 0.3 < 1.5 < lo["learned"]


def test_writes_results_and_figures(reduced):
    out, res = reduced
    assert json.loads((out / "results.json").read_text())["pairs"] == json.loads(json.dumps(res["pairs"]))
    for name in ("psychometric", "priming", "competition", "context_weights"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = res["psychometric"]["1/7"]["p_a"]
    assert curve["cue A"][0] < 0.2 and curve["cue B"][-1] > 0.8    # the morph end points are read as themselves
    assert "effect" in get_experiment_kind("priming").summary(res)


def test_the_cue_acts_through_what_the_context_weights_learned():
    """Train with a scrambled cue code (cue perm[k] before digit k): the cue that was paired with A primes A.

    Only the model's learned context weights know the code, so the bias cannot come from the test code.
    """
    from cortex.stimuli.ambiguous import cues, morphs, one_hot
    from cortex.stimuli.digits import batches, load_digit_split

    perm = np.random.default_rng(5).permutation(10)
    model = Model(spec_from_dict(graph()))
    split = load_digit_split(0.2, 0)
    rng, eye = np.random.default_rng(0), np.eye(10, dtype=np.float32)
    for xb, yb in batches(split.X_train[:600], split.y_train[:600], 32, rng, epochs=2):
        model.learn(model.settle({"retina": xb, "cue": one_hot(perm[cues(yb, 10, 0.75, rng)], 10), "label": eye[yb]}))
    X = morphs(split.X_test, split.y_test, 1, 7, 200, 0.45, np.random.default_rng(1), noise=0.1)
    read = {c: model.settle({"retina": X, "cue": one_hot(np.full(200, c), 10)}, noise=False).winners("object")
            for c in (perm[1], perm[7], 1, 7)}
    assert np.mean(read[perm[1]] == 1) - np.mean(read[perm[7]] == 1) > 0.4
    if perm[1] != 1 and perm[7] != 7 and {1, 7} != {perm[1], perm[7]}:
        assert abs(np.mean(read[1] == 1) - np.mean(read[7] == 1)) < 0.25     # the unscrambled cues mean nothing


def test_priming_needs_a_context_connection_from_the_cue():
    data = graph()
    data["connections"] = []
    with pytest.raises(SpecError, match="role: context"):
        spec_from_dict(data)
    with pytest.raises(SpecError, match="different classes"):
        spec_from_dict(graph(pairs=[[3, 3]]))
