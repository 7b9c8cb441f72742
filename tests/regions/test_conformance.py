"""Conformance: promises every region kind, and every configuration of the predictive kind, must keep.

The generic promises are the public :mod:`cortex.testing` checks: every kind passes
:func:`~cortex.testing.check_region_kind` (alone, and below, above and beside another kind), and every
predictive configuration below passes the same checks as a graph of its own. For each: parameters round-trip
and bad ones are refused with a SpecError; the same seed gives bit-identical results; without noise and
adaptation settling never raises the energy (also after learning); the derivatives a region sends to its
sources are the true derivatives of its energy; NumPy and ``array_api_strict`` agree. The tests after them
check the predictive kind's energy and dynamics: with adaptation and noise, two equally supported hypotheses
alternate (rivalry), and without adaptation they do not; white noise is Langevin (its spread follows the
energy's curvature, not the step size), coloured noise (``noise_tau``) is a slow drive, and fatigue divides a
hypothesis' gain.
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex import testing
from cortex.errors import SpecError
from cortex.model import Model
from cortex.regions import get_kind, known_kinds
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


CASES = CONFIGS
# extra YAML keys for a kind's region in the public check: the spiking kind at a coarser clock and smaller
# populations, so its 28 checks cost seconds (its shipped defaults run in tests/regions/test_spiking.py)
CHECK_PARAMS = {"spiking": "neurons: 20, dt: 0.5 ms"}


def _kind_checks():
    out = []
    for kind in known_kinds():
        marks = []
        if kind == "spiking":
            from cortex.regions.spiking.circuit import brian2_available
            marks = [pytest.mark.spiking, pytest.mark.skipif(not brian2_available(),
                                                             reason="kind: spiking needs brian2 (pip install 'cortex-sim[spiking]')")]
        for check_id, check in testing.region_kind_checks(get_kind(kind), params=CHECK_PARAMS.get(kind, "")):
            out.append(pytest.param(check, id=f"{kind}-{check_id}", marks=marks))
    return out


@pytest.mark.parametrize("check", _kind_checks())
def test_every_kind_passes_the_public_check(check):
    """Each kind, alone and below / above / beside another kind: settle and learn, descend where promised,
    true derivatives, curvature bounds, determinism, NumPy and array_api_strict agree."""
    check()


@pytest.fixture(scope="module")
def digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0)


def spec_of(case: str) -> "NetworkSpec":   # noqa: F821
    return load_spec(text=HEAD + CASES[case])


def calm(case, dtype="float32"):
    """No noise, no adaptation: the regime in which settling must be a descent."""
    return testing.with_mode(spec_of(case), "calm", dtype)


def stimuli(spec, digits, batch: int, i: int, train: bool = True):
    return testing.stimuli(spec, batch, i, train)


weights = testing.weights
energy_trace = testing.energy_trace


def run_rounds(model, spec, digits, rounds, *, steps=15, record=False, noise=True, batch=BATCH):
    """settle + learn ``rounds`` times (each frame the past of the next); returns the results."""
    return testing.run_rounds(model, spec, rounds, steps=steps, record=record, noise=noise, batch=batch)


# ------------------------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("case", CASES)
def test_params_round_trip(case):
    testing.check_params_round_trip(spec_of(case))


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


# ------------------------------------------------------------------------------------------- the public checks

@pytest.mark.parametrize("noise_tau", [0.0, 5.0])
@pytest.mark.parametrize("case", CASES)
def test_same_seed_is_bit_identical(case, noise_tau):
    testing.check_deterministic(spec_of(case), "coloured" if noise_tau else "lively")


@pytest.mark.parametrize("case", CASES)
def test_energy_never_increases_without_noise_and_adaptation(case):
    assert testing.descends(spec_of(case))
    testing.check_settles_and_learns(spec_of(case))


@pytest.mark.parametrize("case", CASES)
def test_gradients_sent_to_sources_are_derivatives_of_the_energy(case):
    """What a region sends down (dE/dX) and to its context sources (dE/dY) must be its energy's true derivative."""
    testing.check_derivatives(spec_of(case), context_must_pull=True)


@pytest.mark.parametrize("case", CASES)
def test_curvature_bounds_hold(case):
    """input_curvature / context_curvature must bound the energy's Hessian in X / Y: sources size their steps by them."""
    testing.check_curvature_bounds(spec_of(case))


@pytest.mark.parametrize("variant", ["calm", "lively", "coloured"])
@pytest.mark.parametrize("case", CASES)
def test_numpy_and_array_api_strict_agree(case, variant):
    testing.check_array_api(spec_of(case), variant)


_numeric_grad = testing.numeric_grad


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
        p, a = region.p, act[name]          # precision: auto as the region resolved it
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
    # every kind is checked alone (what the kind-by-kind cases were) and placed with another kind
    ids = {p.id for p in _kind_checks()}
    for kind in known_kinds():
        for where in ("alone", "below-predictive", "above-predictive", "beside-predictive"):
            assert f"{kind}-settles-and-learns[{where}]" in ids and f"{kind}-derivatives[{where}]" in ids


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
