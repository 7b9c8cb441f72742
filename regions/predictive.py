"""The ``predictive`` region: hypotheses that predict the region's input, settled by energy descent.

Two forms of competition share this file because they share every term of the energy:

- ``none`` / ``lateral``: activities are non-negative and *cooperate* in one shared reconstruction
  ``a @ W`` (explaining away), optionally with lateral inhibition ``gamma/2 a^T L a``.
- ``softmax``: hypotheses are mutually exclusive generative models. Each hypothesis i predicts the
  input on its own as ``m_i + z_i F_i`` (with ``factors: k`` it owns k factor fields and parameters
  ``z_i`` that settle in parallel), and ``a`` is a distribution over hypotheses. The input term is
  ``sum_i a_i e_i`` with ``e_i`` hypothesis i's own prediction error, plus ``T sum_i a_i log a_i``:
  the free energy of a mixture. Classification by lowest energy is then exactly ``argmax a``.

Adaptation and noise (off by default) make settling a stochastic, non-equilibrium process, written so
that neither depends on the step size the curvature bound picks:

- fatigue ``h`` (``h <- h + (strength * a - h) / tau``, per settling step) acts as a term ``h_i a_i^2 / 2``
  for a ``none``/``lateral`` hypothesis, whose activity is an amplitude: a tired hypothesis loses gain
  (divisive, like contrast adaptation in V1), taken as an exact proximal step; as ``h_i a_i`` for a
  ``softmax`` hypothesis, whose activity is a probability: its energy rises by ``h_i``. Neither is part
  of the reported energy, which stays the one in docs/model.md;
- ``noise: sigma`` with ``noise_tau: 0`` is Langevin noise, ``sqrt(eta) * sigma`` per step on the
  activity (``none``/``lateral``; stationary density ~ exp(-2E / sigma^2)) or ``sigma`` on the energies
  (``softmax``); with ``noise_tau > 0`` it is a fluctuation of every hypothesis' drive (energy units,
  standard deviation ``sigma``) that decays with correlation time ``noise_tau`` steps (Ornstein-Uhlenbeck).

All math is written once against ``backend.xp``; no loops over stimuli, hypotheses or neurons.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from cortex.region import Adaptation, Competition, ErrorKind, RegionParams, context_curvature_bound

from . import register

TINY = 1e-30


class Params(RegionParams):
    """Hyperparameters of a predictive region (YAML keys under ``regions.NAME``)."""

    kind: Literal["predictive"] = "predictive"
    competition: Competition = "lateral"
    factors: int = Field(0, ge=0, le=256)
    precision: float = Field(1.0, gt=0)
    context_precision: float = Field(1.0, ge=0)
    sparsity: float = Field(0.0, ge=0)
    inhibition: float = Field(0.0, ge=0)
    inhibition_lr: float = Field(0.0, ge=0)
    temperature: float = Field(1.0, gt=0)
    error: ErrorKind = "gaussian"
    error_scale: float = Field(0.5, gt=0)
    lr: float = Field(0.05, ge=0)
    lr_context: float | None = Field(None, ge=0)
    lr_recognition: float | None = Field(None, ge=0)
    adaptation: Adaptation = Adaptation()
    noise: float = Field(0.0, ge=0)
    noise_tau: float = Field(0.0, ge=0)
    first_guess: bool = True
    normalize: bool = True
    init_scale: float = Field(0.1, gt=0)

    @model_validator(mode="after")
    def _consistent(self):
        if self.factors and self.competition != "softmax":
            raise ValueError("factors need competition: softmax (each hypothesis then settles its own parameters)")
        if self.inhibition and self.competition != "lateral":
            raise ValueError(f"inhibition applies to competition: lateral, not {self.competition!r}")
        return self


@dataclass
class State:
    """Settling state of one region for a batch: activity, fatigue, hypothesis parameters, predictions."""

    a: Any                 # (B, n) activity (softmax: a distribution over hypotheses)
    h: Any                 # (B, n) adaptation
    xi: Any = None         # (B, n) coloured noise (noise_tau > 0)
    z: Any = None          # (B, n, k) hypothesis parameters (softmax with factors)
    pred: Any = None       # (B, d_X) expected prediction of the input
    mu: Any = None         # (B, n, d_X) each hypothesis' own prediction (softmax)
    clamped: bool = False  # activity fixed by a teacher


@register("predictive")
class Predictive:
    """A region of competing generative hypotheses; see the module docstring for the energy."""

    Params = Params

    def __init__(self, name: str, params: Params, backend, in_sizes, in_precision, ctx_sizes, ctx_precision, rng):
        self.name, self.p, self.backend, self.rng = name, params, backend, rng
        xp = self.xp = backend.xp
        n, k = params.hypotheses, params.factors
        self.n, self.k = n, k
        self.d_x, self.d_y = sum(in_sizes), sum(ctx_sizes)
        self.softmax = params.competition == "softmax"
        self.pi = backend.asarray(_repeat(in_precision, in_sizes)) * params.precision   # (d_X,)
        self.pi_max = float(max(in_precision)) * params.precision
        self.c = backend.asarray(_repeat(ctx_precision, ctx_sizes)) if self.d_y else None  # (d_Y,)
        self.lr_ctx = params.lr if params.lr_context is None else params.lr_context
        self.lr_rec = params.lr if params.lr_recognition is None else params.lr_recognition
        s = params.init_scale
        W = rng.normal((n, self.d_x), s)
        if self.softmax:
            self.weights = {"M": W}
            if k:
                self.weights["F"] = rng.normal((n, k, self.d_x), s)
        else:
            self.weights = {"W": _unit_rows(xp, W) if params.normalize else W}
            if params.competition == "lateral":
                self.weights["L"] = xp.ones((n, n), dtype=backend.dtype) - xp.eye(n, dtype=backend.dtype)
        self.weights["R"] = rng.normal((self.d_x, n), s / max(1.0, self.d_x ** 0.5))
        if self.d_y:
            self.weights["V"] = backend.zeros((self.d_y, n))
        self._step_cache = None

    # ----- pieces of the energy ------------------------------------------------------------------
    def _rho(self, r):
        """Penalty per element (before precision): Gaussian r^2/2 or Cauchy c^2/2 log(1 + r^2/c^2)."""
        if self.p.error == "gaussian":
            return 0.5 * r * r
        c2 = self.p.error_scale ** 2
        return 0.5 * c2 * self.xp.log1p(r * r / c2)

    def _psi(self, r):
        """Derivative of the penalty: the residual, shrunk where it is large for the robust error."""
        if self.p.error == "gaussian":
            return r
        return r / (1.0 + r * r / self.p.error_scale ** 2)

    def _prior(self, Y):
        """Context prior: the predicted activity (linear) or prior logits (softmax); None without context."""
        if not self.d_y or Y is None:
            return None
        return (Y * self.c) @ self.weights["V"]

    def _log_softmax(self, u):
        xp = self.xp
        u = u - xp.max(u, axis=-1, keepdims=True)
        return u - xp.log(xp.sum(xp.exp(u), axis=-1, keepdims=True))

    def _hypothesis_predictions(self, z, B):
        """(B, n, d_X): every hypothesis' own prediction m_i + z_i F_i, all in one batched product."""
        M = self.weights["M"]
        if not self.k:
            return self.xp.broadcast_to(M, (B, self.n, self.d_x))
        return M + (z[:, :, None, :] @ self.weights["F"])[:, :, 0, :]

    def _hypothesis_energy(self, X, mu, z):
        """(B, n): e_i = sum pi rho(X - mu_i) + |z_i|^2 / 2."""
        if not self.k and self.p.error == "gaussian":
            # every stimulus sees the same mu_i = m_i: expand the square, one (B, d) x (d, n) matmul
            # instead of a (B, n, d) residual
            xp, M, Xp = self.xp, mu[0, ...], X * self.pi            # mu is M broadcast over the batch
            return (0.5 * xp.sum(Xp * X, axis=-1, keepdims=True) - Xp @ xp.moveaxis(M, -1, -2)
                    + 0.5 * xp.sum(M * M * self.pi, axis=-1))
        e = self.xp.sum(self._rho(X[:, None, :] - mu) * self.pi, axis=-1)
        if self.k:
            e = e + 0.5 * self.xp.sum(z * z, axis=-1)
        return e

    # ----- interface used by settling ------------------------------------------------------------
    def start(self, X, Y, teacher=None) -> State:
        """Initial state: the learned feed-forward first guess, or rest (zero / the prior)."""
        xp, B = self.xp, X.shape[0]
        z = self.backend.zeros((B, self.n, self.k)) if self.k else None
        if teacher is not None:
            a = teacher
        elif self.softmax:
            u = X @ self.weights["R"] if self.p.first_guess else self.backend.zeros((B, self.n))
            prior = self._prior(Y)
            if prior is not None:
                u = u + self.p.context_precision * self._log_softmax(prior)
            a = xp.exp(self._log_softmax(u))
        else:
            a = xp.maximum(X @ self.weights["R"], 0.0) if self.p.first_guess else self.backend.zeros((B, self.n))
        state = State(a=a, h=self.backend.zeros((B, self.n)), z=z, clamped=teacher is not None)
        self._predict(state, B)
        return state

    def _predict(self, state: State, B: int) -> None:
        if self.softmax:
            state.mu = self._hypothesis_predictions(state.z, B)
            state.pred = self._expected_prediction(state)
        else:
            state.pred = state.a @ self.weights["W"]

    def input_gradient(self, state: State, X):
        """dE/dX (B, d_X): what this region sends down to the sources it explains (precision-weighted error)."""
        if self.softmax and self.p.error != "gaussian":
            return self.xp.sum(state.a[:, :, None] * self._psi(X[:, None, :] - state.mu), axis=1) * self.pi
        return self._psi(X - state.pred) * self.pi

    def context_gradient(self, state: State, Y):
        """dE/dY (B, d_Y): how this region's context term pulls on its (undelayed) context sources."""
        prior = self._prior(Y)
        if self.softmax:
            d_prior = -self.p.context_precision * (state.a - self.xp.exp(self._log_softmax(prior)))
        else:
            d_prior = -self.p.context_precision * (state.a - prior)
        return (d_prior @ self.weights["V"].T) * self.c

    def input_curvature(self) -> float:
        """Upper bound of d2E/dX2: what sources add to their own step-size bound."""
        return self.pi_max

    def context_curvature(self) -> float:
        if not self.d_y:
            return 0.0
        return context_curvature_bound(self.backend, self.weights["V"], self.c, self.p.context_precision)

    def _steps(self):
        """Step sizes from curvature bounds, recomputed only after learning changed the weights."""
        if self._step_cache is None:
            xp, b = self.xp, self.backend
            if self.softmax:
                if self.k:
                    F = self.weights["F"]
                    lam = xp.max(xp.linalg.eigvalsh(F @ xp.moveaxis(F, -1, -2)), axis=-1)   # (n,) largest eigenvalue of F_i F_i^T
                    self._step_cache = 1.0 / (self.pi_max * lam + 1.0)
                else:
                    self._step_cache = 1.0
            else:
                W = self.weights["W"]
                gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
                lam = float(b.to_numpy(xp.max(xp.linalg.eigvalsh(gram))))
                curv = self.pi_max * lam + (self.p.context_precision if self.d_y else 0.0)
                if "L" in self.weights:
                    curv += self.p.inhibition * float(b.to_numpy(xp.max(xp.sum(self.weights["L"], axis=1))))
                self._step_cache = curv
        return self._step_cache

    def step(self, state: State, X, Y, g_ext, curv_ext: float, rate: float, noise=None) -> None:
        """One block update of this region given everything else: descends the energy when noise and adaptation are off."""
        if noise is not None and self.p.noise_tau:   # coloured: an Ornstein-Uhlenbeck drive of std sigma
            rho = math.exp(-1.0 / self.p.noise_tau)
            state.xi = noise if state.xi is None else rho * state.xi + math.sqrt(1.0 - rho * rho) * noise
            noise = state.xi
        if self.softmax:
            self._step_softmax(state, X, Y, g_ext, curv_ext, rate, noise)
        else:
            self._step_linear(state, X, Y, g_ext, curv_ext, rate, noise)
        if self.p.adaptation.strength and not state.clamped:
            ad = self.p.adaptation
            state.h = state.h + (ad.strength * state.a - state.h) / ad.tau

    def _step_linear(self, state, X, Y, g_ext, curv_ext, rate, noise):
        xp, p = self.xp, self.p
        if state.clamped:
            return
        W = self.weights["W"]
        grad = -(self._psi(X - state.pred) * self.pi) @ W.T + p.sparsity
        prior = self._prior(Y)
        if prior is not None:
            grad = grad + p.context_precision * (state.a - prior)
        if "L" in self.weights and p.inhibition:
            grad = grad + p.inhibition * (state.a @ self.weights["L"])
        if g_ext is not None:
            grad = grad + g_ext
        eta = rate / (self._steps() + curv_ext)
        if noise is not None and p.noise_tau:
            grad = grad - noise                     # a fluctuating drive, in the gradient's units
        a = state.a - eta * grad
        if noise is not None and not p.noise_tau:
            a = a + math.sqrt(eta) * noise          # Langevin: spread set by the curvature, not the step size
        if p.adaptation.strength:
            a = a / (1.0 + eta * state.h)           # proximal step on the fatigue term h a^2 / 2
        state.a = xp.maximum(a, 0.0)
        state.pred = state.a @ W

    def _step_softmax(self, state, X, Y, g_ext, curv_ext, rate, noise):
        xp, p = self.xp, self.p
        B = X.shape[0]
        if self.k:
            eta_z = rate * self._steps()                                       # (n,)
            r = self._psi(X[:, None, :] - state.mu) * self.pi                  # (B, n, d)
            grad_z = state.z - (r[:, :, None, :] @ xp.moveaxis(self.weights["F"], -1, -2))[:, :, 0, :]   # not .mT: CuPy 13 lacks it
            state.z = state.z - eta_z[:, None] * grad_z
            state.mu = self._hypothesis_predictions(state.z, B)
        if not state.clamped:
            u = -self._hypothesis_energy(X, state.mu, state.z) - state.h
            prior = self._prior(Y)
            if prior is not None:
                u = u + p.context_precision * self._log_softmax(prior)
            if noise is not None:
                u = u + noise
            u = u / p.temperature
            # mirror descent on the simplex: a step of size s from the current a towards the exact minimiser,
            # so settling refines the first guess rather than replacing it in one jump
            s = min(1.0, rate * p.temperature / (p.temperature + curv_ext))
            if g_ext is not None:
                u = u - g_ext / p.temperature
            if s < 1.0:
                u = (1.0 - s) * xp.log(xp.maximum(state.a, TINY)) + s * u
            state.a = xp.exp(self._log_softmax(u))
        state.pred = self._expected_prediction(state)

    def _expected_prediction(self, state):
        """(B, d_X) sum_i a_i mu_i (without factors mu_i = m_i for every stimulus: one plain matmul)."""
        if not self.k:
            return state.a @ state.mu[0, ...]
        return (state.a[:, None, :] @ state.mu)[:, 0, :]

    def energy(self, state: State, X, Y):
        """(B,) this region's share of the energy for each stimulus."""
        xp, p = self.xp, self.p
        prior = self._prior(Y)
        if self.softmax:
            a = state.a
            e = self._hypothesis_energy(X, state.mu, state.z)
            if prior is not None:
                e = e - p.context_precision * self._log_softmax(prior)
            return xp.sum(a * e + p.temperature * a * xp.log(xp.maximum(a, TINY)), axis=-1)
        E = xp.sum(self._rho(X - state.pred) * self.pi, axis=-1) + p.sparsity * xp.sum(state.a, axis=-1)
        if prior is not None:
            d = state.a - prior
            E = E + 0.5 * p.context_precision * xp.sum(d * d, axis=-1)
        if "L" in self.weights and p.inhibition:
            E = E + 0.5 * p.inhibition * xp.sum((state.a @ self.weights["L"]) * state.a, axis=-1)
        return E

    # ----- online learning -----------------------------------------------------------------------
    def learn(self, state: State, X, Y) -> None:
        """Local updates from a settled batch: presynaptic activity times postsynaptic error."""
        xp, p, w = self.xp, self.p, self.weights
        B = X.shape[0]
        a = state.a
        if self.softmax:
            r = self._psi(X[:, None, :] - state.mu) * self.pi                  # (B, n, d)
            w["M"] = w["M"] + (p.lr / B) * xp.sum(a[:, :, None] * r, axis=0)
            if self.k:
                az = xp.moveaxis(a[:, :, None] * state.z, 0, -1)                # (n, k, B)
                w["F"] = w["F"] + (p.lr / B) * (az @ xp.moveaxis(r, 0, 1))     # (n, k, d)
            if self.lr_rec:
                w["R"] = w["R"] + (self.lr_rec / B) * (X.T @ (a - xp.exp(self._log_softmax(X @ w["R"]))))
            if self.d_y and self.lr_ctx and Y is not None:
                Yc = Y * self.c
                w["V"] = w["V"] + (self.lr_ctx / B) * (Yc.T @ (a - xp.exp(self._log_softmax(Yc @ w["V"]))))
        else:
            if p.lr:   # lr 0 freezes W exactly (renormalising unit rows again would drift by rounding)
                eps = self._psi(X - state.pred) * self.pi
                W = w["W"] + (p.lr / B) * (a.T @ eps)
                w["W"] = _unit_rows(xp, W) if p.normalize else W
            if self.lr_rec:
                w["R"] = w["R"] + (self.lr_rec / B) * (X.T @ (a - xp.maximum(X @ w["R"], 0.0)))
            if self.d_y and self.lr_ctx and Y is not None:
                Yc = Y * self.c
                w["V"] = w["V"] + (self.lr_ctx / B) * (Yc.T @ (a - Yc @ w["V"]))
            if "L" in w and p.inhibition_lr:
                co = (p.inhibition_lr / B) * (a.T @ a)
                L = xp.maximum(w["L"] + co, 0.0)
                w["L"] = L * (1.0 - xp.eye(self.n, dtype=self.backend.dtype))
        self._step_cache = None

    def fields(self):
        """(n, d_X) the generative field of each hypothesis (what it predicts when active alone)."""
        return self.weights["M"] if self.softmax else self.weights["W"]

    def load_weights(self, arrays: dict) -> None:
        for key, value in arrays.items():
            if key not in self.weights or tuple(value.shape) != tuple(self.weights[key].shape):
                raise ValueError(f"{self.name}.{key}: expected shape {tuple(self.weights[key].shape) if key in self.weights else None}, got {tuple(value.shape)}")
            self.weights[key] = self.backend.asarray(value)
        self._step_cache = None


def _repeat(values, sizes):
    return [float(v) for v, s in zip(values, sizes) for _ in range(s)]


def _unit_rows(xp, W):
    return W / xp.maximum(xp.sqrt(xp.sum(W * W, axis=1, keepdims=True)), 1e-12)
