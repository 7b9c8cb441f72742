"""Conformance suite: promises every region kind, and every configuration of the predictive kind, must keep.

Each case is a small region graph. For each: parameters round-trip and bad ones are refused with a
SpecError; the same seed gives bit-identical results; without noise and adaptation settling never
raises the energy (also after learning); the derivatives a region sends to its sources are the true
derivatives of its energy; NumPy and ``array_api_strict`` agree. The last tests check the dynamics: with
adaptation and noise, two equally supported hypotheses alternate (rivalry), and without adaptation
they do not; white noise is Langevin (its spread follows the energy's curvature, not the step size),
coloured noise (``noise_tau``) is a slow drive, and fatigue divides a hypothesis' gain.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from cortex.errors import SpecError
from cortex.model import Model
from cortex.regions import known_kinds
from cortex.spec import load_spec, spec_from_dict

BATCH = 16
HEAD = "name: conformance\nseed: 3\n"
RETINA = "inputs:\n  retina: {shape: [8, 8]}\n"

# (a)-(f) from the brief, plus (g): every kind of undelayed context coupling and a delayed self-context.
CONFIGS = {
    "a-lateral": RETINA + """
regions:
  V1: {kind: predictive, hypotheses: 16, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.05, lr: 0.1}
""",
    "b-none": RETINA + """
regions:
  V1: {kind: predictive, hypotheses: 16, inputs: [retina], competition: none, sparsity: 0.02, lr: 0.1}
""",
    "c-softmax": RETINA + """
regions:
  IT: {kind: predictive, hypotheses: 6, inputs: [retina], competition: softmax, precision: 4.0, temperature: 0.7, lr: 0.1}
""",
    "d-softmax-factors-cauchy": RETINA + """
regions:
  IT: {kind: predictive, hypotheses: 6, inputs: [retina], competition: softmax, factors: 3, error: cauchy,
       error_scale: 0.5, precision: 10.0, lr: 0.1}
""",
    "e-hierarchy": RETINA + """
regions:
  V1: {kind: predictive, hypotheses: 16, inputs: [retina], competition: lateral, inhibition: 0.1, sparsity: 0.02,
       lr: 0.1, context_precision: 2.0}
  IT: {kind: predictive, hypotheses: 5, inputs: [V1], competition: softmax, factors: 2, precision: 2.0, lr: 0.1}
connections:
  - {from: IT, to: V1, role: context, precision: 0.5}
  - {from: retina, to: IT, role: input, precision: 0.3}
""",
    "f-teacher": """
inputs:
  retina: {shape: [8, 8]}
  label: {shape: [4]}
regions:
  IT: {kind: predictive, hypotheses: 4, inputs: [retina], competition: softmax, factors: 2, teacher: label,
       precision: 5.0, lr: 0.1}
""",
    "g-context-mix": RETINA + """
regions:
  L1: {kind: predictive, hypotheses: 10, inputs: [retina], competition: none, lr: 0.3, sparsity: 0.01}
  L2: {kind: predictive, hypotheses: 6, inputs: [retina], competition: lateral, inhibition: 0.5, inhibition_lr: 0.1,
       lr: 0.3, context_precision: 4.0}
  S: {kind: predictive, hypotheses: 5, inputs: [retina], competition: softmax, factors: 1, lr: 0.3,
      context_precision: 3.0, precision: 3.0}
  T: {kind: predictive, hypotheses: 4, inputs: [L1, L2], competition: softmax, lr: 0.3, precision: 2.0, temperature: 0.5}
connections:
  - {from: L1, to: L2, role: context, precision: 2.0}
  - {from: L1, to: S, role: context, precision: 3.0}
  - {from: T, to: L1, role: context, precision: 1.0}
  - {from: S, to: L2, role: context, precision: 1.0}
  - {from: L2, to: L2, role: context, delay: 1}
""",
    "h-softmax-chain": RETINA + """
regions:
  A: {kind: predictive, hypotheses: 10, inputs: [retina], competition: softmax, factors: 2, precision: 3.0, lr: 0.3}
  B: {kind: predictive, hypotheses: 4, inputs: [A], competition: softmax, precision: 6.0, lr: 0.3, temperature: 0.5}
  C: {kind: predictive, hypotheses: 6, inputs: [retina], competition: none, lr: 0.3, lr_context: 1.0, context_precision: 3.0}
connections:
  - {from: B, to: C, role: context, precision: 3.0}
  - {from: A, to: C, role: context, precision: 3.0}
""",
}


def _minimal(kind: str) -> str:
    return RETINA + f"regions:\n  R: {{kind: {kind}, hypotheses: 5, inputs: [retina]}}\n"


CASES = {f"kind-{k}": _minimal(k) for k in known_kinds()} | CONFIGS


@pytest.fixture(autouse=True)
def _spiking_needs_brian2(request):
    """The spiking kind's cases skip with the reason when brian2 (the ``spiking`` extra) is absent."""
    callspec = getattr(request.node, "callspec", None)
    if callspec and callspec.params.get("case") == "kind-spiking":
        from cortex.brian import brian2_available

        if not brian2_available():
            pytest.skip("kind: spiking needs brian2 (pip install 'cortex-sim[spiking]')")


@pytest.fixture(scope="module")
def digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0)


def make_spec(case: str, dtype: str = "float32", **region_overrides):
    """The case's spec, with ``region_overrides`` applied to every region that has those parameters (validated)."""
    spec = load_spec(text=HEAD + CASES[case])
    data = spec.to_dict()
    data["dtype"] = dtype
    for name, p in spec.regions.items():
        for key, value in region_overrides.items():
            if key in type(p).model_fields:
                data["regions"][name][key] = value
    return spec_from_dict(data)


def calm(case, dtype="float32"):
    """No noise, no adaptation: the regime in which settling must be a descent."""
    return make_spec(case, dtype, noise=0.0, adaptation={"strength": 0.0, "tau": 20.0})


def lively(case, noise_tau: float = 0.0):
    """Noise and adaptation on: exercises the stochastic code paths (coloured noise with ``noise_tau``)."""
    return make_spec(case, noise=0.05, noise_tau=noise_tau, adaptation={"strength": 0.2, "tau": 10.0})


def stimuli(spec, digits, batch: int, i: int, train: bool = True):
    X, y = (digits.X_train, digits.y_train) if train else (digits.X_test, digits.y_test)
    sl = slice((batch * i) % (len(X) - batch), (batch * i) % (len(X) - batch) + batch)
    out = {"retina": X[sl].reshape(-1, 8, 8)}
    if "label" in spec.inputs:
        n = spec.inputs["label"].size
        out["label"] = np.eye(n, dtype=np.float32)[y[sl] % n]
    return out


def weights(model):
    b = model.backend
    return {f"{r}.{k}": b.to_numpy(v) for r, reg in model.regions.items() for k, v in reg.weights.items()}


def run_rounds(model, spec, digits, rounds, *, steps=15, record=False, noise=True, batch=BATCH):
    """settle + learn ``rounds`` times (each frame the past of the next); returns the results."""
    results, past = [], []
    for i in range(rounds):
        r = model.settle(stimuli(spec, digits, batch, i), steps=steps, tol=0, record=record, noise=noise, past=past)
        model.learn(r)
        results.append(r)
        past = [r]
    return results


def energy_trace(result):
    return np.r_[result.start_energy, result.energy]


# ------------------------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("case", CASES)
def test_params_round_trip(case):
    spec = load_spec(text=HEAD + CASES[case])
    for name, p in spec.regions.items():
        cls = type(p)
        assert cls.model_validate(p.model_dump()) == p
        assert cls.model_validate(p.model_dump(mode="json")) == p
        assert cls.model_validate(p.model_dump(by_alias=True)).model_dump() == p.model_dump()
    again = spec_from_dict(spec.to_dict())
    assert again == spec
    assert again.to_dict() == spec.to_dict()


GENERIC_BAD = [
    ("hypotheses: 0", "regions.R.hypotheses"),
    ("hypotheses: -3", "regions.R.hypotheses"),
    ("hypotheses: many", "regions.R.hypotheses"),
    ("hypothesis: 5", "regions.R.hypothesis"),          # unknown key (a typo)
]


@pytest.mark.parametrize("kind", known_kinds())
@pytest.mark.parametrize("bad,key", GENERIC_BAD)
def test_bad_generic_params_raise_spec_error(kind, bad, key):
    body = f"kind: {kind}, inputs: [retina], {bad}"
    if "hypotheses" not in bad:
        body += ", hypotheses: 5"
    with pytest.raises(SpecError) as info:
        load_spec(text=HEAD + RETINA + f"regions:\n  R: {{{body}}}\n")
    assert key in str(info.value)
    assert info.value.line == 6          # the line of the region in the YAML text


@pytest.mark.parametrize("kind", known_kinds())
def test_region_without_inputs_is_refused(kind):
    with pytest.raises(SpecError, match="inputs"):
        load_spec(text=HEAD + RETINA + f"regions:\n  R: {{kind: {kind}, hypotheses: 5, inputs: []}}\n")


PREDICTIVE_BAD = [
    "competition: max",
    "competition: lateral, factors: 2",           # factors need softmax
    "competition: softmax, inhibition: 0.5",      # inhibition needs lateral
    "competition: none, inhibition: 0.5",
    "factors: -1",
    "precision: 0",
    "precision: -1.0",
    "precision: .nan",
    "context_precision: -0.5",
    "temperature: 0",
    "error: laplace",
    "error_scale: 0",
    "sparsity: -0.1",
    "noise: -0.1",
    "noise_tau: -1.0",
    "lr: -0.01",
    "adaptation: {strength: -1.0}",
    "adaptation: {tau: 0.5}",
    "adaptation: {strenght: 0.5}",
    "init_scale: 0",
]


@pytest.mark.parametrize("bad", PREDICTIVE_BAD)
def test_bad_predictive_params_raise_spec_error(bad):
    text = HEAD + RETINA + f"regions:\n  R: {{kind: predictive, hypotheses: 5, inputs: [retina], {bad}}}\n"
    with pytest.raises(SpecError) as info:
        load_spec(text=text)
    assert info.value.key.startswith("regions.R"), info.value.key
    assert info.value.line == 6


# ------------------------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("noise_tau", [0.0, 5.0])
@pytest.mark.parametrize("case", CASES)
def test_same_seed_is_bit_identical(case, noise_tau, digits):
    spec = lively(case, noise_tau)
    runs = []
    for _ in range(2):
        model = Model(spec)
        results = run_rounds(model, spec, digits, 3, steps=10, record=True)
        runs.append((results, weights(model)))
    (ra, wa), (rb, wb) = runs
    for a, b in zip(ra, rb):
        for name in a.activity:
            np.testing.assert_array_equal(a.activity[name], b.activity[name])
            np.testing.assert_array_equal(a.trace[name], b.trace[name])
        np.testing.assert_array_equal(a.energy, b.energy)
        np.testing.assert_array_equal(a.stimulus_energy, b.stimulus_energy)
        assert a.start_energy == b.start_energy
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)

    # the seed is used: another seed gives other weights
    other = Model(spec_from_dict(spec.to_dict() | {"seed": 4}))
    run_rounds(other, spec, digits, 3, steps=10)
    wo = weights(other)
    assert any(not np.array_equal(wa[k], wo[k]) for k in wa)


# ------------------------------------------------------------------------------------------- descent

@pytest.mark.parametrize("case", CASES)
def test_energy_never_increases_without_noise_and_adaptation(case, digits):
    if case == "kind-spiking":
        pytest.skip("spiking activity is a sampled population rate: settling simulates spikes, it does not descend "
                    "the energy")
    spec = calm(case)
    model = Model(spec)
    before = weights(model)
    run_rounds(model, spec, digits, 6, steps=15)
    after = weights(model)
    assert any(not np.allclose(before[k], after[k]) for k in before), "learning changed no weight"
    held_out = stimuli(spec, digits, 32, 1, train=False)
    for rate in (spec.settle.rate, 1.0):
        r = model.settle(held_out, steps=40, rate=rate, tol=0, noise=False)
        e = energy_trace(r)
        assert np.all(np.isfinite(e))
        scale = np.max(np.abs(e))
        rises = np.diff(e)
        assert np.all(rises <= 1e-5 * scale), f"rate {rate}: energy rose by {rises.max()} (scale {scale})"
        assert e[-1] < e[0] - 1e-4 * scale, f"rate {rate}: settling did not lower the energy ({e[0]} -> {e[-1]})"
        # the reported energy is the mean over stimuli of the per-stimulus energy
        np.testing.assert_allclose(r.stimulus_energy.mean(), r.energy[-1], rtol=1e-5)
        np.testing.assert_allclose(sum(v[-1] for v in r.region_energy.values()), r.energy[-1], rtol=1e-5)


# ------------------------------------------------------------------------------------------- derivatives

def _numeric_grad(f, Z, h=1e-6):
    Z = np.array(Z, dtype=np.float64)
    out = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        out[idx] = (f(Zp) - f(Zm)) / (2 * h)
    return out


@pytest.mark.parametrize("case", CASES)
def test_gradients_sent_to_sources_are_derivatives_of_the_energy(case, digits):
    """What a region sends down (dE/dX) and to its context sources (dE/dY) must be its energy's true derivative."""
    spec = lively(case)
    spec = spec_from_dict(spec.to_dict() | {"dtype": "float64"})
    model = Model(spec)
    results = run_rounds(model, spec, digits, 3, steps=5, batch=3)   # learned V, L, M, F: not just the init
    d = results[-1]._device
    checked = 0
    for j, (name, region) in enumerate(model.regions.items()):
        state = d.states[j]
        X, Y = model._xy(j, d)
        g = model.backend.to_numpy(region.input_gradient(state, X))
        num = _numeric_grad(lambda Z: float(np.sum(region.energy(state, Z, Y))), X)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6 * np.abs(num).max(), err_msg=f"{name}: dE/dX")
        checked += 1
        if Y is not None:
            g = model.backend.to_numpy(region.context_gradient(state, Y))
            num = _numeric_grad(lambda Z: float(np.sum(region.energy(state, X, Z))), Y)
            assert np.abs(num).max() > 0 or case.startswith("kind-")
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6 * max(np.abs(num).max(), 1e-3),
                                       err_msg=f"{name}: dE/dY")
    assert checked == len(spec.regions)


def _power_max_eig(hvp, shape, shift, iters=60, seed=0):
    """Per stimulus, the largest eigenvalue of a symmetric Hessian given by ``hvp`` (power iteration on H + shift I)."""
    v = np.random.default_rng(seed).standard_normal(shape)
    for _ in range(iters):
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        w = hvp(v) + shift * v
        lam = np.sum(v * w, axis=1)
        v = w
    return lam - shift


@pytest.mark.parametrize("case", CASES)
def test_curvature_bounds_hold(case, digits):
    """input_curvature / context_curvature must bound the energy's Hessian in X / Y: sources size their steps by them."""
    spec = spec_from_dict(calm(case).to_dict() | {"dtype": "float64"})
    model = Model(spec)
    d = run_rounds(model, spec, digits, 4, steps=10, batch=4)[-1]._device
    b, h = model.backend, 1e-4
    for j, (name, region) in enumerate(model.regions.items()):
        state = d.states[j]
        X, Y = model._xy(j, d)
        pairs = [(lambda Z: b.to_numpy(region.input_gradient(state, b.asarray(Z))), b.to_numpy(X),
                  region.input_curvature(), "input")]
        if Y is not None:
            pairs.append((lambda Z: b.to_numpy(region.context_gradient(state, b.asarray(Z))), b.to_numpy(Y),
                          region.context_curvature(), "context"))
        for grad, Z0, bound, what in pairs:
            hvp = lambda v: (grad(Z0 + h * v) - grad(Z0 - h * v)) / (2 * h)
            lam = _power_max_eig(hvp, Z0.shape, shift=max(bound, 1.0))
            assert np.all(lam <= bound * (1 + 1e-4) + 1e-6), f"{name}: {what} curvature {lam.max()} > bound {bound}"


def _rho(r, p):
    if p.error == "gaussian":
        return 0.5 * r * r
    c2 = p.error_scale ** 2
    return 0.5 * c2 * np.log1p(r * r / c2)


def _assemble(spec, name, role, stimuli, activity, past_activity, batch):
    """A region's X or Y and its per-element precision, built from the spec alone (not from the model's slices)."""
    parts, prec = [], []
    for c in spec.sources(name, role):
        if c.source in spec.inputs:
            v = np.asarray(stimuli[c.source], np.float64).reshape(batch, -1)
        elif c.delay:
            v = (past_activity[c.source] if past_activity is not None
                 else np.zeros((batch, spec.regions[c.source].hypotheses)))
        else:
            v = activity[c.source]
        parts.append(np.asarray(v, np.float64))
        prec.append(np.full(v.shape[1], c.precision))
    if not parts:
        return None, None
    return np.concatenate(parts, axis=1), np.concatenate(prec)


def design_energy(model, result, stimuli, past=None):
    """(batch,) the energy of docs/model.md, recomputed in float64 NumPy from the weights and the settled state."""
    spec, b = model.spec, model.backend
    batch = next(iter(result.activity.values())).shape[0]
    act = {n: a.astype(np.float64) for n, a in result.activity.items()}
    past_act = None if past is None else past.activity
    total = np.zeros(batch)
    for j, (name, region) in enumerate(model.regions.items()):
        p, a = spec.regions[name], act[name]
        w = {k: b.to_numpy(v).astype(np.float64) for k, v in region.weights.items()}
        X, pi = _assemble(spec, name, "input", stimuli, act, past_act, batch)
        Y, c = _assemble(spec, name, "context", stimuli, act, past_act, batch)
        pi = pi * p.precision
        if p.competition == "softmax":
            z = result._device.states[j].z
            mu = w["M"][None] + (0 if z is None else np.einsum("bnk,nkd->bnd", b.to_numpy(z), w["F"]))
            e = np.sum(_rho(X[:, None, :] - mu, p) * pi, axis=-1)
            if z is not None:
                e = e + 0.5 * np.sum(b.to_numpy(z).astype(np.float64) ** 2, axis=-1)
            if Y is not None:
                u = (Y * c) @ w["V"]
                u = u - u.max(axis=1, keepdims=True)
                e = e - p.context_precision * (u - np.log(np.exp(u).sum(axis=1, keepdims=True)))
            total += np.sum(a * e, axis=1) + p.temperature * np.sum(a * np.log(np.maximum(a, 1e-300)), axis=1)
        else:
            E = np.sum(_rho(X - a @ w["W"], p) * pi, axis=1) + p.sparsity * np.abs(a).sum(axis=1)
            if Y is not None:
                E += 0.5 * p.context_precision * np.sum((a - (Y * c) @ w["V"]) ** 2, axis=1)
            if p.competition == "lateral":
                E += 0.5 * p.inhibition * np.einsum("bi,ij,bj->b", a, w["L"], a)
            total += E
    return total


@pytest.mark.parametrize("case", CONFIGS)
def test_energy_is_the_designed_energy(case, digits):
    """The energy settling reports is the sum of the terms written in docs/model.md (recomputed independently)."""
    spec = calm(case)
    model = Model(spec)
    results = run_rounds(model, spec, digits, 4, steps=10)
    s = stimuli(spec, digits, BATCH, 9)
    for past in (None, results[-1]):
        r = model.settle(s, steps=10, tol=0, noise=False, past=[past] if past else None)
        mine = design_energy(model, r, s, past)
        np.testing.assert_allclose(r.stimulus_energy, mine, rtol=2e-4, atol=1e-4 * np.abs(mine).max())
        np.testing.assert_allclose(r.energy[-1], mine.mean(), rtol=2e-4, atol=1e-4 * np.abs(mine).max())


@pytest.mark.parametrize("case", ["a-lateral", "b-none", "c-softmax", "d-softmax-factors-cauchy"])
def test_settling_converges_to_a_minimum_of_the_designed_energy(case, digits):
    """Long settling ends at a (KKT) stationary point of the energy in docs/model.md: the step follows its gradient."""
    spec = spec_from_dict(calm(case).to_dict() | {"dtype": "float64"})
    model = Model(spec)
    run_rounds(model, spec, digits, 4, steps=10)
    s = stimuli(spec, digits, 4, 11, train=False)
    r = model.settle(s, steps=600, rate=1.0, tol=0, noise=False)
    (name, region), = model.regions.items()
    p, b = spec.regions[name], model.backend
    a = r.activity[name]

    def E_of(a_new, z_new=None):
        fake = r.activity | {name: a_new}
        if z_new is not None:
            r._device.states[0].z, keep = b.asarray(z_new), r._device.states[0].z
            try:
                return design_energy(model, _Result(fake, r._device), s)
            finally:
                r._device.states[0].z = keep
        return design_energy(model, _Result(fake, r._device), s)

    if p.competition != "softmax":
        g = _numeric_grad(lambda A: float(E_of(A).sum()), a)
        scale = np.abs(_numeric_grad(lambda A: float(E_of(A).sum()), np.zeros_like(a))).max()
        active = a > 1e-8
        assert active.any()
        assert np.all(np.abs(g[active]) <= 1e-3 * scale), np.abs(g[active]).max() / scale
        assert np.all(g[~active] >= -1e-3 * scale), g[~active].min() / scale
    else:
        z = b.to_numpy(r._device.states[0].z) if r._device.states[0].z is not None else None
        # a is the Gibbs distribution of the hypotheses' energies
        e = np.stack([_hyp_energy(E_of, a, i, z) for i in range(a.shape[1])], axis=1)
        u = -e / p.temperature
        gibbs = np.exp(u - u.max(axis=1, keepdims=True))
        np.testing.assert_allclose(a, gibbs / gibbs.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
        if z is not None:   # every hypothesis' parameters are at the minimum of its own energy
            for i in range(a.shape[1]):
                gz = _numeric_grad(lambda Z: float(_hyp_energy(E_of, a, i, z, Z).sum()), z[:, i, :])
                assert np.abs(gz).max() < 1e-3 * (1 + np.abs(z[:, i, :]).max()), (i, np.abs(gz).max())


class _Result:
    """Just enough of a SettleResult for design_energy."""

    def __init__(self, activity, device):
        self.activity, self._device = activity, device


def _hyp_energy(E_of, a, i, z, z_i=None):
    """(batch,) e_i: the energy with all weight on hypothesis i, minus nothing (one-hot a has zero entropy)."""
    one = np.zeros_like(a)
    one[:, i] = 1.0
    if z is None:
        return E_of(one)
    z_new = z.copy()
    if z_i is not None:
        z_new[:, i, :] = z_i
    return E_of(one, z_new)


# ------------------------------------------------------------------------------------------- backends

@pytest.mark.parametrize("variant", ["calm", "lively", "coloured"])
@pytest.mark.parametrize("case", CASES)
def test_numpy_and_array_api_strict_agree(case, variant, digits):
    spec = {"calm": calm, "lively": lively, "coloured": lambda c: lively(c, noise_tau=5.0)}[variant](case)
    models = {b: Model(spec, backend=b) for b in ("numpy", "array_api_strict")}
    assert models["array_api_strict"].backend.xp.__name__ == "array_api_strict"
    res = {b: run_rounds(m, spec, digits, 3, steps=12, record=True) for b, m in models.items()}
    final = {b: m.settle(stimuli(spec, digits, BATCH, 0, train=False), steps=12, tol=0, noise=False)
             for b, m in models.items()}
    for rn, rs in zip(res["numpy"] + [final["numpy"]], res["array_api_strict"] + [final["array_api_strict"]]):
        scale = np.abs(energy_trace(rn)).max()
        np.testing.assert_allclose(rs.energy, rn.energy, rtol=1e-4, atol=1e-6 * scale)
        np.testing.assert_allclose(rs.start_energy, rn.start_energy, rtol=1e-4, atol=1e-6 * scale)
        np.testing.assert_allclose(rs.stimulus_energy, rn.stimulus_energy, rtol=1e-4, atol=1e-6 * scale)
        for name in rn.activity:
            assert rs.activity[name].dtype == rn.activity[name].dtype == np.float32
            assert type(rs.activity[name]) is np.ndarray
            np.testing.assert_allclose(rs.activity[name], rn.activity[name], rtol=1e-4, atol=1e-6, err_msg=name)
            if rn.trace is not None:
                np.testing.assert_allclose(rs.trace[name], rn.trace[name], rtol=1e-4, atol=1e-6, err_msg=name)
    wn, ws = weights(models["numpy"]), weights(models["array_api_strict"])
    for key in wn:
        np.testing.assert_allclose(ws[key], wn[key], rtol=1e-4, atol=1e-6, err_msg=key)


# ------------------------------------------------------------------------------------------- teacher

def test_teacher_clamps_activity_and_test_time_settles_freely(digits):
    spec = calm("f-teacher")
    model = Model(spec)
    run_rounds(model, spec, digits, 4)
    s = stimuli(spec, digits, BATCH, 7)
    r = model.settle(s, steps=20, tol=0, record=True)
    np.testing.assert_array_equal(r.activity["IT"], s["label"])
    assert np.all(r.trace["IT"] == s["label"][None])          # clamped at every step
    free = model.settle({"retina": s["retina"]}, steps=20, tol=0, noise=False)
    np.testing.assert_allclose(free.activity["IT"].sum(axis=1), 1.0, rtol=1e-5)   # a distribution over hypotheses
    assert np.all(free.activity["IT"] >= 0)
    assert not np.allclose(free.activity["IT"], s["label"])
    # the clamped state has the free one's energy or more: settling the free state searched for the minimum
    assert free.energy[-1] <= r.energy[-1] + 1e-5 * abs(r.energy[-1])


# ------------------------------------------------------------------------------------------- rivalry

RIVALRY = """
name: rivalry
seed: {seed}
inputs: {{eye: {{shape: [4]}}}}
regions:
  P: {{kind: predictive, hypotheses: 2, inputs: [eye], competition: lateral, inhibition: 2.0, noise: {noise},
      first_guess: false, adaptation: {{strength: {strength}, tau: 20}}}}
settle: {{steps: 2000, rate: 0.5, tol: 0}}
"""


def _dominance_runs(trace, margin=0.2):
    """Per stimulus, the lengths (in steps) of completed dominance periods; hysteresis ``margin`` ignores flicker."""
    diff = trace[:, :, 0] - trace[:, :, 1]
    out = []
    for b in range(diff.shape[1]):
        state, since, runs = 0, 0, []
        for t, v in enumerate(diff[:, b]):
            new = 1 if v > margin else -1 if v < -margin else state
            if new != state:
                if state:
                    runs.append(t - since)
                state, since = new, t
        out.append(runs)
    return out


def _rival(strength, noise, seed=0):
    model = Model(load_spec(text=RIVALRY.format(seed=seed, noise=noise, strength=strength)))
    # two orthogonal hypotheses; the input is both at once, equal evidence for each
    model.regions["P"].load_weights({"W": np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32)})
    x = np.tile(np.array([[1, 1, 0, 0]], np.float32), (8, 1))
    r = model.settle({"eye": x}, record=True)
    assert r.trace["P"].shape == (2001, 8, 2)
    return r.trace["P"]


def test_ambiguous_input_with_adaptation_and_noise_alternates():
    trace = _rival(strength=3.0, noise=0.1)
    runs = _dominance_runs(trace)
    switches = np.array([len(r) for r in runs])
    assert np.all(switches >= 10), switches                       # the winner changes many times in every trial
    durations = np.concatenate(runs)
    assert 5 < durations.mean() < 400, durations.mean()           # periods, not step-to-step flicker
    assert durations.std() > 0.05 * durations.mean()              # noise makes the periods vary
    # both interpretations get their turn, about equally (the evidence is equal)
    ahead = (trace[100:, :, 0] > trace[100:, :, 1]).mean()
    assert 0.3 < ahead < 0.7, ahead
    # one wins at a time: strong inhibition keeps the loser near zero while the other is up
    both_up = ((trace[100:, :, 0] > 0.3) & (trace[100:, :, 1] > 0.3)).mean()
    assert both_up < 0.2, both_up
    # different trials (noise streams) alternate on different schedules
    assert len({tuple(r[:5]) for r in runs}) > 1


def test_without_adaptation_one_interpretation_stays():
    runs = _dominance_runs(_rival(strength=0.0, noise=0.1))
    assert all(len(r) <= 1 for r in runs), [len(r) for r in runs]


def test_rivalry_is_reproducible():
    np.testing.assert_array_equal(_rival(3.0, 0.1, seed=2), _rival(3.0, 0.1, seed=2))
    assert not np.array_equal(_rival(3.0, 0.1, seed=2), _rival(3.0, 0.1, seed=3))


# ------------------------------------------------------------------------------------------- how noise and fatigue enter

ONE = """
name: one
seed: 5
inputs: {{x: {{shape: [4]}}}}
regions:
  P: {{kind: predictive, hypotheses: 1, inputs: [x], competition: none, first_guess: false, precision: {precision},
      noise: {noise}, noise_tau: {noise_tau}, adaptation: {{strength: {strength}, tau: 2}}}}
settle: {{steps: 3000, rate: 0.5, tol: 0}}
"""


def _one(precision=1.0, noise=0.0, noise_tau=0.0, strength=0.0, rate=0.5, drive=3.0, steps=3000, batch=64):
    """A single hypothesis with a unit field and input ``drive`` times that field: its activity over time."""
    model = Model(load_spec(text=ONE.format(precision=precision, noise=noise, noise_tau=noise_tau, strength=strength)))
    model.regions["P"].load_weights({"W": np.array([[1, 0, 0, 0]], np.float32)})
    x = np.tile(np.array([[drive, 0, 0, 0]], np.float32), (batch, 1))
    return model.settle({"x": x}, steps=steps, rate=rate, tol=0, record=True).trace["P"][:, :, 0]


@pytest.mark.parametrize("rate", [0.25, 1.0])
@pytest.mark.parametrize("precision", [1.0, 4.0])
def test_white_noise_is_langevin(precision, rate):
    """sqrt(eta) scaling: the spread around the minimum follows the energy's curvature k (Boltzmann: ~1/sqrt(k)),
    exactly sigma / sqrt(k (2 - rate)) for the discrete step, instead of being fixed per step whatever the energy."""
    a = _one(precision=precision, noise=0.3, rate=rate)[500:]
    np.testing.assert_allclose(a.mean(), 3.0, atol=0.02)
    np.testing.assert_allclose(a.std(), 0.3 / np.sqrt(precision * (2 - rate)), rtol=0.08)


def test_coloured_noise_is_a_slow_drive():
    """noise_tau > 0: an Ornstein-Uhlenbeck drive of standard deviation sigma and correlation time noise_tau steps."""
    a = _one(noise=0.3, noise_tau=20.0, rate=1.0)[200:] - 3.0     # rate 1, k 1: a follows its drive in one step
    np.testing.assert_allclose(a.std(), 0.3, rtol=0.1)
    lag = np.mean(a[20:] * a[:-20]) / np.mean(a * a)
    assert abs(lag - np.exp(-1.0)) < 0.1, lag
    white = _one(noise=0.3, rate=1.0)[200:] - 3.0
    assert abs(np.mean(white[20:] * white[:-20]) / np.mean(white * white)) < 0.05


@pytest.mark.parametrize("rate", [0.3, 1.0])
def test_fatigue_divides_the_gain(rate):
    """Fatigue h -> strength * a adds h a^2 / 2: the adapted activity solves a (1 + strength a) = drive at any rate."""
    a = _one(strength=1.0, rate=rate, steps=400, batch=2)[-1]
    np.testing.assert_allclose(a, (np.sqrt(13.0) - 1) / 2, rtol=1e-4)    # a^2 + a - 3 = 0
    np.testing.assert_allclose(_one(rate=rate, steps=400, batch=2)[-1], 3.0, rtol=1e-4)   # without fatigue: the drive


def test_cases_cover_the_brief():
    """Guard: the configurations above are the ones the conformance promises are about."""
    specs = {c: load_spec(text=HEAD + CONFIGS[c]) for c in CONFIGS}
    comp = {c: sorted({p.competition for p in s.regions.values()}) for c, s in specs.items()}
    assert comp["a-lateral"] == ["lateral"] and specs["a-lateral"].regions["V1"].inhibition > 0
    assert comp["b-none"] == ["none"]
    assert comp["c-softmax"] == ["softmax"] and specs["c-softmax"].regions["IT"].factors == 0
    d = specs["d-softmax-factors-cauchy"].regions["IT"]
    assert (d.factors, d.error) == (3, "cauchy")
    e = specs["e-hierarchy"]
    assert [(c.source, c.target, c.role, c.delay, c.precision) for c in e.connections][0] == ("IT", "V1", "context", 0, 0.5)
    assert specs["f-teacher"].regions["IT"].teacher == "label"
    assert "predictive" in known_kinds()
    assert list(itertools.chain(CASES))[: len(known_kinds())] == [f"kind-{k}" for k in known_kinds()]


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_softmax_settling_refines_the_first_guess_instead_of_replacing_it(rate, digits):
    """One step moves log a a fraction ``rate`` of the way to the minimiser: a mirror-descent step from the guess."""
    spec = calm("c-softmax")
    model = Model(spec)
    run_rounds(model, spec, digits, 3)
    x = stimuli(spec, digits, 64, 0, train=False)
    a0 = model.settle(x, steps=0).activity["IT"]
    a1 = model.settle(x, steps=1, rate=rate, tol=0).activity["IT"]
    full = model.settle(x, steps=1, rate=1.0, tol=0).activity["IT"]     # rate 1 jumps to the minimiser
    expected = np.exp((1 - rate) * np.log(a0) + rate * np.log(full))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(a1, expected, rtol=1e-3, atol=1e-6)
    assert np.abs(a1 - a0).sum() < np.abs(full - a0).sum()
