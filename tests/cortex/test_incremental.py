"""Incremental learning (iPC, issue 11): ``Model.settle_and_learn`` and the digit experiments' ``learn_every``."""
import numpy as np
import pytest
import yaml

import cortex
from cortex.experiments import get_experiment_kind
from cortex.spec import spec_from_dict

X = np.random.default_rng(0).random((16, 64)).astype(np.float32)
LABELS = np.eye(10, dtype=np.float32)[np.arange(16) % 10]


def weights(model):
    return {(n, k): np.array(v) for n, r in model.regions.items() for k, v in r.weights.items()}


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_one_update_after_the_whole_settle_is_settle_then_learn(backend):
    once, inc = cortex.load("digits_deep", backend=backend), cortex.load("digits_deep", backend=backend)
    settled = once.settle({"retina": X, "label": LABELS}, start="first_guess")
    once.learn(settled)
    r = inc.settle_and_learn({"retina": X, "label": LABELS}, every=50)
    a, b = weights(once), weights(inc)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(r.energy, settled.energy)


def test_learning_while_settling_descends_the_energy_in_weights_and_activities_together():
    """Five updates in a 50-step settle: the batch ends far lower in energy than one settled before any update
    (the weights moved towards it while it settled), and the result carries every step."""
    once, inc = cortex.load("digits_deep"), cortex.load("digits_deep")
    settled = once.settle({"retina": X, "label": LABELS}, start="first_guess")
    r = inc.settle_and_learn({"retina": X, "label": LABELS}, every=10)
    assert r.steps == 50 and r.energy.shape == (50,) and np.isfinite(r.energy).all()
    assert r.energy[-1] < 0.5 * settled.energy[-1]
    assert r.energy[10] < r.energy[9]       # the first update lowered the energy settling had reached
    assert r.start_energy == pytest.approx(settled.start_energy)


def test_only_the_named_regions_learn_and_bad_arguments_are_named():
    model = cortex.load("digits_deep")
    before = weights(model)
    model.settle_and_learn({"retina": X, "label": LABELS}, every=10, regions=["IT"])
    after = weights(model)
    assert all(np.array_equal(before[k], after[k]) for k in before if k[0] != "IT")
    assert not np.array_equal(before[("IT", "M")], after[("IT", "M")])
    with pytest.raises(cortex.CortexError, match="every"):
        model.settle_and_learn({"retina": X}, every=0)
    with pytest.raises(cortex.CortexError, match="unknown region"):
        model.settle_and_learn({"retina": X}, every=10, regions=["V9"])


def test_learn_every_trains_a_deep_graph_and_is_reported(tmp_path):
    data = yaml.safe_load(cortex.graph_path("digits_deep").read_text())
    data["experiment"].update({"evaluate_on": "validation", "max_train": 500, "epochs": 2, "baselines": False,
                               "few_shot_epochs": 10, "schedule": "joint", "pretrain": 0, "learn_every": 10,
                               "fill_in": 0})
    spec = spec_from_dict(data)
    res = get_experiment_kind("recognition")(spec, spec.experiment).run(tmp_path, progress=False)
    assert res["learn_every"] == 10 and res["schedule"] == "joint"
    assert res["accuracy"]["clean"]["model"] >= 0.85
    data["experiment"]["learn_every"] = 0
    with pytest.raises(cortex.CortexError, match="learn_every"):
        spec_from_dict(data)


def test_slow_noise_clocked_per_frame_is_refused_not_moved_at_every_update():
    model = cortex.load("rivalry_stream")
    stimuli = {name: np.zeros((2, spec.size), np.float32) for name, spec in model.spec.inputs.items()}
    with pytest.raises(cortex.CortexError, match="slow noise"):
        model.settle_and_learn(stimuli, every=5)
    model.settle_and_learn(stimuli, every=5, noise=False)      # without its noise the frame clock does not move
