"""The public conformance check works for a kind written outside the package, and fails a broken one.

``Ridge`` is the smallest kind the interface allows: hypotheses that predict their input linearly, with a
ridge penalty, a context prior and a plain gradient step. It is registered for the duration of each test
only, so the rest of the suite never sees it.
"""
from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import Field, create_model

from cortex.region import RegionKind, RegionParams, ResidualForm, context_curvature_bound, region_kinds
from cortex.testing import check_derivatives, check_region_kind, graph, placements


class RidgeParams(RegionParams):
    kind: Literal["ridge"] = "ridge"
    ridge: float = Field(0.1, gt=0)
    lr: float = Field(0.05, ge=0)
    context_precision: float = Field(1.0, ge=0)


class State:
    def __init__(self, a, pred):
        self.a, self.pred = a, pred


class Ridge(RegionKind):
    """E = 1/2 |X - a W|^2_pi + ridge/2 |a|^2 + cp/2 |a - (Y c) V|^2."""

    Params = RidgeParams

    def __init__(self, name, params, backend, inputs, context, rng):
        self.name, self.p, self.backend, self.rng = name, params, backend, rng
        self.xp, self.n = backend.xp, params.hypotheses
        self.d_x, self.d_y = inputs.width, context.width
        self.pi = backend.asarray(inputs.per_column())
        self.pi_max = max(inputs.precisions)
        self.c = backend.asarray(context.per_column()) if self.d_y else None
        self.weights = {"W": rng.normal((self.n, self.d_x), 0.2)}
        if self.d_y:
            self.weights["V"] = rng.normal((self.d_y, self.n), 0.1)

    def _prior(self, Y):
        return None if Y is None else (Y * self.c) @ self.weights["V"]

    def start(self, X, Y, teacher=None) -> Any:
        a = teacher if teacher is not None else 0.1 * (X @ self.weights["W"].T)
        return State(a, a @ self.weights["W"])

    def step(self, state, X, Y, g_ext, curv_ext, rate, noise=None):
        W, p = self.weights["W"], self.p
        grad = -((X - state.pred) * self.pi) @ W.T + p.ridge * state.a
        prior = self._prior(Y)
        curv = self.pi_max * float(self.backend.to_numpy(self.xp.sum(W * W))) + p.ridge
        if prior is not None:
            grad = grad + p.context_precision * (state.a - prior)
            curv += p.context_precision
        if g_ext is not None:
            grad = grad + g_ext
        state.a = state.a - (rate / (curv + curv_ext)) * grad
        state.pred = state.a @ W

    def energy(self, state, X, Y):
        xp, p = self.xp, self.p
        r = X - state.a @ self.weights["W"]
        E = 0.5 * xp.sum(r * r * self.pi, axis=-1) + 0.5 * p.ridge * xp.sum(state.a * state.a, axis=-1)
        prior = self._prior(Y)
        if prior is not None:
            d = state.a - prior
            E = E + 0.5 * p.context_precision * xp.sum(d * d, axis=-1)
        return E

    def input_gradient(self, state, X):
        return (X - state.a @ self.weights["W"]) * self.pi

    def context_gradient(self, state, Y):
        return (-self.p.context_precision * (state.a - self._prior(Y))) @ self.weights["V"].T * self.c

    def input_curvature(self):
        return self.pi_max

    def context_curvature(self):
        return context_curvature_bound(self.backend, self.weights["V"], self.c, self.p.context_precision) if self.d_y else 0.0

    def learn(self, state, X, Y):
        B, w = X.shape[0], self.weights
        w["W"] = w["W"] + (self.p.lr / B) * (state.a.T @ self.input_gradient(state, X))
        if Y is not None:
            Yc = Y * self.c
            w["V"] = w["V"] + (self.p.lr / B) * (Yc.T @ (state.a - Yc @ w["V"]))

    def fields(self):
        return self.weights["W"]


class WrongSign(Ridge):
    """Sends the wrong sign down: settling of the regions it reads would climb instead of descend."""

    def input_gradient(self, state, X):
        return -super().input_gradient(state, X)


class WrongForm(Ridge):
    """Declares a residual form twice its true precision: the engine would send the wrong error in place."""

    def residual_form(self, start, stop):
        return ResidualForm(2.0 * float(self.backend.to_numpy(self.pi[start:start + 1])[0]))


@pytest.fixture
def registered():
    """Register the test kinds for one test, and forget them after."""
    names = []

    def register(name, cls):
        if isinstance(cls, type) and issubclass(cls, Ridge):    # each kind validates its own ``kind: name``
            cls.Params = create_model(f"{cls.__name__}Params", __base__=RidgeParams, kind=(Literal[name], name))
        region_kinds.register(name)(cls)
        names.append(name)
        return cls
    yield register
    for name in names:
        region_kinds.unregister(name)


def test_a_kind_written_outside_the_package_passes_every_check(registered):
    registered("ridge", Ridge)
    done = check_region_kind(Ridge)
    assert len(done) == 1 + 11 + 3 * 8     # the interface, 11 checks alone, 8 in each of three placements
    assert "settles-and-learns[above-predictive]" in done and "derivatives[beside-predictive]" in done
    assert "streams[alone]" in done             # a kind that keeps nothing across frames still runs in a stream
    assert "ridge" in region_kinds.known()


def test_a_wrong_derivative_fails_the_check_and_names_it(registered):
    registered("wrongsign", WrongSign)
    with pytest.raises(AssertionError, match=r"dE/dX"):
        check_derivatives(graph(placements("wrongsign")["alone"]))
    with pytest.raises(AssertionError, match=r"WrongSign: derivatives\[alone\]"):
        check_region_kind(WrongSign)


def test_a_wrong_residual_form_fails_the_check(registered):
    registered("wrongform", WrongForm)
    with pytest.raises(AssertionError, match=r"residual_form\(0, 64\) is not dE/dX"):
        check_derivatives(graph(placements("wrongform")["alone"]))


def test_an_unregistered_or_incomplete_kind_is_refused(registered):
    with pytest.raises(AssertionError, match="not registered"):
        check_region_kind(Ridge)

    class Half(RegionKind):
        Params = RidgeParams

    with pytest.raises(TypeError, match="does not define"):
        registered("half", Half)
    with pytest.raises(TypeError, match="must subclass"):
        registered("plain", object)


def test_the_test_kinds_are_gone_after_their_test():
    assert not {"ridge", "wrongsign", "wrongform"} & set(region_kinds.known())
