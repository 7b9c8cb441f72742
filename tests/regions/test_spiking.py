"""The spiking region kind (brian2): competition, learning and rivalry as spiking populations, on reduced runs.

Tests that simulate need brian2 (the extra ``spiking``) and are skipped with the reason when it cannot be
imported; they run on the numpy target (no compilation, so a fresh CI machine pays nothing extra).
"""
import sys

import numpy as np
import pytest
import yaml

import cortex
from cortex.regions.spiking.circuit import brian2_available
from cortex.errors import BackendError, CortexError
from cortex.model import Model
from cortex.spec import load_spec, spec_from_dict

NO_BRIAN2 = "brian2 cannot be imported here; install the extra: pip install 'cortex-sim[spiking]'"


def simulates(test):
    """Marks a test that runs brian2: marker ``spiking``, skipped with the reason when brian2 is absent."""
    return pytest.mark.spiking(pytest.mark.skipif(not brian2_available(), reason=NO_BRIAN2)(test))

SMALL = """
name: small
seed: {seed}
inputs:
  x: {{shape: [4]}}
  cue: {{shape: [2]}}
regions:
  P:
    kind: spiking
    hypotheses: 2
    inputs: [x]
    neurons: 20
    drive: {{rate: 200 Hz, weight: 4 mV, sources: 4}}
    inhibition: {inhibition}
    recurrent: {recurrent}
    neuron: {{noise: 2 mV, adaptation: 0.2 mV, adaptation_tau: 300 ms}}
    context_drive: 8 mV
    dt: 0.2 ms
    lr: {lr}
connections:
  - {{from: cue, to: P, role: context}}
settle: {{steps: 40, tol: 0}}
"""
DIRECT = "{mode: direct, strength: 3 mV, connectivity: 0.3}"
SHARED = "{mode: shared, neurons: 20, excitation: 2 mV, strength: 4 mV, connectivity: 0.3}"
FIELDS = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32)


def small(seed=0, inhibition=DIRECT, recurrent="{strength: 0 mV}", lr=0.0):
    model = Model(load_spec(text=SMALL.format(seed=seed, inhibition=inhibition, recurrent=recurrent, lr=lr)))
    model.regions["P"].load_weights({"W": FIELDS, "V": np.zeros((2, 2), np.float32)})
    return model


def stim(x, cue=(0.0, 0.0), batch=8):
    return {"x": np.tile(np.asarray(x, np.float32), (batch, 1)), "cue": np.tile(np.asarray(cue, np.float32), (batch, 1))}


def rivalry_data(**region):
    """The shipped spiking rivalry graph on the numpy target, without its experiment block."""
    data = yaml.safe_load(cortex.graph_path("rivalry_spiking").read_text())
    experiment = data.pop("experiment")
    data["regions"]["P"].update({"target": "numpy", **region})
    return data, experiment


# ------------------------------------------------------------------------------------------- no brian2 needed

def test_shipped_graph_validates_and_names_units():
    data, _ = rivalry_data()
    p = spec_from_dict(data).regions["P"]
    assert (p.kind, p.hypotheses, p.inhibition.mode) == ("spiking", 2, "direct")
    assert p.neuron.adaptation_tau == "600 ms" and p.window == "10 ms"


def test_missing_brian2_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "brian2", None)           # import brian2 now raises ImportError
    from cortex.regions.spiking.circuit import resolve_target

    with pytest.raises(BackendError, match=r"pip install 'cortex-sim\[spiking\]'"):
        resolve_target("numpy")
    with pytest.raises(CortexError, match="kind: spiking needs brian2"):
        small()
    assert load_spec(text=SMALL.format(seed=0, inhibition=DIRECT, recurrent="{strength: 0 mV}", lr=0.0))   # validates


def test_cpp_standalone_is_refused_for_a_region_with_the_reason():
    with pytest.raises(Exception) as info:
        load_spec(text=SMALL.format(seed=0, inhibition=DIRECT, recurrent="{strength: 0 mV}", lr=0.0)
                  .replace("    lr: 0.0", "    lr: 0.0\n    target: cpp_standalone"))
    assert "regions.P.target" in str(info.value)


# ------------------------------------------------------------------------------------------- simulation

@pytest.mark.parametrize("inhibition,recurrent", [(DIRECT, "{strength: 0 mV}"),
                                                  (SHARED, "{strength: 2 mV, connectivity: 0.5}")])
@simulates
def test_the_better_explained_hypothesis_wins_and_suppresses_the_other(inhibition, recurrent):
    """Evidence is the match X . W_i; competition (direct or through the shared pool) silences the loser."""
    alone = small(inhibition=inhibition, recurrent=recurrent).settle(stim([0, 0.7, 0, 0]), record=True).trace["P"]
    model = small(inhibition=inhibition, recurrent=recurrent)
    r = model.settle(stim([1, 0.7, 0, 0]), record=True)
    assert r.trace["P"].shape == (41, 8, 2) and r.activity["P"].shape == (8, 2)
    assert r.activity["P"].dtype == np.float32
    mean = r.trace["P"][10:].mean(axis=0)                        # (trials, 2) rates in Hz after 100 ms
    assert np.all(mean[:, 0] > mean[:, 1]), mean
    assert mean[:, 0].mean() > 10                                  # a population rate in Hz
    assert mean[:, 1].mean() < 0.5 * alone[10:, :, 1].mean()       # competition, not just weaker drive
    assert np.all(r.winners("P") == 0)
    assert np.all(np.isfinite(r.energy)) and r.prediction["P"].shape == (8, 4)


@simulates
def test_context_biases_an_ambiguous_input():
    model = small()
    model.regions["P"].load_weights({"V": 3 * np.eye(2, dtype=np.float32)})
    for side in (0, 1):
        cue = np.eye(2)[side]
        trace = model.settle(stim([1, 1, 0, 0], cue), record=True).trace["P"][5:]
        ahead = (trace[..., side] > trace[..., 1 - side]).mean()
        assert ahead > 0.8, (side, ahead)


@simulates
def test_context_weights_learn_to_predict_the_rates():
    model = small()
    for _ in range(5):
        model.learn(model.settle(stim([1, 0.3, 0, 0], cue=(1, 0)), steps=15))
    V = model.regions["P"].weights["V"]
    assert V[0, 0] > 0.05 and V[0, 0] > 5 * abs(V[0, 1]), V
    np.testing.assert_array_equal(V[1], 0.0)             # the silent cue learns nothing


@simulates
def test_same_seed_same_spikes_and_global_random_state_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = small(seed=1).settle(stim([1, 1, 0, 0]), record=True).trace["P"]
    assert np.array_equal(np.random.get_state()[1], before)       # brian2's stream is the region's own
    np.random.seed(7)                                              # ... and the caller's state does not leak in
    b = small(seed=1).settle(stim([1, 1, 0, 0]), record=True).trace["P"]
    c = small(seed=2).settle(stim([1, 1, 0, 0]), record=True).trace["P"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.sum() > 0


@simulates
def test_two_spiking_models_interleaved_keep_their_own_streams():
    m1, m2 = small(seed=1), small(seed=1)
    r1 = m1.settle(stim([1, 1, 0, 0]), record=True).trace["P"]
    m2.settle(stim([0, 1, 0, 0]), steps=7)                         # another network runs in between
    r1b = m1.settle(stim([1, 1, 0, 0]), record=True).trace["P"]
    r2 = small(seed=1)
    r2.settle(stim([1, 1, 0, 0]))
    np.testing.assert_array_equal(r1b, r2.settle(stim([1, 1, 0, 0]), record=True).trace["P"])
    assert not np.array_equal(r1, r1b)                             # the second trial is a new draw


@simulates
def test_stdp_learns_the_taught_patterns_and_lr_zero_freezes():
    """Binocular training with the teacher: STDP turns random fields into the two gratings."""
    from cortex.stimuli.rivalry import binocular_training, gratings

    data, _ = rivalry_data()
    model = Model(spec_from_dict(data))
    patterns = gratings(8)
    target = np.concatenate([patterns, patterns], axis=1).reshape(2, -1)
    rng, eye = np.random.default_rng(0), np.eye(2, dtype=np.float32)

    def cosine():
        W = model.regions["P"].fields()
        return np.sum(W * target, axis=1) / np.linalg.norm(W, axis=1) / np.linalg.norm(target, axis=1)

    start = cosine()
    for _ in range(12):
        left, right, label = binocular_training(patterns, 32, rng)
        model.learn(model.settle({"left": left, "right": right, "percept": eye[label]}, steps=1))
    assert np.all(np.abs(start) < 0.3), start
    assert np.all(cosine() > 0.85), cosine()
    np.testing.assert_allclose(np.linalg.norm(model.regions["P"].fields(), axis=1), 1.0, rtol=1e-5)

    frozen = small(lr=0.0)
    r = frozen.settle(stim([1, 1, 0, 0]))
    frozen.learn(r)
    np.testing.assert_array_equal(frozen.regions["P"].fields(), FIELDS)


@simulates
def test_learning_uses_the_settle_it_is_given_even_after_another():
    model = small(lr=1.0)
    a = model.settle(stim([1, 0, 0, 0]))
    b = model.settle(stim([0, 1, 0, 0]))
    model.learn(a)        # a's STDP change was kept when b started: hypothesis 0 moves, not 1
    W = model.regions["P"].fields()
    assert abs(W[0, 0]) > 0.99 and W[1, 1] > 0.99
    model.learn(b)


@simulates
def test_a_predictive_region_reads_the_spiking_rates():
    text = """
name: stack
inputs: {x: {shape: [4]}}
regions:
  P: {kind: spiking, hypotheses: 2, inputs: [x], neurons: 20, dt: 0.2 ms, drive: {rate: 200 Hz, weight: 4 mV},
      inhibition: {mode: direct, strength: 3 mV, connectivity: 0.3}, recurrent: {strength: 0 mV}, feedback: 1 mV}
  T: {kind: predictive, hypotheses: 2, inputs: [P], competition: softmax, precision: 0.01}
settle: {steps: 20, tol: 0}
"""
    model = Model(load_spec(text=text))
    model.regions["P"].load_weights({"W": FIELDS})
    r = model.settle({"x": np.tile([[1, 0, 0, 0]], (4, 1)).astype(np.float32)}, record=True)
    assert r.trace["P"].shape == (21, 4, 2) and r.trace["T"].shape == (21, 4, 2)
    rates = r.trace["P"][5:].mean(axis=0)
    assert np.all(rates[:, 0] > rates[:, 1]), rates
    assert np.all(np.isfinite(r.energy))
    model.learn(r)


@simulates
def test_checkpoint_round_trip(tmp_path):
    model = small(lr=1.0)
    model.learn(model.settle(stim([1, 0, 0, 0])))
    model.save(tmp_path / "m.npz")
    again = cortex.load_checkpoint(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.regions["P"].fields(), model.regions["P"].fields())


@simulates
def test_winner_agrees_with_the_rate_engine_on_unambiguous_inputs():
    """The rate rivalry model is trained as `cortex run rivalry` trains it; its fields are copied into the
    spiking region; both see the same unambiguous presentations (both eyes one grating, contrast 0.3-1)."""
    from cortex.experiments.rivalry import Rivalry
    from cortex.stimuli.rivalry import binocular_training

    rate_spec = cortex.load_spec(cortex.graph_path("rivalry"))
    experiment = Rivalry(rate_spec, rate_spec.experiment.model_copy(update={"train_batches": 10}))
    patterns = experiment.patterns()
    rate = Model(rate_spec)
    W, _ = experiment.train_gratings(rate, patterns, np.random.default_rng(0))
    spiking = Model(spec_from_dict(rivalry_data()[0]))
    spiking.regions["P"].load_weights({"W": W})
    left, right, label = binocular_training(patterns, 48, np.random.default_rng(1), contrast=(0.3, 1.0))
    stimuli = {"left": left, "right": right}
    rate_winner = rate.settle(stimuli, steps=200, tol=0).winners("P")
    spiking_winner = spiking.settle(stimuli, steps=30, tol=0).winners("P")
    assert (rate_winner == label).mean() >= 0.95
    assert (spiking_winner == rate_winner).mean() >= 0.95


@simulates
@pytest.mark.slow
def test_rivalry_alternates_with_human_like_duration_statistics(tmp_path):
    """The rivalry experiment on the spiking graph (reduced: 12 trials of 6 s): learned fields, alternation,
    CV in the band of the rate version and of human observers, right-skewed gamma-like durations."""
    from cortex.experiments.rivalry import HUMAN_CV, Rivalry
    from cortex.experiments.rivalry import Params as RivalryParams

    data, experiment = rivalry_data()
    experiment.update(trials=12, steps=600)
    spec = spec_from_dict(data)
    results = Rivalry(spec, RivalryParams.model_validate(experiment)).run(tmp_path, progress=False)
    assert min(results["learned_field_cosine"]) > 0.9
    assert results["switches_per_trial"] >= 8
    st = results["durations"]
    assert st["n"] >= 80
    assert HUMAN_CV[0] - 0.05 <= st["cv"] <= HUMAN_CV[1] + 0.05, st["cv"]
    assert st["skewness"] > 0.3 and st["gamma"]["shape"] > 1.5
    assert 0.3 < results["predominance_left"] < 0.7
    assert results["mixed_fraction"] < 0.1
    assert results["seconds_per_step"] == pytest.approx(0.010)                 # one 10 ms window per step
    assert f"mean duration {st['mean'] * 10:.0f} ms" in Rivalry.summary(results)
