"""The conformance check for region kinds, in the spirit of scikit-learn's ``check_estimator``.

>>> from cortex.region import region_kinds
>>> from cortex.testing import check_region_kind
>>> check_region_kind(region_kinds.get("predictive"))          # doctest: +SKIP

A kind passes when, alone on a sensor and placed below, above and beside another kind in small graphs
(:func:`placements`), every check holds: parameters round-trip; the same seed gives bit-identical results and
another seed other ones; settling and learning stay finite and change the weights; where every kind in the
graph declares ``descends``, settling never raises the energy (also after learning); the derivatives a region
sends to its sources are its energy's true derivatives (finite differences); its curvature bounds hold; NumPy
and ``array_api_strict`` agree. Each check is also a function of a spec, so a test suite can run them over its
own graphs (``tests/regions/test_conformance.py`` does, and parametrizes over :func:`region_kind_checks`).

Stimuli are the 8x8 digits shipped with scikit-learn, on an input named ``retina``. A check raises an
``AssertionError`` that names what failed.
"""
from __future__ import annotations

import functools
from typing import Callable, Iterator

import numpy as np

from .model import Model
from .region import RegionKind, region_kinds
from .spec import NetworkSpec, load_spec, spec_from_dict

BATCH = 16
HEAD = "name: conformance\nseed: 3\ninputs:\n  retina: {shape: [8, 8]}\n"
MODES = ("calm", "lively", "coloured")
PARTNER = {"predictive": "competition: lateral, inhibition: 0.1, sparsity: 0.02, lr: 0.1"}


# ------------------------------------------------------------------------------------------- graphs and data

def placements(kind: str, partner: str = "predictive", params: str = "") -> dict[str, str]:
    """The graphs a kind is checked in (YAML text): ``R`` of ``kind`` alone, below (a ``partner`` region P reads
    R, and the retina at another precision), above (R reads P) and beside (both read the retina; each is the
    other's context, plus a delayed self-context of R). ``params``: extra YAML flow keys for R."""
    r = f"kind: {kind}, hypotheses: 5" + (f", {params}" if params else "")
    p = f"kind: {partner}, hypotheses: 6" + (f", {PARTNER[partner]}" if partner in PARTNER else "")
    return {
        "alone": f"regions:\n  R: {{{r}, inputs: [retina]}}\n",
        "below": f"regions:\n  R: {{{r}, inputs: [retina]}}\n  P: {{{p}, inputs: [R]}}\n"
                 "connections:\n  - {from: retina, to: P, role: input, precision: 0.3}\n",
        "above": f"regions:\n  P: {{{p}, inputs: [retina]}}\n  R: {{{r}, inputs: [P]}}\n",
        "beside": f"regions:\n  R: {{{r}, inputs: [retina]}}\n  P: {{{p}, inputs: [retina]}}\n"
                  "connections:\n  - {from: P, to: R, role: context, precision: 0.5}\n"
                  "  - {from: R, to: P, role: context, precision: 0.5}\n"
                  "  - {from: R, to: R, role: context, delay: 1}\n",
    }


def graph(body: str) -> NetworkSpec:
    """A spec from a graph body (``regions:`` and ``connections:`` YAML) on the 8x8 retina."""
    return load_spec(text=HEAD + body)


def with_mode(spec: NetworkSpec, mode: str, dtype: str | None = None) -> NetworkSpec:
    """``spec`` with every region's :meth:`~cortex.region.RegionKind.conformance_params` for ``mode`` applied."""
    data = spec.to_dict()
    if dtype:
        data["dtype"] = dtype
    for name, p in spec.regions.items():
        data["regions"][name].update(region_kinds.get(p.kind).conformance_params(mode))
    return spec_from_dict(data)


@functools.lru_cache(maxsize=1)
def _digits():
    from cortex.stimuli.digits import load_digit_split
    return load_digit_split(test_size=0.2, seed=0)


def stimuli(spec: NetworkSpec, batch: int, i: int, train: bool = True) -> dict:
    """Batch ``i`` of the digits (training or test images) for the spec's inputs (a ``label`` input gets one-hots)."""
    digits = _digits()
    X, y = (digits.X_train, digits.y_train) if train else (digits.X_test, digits.y_test)
    sl = slice((batch * i) % (len(X) - batch), (batch * i) % (len(X) - batch) + batch)
    out = {"retina": X[sl].reshape(-1, 8, 8)}
    if "label" in spec.inputs:
        n = spec.inputs["label"].size
        out["label"] = np.eye(n, dtype=np.float32)[y[sl] % n]
    return out


def weights(model) -> dict:
    b = model.backend
    return {f"{r}.{k}": b.to_numpy(v) for r, reg in model.regions.items() for k, v in reg.weights.items()}


def run_rounds(model, spec, rounds, *, steps=15, record=False, noise=True, batch=BATCH) -> list:
    """settle + learn ``rounds`` times (each frame the past of the next); returns the results."""
    results, past = [], []
    for i in range(rounds):
        r = model.settle(stimuli(spec, batch, i), steps=steps, tol=0, record=record, noise=noise, past=past)
        model.learn(r)
        results.append(r)
        past = [r]
    return results


def energy_trace(result) -> np.ndarray:
    return np.r_[result.start_energy, result.energy]


def descends(spec: NetworkSpec) -> bool:
    """Whether every kind in the graph promises descent (with noise and fatigue off)."""
    return all(region_kinds.get(p.kind).descends for p in spec.regions.values())


# ------------------------------------------------------------------------------------------- the checks

def check_params_round_trip(spec: NetworkSpec) -> None:
    """Every region's parameters survive dump and validate; the whole spec survives ``to_dict``."""
    for p in spec.regions.values():
        cls = type(p)
        assert cls.model_validate(p.model_dump()) == p
        assert cls.model_validate(p.model_dump(mode="json")) == p
        assert cls.model_validate(p.model_dump(by_alias=True)).model_dump() == p.model_dump()
    again = spec_from_dict(spec.to_dict())
    assert again == spec
    assert again.to_dict() == spec.to_dict()


def check_deterministic(spec: NetworkSpec, mode: str = "lively") -> None:
    """With noise and fatigue on, the same seed gives bit-identical results and weights; another seed does not."""
    spec = with_mode(spec, mode)
    runs = []
    for _ in range(2):
        model = Model(spec)
        results = run_rounds(model, spec, 3, steps=10, record=True)
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
    other = Model(spec_from_dict(spec.to_dict() | {"seed": spec.seed + 1}))
    run_rounds(other, spec, 3, steps=10)
    wo = weights(other)
    assert any(not np.array_equal(wa[k], wo[k]) for k in wa), "another seed gave the same weights"


def check_settles_and_learns(spec: NetworkSpec) -> None:
    """Settling and learning stay finite and learning changes the weights; where every kind descends, settling
    never raises the energy and lowers it overall, at the spec's rate and at rate 1, also after learning."""
    spec = with_mode(spec, "calm")
    model = Model(spec)
    before = weights(model)
    results = run_rounds(model, spec, 6, steps=15)
    after = weights(model)
    assert any(not np.allclose(before[k], after[k]) for k in before), "learning changed no weight"
    assert all(np.all(np.isfinite(w)) for w in after.values()), "learning made a weight infinite or NaN"
    for r in results:
        assert np.all(np.isfinite(energy_trace(r))) and all(np.all(np.isfinite(a)) for a in r.activity.values())
        assert all(np.all(np.isfinite(p)) for p in r.prediction.values())
    if not descends(spec):
        return
    held_out = stimuli(spec, 32, 1, train=False)
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


def numeric_grad(f, Z, h=1e-6) -> np.ndarray:
    """Central finite differences of the scalar function ``f`` at ``Z``."""
    Z = np.array(Z, dtype=np.float64)
    out = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        out[idx] = (f(Zp) - f(Zm)) / (2 * h)
    return out


def _roundoff(energy: float, h: float = 1e-6) -> float:
    """The rounding floor of a central difference of an energy this size in float64: a few ulps of it over 2h (a
    small gradient of a large energy cannot be checked more finely than that)."""
    return 8 * np.finfo(np.float64).eps * abs(energy) / (2 * h)


def check_derivatives(spec: NetworkSpec, context_must_pull: bool = False) -> None:
    """What a region sends down (dE/dX) and to its context sources (dE/dY) is its energy's true derivative, after
    learning (learned weights, not just the initial ones), and the residual form a kind declares
    (:meth:`~cortex.region.RegionKind.residual_form`) is that dE/dX. ``context_must_pull``: dE/dY must not vanish."""
    spec = with_mode(spec, "lively", dtype="float64")
    model = Model(spec)
    d = run_rounds(model, spec, 3, steps=5, batch=3)[-1]._device
    checked = 0
    for j, (name, region) in enumerate(model.regions.items()):
        state = d.states[j]
        X, Y = model.compiled.inputs_of(j, d)
        g = model.backend.to_numpy(region.input_gradient(state, X))
        num = numeric_grad(lambda Z: float(np.sum(region.energy(state, Z, Y))), X)
        floor = _roundoff(float(np.sum(region.energy(state, X, Y))))
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=max(1e-6 * np.abs(num).max(), floor),
                                   err_msg=f"{name}: dE/dX")
        checked += 1
        if Y is not None:
            g = model.backend.to_numpy(region.context_gradient(state, Y))
            num = numeric_grad(lambda Z: float(np.sum(region.energy(state, X, Z))), Y)
            assert np.abs(num).max() > 0 or not context_must_pull, f"{name}: the context exerts no pull"
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=max(1e-6 * max(np.abs(num).max(), 1e-3), floor),
                                       err_msg=f"{name}: dE/dY")
    assert checked == len(spec.regions)
    fresh = model.settle(stimuli(spec, 3, 3), steps=5, tol=0)._device      # settled, not learned from since
    for j, region in enumerate(model.regions.values()):
        X, _ = model.compiled.inputs_of(j, fresh)
        g = model.backend.to_numpy(region.input_gradient(fresh.states[j], X))
        _check_residual_form(model, region, fresh.states[j], X, g, model.compiled.regions[j].in_links)


def _check_residual_form(model, region, state, X, g, links) -> None:
    """Where the kind declares a residual form for an input link, the engine's in-place residual from
    ``state.pred`` equals the kind's ``input_gradient`` there."""
    from .ops import Ops

    b = model.backend
    for link in links:
        form = region.residual_form(link.start, link.stop)
        if form is None:
            continue
        cols = slice(link.start, link.stop)
        Xs, P = X[:, cols], state.pred[:, cols]
        out, tmp = b.zeros(tuple(Xs.shape)), b.zeros(tuple(Xs.shape))
        mine = b.to_numpy(Ops(b).residual(Xs, P, form.precision, out, tmp, form.cauchy_scale2))
        np.testing.assert_allclose(mine, g[:, cols], rtol=1e-6, atol=1e-9 * max(np.abs(g).max(), 1.0),
                                   err_msg=f"{region.name}: residual_form({link.start}, {link.stop}) is not dE/dX")


def _power_max_eig(hvp, shape, shift, iters=60, seed=0):
    """Per stimulus, the largest eigenvalue of a symmetric Hessian given by ``hvp`` (power iteration on H + shift I)."""
    v = np.random.default_rng(seed).standard_normal(shape)
    for _ in range(iters):
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        w = hvp(v) + shift * v
        lam = np.sum(v * w, axis=1)
        v = w
    return lam - shift


def check_curvature_bounds(spec: NetworkSpec) -> None:
    """``input_curvature`` / ``context_curvature`` bound the energy's Hessian in X / Y: sources size their steps by them."""
    spec = with_mode(spec, "calm", dtype="float64")
    model = Model(spec)
    d = run_rounds(model, spec, 4, steps=10, batch=4)[-1]._device
    b, h = model.backend, 1e-4
    for j, (name, region) in enumerate(model.regions.items()):
        state = d.states[j]
        X, Y = model.compiled.inputs_of(j, d)
        pairs = [(lambda Z: b.to_numpy(region.input_gradient(state, b.asarray(Z))), b.to_numpy(X),
                  region.input_curvature(), "input")]
        if Y is not None:
            pairs.append((lambda Z: b.to_numpy(region.context_gradient(state, b.asarray(Z))), b.to_numpy(Y),
                          region.context_curvature(), "context"))
        for grad, Z0, bound, what in pairs:
            hvp = lambda v: (grad(Z0 + h * v) - grad(Z0 - h * v)) / (2 * h)   # noqa: E731
            lam = _power_max_eig(hvp, Z0.shape, shift=max(bound, 1.0))
            assert np.all(lam <= bound * (1 + 1e-4) + 1e-6), f"{name}: {what} curvature {lam.max()} > bound {bound}"


def check_array_api(spec: NetworkSpec, mode: str = "calm") -> None:
    """NumPy and ``array_api_strict`` give the same settling, learning and weights (float32 on both)."""
    spec = with_mode(spec, mode)
    models = {b: Model(spec, backend=b) for b in ("numpy", "array_api_strict")}
    assert models["array_api_strict"].backend.xp.__name__ == "array_api_strict"
    res = {b: run_rounds(m, spec, 3, steps=12, record=True) for b, m in models.items()}
    final = {b: m.settle(stimuli(spec, BATCH, 0, train=False), steps=12, tol=0, noise=False)
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


def check_streams(spec: NetworkSpec) -> None:
    """A stream of frames runs with the kind (its state carried from frame to frame, or started afresh by a kind
    that keeps none): per-frame arrays stay finite, and carrying a state on never changes the frame it came from."""
    spec = with_mode(spec, "calm")
    model = Model(spec)
    now = {k: v for k, v in stimuli(spec, 4, 0, train=False).items() if k != "label" or "label" not in
           {p.teacher for p in spec.regions.values()}}
    stream = model.stream(noise=False)
    first = stream.run({k: v[None] for k, v in now.items()})
    kept = [st for st in stream.states]
    copies = [model.backend.to_numpy(st.a).copy() for st in kept]
    later = stream.run({k: np.stack([v, v]) for k, v in now.items()})
    for st, copy in zip(kept, copies):
        np.testing.assert_array_equal(model.backend.to_numpy(st.a), copy, err_msg="the next frame changed this one")
    for res in (first, later):
        assert all(np.all(np.isfinite(a)) for a in res.activity.values()), "a stream's activity went NaN or infinite"
        assert all(np.all(np.isfinite(e)) for e in res.energy.values())
    assert list(later.frames) == [1, 2]


def check_bottom_up(spec: NetworkSpec) -> None:
    """Settling bottom-up (:mod:`cortex.bottom_up`: each level before the levels above it join) runs with the kind
    wherever it is placed: finite, learnable, on one level the first-guess settle itself, and, where every kind
    descends, the whole-graph settle that ends it never raises the energy."""
    from .balance import check_bottom_up as refusals

    spec = with_mode(spec, "calm")
    if refusals(spec):
        return
    model, now = Model(spec), stimuli(spec, BATCH, 0)
    for start in ("levels_first", "bottom_up"):       # the default on a deep graph, and with the read-out alone
        r = model.settle(now, steps=15, tol=0, noise=False, start=start)
        assert all(np.all(np.isfinite(a)) for a in r.activity.values()), f"a {start} settle went NaN or infinite"
        if descends(spec):
            e = energy_trace(r)
            assert np.all(np.diff(e) <= 1e-5 * np.abs(e).max() + 1e-9), f"the whole-graph settle after {start} rose"
        if len(spec.regions) == 1:
            plain = Model(spec).settle(now, steps=15, tol=0, noise=False, start="first_guess")
            for name in r.activity:
                np.testing.assert_array_equal(r.activity[name], plain.activity[name])
    model.learn(r)
    assert all(np.all(np.isfinite(w)) for w in weights(model).values()), "learning after a bottom-up settle"


def check_interface(kind_class: type) -> None:
    """The class is a registered :class:`~cortex.region.RegionKind` with a ``Params`` model; its states have the
    fields the engine reads (``a``, ``pred``)."""
    assert isinstance(kind_class, type) and issubclass(kind_class, RegionKind), f"{kind_class!r} is no RegionKind"
    assert not getattr(kind_class, "__abstractmethods__", None), sorted(kind_class.__abstractmethods__)
    name = getattr(kind_class, "kind_name", None)
    registered = name in region_kinds.known() and region_kinds.get(name) is kind_class
    assert registered, f"{kind_class.__name__} is not registered by name (decorate it with cortex.regions.register)"
    model = Model(graph(placements(name)["alone"]))
    state = model.settle(stimuli(model.spec, 4, 0), steps=1)._device.states[0]
    assert hasattr(state, "a") and hasattr(state, "pred"), "a state needs the fields a and pred"


# ------------------------------------------------------------------------------------------- the public check

PLACED_CHECKS: dict[str, Callable] = {
    "round-trip": check_params_round_trip,
    "settles-and-learns": check_settles_and_learns,
    "deterministic": check_deterministic,
    "derivatives": check_derivatives,
    "curvature": check_curvature_bounds,
    "array-api": check_array_api,
    "streams": check_streams,
    "bottom-up": check_bottom_up,
}
# checked alone in every variant; in multi-region placements the cheaper default variant is enough
ALONE_VARIANTS = {"deterministic": ("lively", "coloured"), "array-api": MODES}


def region_kind_checks(kind_class: type, partners: tuple[str, ...] = ("predictive",),
                       params: str = "") -> Iterator[tuple[str, Callable[[], None]]]:
    """(id, check) pairs for ``kind_class``: its interface, then every check in every placement (``alone``, and
    ``below`` / ``above`` / ``beside`` each of ``partners``). ``params``: extra YAML flow keys for the kind's
    region (e.g. a smaller, faster configuration). Parametrize a test over these, or run them all with
    :func:`check_region_kind`."""
    name = kind_class.kind_name
    yield "interface", functools.partial(check_interface, kind_class)
    graphs = {"alone": placements(name, params=params)["alone"]}
    for partner in partners:
        graphs |= {f"{where}-{partner}": body for where, body in placements(name, partner, params).items()
                   if where != "alone"}
    for where, body in graphs.items():
        for check, fn in PLACED_CHECKS.items():
            variants = ALONE_VARIANTS.get(check, (None,)) if where == "alone" else (None,)
            for variant in variants:
                def run(fn=fn, body=body, variant=variant):
                    spec = graph(body)
                    fn(spec) if variant is None else fn(spec, variant)
                yield f"{check}{'-' + variant if variant else ''}[{where}]", run


def check_region_kind(kind_class: type, partners: tuple[str, ...] = ("predictive",), params: str = "") -> list[str]:
    """Run every check of :func:`region_kind_checks` on ``kind_class``; returns the ids run, raises an
    ``AssertionError`` naming the first one that fails."""
    done = []
    for check_id, check in region_kind_checks(kind_class, partners, params):
        try:
            check()
        except AssertionError as exc:
            raise AssertionError(f"{kind_class.__name__}: {check_id}: {exc}") from exc
        done.append(check_id)
    return done
