"""Learned precisions (issue 11): each input connection's precision is 1 / its running error variance."""
import numpy as np
import pytest

import cortex
from cortex.spec import spec_from_dict

RNG = np.random.default_rng(0)
CLEAN = RNG.random((64, 16)).astype(np.float32)


def graph(learn_precision=True, backend="numpy", **region):
    return spec_from_dict({
        "name": "lp", "seed": 0, "backend": backend,
        "inputs": {"a": {"shape": [16]}, "b": {"shape": [16]}},
        "regions": {"V1": {"kind": "predictive", "hypotheses": 8, "inputs": ["a", "b"], "competition": "lateral",
                           "precision": 2.0, "lr": 0.0, "learn_precision": learn_precision, **region}},
        "settle": {"steps": 30, "tol": 0},
    })


def measured_variances(model, result, stimuli):
    """The mean squared prediction error on each input's columns, from the settled state, by hand."""
    region = model.regions["V1"]
    pred = np.asarray(result._device.states[0].pred)
    X = np.concatenate([stimuli["a"], stimuli["b"]], axis=1)
    r2 = np.mean((X - pred) ** 2, axis=0)
    return np.array([r2[:16].mean(), r2[16:].mean()]), region


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_each_connection_learns_the_inverse_of_its_own_error_variance(backend):
    """At rate 1 one update sets each connection's precision to 1 / its measured error variance; the noisier input
    gets the lower precision (a broken update, or one shared by the connections, fails)."""
    model = cortex.Model(graph({"rate": 1.0}, backend=backend))
    assert model.regions["V1"].link_precisions() == pytest.approx([2.0, 2.0])      # starts where the graph says
    stimuli = {"a": CLEAN, "b": CLEAN + RNG.normal(0, 1.0, CLEAN.shape).astype(np.float32)}
    result = model.settle(stimuli)
    var, region = measured_variances(model, result, stimuli)
    model.learn(result)
    got = region.link_precisions()
    assert got == pytest.approx(list(1.0 / var), rel=1e-4)
    assert got[0] > 2 * got[1]
    assert float(np.asarray(region.pi).max()) == pytest.approx(region.pi_max)


def test_the_running_mean_moves_at_its_rate_and_stays_inside_the_bounds():
    model = cortex.Model(graph({"rate": 0.25, "max": 3.0}))
    stimuli = {"a": CLEAN, "b": CLEAN}
    result = model.settle(stimuli)
    var, region = measured_variances(model, result, stimuli)
    model.learn(result)
    expect = 0.75 * 0.5 + 0.25 * var            # the variance starts at 1 / precision = 0.5
    assert region.link_precisions() == pytest.approx(list(np.minimum(1.0 / expect, 3.0)), rel=1e-4)
    for _ in range(30):
        model.learn(model.settle(stimuli))
    assert max(region.link_precisions()) == pytest.approx(3.0)       # the fit is good: held at max


def test_without_it_precisions_stay_as_written_and_learning_changes_nothing_else():
    fixed, learned = cortex.Model(graph(None, lr=0.05)), cortex.Model(graph({"rate": 1.0}, lr=0.05))
    stimuli = {"a": CLEAN, "b": CLEAN}
    r_fixed, r_learned = fixed.settle(stimuli), learned.settle(stimuli)
    np.testing.assert_array_equal(r_fixed.energy, r_learned.energy)       # the same start, the same settle
    fixed.learn(r_fixed)
    learned.learn(r_learned)
    assert fixed.regions["V1"].link_precisions() == [2.0, 2.0]
    np.testing.assert_array_equal(fixed.regions["V1"].weights["W"], learned.regions["V1"].weights["W"])
    assert learned.regions["V1"].link_precisions() != [2.0, 2.0]


def test_a_checkpoint_keeps_the_learned_precisions(tmp_path):
    model = cortex.Model(graph({"rate": 1.0}))
    stimuli = {"a": CLEAN, "b": CLEAN * 0.5}
    model.learn(model.settle(stimuli))
    model.save(tmp_path / "m.npz")
    back = cortex.load_checkpoint(tmp_path / "m.npz")
    assert back.regions["V1"].link_precisions() == model.regions["V1"].link_precisions()
    assert back.regions["V1"].pi_max == model.regions["V1"].pi_max
    np.testing.assert_array_equal(back.settle(stimuli).energy, model.settle(stimuli).energy)


def test_the_health_record_names_each_connection_precision(tmp_path):
    from cortex.health import region_health

    model = cortex.Model(graph({"rate": 1.0}))
    model.learn(model.settle({"a": CLEAN, "b": CLEAN}))
    health = region_health(model, model.settle({"a": CLEAN, "b": CLEAN}))
    assert set(health["V1"]["precisions"]) == {"a", "b"}
    assert list(health["V1"]["precisions"].values()) == model.regions["V1"].link_precisions()
    assert "noise_var" not in health["V1"]["weight_norms"]


def test_bad_settings_are_refused_with_the_key():
    with pytest.raises(cortex.CortexError, match="learn_precision"):
        graph({"min": 10.0, "max": 1.0})
    with pytest.raises(cortex.CortexError, match="learn_precision.rate"):
        graph({"rate": 2.0})
    with pytest.raises(cortex.CortexError, match="recruit"):
        spec_from_dict({"name": "r", "inputs": {"x": {"shape": [4]}, "y": {"shape": [3]}},
                        "regions": {"IT": {"kind": "predictive", "hypotheses": 3, "inputs": ["x"], "teacher": "y",
                                           "competition": "softmax", "learn_precision": True,
                                           "recruit": {"max_hypotheses": 8}}}})


def test_a_perfect_fit_holds_the_precision_at_max_without_a_warning(recwarn):
    model = cortex.Model(graph({"rate": 1.0, "max": 50.0}))
    model.regions["V1"].weights["noise_var"][...] = 0.0         # as if every error were exactly zero
    model.regions["V1"].weights_changed()
    assert model.regions["V1"].link_precisions() == [50.0, 50.0]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_regions_learning_their_precisions_settle_as_the_reference_loop_does():
    """Two regions of one shape, each learning its own precisions, share a group in the engine's fast path: after a few
    updates their per-column precisions differ (each reads the noisy input on other columns), and the engine must
    still settle each at its own (the reference loop steps region by region, the equations as first written)."""
    from cortex.bench.reference import settle_reference
    from cortex.bench.runner import prepared
    from cortex.regions.predictive.grouped import LinearGroup

    spec = spec_from_dict({
        "name": "lp-pair", "seed": 2,
        "inputs": {"a": {"shape": [16]}, "b": {"shape": [16]}},
        "regions": {name: {"kind": "predictive", "hypotheses": 8, "inputs": inputs, "competition": "lateral",
                           "precision": 2.0, "lr": 0.1, "learn_precision": {"rate": 0.5}}
                    for name, inputs in (("L", ["a", "b"]), ("R", ["b", "a"]))},
        "settle": {"steps": 20, "tol": 0},
    })
    model = cortex.Model(spec)
    noisy = {"a": CLEAN, "b": CLEAN + np.random.default_rng(5).normal(0, 0.5, CLEAN.shape).astype(np.float32)}
    for _ in range(3):
        model.learn(model.settle(noisy))
    left, right = model.regions["L"].link_precisions(), model.regions["R"].link_precisions()   # in input order
    assert left[0] > 1.5 * left[1] and right[1] > 1.5 * right[0], (left, right)   # b is the noisy input, in each
    groups = [blk.members for blk in prepared(model, noisy).schedule if isinstance(blk, LinearGroup)]
    assert sorted(map(sorted, groups)) == [[0, 1]], groups                 # the fast path: one group of both
    r = model.settle(noisy, steps=15)
    ref = settle_reference(model, noisy, 15)
    for j, name in enumerate(model.regions):
        np.testing.assert_allclose(r.activity[name], np.asarray(ref.device.states[j].a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.energy, np.asarray(ref.per_step).sum(axis=1), rtol=1e-5)
