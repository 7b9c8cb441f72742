"""The numba-fused CPU kernels give the NumPy path's numbers, and the stream regions' fast path the region's own.

- fused (``CORTEX_FUSED`` on, numba installed) against NumPy (``CORTEX_FUSED=0``) over several region kinds and
  options: lateral and plain competition, context priors, Cauchy errors, white and coloured noise, fatigue, teacher
  clamps, softmax blocks with and without factors, learning between calls, a stream carrying state across frames;
- the fast paths, which now take the stream (W3) regions (coloured noise, teacher clamps; linear groups) and softmax
  regions with context (softmax blocks), against the region's own ``step`` (:class:`~cortex.schedule.Single`),
  fused, on NumPy and on ``array_api_strict``, in settle calls and along streams;
- a steady W3 step allocates no arrays.
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex.bench import workloads as W
from cortex.model import Model
from cortex.regions.predictive.grouped import LinearGroup
from cortex.regions.predictive.softmax_block import SoftmaxBlock
from cortex.schedule import Single
from cortex.spec import spec_from_dict

numba = pytest.importorskip("numba")


def rivalry(noise_tau=5.0, teacher=True, error="gaussian", competition="lateral"):
    """A small rivalry-like stream region: two eyes, coloured (or white) noise, fatigue, an optional teacher."""
    p = {"kind": "predictive", "hypotheses": 3, "inputs": ["left", "right"], "competition": competition,
         "precision": 1.0, "lr": 0.2, "adaptation": {"strength": 0.8, "tau": 15}, "noise": 0.5,
         "noise_tau": noise_tau, "error": error, "first_guess": False}
    if competition == "lateral":
        p["inhibition"] = 1.5
    if teacher:
        p["teacher"] = "percept"
    inputs = {"left": {"shape": [16]}, "right": {"shape": [16]}} | ({"percept": {"shape": [3]}} if teacher else {})
    return spec_from_dict({"name": "riv", "seed": 4, "inputs": inputs, "regions": {"P": p},
                           "settle": {"steps": 25, "rate": 0.5, "tol": 0}})


def columns(error="gaussian"):
    """Two lateral columns with context from a softmax top (adaptation, white noise), as W2 regions are."""
    col = {"kind": "predictive", "hypotheses": 9, "inputs": ["retina"], "competition": "lateral", "inhibition": 0.2,
           "sparsity": 0.02, "lr": 0.2, "context_precision": 1.5, "noise": 0.05, "error": error,
           "adaptation": {"strength": 0.3, "tau": 10}}
    top = {"kind": "predictive", "hypotheses": 4, "inputs": ["C0", "C1"], "competition": "softmax", "lr": 0.2,
           "noise": 0.1, "adaptation": {"strength": 0.2, "tau": 8}, "temperature": 0.5}
    return spec_from_dict({"name": "cols", "seed": 2, "inputs": {"retina": {"shape": [8, 8]}},
                           "regions": {"C0": col, "C1": col | {"lr": 0.1}, "IT": top},
                           "connections": [{"from": "IT", "to": "C0", "role": "context", "precision": 0.5},
                                           {"from": "IT", "to": "C1", "role": "context", "precision": 0.5}],
                           "settle": {"steps": 12, "rate": 0.5, "tol": 0}})


def hierarchy(competition="lateral", factors=0):
    """retina -> V1 -> IT: V1 reads the retina, IT (softmax, optionally with factors) V1's activity."""
    v1 = {"kind": "predictive", "hypotheses": 20, "inputs": ["retina"], "competition": competition, "sparsity": 0.02,
          "lr": 0.1}
    if competition == "lateral":
        v1["inhibition"] = 0.1
    it = {"kind": "predictive", "hypotheses": 5, "inputs": ["V1"], "competition": "softmax", "precision": 2.0,
          "lr": 0.1, "factors": factors}
    return spec_from_dict({"name": "h", "seed": 5, "inputs": {"retina": {"shape": [8, 8]}},
                           "regions": {"V1": v1, "IT": it}, "settle": {"steps": 12, "rate": 0.5, "tol": 0}})


def softmax_context(teacher=True, factors=0):
    """A softmax top with context from a column and from its own past frame, coloured noise and fatigue."""
    v1 = {"kind": "predictive", "hypotheses": 10, "inputs": ["retina"], "competition": "lateral", "inhibition": 0.2,
          "sparsity": 0.02, "lr": 0.1}
    it = {"kind": "predictive", "hypotheses": 3, "inputs": ["V1"], "competition": "softmax", "precision": 2.0,
          "lr": 0.2, "noise": 0.3, "noise_tau": 4, "adaptation": {"strength": 0.3, "tau": 6}, "temperature": 0.7,
          "factors": factors, "context_precision": 1.5}
    if teacher:
        it["teacher"] = "percept"
    inputs = {"retina": {"shape": [8, 8]}} | ({"percept": {"shape": [3]}} if teacher else {})
    return spec_from_dict({"name": "sc", "seed": 6, "inputs": inputs,
                           "regions": {"V1": v1, "C": v1 | {"lr": 0.2}, "P": it},
                           "connections": [{"from": "C", "to": "P", "role": "context", "precision": 0.5},
                                           {"from": "P", "to": "P", "role": "context", "delay": 1}],
                           "settle": {"steps": 12, "rate": 0.5, "tol": 0}})


def stimuli(spec, batch=12, seed=0, teacher=True):
    rng = np.random.default_rng(seed)
    out = {}
    for name, inp in spec.inputs.items():
        if name == "percept":
            if teacher:
                out[name] = np.eye(inp.size, dtype=np.float32)[np.arange(batch) % inp.size]
        else:
            out[name] = rng.random((batch, inp.size), dtype=np.float32)
    return out


def settle_rounds(model, spec, fused, monkeypatch, k=3):
    """settle (teacher-clamped first when the graph has one) and learn ``k`` times; returns the results."""
    monkeypatch.setenv("CORTEX_FUSED", "1" if fused else "0")
    out = []
    for i in range(k):
        r = model.settle(stimuli(spec, seed=i, teacher=i == 0), tol=0, record=True)
        model.learn(r)
        out.append(r)
    monkeypatch.delenv("CORTEX_FUSED")
    return out


def same(a, b, rtol=2e-5):
    scale = np.abs(a.energy).max()
    np.testing.assert_allclose(a.energy, b.energy, rtol=rtol, atol=rtol * scale)
    for name in a.trace:
        np.testing.assert_allclose(a.trace[name], b.trace[name], rtol=rtol, atol=1e-5, err_msg=name)


def jitted(model):
    return [blk.jit is not None for blk in model.compiled.schedule if isinstance(blk, (LinearGroup, SoftmaxBlock))]


CASES = {
    "w1-small": lambda: W.w1(batch=8, v1=16, v2=8).spec,
    "columns": columns,
    "columns-cauchy": lambda: columns("cauchy"),
    "rivalry-coloured-teacher": rivalry,
    "rivalry-white": lambda: rivalry(noise_tau=0.0),
    "rivalry-cauchy-none": lambda: rivalry(error="cauchy", competition="none"),
    "none+factors": lambda: hierarchy("none", factors=2),
    "softmax-context-coloured-teacher": softmax_context,
    "softmax-context-factors": lambda: softmax_context(teacher=False, factors=2),
}


@pytest.mark.parametrize("case", CASES)
def test_fused_equals_numpy(case, monkeypatch):
    spec = CASES[case]()
    fast, plain = Model(spec), Model(spec)
    ra = settle_rounds(fast, spec, True, monkeypatch)
    assert jitted(fast) and all(jitted(fast))
    rb = settle_rounds(plain, spec, False, monkeypatch)
    assert not any(jitted(plain))
    for a, b in zip(ra, rb):
        same(a, b)
    for name, region in fast.regions.items():
        for key, w in region.weights.items():
            np.testing.assert_allclose(np.asarray(w), np.asarray(plain.regions[name].weights[key]), rtol=2e-5,
                                       atol=1e-6, err_msg=f"{name}.{key}")


def slow(model):
    """The same model with every fast-path block replaced by its regions' own steps."""
    blocks = []
    for blk in model.compiled.schedule:
        if isinstance(blk, (LinearGroup, SoftmaxBlock)):
            blocks += [Single([j], model.compiled.regions) for j in blk.members]
        else:
            blocks.append(blk)
    model.compiled.schedule = blocks
    return model


@pytest.mark.parametrize("mode", ["fused", "numpy", "array_api_strict"])
@pytest.mark.parametrize("case", ["rivalry-coloured-teacher", "rivalry-white", "rivalry-cauchy-none",
                                  "softmax-context-coloured-teacher", "softmax-context-factors"])
def test_stream_regions_fast_path_equals_their_own_step(case, mode, monkeypatch):
    """The stream regions (coloured noise, teacher clamps) take the group fast path, and it gives the numbers of the
    region's own step: in plain settle calls and along a stream whose frames carry activity, fatigue and drive."""
    spec = CASES[case]()
    backend = "array_api_strict" if mode == "array_api_strict" else "numpy"
    fast, ref = Model(spec, backend=backend), slow(Model(spec, backend=backend))
    P = fast.compiled.index["P"]
    assert any(isinstance(blk, (LinearGroup, SoftmaxBlock)) and P in blk.members for blk in fast.compiled.schedule)
    assert all(isinstance(blk, Single) for blk in ref.compiled.schedule)
    fused = mode == "fused"
    for a, b in zip(settle_rounds(fast, spec, fused, monkeypatch), settle_rounds(ref, spec, fused, monkeypatch)):
        same(a, b)
    frames = {k: np.stack([v, v[::-1]]) for k, v in stimuli(spec, teacher=False).items()}
    monkeypatch.setenv("CORTEX_FUSED", "1" if fused else "0")
    sa = fast.run_stream(frames, steps=15)
    sb = ref.run_stream(frames, steps=15)
    for name in sb.activity:
        np.testing.assert_allclose(sa.activity[name], sb.activity[name], rtol=2e-5, atol=1e-5, err_msg=name)
    for key in sb.energy:
        e = np.asarray(sb.energy[key])
        np.testing.assert_allclose(sa.energy[key], e, rtol=2e-5, atol=1e-5 * np.abs(e).max(), err_msg=key)
    # noise and fatigue really act: the clamp is gone and the activity moves from frame to frame
    assert np.abs(sa.activity["P"][1] - sa.activity["P"][0]).max() > 1e-3


def test_w3_steady_step_allocates_no_arrays(monkeypatch):
    """W3 (the rivalry stream region: coloured noise, fatigue, lateral competition) steps without allocating."""
    from cortex.bench.runner import bytes_per_step, prepared
    wl = W.w3(batch=64, steps=10)
    for flag in ("1", "0"):
        monkeypatch.setenv("CORTEX_FUSED", flag)
        m = Model(wl.spec)
        assert all(isinstance(blk, LinearGroup) for blk in m.compiled.schedule)
        extra = bytes_per_step(prepared(m, wl.stimuli).sweep)
        # Python objects only (views, cache keys): the region's own step allocated 34 KB (noise, drive, energy)
        assert extra < 2048, f"a step allocated {extra} bytes (CORTEX_FUSED={flag})"


def test_switch_off_and_numba_missing_fall_back_to_numpy(monkeypatch):
    """``CORTEX_FUSED=0`` or no numba: the NumPy path runs (the switch is read when a settle call starts)."""
    import cortex.ops as ops_mod
    spec = CASES["w1-small"]()
    m = Model(spec)
    X = stimuli(spec)
    monkeypatch.setenv("CORTEX_FUSED", "0")
    off = m.settle(X, tol=0, noise=False)
    assert not any(jitted(m))
    monkeypatch.delenv("CORTEX_FUSED")
    monkeypatch.setattr(ops_mod, "_NUMBA", [False])
    missing = m.settle(X, tol=0, noise=False)
    assert not any(jitted(m))
    monkeypatch.setattr(ops_mod, "_NUMBA", [True])
    on = m.settle(X, tol=0, noise=False)
    assert all(jitted(m))
    np.testing.assert_array_equal(off.energy, missing.energy)
    np.testing.assert_allclose(on.energy, off.energy, rtol=2e-5)
