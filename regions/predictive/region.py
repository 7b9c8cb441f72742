"""The ``predictive`` region: hypotheses that predict the region's input, settled by energy descent.

Two forms of competition share this kind because they share every term of the energy:

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

The step's equations live once, in :mod:`.kernels`; this class calls them with one region's buffers, the
fast paths (:mod:`.grouped`, :mod:`.softmax_block`) with preallocated ones. No loops over stimuli,
hypotheses or neurons; all math on ``backend.xp``.
"""
from __future__ import annotations

import math

from cortex.errors import DivergenceError
from cortex.ops import Ops
from cortex.region import RegionKind, ResidualForm, Sources, context_curvature_bound
from cortex.units import frames_per

from . import kernels as K
from .context_fit import fit_context
from .params import Params, State
from . import learning, seeding
from . import precision as learned_precision
from . import recruit as R
from .recruit import Growth, capacity_for


class Predictive(RegionKind):
    """A region of competing generative hypotheses; see the module docstring for the energy."""

    Params = Params

    def __init__(self, name: str, params: Params, backend, inputs: Sources, context: Sources, rng):
        self.name, self.p, self.backend, self.rng = name, params, backend, rng
        xp = self.xp = backend.xp
        self.ops = Ops(backend)
        n, k = params.hypotheses, params.factors
        if params.recruit is not None:       # arrays hold a capacity, a multiple of the chunk; the rest inactive
            n = capacity_for(n, params.recruit.chunk, params.recruit.max_hypotheses)
        self.n, self.k = n, k
        self.d_x, self.d_y = inputs.width, context.width
        self.softmax = params.competition == "softmax"
        self.c = backend.asarray(context.per_column()) if self.d_y else None  # (d_Y,)
        self.cauchy2 = None if params.error == "gaussian" else params.error_scale ** 2
        self.lr_ctx = params.lr if params.lr_context is None else params.lr_context
        self.lr_rec = params.lr if params.lr_recognition is None else params.lr_recognition
        s = params.init_scale
        W = rng.normal((n, self.d_x), s)
        if self.softmax:
            self.weights = {"M": W}
            if k:
                self.weights["F"] = rng.normal((n, k, self.d_x), s)
                if params.recruit is not None and params.recruit.factor_init == "zero":
                    self.weights["F"] = self.weights["F"] * 0.0
        else:
            self.weights = {"W": learning.unit_rows(xp, W) if params.normalize else W}
            if params.competition == "lateral":
                self.weights["L"] = xp.ones((n, n), dtype=backend.dtype) - xp.eye(n, dtype=backend.dtype)
        self.weights["R"] = rng.normal((self.d_x, n), s / max(1.0, self.d_x ** 0.5))
        if self.d_y:
            self.weights["V"] = backend.zeros((self.d_y, n))
        self._step_cache = None
        self._scratch: dict = {}
        self._fatigue_frames = self._noise_frames = None   # clocked time constants in frames (``set_frame``)
        self.link_sizes = learned_precision.setup(self, inputs)    # _pi, pi, pi_max: every column's precision
        seeding.setup(self)                                         # init: data, the count of seeded hypotheses
        self.growth = Growth(self, params.hypotheses) if params.recruit is not None else None

    # ----- what the engine asks (cortex.region.RegionKind) -----------------------------------------
    def residual_form(self, start: int, stop: int) -> ResidualForm | None:
        if self.softmax and self.cauchy2 is not None:    # sum_i a_i psi(X - mu_i): not one residual
            return None
        pi = float(self.backend.to_numpy(self.pi[start:start + 1])[0])       # one link: one precision, a scalar
        return ResidualForm(pi, self.cauchy2)

    def noise_std(self) -> float:
        return 0.0 if self._noise_frames else self.p.noise

    # ----- the frame clock (time constants written in physical time) --------------------------------
    def set_frame(self, seconds: float | None) -> None:
        """Clocked fatigue and slow noise counted in frames of ``seconds`` (see :mod:`cortex.units`)."""
        p = self.p
        if p.clocked() and seconds is None:
            raise ValueError(f"{self.name}: its time constants are times, so the graph needs time: {{frame: ...}}")
        self._fatigue_frames = frames_per(p.adaptation.tau, seconds) if p.adaptation.strength else None
        self._noise_frames = frames_per(p.noise_tau, seconds) if p.noise else None

    def frame_noise_std(self) -> float:
        return self.p.noise if self._noise_frames else 0.0

    def begin_frame(self, state: State, noise) -> None:
        """Slow noise by one frame (Ornstein-Uhlenbeck of std sigma, correlation time noise_tau): it drives the
        whole frame's settling, as the per-step one drives one step."""
        if self._noise_frames and noise is not None:
            rho = math.exp(-1.0 / self._noise_frames)
            state.xi = noise if state.xi is None else rho * state.xi + math.sqrt(1.0 - rho * rho) * noise

    def end_frame(self, state: State) -> None:
        """Fatigue by one frame from the frame's settled activity: h <- h + (strength a - h) / tau_frames."""
        if self._fatigue_frames and not state.clamped:
            K.fatigue(self.ops, state.h, state.a, self.p.adaptation.strength, self._fatigue_frames,
                      self._buf("T", tuple(state.a.shape)))

    def plastic(self) -> bool:
        return bool(self.p.lr or self.lr_ctx or self.lr_rec or self.p.learn_precision is not None)

    def link_precisions(self) -> list[float]:
        """Each input connection's precision now (learned with ``learn_precision``, else as the graph wrote it)."""
        return learned_precision.link_precisions(self, self.link_sizes)

    def step_flops(self, batch: int) -> int:
        per = 4 * batch * self.n * self.d_x * (1 + self.k)
        return per + (2 * batch * self.d_y * self.n if self.d_y else 0)

    @classmethod
    def memory_elements(cls, params: Params, d_x: int, d_y: int, batch: int) -> int:
        """Weights twice (learning builds the new beside the old); per stimulus the settle buffers, host copies and
        learning's temporaries (held within 2x of tracemalloc's peak by tests/cortex/test_memory.py)."""
        n, k = (params.recruit.max_hypotheses if params.recruit else params.hypotheses), params.factors
        weights = n * d_x * (1 + k) + d_x * n + d_y * n
        if params.competition == "softmax":
            per_stimulus = 12 * n + 4 * d_x + 2 * d_y
            if k or params.error != "gaussian":
                per_stimulus += 10 * n * d_x + 6 * n * k
        else:
            weights += n * n if params.competition == "lateral" else 0
            per_stimulus = 16 * n + 6 * d_x + 2 * d_y
        return 2 * weights + batch * per_stimulus

    @classmethod
    def conformance_params(cls, mode):
        quiet = {"noise": 0.0, "adaptation": {"strength": 0.0, "tau": 20.0}}
        lively = {"noise": 0.05, "noise_tau": 0.0, "adaptation": {"strength": 0.2, "tau": 10.0}}
        return {"calm": quiet, "lively": lively, "coloured": lively | {"noise_tau": 5.0}}[mode]

    # ----- buffers and pieces of the energy --------------------------------------------------------
    def _buf(self, key: str, shape: tuple):
        """A scratch buffer of this region (reused by every step of that shape; never returned to a caller)."""
        buf = self._scratch.get((key, shape))
        if buf is None:
            buf = self._scratch[(key, shape)] = self.backend.zeros(shape)
        return buf

    def _prior(self, Y):
        """Context prior: the predicted activity (linear) or prior logits (softmax); None without context."""
        if not self.d_y or Y is None:
            return None
        return (Y * self.c) @ self.weights["V"]

    def _log_softmax(self, u):
        """A new array log_softmax(u) over the last axis."""
        out = u + 0.0
        B = out.shape[0]
        K.log_softmax_(self.ops, out, self._buf("lsm", tuple(out.shape)), self._buf("mx", (B, 1)),
                       self._buf("lse", (B, 1)))
        return out

    def _prior_term(self, Y):
        """cp * log_softmax(prior) (B, n), or None without context (softmax)."""
        prior = self._prior(Y)
        if prior is None:
            return None
        term = self._log_softmax(prior)
        term *= self.p.context_precision
        return term

    def _hypothesis_predictions(self, z, B):
        """(B, n, d_X): every hypothesis' own prediction m_i + z_i F_i (without factors: M, for every stimulus)."""
        M = self.weights["M"]
        if not self.k:
            return self.xp.broadcast_to(M, (B, self.n, self.d_x))
        return K.hypothesis_predictions(self.ops, z, self.weights["F"], M, self.backend.empty((B, self.n, self.d_x)))

    def _hypothesis_energies(self, X, state, out):
        """out (B, n) <- e_i, every hypothesis' prediction error on X (see :mod:`.kernels`)."""
        ops, B, n, d = self.ops, X.shape[0], self.n, self.d_x
        if not self.k and self.cauchy2 is None:
            M = state.mu[0, ...]           # every stimulus sees the state's own m_i (learning may have moved M since)
            c = 0.5 * self.xp.sum(M * M * self.pi, axis=-1)
            return K.mean_energies(ops, X, self.pi, self.xp.moveaxis(M, -1, -2), c, self._buf("Xp", (B, d)),
                                   self._buf("Xsq", (B, d)), self._buf("q", (B, 1)), self._buf("t", (B, n)), out)
        z = state.z if self.k else None
        return K.hypothesis_energies(ops, X[:, None, :], state.mu, self.pi, self.cauchy2, self._buf("R3", (B, n, d)),
                                     self._buf("T3", (B, n, d)), out, z,
                                     self._buf("Tk", (B, n, self.k)) if self.k else None, self._buf("ek", (B, n)))

    def _masked_energies(self, X, state, out):
        """:meth:`_hypothesis_energies` plus the penalty of hypotheses that may not win (a recruiting region)."""
        out = self._hypothesis_energies(X, state, out)
        if state.mask is not None:
            out += state.mask
        return out

    # ----- interface used by settling ------------------------------------------------------------
    def start(self, X, Y, teacher=None) -> State:
        """Initial state: the learned feed-forward first guess, or rest (zero / the prior)."""
        xp, B = self.xp, X.shape[0]
        mask = labels = None
        if self.growth is not None:
            mask, labels, teacher = self.growth.start(X, teacher)
        z = self.backend.zeros((B, self.n, self.k)) if self.k else None
        if teacher is not None:
            a = teacher
        elif self.softmax:
            u = X @ self.weights["R"] if self.p.first_guess else self.backend.zeros((B, self.n))
            prior = self._prior(Y)
            if prior is not None:
                u = u + self.p.context_precision * self._log_softmax(prior)
            a = xp.exp(self._log_softmax(u if mask is None else u - mask))
        else:
            a = xp.maximum(X @ self.weights["R"], 0.0) if self.p.first_guess else self.backend.zeros((B, self.n))
            if mask is not None:
                a = a * self.weights["active"]
        state = State(a=a, h=self.backend.zeros((B, self.n)), z=z, clamped=teacher is not None, mask=mask,
                      labels=labels)
        self._predict(state, B)
        return state

    def _predict(self, state: State, B: int) -> None:
        """state.mu and state.pred from its activity (and factor parameters)."""
        if self.softmax:
            state.mu = self._hypothesis_predictions(state.z, B)
            state.pred = K.mixture_prediction(self.ops, state.a, state.mu if self.k else state.mu[0, ...],
                                              self.backend.empty((B, self.d_x)), bool(self.k))
        else:
            state.pred = state.a @ self.weights["W"]

    def resume(self, state: State, X, Y, teacher=None, *, keep_activity: bool = True) -> State:
        """The next frame's state: fatigue, slow noise and (``keep_activity``) activity and factor parameters
        carried on from ``state`` (copied: the previous frame's result keeps its own), predictions recomputed."""
        b = self.backend
        if not keep_activity or (teacher is None and state.clamped) or self.growth is not None:
            # a teacher's clamp ends with its frame; a recruiting region starts every frame from its first guess, so
            # that the frame's mask (hypotheses in use, a label's own) is its own
            new = self.start(X, Y, teacher)
        else:
            new = State(a=teacher if teacher is not None else b.copy(state.a), h=None,
                        z=b.copy(state.z) if state.z is not None else None, clamped=teacher is not None)
            self._predict(new, X.shape[0])
        new.h = b.copy(state.h)
        new.xi = b.copy(state.xi) if state.xi is not None else None
        return new

    def mask_inputs(self, present) -> None:
        self.pi = self._pi if present is None else self._pi * present
        self._masked = present is not None

    def input_gradient(self, state: State, X):
        """dE/dX (B, d_X): what this region sends down to the sources it explains (precision-weighted error)."""
        b, shape = self.backend, tuple(X.shape)
        if self.softmax and self.cauchy2 is not None:
            return self.xp.sum(state.a[:, :, None] * self._residuals(X, state), axis=1)
        return self.ops.residual(X, state.pred, self.pi, b.empty(shape), b.empty(shape), self.cauchy2)

    def _residuals(self, X, state):
        """(B, n, d_X) new array psi(X - mu_i) * pi, every hypothesis' precision-weighted error."""
        shape = (X.shape[0], self.n, self.d_x)
        return K.hypothesis_residuals(self.ops, X[:, None, :], state.mu, self.pi, self.cauchy2,
                                      self.backend.empty(shape), self.backend.empty(shape))

    def context_gradient(self, state: State, Y):
        """dE/dY (B, d_Y): how this region's context term pulls on its (undelayed) context sources."""
        prior = self._prior(Y)
        target = self.xp.exp(self._log_softmax(prior)) if self.softmax else prior
        out = self.backend.empty((Y.shape[0], self.d_y))
        return K.context_gradient(self.ops, state.a, target, self.p.context_precision,
                                  self.xp.moveaxis(self.weights["V"], -1, -2), self.c,
                                  self.backend.empty(tuple(state.a.shape)), out)

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
                    lam = xp.max(self.eigenvalues(F @ xp.moveaxis(F, -1, -2), "F"), axis=-1)   # (n,) of F_i F_i^T
                    self._step_cache = 1.0 / (self.pi_max * lam + 1.0)
                else:
                    self._step_cache = 1.0
            else:
                W = self.weights["W"]
                gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
                lam = float(b.to_numpy(xp.max(self.eigenvalues(gram, "W"))))
                if not math.isfinite(lam):
                    self.eigenvalues(gram * math.nan, "W")      # raises the DivergenceError that names the weights
                curv = self.pi_max * lam + (self.p.context_precision if self.d_y else 0.0)
                if "L" in self.weights:
                    curv += self.p.inhibition * float(b.to_numpy(xp.max(xp.sum(self.weights["L"], axis=1))))
                self._step_cache = curv
        return self._step_cache

    def eigenvalues(self, M, what: str):
        """xp.linalg.eigvalsh(M) of a curvature bound, or a DivergenceError when ``M`` is not finite."""
        try:
            return self.xp.linalg.eigvalsh(M)
        except Exception:                  # numpy.linalg.LinAlgError; other backends name it differently
            pass                           # (raised below, outside the handler: no chained raw traceback)
        suspects = ("lr",) + (() if self.p.bounded_lr else ("bounded_lr",)) + ("init_scale", "precision")
        bad = [k for k, w in self.weights.items() if not self.xp.all(self.xp.isfinite(w))]
        why = f"its weights {bad} are already non-finite" if bad else "its weights or activity overflowed"
        raise DivergenceError(f"region {self.name!r}: the curvature of its {what} is not finite ({why}); most likely "
                              f"through "
                              f"{', '.join(f'{n}={getattr(self.p, n)!r}' for n in suspects)} (docs/numerics.md)",
                              region=self.name, parameters=suspects)

    def step(self, state: State, X, Y, g_ext, curv_ext: float, rate: float, noise=None) -> None:
        """One block update of this region given everything else: descends the energy when noise and adaptation are off."""
        if self._noise_frames:                       # slow noise of the frame (see begin_frame)
            noise = state.xi
        elif noise is not None and self.p.noise_tau:   # coloured: an Ornstein-Uhlenbeck drive of std sigma
            rho = math.exp(-1.0 / self.p.noise_tau)
            state.xi = noise if state.xi is None else rho * state.xi + math.sqrt(1.0 - rho * rho) * noise
            noise = state.xi
        if self.softmax:
            self._step_softmax(state, X, Y, g_ext, curv_ext, rate, noise)
        else:
            self._step_linear(state, X, Y, g_ext, curv_ext, rate, noise)
        if self.p.adaptation.strength and not state.clamped and not self._fatigue_frames:
            ad = self.p.adaptation
            K.fatigue(self.ops, state.h, state.a, ad.strength, ad.tau, self._buf("T", tuple(state.a.shape)))

    def _step_linear(self, state, X, Y, g_ext, curv_ext, rate, noise):
        if state.clamped:
            return
        ops, p, shape, W = self.ops, self.p, tuple(state.a.shape), self.weights["W"]
        eps = ops.residual(X, state.pred, self.pi, self._buf("E", tuple(X.shape)), self._buf("E2", tuple(X.shape)),
                           self.cauchy2)
        AL = None
        if "L" in self.weights and p.inhibition:
            AL = ops.matmul(state.a, self.weights["L"], self._buf("AL", shape))
        G, T = self._buf("G", shape), self._buf("T", shape)
        K.linear_gradient(ops, eps, self.xp.moveaxis(W, -1, -2), G, T, p.sparsity, state.a, self._prior(Y),
                          p.context_precision, AL, p.inhibition, g_ext)
        eta = rate / (self._steps() + curv_ext)
        N = None
        if noise is not None and p.noise_tau:
            G -= noise                              # a fluctuating drive, in the gradient's units
        elif noise is not None:                     # Langevin: spread set by the curvature, not the step size
            N = self._buf("N", shape)
            N[...] = noise
        K.descend(ops, state.a, G, eta, math.sqrt(eta), state.h if p.adaptation.strength else None, N, T)
        if self.growth is not None:              # inactive hypotheses stay silent (noise included)
            state.a *= self.weights["active"]
        ops.matmul(state.a, W, state.pred)

    def _step_softmax(self, state, X, Y, g_ext, curv_ext, rate, noise):
        ops, p, B, n, d = self.ops, self.p, X.shape[0], self.n, self.d_x
        if self.k:
            F = self.weights["F"]
            K.factor_step(ops, X[:, None, :], state.mu, state.z, F, self.xp.moveaxis(F, -1, -2), self.weights["M"],
                          self.xp.reshape(rate * self._steps(), (n, 1)), self.pi, self.cauchy2,
                          self._buf("R3", (B, n, d)), self._buf("T3", (B, n, d)),
                          self._buf("GZ", (B, n, 1, self.k)), self._buf("Tk", (B, n, self.k)))
        if not state.clamped:
            e = self._masked_energies(X, state, self._buf("e", (B, n)))
            # mirror descent on the simplex: a step of size s from the current a towards the exact minimiser,
            # so settling refines the first guess rather than replacing it in one jump
            s = min(1.0, rate * p.temperature / (p.temperature + curv_ext))
            K.mirror_step(ops, state.a, e, state.h, p.temperature, s, self._buf("u", (B, n)), self._buf("t", (B, n)),
                          self._buf("mx", (B, 1)), self._buf("lse", (B, 1)), self._prior_term(Y), noise, g_ext)
        K.mixture_prediction(ops, state.a, state.mu if self.k else state.mu[0, ...], state.pred, bool(self.k))

    def energy(self, state: State, X, Y):
        """(B,) this region's share of the energy for each stimulus."""
        ops, p, b, B = self.ops, self.p, self.backend, X.shape[0]
        if self.softmax:
            e = self._masked_energies(X, state, b.empty((B, self.n)))
            term = self._prior_term(Y)
            if term is not None:
                e -= term
            return K.mixture_energy(ops, state.a, e, p.temperature, self._buf("u", (B, self.n)),
                                    self._buf("t", (B, self.n)), b.empty((B,)))
        shape, dshape = tuple(state.a.shape), tuple(X.shape)
        R = ops.subtract(X, state.pred, self._buf("R", dshape))
        AL = None
        if "L" in self.weights and p.inhibition:
            AL = ops.matmul(state.a, self.weights["L"], self._buf("AL", shape))
        out = b.empty((B, 1))
        K.linear_energy(ops, R, state.a, self.pi, self.cauchy2, p.sparsity, out, self._buf("E2", dshape),
                        self._buf("T", shape), self._buf("col", (B, 1)), AL, p.inhibition, self._prior(Y),
                        p.context_precision)
        return out[:, 0]

    # ----- online learning -----------------------------------------------------------------------
    def learn(self, state: State, X, Y) -> None:
        """Local updates from a settled batch, each bounded by its curvature (see :mod:`.learning`)."""
        seeding.seed(self, X) or learning.learn(self, state, X, Y)    # init: data: first batches seed instead

    def divergence_suspects(self, when: str) -> tuple[str, ...]:
        """The parameters most likely to blame when this region went non-finite (``when``: ``start``, ``settling``
        or ``learning``), those set away from their defaults first (see :mod:`cortex.divergence`)."""
        if when == "learning":
            return () if self.p.bounded_lr else ("bounded_lr",)
        order = (("init_scale", "precision", "context_precision") if when == "start" else
                 ("precision", "context_precision", "noise", "inhibition", "temperature", "error_scale", "init_scale"))
        moved = tuple(n for n in order if getattr(self.p, n) != type(self.p).model_fields[n].default)
        return moved or order[:2]

    def context_fit(self, Y_fit, A_fit, Y_eval, A_eval):
        return fit_context(self, Y_fit, A_fit, Y_eval, A_eval)

    def fields(self):
        """(n, d_X) the generative field of each hypothesis (what it predicts when active alone)."""
        return self.weights["M"] if self.softmax else self.weights["W"]

    def weights_changed(self) -> None:
        self._step_cache = None
        learned_precision.apply(self)      # learned precisions follow the variances that came with the weights

    def load_weights(self, arrays: dict) -> None:
        """As :meth:`RegionKind.load_weights`; a recruiting region first takes the capacity the arrays were saved at."""
        if self.growth is not None and "active" in arrays and arrays["active"].shape[0] != self.n:
            self.growth.resize(int(arrays["active"].shape[0]))
        super().load_weights(arrays)

    # ----- recruited hypotheses (see .recruit) -------------------------------------------------------
    def concepts(self) -> R.Concepts:
        """The hypotheses in use and the label each stands for (without ``recruit``: all of them, each its index)."""
        return R.concepts(self)

