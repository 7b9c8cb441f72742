"""Grouped settling: regions of equal shape stepped together must give the numbers of one-at-a-time settling.

Also checks the engine against the reference loop (the equations as first written), the schedule's
promise (regions in one group share no energy term), weights staying in sync with learning and
``load_weights``, and that a steady-state step allocates no arrays.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from cortex.bench import workloads as W
from cortex.bench.reference import settle_reference
from cortex.bench.runner import bytes_per_step, prepared
from cortex.regions.predictive.grouped import LinearGroup
from cortex.model import Model
from cortex.schedule import coupled_pairs
from cortex.spec import load_spec, spec_from_dict

# four columns on one retina, each with its own context from IT: no two columns share an energy term,
# so they form one group of four; IT (softmax) steps through its own methods
COLUMNS = """
name: columns
seed: 1
inputs:
  retina: {{shape: [8, 8]}}
regions:
  C0: {{kind: predictive, hypotheses: 12, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.02,
       lr: 0.2, context_precision: 2.0, noise: {noise}, adaptation: {{strength: {strength}, tau: 10}}, error: {error}}}
  C1: {{kind: predictive, hypotheses: 12, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.02,
       lr: 0.1, context_precision: 2.0, noise: {noise}, adaptation: {{strength: {strength}, tau: 10}}, error: {error}}}
  C2: {{kind: predictive, hypotheses: 12, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.02,
       lr: 0.3, context_precision: 2.0, noise: {noise}, adaptation: {{strength: {strength}, tau: 10}}, error: {error}}}
  C3: {{kind: predictive, hypotheses: 12, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.02,
       lr: 0.2, context_precision: 2.0, noise: {noise}, adaptation: {{strength: {strength}, tau: 10}}, error: {error}}}
  IT: {{kind: predictive, hypotheses: 5, inputs: [C0, C1, C2, C3], competition: softmax, precision: 2.0, lr: 0.2}}
connections:
  - {{from: IT, to: C0, role: context, precision: 0.5}}
  - {{from: IT, to: C1, role: context, precision: 0.5}}
  - {{from: IT, to: C2, role: context, precision: 0.5}}
  - {{from: IT, to: C3, role: context, precision: 0.5}}
  - {{from: C0, to: C0, role: context, delay: 1, precision: 0.5}}
  - {{from: C1, to: C1, role: context, delay: 1, precision: 0.5}}
  - {{from: C2, to: C2, role: context, delay: 1, precision: 0.5}}
  - {{from: C3, to: C3, role: context, delay: 1, precision: 0.5}}
settle: {{steps: 12, rate: 0.5, tol: 0}}
"""


def columns(noise=0.0, strength=0.0, error="gaussian"):
    return load_spec(text=COLUMNS.format(noise=noise, strength=strength, error=error))


@pytest.fixture(scope="module")
def digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0)


def batch(digits, i, n=16):
    return {"retina": digits.X_train[n * i:n * (i + 1)].reshape(-1, 8, 8)}


def rounds(model, digits, k, steps=12):
    """settle + learn k times, each frame the past of the next; returns the results."""
    out, past = [], []
    for i in range(k):
        r = model.settle(batch(digits, i), steps=steps, tol=0, record=True, past=past)
        model.learn(r)
        out.append(r)
        past = [r]
    return out


def weights(model):
    b = model.backend
    return {f"{n}.{k}": b.to_numpy(v) for n, r in model.regions.items() for k, v in r.weights.items()}


def test_columns_form_one_group_of_four():
    m = Model(columns())
    groups = [blk for blk in m.compiled.schedule if isinstance(blk, LinearGroup)]
    assert [sorted(m.compiled.regions[j].name for j in g.members) for g in groups] == [["C0", "C1", "C2", "C3"]]
    assert len(m.compiled.schedule) == 2
    ungrouped = Model(columns(), group=False)
    assert len(ungrouped.compiled.schedule) == 5 and all(blk.G == 1 for blk in ungrouped.compiled.schedule)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("lively", [False, True])
@pytest.mark.parametrize("error", ["gaussian", "cauchy"])
def test_grouped_equals_ungrouped(backend, lively, error, digits):
    spec = columns(0.05, 0.3, error) if lively else columns(error=error)
    grouped, single = Model(spec, backend=backend), Model(spec, backend=backend, group=False)
    ra, rb = rounds(grouped, digits, 3), rounds(single, digits, 3)
    for a, b in zip(ra, rb):
        scale = np.abs(a.energy).max()
        np.testing.assert_allclose(a.energy, b.energy, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(a.stimulus_energy, b.stimulus_energy, rtol=1e-5, atol=1e-6 * scale)
        for name in a.activity:
            np.testing.assert_allclose(a.trace[name], b.trace[name], rtol=1e-5, atol=1e-6, err_msg=name)
    wa, wb = weights(grouped), weights(single)
    for key in wa:
        np.testing.assert_allclose(wa[key], wb[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # the noisy runs really are noisy and adapting: a different seed gives other activity
    if lively:
        other = Model(spec_from_dict(spec.to_dict() | {"seed": 9}), backend=backend)
        assert not np.allclose(rounds(other, digits, 1)[0].activity["C0"], ra[0].activity["C0"])


CASES = {
    "columns-lively": lambda: columns(0.05, 0.3),
    "w2-small": lambda: W.w2(regions=16, hypotheses=8, batch=4).spec,
    "w1-small": lambda: W.w1(batch=8, v1=16, v2=8).spec,
}


@pytest.mark.parametrize("case", CASES)
def test_engine_equals_reference_loop(case, digits):
    """The engine (schedule, caches, in-place buffers) settles to the reference loop's numbers, noise included."""
    spec = CASES[case]()
    m = Model(spec)
    if case == "w2-small":
        stim = W.w2(regions=16, hypotheses=8, batch=4).stimuli
    elif case == "w1-small":
        stim = {"retina": batch(digits, 0, 8)["retina"]}
    else:
        rounds(m, digits, 2)
        stim = batch(digits, 5)
    saved = [copy.deepcopy(r.generator.bit_generator.state) for r in m.noise_streams]
    r = m.settle(stim, steps=10, tol=0)
    for rng, st in zip(m.noise_streams, saved):
        rng.generator.bit_generator.state = st
    ref = settle_reference(m, stim, 10)
    device, per_step, final = ref.device, ref.per_step, ref.final
    b = m.backend
    ref_energy = b.to_numpy(per_step).sum(axis=1)
    scale = np.abs(ref_energy).max()
    np.testing.assert_allclose(r.energy, ref_energy, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(r.stimulus_energy, b.to_numpy(final), rtol=1e-5, atol=1e-6 * scale)
    for j, name in enumerate(m.regions):
        np.testing.assert_allclose(r.activity[name], b.to_numpy(device.states[j].a), rtol=1e-5, atol=1e-6)


def test_groups_hold_only_uncoupled_regions():
    m = Model(W.w2(regions=40, hypotheses=8, batch=2).spec)
    near = coupled_pairs(m.compiled.regions, m.compiled.index)
    seen = []
    for blk in m.compiled.schedule:
        for j in blk.members:
            assert not near[j] & set(blk.members), "two coupled regions in one group"
            seen.append(j)
    assert sorted(seen) == list(range(40))          # every region once per sweep
    # coupled regions keep the top-down order
    pos = {j: i for i, blk in enumerate(m.compiled.schedule) for j in blk.members}
    rank = {j: i for i, j in enumerate(m.compiled.down)}
    for j in range(40):
        for u in near[j]:
            assert (pos[j] < pos[u]) == (rank[j] < rank[u])


def test_weights_stay_in_sync(digits):
    m = Model(columns())
    group = next(blk for blk in m.compiled.schedule if isinstance(blk, LinearGroup))
    region = m.regions["C2"]
    rounds(m, digits, 1)                                    # learning replaced W; the next settle copies it in
    m.settle(batch(digits, 1), steps=1, tol=0)
    np.testing.assert_array_equal(group.stack["W"][group.members.index(m.compiled.index["C2"])], region.weights["W"])
    W_new = np.zeros_like(np.asarray(region.weights["W"]))
    W_new[:, 0] = 1.0
    region.load_weights({"W": W_new})
    r = m.settle(batch(digits, 1), steps=3, tol=0)
    np.testing.assert_array_equal(group.stack["W"][group.members.index(m.compiled.index["C2"])], W_new)
    # every hypothesis of C2 predicts only pixel 0 now: its prediction is zero elsewhere
    pred = np.asarray(r._device.states[m.compiled.index["C2"]].pred)
    assert np.all(pred[:, 1:] == 0) and np.any(pred[:, 0] != 0)
    # writing into a region's weights in place reaches the group (they are views of its stack)
    region.weights["W"][:, 1] = 0.5
    assert np.all(group.stack["W"][group.members.index(m.compiled.index["C2"])][:, 1] == 0.5)


def test_a_steady_step_allocates_no_arrays():
    wl = W.w2(regions=12, hypotheses=64, batch=32)
    m = Model(wl.spec)
    smallest = 32 * 64 * 4                                  # the smallest (batch, hypotheses) array in this graph
    extra = bytes_per_step(prepared(m, wl.stimuli).sweep)
    assert extra < smallest, f"a step allocated {extra} bytes"


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_grouped_equals_ungrouped_with_unequal_input_precisions(backend, digits):
    """Two inputs of different precision give each column a non-uniform pi, the grouped kernel's broadcast case."""
    data = columns().to_dict()
    data["inputs"]["eye"] = {"shape": [8, 8]}
    for name in ("C0", "C1", "C2", "C3"):
        data["connections"].append({"from": "eye", "to": name, "role": "input", "precision": 3.0})
    spec = spec_from_dict(data)
    grouped, single = Model(spec, backend=backend), Model(spec, backend=backend, group=False)
    assert any(isinstance(blk, LinearGroup) and blk.G == 4 for blk in grouped.compiled.schedule)
    x = batch(digits, 0)
    stimuli = {"retina": x["retina"], "eye": x["retina"][:, ::-1]}
    a, b = grouped.settle(stimuli, tol=0, record=True), single.settle(stimuli, tol=0, record=True)
    np.testing.assert_allclose(a.energy, b.energy, rtol=1e-5)
    for name in a.activity:
        np.testing.assert_allclose(a.trace[name], b.trace[name], rtol=1e-5, atol=1e-6, err_msg=name)
