"""Streams: frames settled one after another, state and past carried inside, forecasts on context alone."""
from __future__ import annotations

import numpy as np
import pytest

import cortex
from cortex.errors import CortexError
from cortex.model import Model
from cortex.spec import load_spec
from cortex.stimuli.sequences import symbol_patterns

CYCLE = """
name: cycle
seed: 3
inputs:
  retina: {shape: [4, 4]}
  name: {shape: [4]}
regions:
  S: {kind: predictive, hypotheses: 4, inputs: [retina], competition: softmax, teacher: name, precision: 4.0,
      lr: 0.4, lr_context: 1.0, context_precision: 1.0, init_scale: 0.05}
connections:
  - {from: S, to: S, role: context, delay: 1}
settle: {steps: 20, rate: 0.5, tol: 1.0e-6, check_every: 5}
"""

LINEAR = """
name: lin
seed: 1
inputs:
  retina: {shape: [6]}
regions:
  V1: {kind: predictive, hypotheses: 5, inputs: [retina], competition: lateral, inhibition: 0.3, sparsity: 0.05,
       lr: 0.1, lr_context: 0.05}
  V2: {kind: predictive, hypotheses: 3, inputs: [V1], competition: softmax, lr: 0.1}
connections:
  - {from: V1, to: V1, role: context, delay: 1}
  - {from: V2, to: V1, role: context, delay: 2}
settle: {steps: 15, rate: 0.5, tol: 0}
"""


def cyclic_frames(frames, batch, seed=0):
    """Four patterns shown in the order 0 1 2 3 0 1 ..., each stream from its own starting place."""
    rng = np.random.default_rng(seed)
    P = symbol_patterns(4, rng, size=4, on=5)
    start = rng.integers(4, size=batch)
    idx = (start[None, :] + np.arange(frames)[:, None]) % 4
    return P, idx, P[idx], np.eye(4, dtype=np.float32)[idx]


def trained_cycle(frames=60, batch=8):
    model = Model(load_spec(text=CYCLE), batch=batch)
    P, idx, X, names = cyclic_frames(frames, batch)
    model.run_stream({"retina": X, "name": names}, learn=True)
    return model, P


def nearest(P, images):
    return np.argmin(((images[..., None, :] - P) ** 2).sum(-1), axis=-1)


# ----- forecasting -----------------------------------------------------------------------------------------

def test_forecast_rolls_the_learned_cycle_forward_on_its_own_predictions():
    model, P = trained_cycle()
    stream = model.stream(batch=4, noise=False)
    _, idx, _, _ = cyclic_frames(3, 4, seed=9)
    stream.run({"retina": P[idx]})
    ahead = stream.forecast(6)
    assert ahead.input_forecast["retina"].shape == (6, 4, 4, 4)
    guessed = nearest(P, ahead.input_forecast["retina"].reshape(6, 4, 16))
    truth = (idx[-1][None, :] + np.arange(1, 7)[:, None]) % 4
    assert (guessed == truth).all()
    # a model that learned nothing about the order (no context learning) cannot do it
    blank = Model(load_spec(text=CYCLE.replace("lr_context: 1.0", "lr_context: 0.0")), batch=8)
    _, idx8, X8, names8 = cyclic_frames(60, 8)
    blank.run_stream({"retina": P[idx8], "name": names8}, learn=True)
    s2 = blank.stream(batch=4, noise=False)
    s2.run({"retina": P[idx]})
    wrong = nearest(P, s2.forecast(6).input_forecast["retina"].reshape(6, 4, 16))
    assert (wrong == truth).mean() < 0.6


def test_forecast_leaves_the_stream_as_it_was():
    model, P = trained_cycle()
    _, idx, _, _ = cyclic_frames(8, 4, seed=5)
    X = P[idx]
    a, b = model.stream(batch=4), model.stream(batch=4)
    a.run({"retina": X[:4]})
    b.run({"retina": X[:4]})
    a.forecast(3)
    ra, rb = a.run({"retina": X[4:]}), b.run({"retina": X[4:]})
    np.testing.assert_array_equal(ra.activity["S"], rb.activity["S"])
    assert a.frame == b.frame == 8


def test_an_absent_input_adds_no_error_term_so_the_state_is_the_context_prior():
    model, P = trained_cycle()
    S = model.regions["S"]
    _, idx, _, _ = cyclic_frames(2, 4, seed=2)
    X = P[idx]
    first = model.settle({"retina": X[0]}, noise=False)
    alone = model.settle({}, absent=["retina"], past=[first], noise=False, steps=200, tol=0)
    V = model.backend.to_numpy(S.weights["V"])
    logits = first.activity["S"] @ V                      # cp = 1, context precision 1
    prior = np.exp(logits - logits.max(1, keepdims=True))
    prior /= prior.sum(1, keepdims=True)
    np.testing.assert_allclose(alone.activity["S"], prior, atol=1e-4)
    assert alone.region_energy["S"][-1] < first.region_energy["S"][-1]     # no input term left
    # and it predicts the next pattern
    assert (nearest(P, alone.prediction["S"]) == (idx[0] + 1) % 4).all()
    with pytest.raises(CortexError, match="absent=\\[...\\]"):
        model.settle({}, past=[first])


def test_forecasting_in_a_run_changes_nothing_else_and_scores_the_surprise():
    model, P = trained_cycle()
    _, idx, _, _ = cyclic_frames(10, 4, seed=4)
    X = P[idx]
    plain = model.stream(batch=4).run({"retina": X})
    told = model.stream(batch=4).run({"retina": X}, forecast=True)
    np.testing.assert_array_equal(plain.activity["S"], told.activity["S"])
    assert told.forecast["S"].shape == (10, 4, 16) and told.forecast_error["S"].shape == (10, 4)
    # after the first frame the cycle is known: the surprise falls far below the first frame's
    assert told.forecast_error["S"][2:].mean() < 0.1 * told.forecast_error["S"][0].mean()
    # an out-of-order frame is surprising
    odd = X.copy()
    odd[6] = P[(idx[6] + 2) % 4]
    bad = model.stream(batch=4).run({"retina": odd}, forecast=True)
    assert bad.forecast_error["S"][6].mean() > 10 * told.forecast_error["S"][6].mean()


# ----- past and delays -------------------------------------------------------------------------------------

def test_past_shorter_than_the_longest_delay_is_an_error_naming_it():
    model = Model(load_spec(text=LINEAR))
    x = np.random.default_rng(0).random((3, 6)).astype(np.float32)
    r = model.settle({"retina": x})
    with pytest.raises(CortexError, match=r"past holds 1 frame.*up to 2 frames back.*V2 -> V1, delay 2"):
        model.settle({"retina": x}, past=[r])
    with pytest.raises(ValueError):          # a CortexError is a ValueError too
        model.settle({"retina": x}, past=[r])
    model.settle({"retina": x}, past=[r, r])  # enough


def test_a_stream_equals_settles_chained_by_hand_with_past():
    """carry='slow' starts each frame from the first guess, as settle(start='first_guess') does: the stream is then
    exactly the loop a user would write with past=, learning included (a stream has no bottom-up start)."""
    spec = load_spec(text=LINEAR.replace("  - {from: V2, to: V1, role: context, delay: 2}\n", ""))
    x = np.random.default_rng(1).random((7, 3, 6)).astype(np.float32)
    by_hand = Model(spec)
    past, acts = [], []
    for t in range(7):
        r = by_hand.settle({"retina": x[t]}, past=past[-1:], start="first_guess")
        by_hand.learn(r)
        past.append(r)
        acts.append(np.stack([r.activity["V1"], r.prediction["V1"][:, :5]]))
    streamed = Model(spec).run_stream({"retina": x}, learn=True, carry="slow")
    got = np.stack([streamed.activity["V1"], streamed.prediction["V1"][:, :, :5]], axis=1)
    np.testing.assert_allclose(got, np.stack(acts), rtol=1e-5, atol=1e-7)


def test_frames_without_delays_and_memory_are_independent_settles():
    spec = load_spec(text=LINEAR.split("connections:")[0] + "settle: {steps: 15, rate: 0.5, tol: 0}\n")
    model = Model(spec)
    x = np.random.default_rng(2).random((5, 4, 6)).astype(np.float32)
    res = model.run_stream({"retina": x}, carry="slow")
    for t in range(5):
        one = model.settle({"retina": x[t]}, start="first_guess")
        np.testing.assert_array_equal(res.activity["V2"][t], one.activity["V2"])
        np.testing.assert_allclose(res.energy["V1"][t] + res.energy["V2"][t], one.stimulus_energy, rtol=1e-6)


def test_a_delayed_input_is_a_window_of_the_recent_frames():
    text = """
name: win
inputs:
  retina: {shape: [3]}
regions:
  M: {kind: predictive, hypotheses: 2, inputs: [retina], competition: softmax, lr: 0.0}
connections:
  - {from: retina, to: M, role: input, delay: 2}
settle: {steps: 2}
"""
    model = Model(load_spec(text=text))
    x = np.arange(5 * 1 * 3, dtype=np.float32).reshape(5, 1, 3)
    stream = model.stream(noise=False, carry="slow")
    stream.run({"retina": x})
    X, _ = model.compiled.inputs_of(0, stream._last)
    np.testing.assert_array_equal(X[0], np.concatenate([x[4, 0], x[2, 0]]))
    # by hand, past= carries the stimuli too: the same window, the same settled state
    r = [model.settle({"retina": x[t]}, noise=False) for t in range(4)]
    by_hand = model.settle({"retina": x[4]}, past=[r[2], r[3]], noise=False)   # oldest first
    np.testing.assert_allclose(by_hand.activity["M"], stream.states[0].a, rtol=1e-6)


# ----- state carried across frames ------------------------------------------------------------------------

RIVALRY = """
name: riv
seed: 4
inputs:
  left: {shape: [4]}
  right: {shape: [4]}
regions:
  P: {kind: predictive, hypotheses: 2, inputs: [left, right], competition: lateral, inhibition: 3.0,
      adaptation: {strength: 1.4, tau: TAU}, noise: 1.0, noise_tau: NOISE, lr: 0.0}
settle: {steps: STEPS, rate: 0.5, tol: 0}
"""


def rivalry(tau, noise_tau, steps, clock=""):
    model = Model(load_spec(text=RIVALRY.replace("TAU", tau).replace("NOISE", noise_tau).replace("STEPS", steps)
                            + clock))
    W = np.array([[1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1]], dtype=np.float32) / 2
    model.regions["P"].load_weights({"W": W})
    return model


def test_fatigue_and_slow_noise_carry_across_frames_like_one_long_settle():
    left = np.tile(np.array([1, 1, 0, 0], np.float32), (6, 1))
    right = np.tile(np.array([0, 0, 1, 1], np.float32), (6, 1))
    one = rivalry("20", "5", "400").settle({"left": left, "right": right}, record=True)
    # per settling step, 400 frames of one step each
    steps = rivalry("20", "5", "1").run_stream({"left": np.broadcast_to(left, (400, 6, 4)),
                                                "right": np.broadcast_to(right, (400, 6, 4))}, record=("activity",))
    np.testing.assert_array_equal(steps.activity["P"], one.trace["P"][1:])
    # the same in physical time: tau 200 ms and noise_tau 50 ms at 10 ms a frame are 20 and 5 frames
    clocked = rivalry("200 ms", "50 ms", "1", "time: {frame: 10 ms}\n")
    timed = clocked.run_stream({"left": np.broadcast_to(left, (400, 6, 4)),
                                "right": np.broadcast_to(right, (400, 6, 4))}, record=("activity",))
    # (a clocked region steps through its own methods, the per-step one through the fast path, fused on the CPU:
    # the same equations, equal to float32 rounding)
    np.testing.assert_allclose(timed.activity["P"], one.trace["P"][1:], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(timed.time[[0, -1]], [0.01, 4.0])
    # both interpretations take turns (the state really carries over: a fresh start each frame would not alternate)
    lead = np.argmax(timed.activity["P"], axis=-1)
    assert (np.diff(lead, axis=0) != 0).sum() >= 6


def test_clocked_fatigue_moves_once_per_frame_whatever_the_settling_budget():
    left = np.tile(np.array([1, 1, 0, 0], np.float32), (2, 1))
    right = np.zeros_like(left)
    frames = {"left": np.broadcast_to(left, (30, 2, 4)), "right": np.broadcast_to(right, (30, 2, 4))}
    few = rivalry("100 ms", "50 ms", "5", "time: {frame: 10 ms}\n").stream(noise=False)
    many = rivalry("100 ms", "50 ms", "50", "time: {frame: 10 ms}\n").stream(noise=False)
    few.run(frames)
    many.run(frames)
    h_few, h_many = (s.model.backend.to_numpy(s.states[0].h) for s in (few, many))
    # 30 frames of tau 10 frames: h = strength * a * (1 - 0.9^30) for a settled winner, in both
    np.testing.assert_allclose(h_few, h_many, rtol=0.05, atol=1e-3)
    assert h_few[:, 0].min() > 0.9 * 1.4 * (1 - 0.9 ** 30) * np.asarray(few.states[0].a)[:, 0].min()


def test_a_time_constant_with_a_unit_needs_a_frame_length():
    with pytest.raises(CortexError, match="time: {frame: 10 ms}"):
        load_spec(text=RIVALRY.replace("TAU", "2 s").replace("NOISE", "5").replace("STEPS", "1"))
    with pytest.raises(CortexError, match="tau"):
        load_spec(text=RIVALRY.replace("TAU", "2 mV").replace("NOISE", "5").replace("STEPS", "1"))


# ----- what users get wrong ----------------------------------------------------------------------------------

@pytest.mark.parametrize("frames, absent, fragment", [
    ({"retina": np.zeros((3, 2, 5))}, None, "expected an array of shape (frames, batch, 6)"),
    ({"retina": np.zeros((3, 2, 6)), "eye": np.zeros((3, 2, 6))}, None, "unknown input(s) ['eye']"),
    ({"retina": np.full((3, 2, 6), np.nan)}, None, "finite"),
    ({"retina": np.zeros((3, 2, 6))}, ["eye"], "not a sensor input"),
    ({"retina": np.zeros((3, 2, 6))}, {"retina": [True]}, "one boolean per frame (3)"),
])
def test_bad_frames_are_refused_with_what_was_expected(frames, absent, fragment):
    model = Model(load_spec(text=LINEAR))
    with pytest.raises(CortexError) as info:
        model.run_stream(frames, absent=absent)
    assert fragment in str(info.value)


def test_a_stream_keeps_its_batch_and_its_fields():
    model = Model(load_spec(text=LINEAR))
    stream = model.stream()
    stream.run({"retina": np.zeros((2, 3, 6), np.float32)})
    with pytest.raises(CortexError, match="batch of 3"):
        stream.run({"retina": np.zeros((2, 4, 6), np.float32)})
    with pytest.raises(CortexError, match="record names unknown"):
        model.stream(record=("activty",))
    res = model.run_stream({"retina": np.ones((4, 3, 6), np.float32)}, record=("activity", "energy"))
    assert set(res.activity) == {"V1", "V2"} and res.prediction == {} and res.winners("V2").shape == (4, 3)
    assert res.time is None and len(res) == 4 and list(res.frames) == [0, 1, 2, 3]


def test_streams_run_on_the_array_api_too():
    spec = load_spec(text=LINEAR)
    x = np.random.default_rng(3).random((4, 2, 6)).astype(np.float32)
    ref = Model(spec).run_stream({"retina": x}, learn=True)
    strict = Model(spec, backend="array_api_strict").run_stream({"retina": x}, learn=True)
    np.testing.assert_allclose(strict.activity["V1"], ref.activity["V1"], rtol=1e-4, atol=1e-5)
    assert cortex.Model is Model


def test_a_frame_without_its_input_is_filled_in_from_context():
    model, P = trained_cycle()
    _, idx, _, _ = cyclic_frames(5, 4, seed=6)
    gone = [False, False, True, False, False]
    res = model.stream(batch=4, noise=False).run({"retina": P[idx]}, absent={"retina": gone})
    assert np.isnan(res.prediction_error["S"][2]).all() and np.isfinite(res.prediction_error["S"][[0, 1, 3, 4]]).all()
    assert (nearest(P, res.prediction["S"][2]) == idx[2]).all()      # the missing frame, predicted
    assert (res.winners("S")[3:] == idx[3:]).all()                   # and the stream goes on as if it had been seen
