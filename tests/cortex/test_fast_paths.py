"""Fast paths of the settle schedule give the numbers of the general paths they replace.

- :class:`~cortex.regions.predictive.softmax_block.SoftmaxBlock` (a softmax region without factors, stepped in place) against
  the region's own ``step``/``energy`` (:class:`~cortex.settle.Single`), with noise, adaptation, a
  non-uniform precision, a temperature, a teacher clamp, and learning between calls;
- the uniform lateral inhibition ``L = c (1 - I)`` of a :class:`~cortex.regions.predictive.grouped.LinearGroup`, taken as
  ``c (sum(a) - a)``, against the matmul ``a @ L``; an edited L must switch the shortcut off.
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex.bench import workloads as W
from cortex.regions.predictive.grouped import LinearGroup
from cortex.regions.predictive.softmax_block import SoftmaxBlock
from cortex.model import Model
from cortex.schedule import Single
from cortex.spec import spec_from_dict


@pytest.fixture(scope="module")
def digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0).X_train


def spec(noise=0.0, strength=0.0, teacher=False, temperature=1.0, factors=0, error="gaussian"):
    """V1 (lateral) -> IT (softmax), IT also sees the retina at another precision."""
    it = {"kind": "predictive", "hypotheses": 7, "inputs": ["V1"], "competition": "softmax",
          "precision": 2.0, "lr": 0.2, "temperature": temperature, "noise": noise,
          "adaptation": {"strength": strength, "tau": 10}, "factors": factors, "error": error}
    if teacher:
        it["teacher"] = "label"
    data = {"name": "fast", "seed": 3,
            "inputs": {"retina": {"shape": [8, 8]}} | ({"label": {"shape": [7]}} if teacher else {}),
            "regions": {"V1": {"kind": "predictive", "hypotheses": 24, "inputs": ["retina"], "competition": "lateral",
                               "inhibition": 0.3, "sparsity": 0.02, "lr": 0.1, "noise": noise,
                               "adaptation": {"strength": strength, "tau": 10}},
                        "IT": it},
            "connections": [{"from": "retina", "to": "IT", "role": "input", "precision": 0.5}],
            "settle": {"steps": 12, "rate": 0.5, "tol": 0, "start": "first_guess"}}
    return spec_from_dict(data)


def slow(model):
    """The same model with every SoftmaxBlock replaced by the region's own step."""
    model.compiled.schedule = [Single([blk.j], model.compiled.regions) if isinstance(blk, SoftmaxBlock) else blk
                               for blk in model.compiled.schedule]
    return model


def run(model, X, k=2, teacher=None):
    out = []
    for i in range(k):
        stim = {"retina": X[16 * i:16 * (i + 1)].reshape(-1, 8, 8)}
        if teacher is not None:
            stim["label"] = teacher[16 * i:16 * (i + 1)]
        r = model.settle(stim, steps=12, tol=0, record=True)
        model.learn(r)
        out.append(r)
    return out


def same(a, b):
    scale = np.abs(a.energy).max()
    np.testing.assert_allclose(a.energy, b.energy, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(a.stimulus_energy, b.stimulus_energy, rtol=1e-5, atol=1e-6 * scale)
    for name in a.trace:
        np.testing.assert_allclose(a.trace[name], b.trace[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("case", ["plain", "noise+adaptation", "temperature", "teacher", "cauchy", "factors",
                                  "factors+cauchy+teacher", "factors+noise+adaptation"])
def test_softmax_block_equals_the_regions_own_step(case, backend, digits):
    kw = {"plain": {}, "noise+adaptation": {"noise": 0.2, "strength": 0.4}, "temperature": {"temperature": 0.3},
          "teacher": {"teacher": True}, "cauchy": {"error": "cauchy"}, "factors": {"factors": 3},
          "factors+cauchy+teacher": {"factors": 3, "error": "cauchy", "teacher": True},
          "factors+noise+adaptation": {"factors": 2, "noise": 0.2, "strength": 0.4}}[case]
    fast, ref = Model(spec(**kw), backend=backend), slow(Model(spec(**kw), backend=backend))
    assert any(isinstance(blk, SoftmaxBlock) for blk in fast.compiled.schedule)
    assert not any(isinstance(blk, SoftmaxBlock) for blk in ref.compiled.schedule)
    teacher = np.eye(7, dtype=np.float32)[np.arange(64) % 7] if kw.get("teacher") else None
    for a, b in zip(run(fast, digits, teacher=teacher), run(ref, digits, teacher=teacher)):
        same(a, b)
    if teacher is None:    # the winners moved during settling: the check is not of a frozen state
        r = fast.settle({"retina": digits[:16].reshape(-1, 8, 8)}, steps=12, tol=0, record=True)
        assert np.abs(r.trace["IT"][-1] - r.trace["IT"][0]).max() > 1e-3


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_uniform_lateral_shortcut_equals_the_matmul(backend, digits, monkeypatch):
    fast, ref = Model(spec(), backend=backend), Model(spec(), backend=backend)
    monkeypatch.setattr(LinearGroup, "_uniform_lateral", lambda self: None, raising=True)
    r_ref = run(ref, digits, k=1)[0]
    monkeypatch.undo()
    r_fast = run(fast, digits, k=1)[0]
    group = next(blk for blk in fast.compiled.schedule if isinstance(blk, LinearGroup))
    assert group.c_lat == 1.0
    same(r_fast, r_ref)
    # a scaled uniform L uses the shortcut with that scale; an edited one falls back to the matmul,
    # and both give the reference loop's numbers
    from cortex.bench.reference import settle_reference
    stim = {"retina": digits[32:48].reshape(-1, 8, 8)}
    L = np.array(fast.regions["V1"].weights["L"])      # a copy: the weight is a view of the group stack
    for new, shortcut in ((0.5 * L, 0.5), (L + np.triu(np.full_like(L, 0.1), 1), None)):
        fast.regions["V1"].load_weights({"L": new})
        r = fast.settle(stim, steps=10, tol=0, noise=False)
        assert group.c_lat == shortcut
        reference = settle_reference(fast, stim, 10, noise=False)
        device, per_step = reference.device, reference.per_step
        b = fast.backend
        ref_energy = b.to_numpy(per_step).sum(axis=1)
        np.testing.assert_allclose(r.energy, ref_energy, rtol=1e-5, atol=1e-6 * np.abs(ref_energy).max())
        np.testing.assert_allclose(r.activity["V1"], b.to_numpy(device.states[0].a), rtol=1e-5, atol=1e-6)
    # an in-place edit of L (it is a view of the group's stack) is seen at the next settle call
    fast.regions["V1"].load_weights({"L": L})
    fast.settle(stim, steps=1, tol=0)
    assert group.c_lat == 1.0
    fast.regions["V1"].weights["L"][0, 1] = 2.0
    fast.settle(stim, steps=1, tol=0)
    assert group.c_lat is None


def test_w1_steady_step_allocates_no_arrays():
    """W1 (lateral V1, V2 and a softmax IT) at a small size: a steady step allocates less than one array."""
    from cortex.bench.runner import bytes_per_step, prepared
    wl = W.w1(batch=256, v1=64, v2=32)
    m = Model(wl.spec)
    assert any(isinstance(blk, SoftmaxBlock) for blk in m.compiled.schedule)
    extra = bytes_per_step(prepared(m, wl.stimuli).sweep)
    assert extra < 256 * 10 * 4, f"a step allocated {extra} bytes"      # IT's (batch, hypotheses) activity


def test_shipped_digits_graph_settles_as_before(digits):
    """The digits graph (factors 8, Cauchy error, teacher-clamped training) through the block equals the
    region's own step, in training (clamped) and at test time (free)."""
    from cortex import graph_path
    from cortex.spec import load_spec
    fast, ref = Model(load_spec(graph_path("digits"))), slow(Model(load_spec(graph_path("digits"))))
    assert any(isinstance(blk, SoftmaxBlock) for blk in fast.compiled.schedule)
    labels = np.eye(10, dtype=np.float32)[np.arange(64) % 10]
    for a, b in zip(run(fast, digits, teacher=labels), run(ref, digits, teacher=labels)):
        same(a, b)
    for a, b in zip(run(fast, digits, k=1), run(ref, digits, k=1)):
        same(a, b)
