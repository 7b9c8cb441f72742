"""The ``spiking`` region: the same competition between hypotheses, run as spiking populations in brian2.

Each hypothesis is a population of leaky integrate-and-fire cells with spike-frequency adaptation. Its
bottom-up drive is its evidence, the match ``X . W_i`` between the region's input and its generative
field: every input value is a channel of Poisson cells firing at ``drive.rate * |X_j|`` with spikes
signed like ``X_j`` (ON and OFF afferents folded into one channel), reaching the population through
synapses of weight ``W[i, j]``. Context (``f(Y V)``), a teacher, top-down pull from regions above and slow
population noise enter as a current per population. Hypotheses compete through a shared inhibitory
pool (with recurrent excitation inside each population), or by direct inhibition between populations.
The input synapses learn by STDP, computed online by brian2 during settling (an eligibility ``dw`` per
synapse); ``learn`` applies ``lr`` times its mean over trials and cells to ``W``.

It plugs into settling unchanged: every settling step advances the network by one ``window`` and the
region's activity ``a`` is each population's firing rate in that window, in hertz (optionally read out
through an exponential filter of time constant ``rate_tau``). So ``record=True``
traces are population rates over time, ``winners`` is the most active population, and the energy a
spiking region reports is the predictive one of its rates in units of ``reference_rate``:
``precision/2 |X - (a/r) W|^2 + context_precision/2 |a/r - Y V|^2``, which gives regions that feed it the
same top-down errors a ``competition: lateral`` region would. Settling a spiking region is a stochastic
simulation, not a descent: its energy is a read-out and may rise.

Physical parameters carry units (``"20 ms"``, ``"-70 mV"``, ``"40 Hz"``), validated by :mod:`cortex.units`.
brian2 is the optional extra ``spiking``; the kind validates without it and says how to install it when
a model is built (the brian2 circuit itself is :mod:`.circuit`). See ``benchmarks/spiking.py`` for the wall time per simulated second of each target.
brian2 simulates on the host, so this kind copies X, Y and the drive to host NumPy at that boundary; its
energy, gradients and learning are written against ``backend.xp`` like every kind's.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from cortex.backend import available_bytes
from cortex.errors import ResourceError
from cortex.region import RegionKind, RegionParams, ResidualForm, Sources, Strict, context_curvature_bound
from cortex.units import Duration, PositiveRate, PositiveVoltage, Rate, Time, Voltage, si

# brian2 simulates on the host, so this kind works in NumPy and crosses to the model's backend only at its
# boundary (backend.to_numpy in, backend.asarray out); the portability test reads this declaration.
HOST_ARRAYS = "brian2 runs on the host: arrays cross to NumPy at the region's boundary"


class Neuron(Strict):
    """Leaky integrate-and-fire cell with spike-frequency adaptation (each spike adds ``adaptation`` to a
    hyperpolarising variable that decays with ``adaptation_tau``) and white membrane noise."""

    tau: Time = "20 ms"
    rest: Voltage = "-70 mV"
    reset: Voltage = "-60 mV"
    threshold: Voltage = "-50 mV"
    refractory: Duration = "2 ms"
    noise: PositiveVoltage = "3 mV"
    adaptation: PositiveVoltage = "0.4 mV"
    adaptation_tau: Time = "600 ms"
    synapse_tau: Time = "5 ms"

    @model_validator(mode="after")
    def _order(self):
        if not si(self.reset) < si(self.threshold):
            raise ValueError(f"reset ({self.reset}) must be below threshold ({self.threshold})")
        if not si(self.rest) < si(self.threshold):
            raise ValueError(f"rest ({self.rest}) must be below threshold ({self.threshold}): a resting cell must not fire")
        return self


class Drive(Strict):
    """Bottom-up evidence: ``sources`` Poisson cells per input value firing at ``rate * |X_j|``; a spike
    moves the membrane by ``weight * W[i, j]``."""

    rate: Rate = "100 Hz"
    weight: PositiveVoltage = "2 mV"
    sources: int = Field(8, ge=1, le=1000)


class Inhibition(Strict):
    """Competition: ``shared`` (a pool of ``neurons`` inhibitory cells per trial, excited by every population
    and inhibiting all of them) or ``direct`` (each population's cells inhibit the other populations')."""

    mode: Literal["shared", "direct"] = "shared"
    neurons: int = Field(100, ge=1, le=100_000)
    tau: Time = "5 ms"
    excitation: PositiveVoltage = "1 mV"
    strength: PositiveVoltage = "6 mV"
    connectivity: float = Field(0.2, gt=0, le=1)


class Recurrent(Strict):
    """Excitation among the cells of one population (what lets a shared pool pick one winner)."""

    strength: PositiveVoltage = "1 mV"
    connectivity: float = Field(0.2, gt=0, le=1)


class STDP(Strict):
    """Pair-based STDP of the input synapses; weights stay in [w_min, w_max] (signed: inputs are signed)."""

    tau_pre: Time = "20 ms"
    tau_post: Time = "20 ms"
    potentiation: float = Field(0.01, ge=0)
    depression: float = Field(0.005, ge=0)
    w_min: float = -1.0
    w_max: float = 1.0

    @model_validator(mode="after")
    def _bounds(self):
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must be below w_max ({self.w_max})")
        return self


class Params(RegionParams):
    """Hyperparameters of a spiking region (YAML keys under ``regions.NAME``).

    neurons : cells per hypothesis (population). window : simulated time per settling step.
    rate_tau : the activity is the window's population rate read out through this filter (0: raw).
    dt : brian2's time step (``window`` must be a whole number of them). target : numpy, cython or auto.
    context_drive : membrane drive per unit of the context prior ``Y V``; teacher_drive : per unit of the
        teacher; feedback : per unit of the top-down pull (minus the gradient regions above send down).
    noise, noise_tau : a drive fluctuation per population, standard deviation ``noise`` x (threshold -
        rest), white or with correlation time ``noise_tau`` settling steps (Ornstein-Uhlenbeck).
    reference_rate : the rate read as activity 1 in the energy (``a / reference_rate`` predicts ``X``).
    lr : multiplies the STDP change applied to ``W`` by ``learn`` (0: no plasticity, cheaper);
        lr_context : delta-rule rate of the context weights ``V``. normalize : unit-norm fields.
    """

    kind: Literal["spiking"] = "spiking"
    neurons: int = Field(80, ge=1, le=100_000)
    neuron: Neuron = Neuron()
    drive: Drive = Drive()
    inhibition: Inhibition = Inhibition()
    recurrent: Recurrent = Recurrent()
    stdp: STDP = STDP()
    context_drive: PositiveVoltage = "5 mV"
    teacher_drive: PositiveVoltage = "10 mV"
    feedback: PositiveVoltage = "0 mV"
    noise: float = Field(0.0, ge=0)
    noise_tau: float = Field(0.0, ge=0)
    window: Time = "10 ms"
    rate_tau: Duration = "0 ms"
    dt: Time = "0.1 ms"
    target: Literal["auto", "numpy", "cython"] = "numpy"
    reference_rate: PositiveRate = "50 Hz"
    precision: float = Field(1.0, gt=0)
    context_precision: float = Field(1.0, ge=0)
    lr: float = Field(1.0, ge=0)
    lr_context: float = Field(0.05, ge=0)
    normalize: bool = True
    init_scale: float = Field(0.1, gt=0, le=10)   # std of the first weights (docs/robustness.md)

    @model_validator(mode="after")
    def _clock(self):
        ratio = si(self.window) / si(self.dt)
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"window ({self.window}) must be a whole number of time steps dt ({self.dt})")
        return self


@dataclass
class State:
    """Settling state of one spiking region for a batch."""

    a: Any                  # (B, n) population rates over the last window, Hz (backend array)
    pred: Any               # (B, d_X) prediction of the input, (a / reference_rate) @ W
    run: int = 0            # which reset of the circuit this state belongs to
    xi: Any = None          # (B, n) slow population noise (host), noise_tau > 0
    teacher: Any = None     # (B, n) host copy of the teacher, or None
    dw: Any = None          # (n, d_X) STDP change of W, kept when the next settle starts
    clamped: bool = False


class Spiking(RegionKind):
    """A region whose hypotheses are spiking populations; see the module docstring."""

    Params = Params
    descends = False    # a stochastic simulation of spikes: its energy is a read-out and may rise

    def __init__(self, name: str, params: Params, backend, inputs: Sources, context: Sources, rng):
        from .circuit import resolve_target

        self.target = resolve_target(params.target)        # brian2 missing: a clear BackendError here
        self.name, self.p, self.backend, self.rng = name, params, backend, rng
        xp = self.xp = backend.xp
        n = self.n = params.hypotheses
        self.d_x, self.d_y = inputs.width, context.width
        self.pi = backend.asarray([v * params.precision for v in inputs.per_column()])
        self.pi_max = float(max(inputs.precisions)) * params.precision
        self.c = backend.asarray(context.per_column()) if self.d_y else None
        self.lr_ctx = params.lr_context       # lr scales STDP; the context weights learn by the delta rule
        self.ref = si(params.reference_rate)
        self.window = si(params.window)
        self.smooth = math.exp(-self.window / si(params.rate_tau)) if si(params.rate_tau) > 0 else 0.0
        self.gap = si(params.neuron.threshold) - si(params.neuron.rest)
        W = rng.normal((n, self.d_x), params.init_scale)
        if params.normalize:
            W = W / xp.maximum(xp.sqrt(xp.sum(W * W, axis=1, keepdims=True)), 1e-12)
        self.weights = {"W": W}
        if self.d_y:
            self.weights["V"] = backend.zeros((self.d_y, n))
        self._circuit = self._session = self._closer = None
        self._run = 0
        self._current = None      # weak reference to the state of the settle in progress
        self._last_x = None
        self._counts = None

    # ----- the brian2 circuit, built per batch size --------------------------------------------------
    def _config(self, batch: int):
        from .circuit import CircuitConfig

        p, nr = self.p, self.p.neuron
        return CircuitConfig(
            n=self.n, neurons=p.neurons, d_x=self.d_x, batch=batch, dt=si(p.dt), tau_m=si(nr.tau), v_rest=si(nr.rest),
            v_reset=si(nr.reset), v_threshold=si(nr.threshold), refractory=si(nr.refractory),
            adapt_jump=si(nr.adaptation), adapt_tau=si(nr.adaptation_tau), syn_tau=si(nr.synapse_tau), sigma=si(nr.noise),
            sources=p.drive.sources, drive_rate=si(p.drive.rate), drive_weight=si(p.drive.weight),
            inh_mode=p.inhibition.mode, inh_neurons=p.inhibition.neurons, inh_tau=si(p.inhibition.tau),
            inh_excitation=si(p.inhibition.excitation), inh_strength=si(p.inhibition.strength),
            inh_p=p.inhibition.connectivity, rec_strength=si(p.recurrent.strength), rec_p=p.recurrent.connectivity,
            plastic=p.lr > 0, tau_pre=si(p.stdp.tau_pre), tau_post=si(p.stdp.tau_post), a_plus=p.stdp.potentiation,
            a_minus=p.stdp.depression, w_min=p.stdp.w_min, w_max=p.stdp.w_max)

    def synapses(self, batch: int) -> int:
        """Synapses the circuit needs for ``batch`` trials (input synapses dominate)."""
        p, pop = self.p, self.n * self.p.neurons
        inh = (2 * pop * p.inhibition.neurons if p.inhibition.mode == "shared" else pop * pop) * p.inhibition.connectivity
        rec = pop * p.neurons * p.recurrent.connectivity if si(p.recurrent.strength) > 0 else 0
        return int(batch * (pop * self.d_x + inh + rec))

    def _ensure(self, batch: int) -> None:
        if self._circuit is not None and self._circuit.cfg.batch == batch and self._session.alive:
            return
        from .circuit import Circuit, Session

        need = self.synapses(batch) * (64 if self.p.lr > 0 else 32)   # brian2 keeps indices, w, traces, delays
        if need > available_bytes() // 2:
            raise ResourceError(f"spiking region {self.name!r}: a batch of {batch} needs {self.synapses(batch):,} synapses "
                                f"(about {need / 2**30:.1f} GiB); use a smaller batch or fewer neurons per hypothesis")
        self.close()
        gen = self.rng.generator
        self._circuit = Circuit(self._config(batch), gen, self.target)
        self._session = Session(self._circuit, self.window, self.target, seed=int(gen.integers(2**31)))
        self._closer = weakref.finalize(self, self._session.close)

    def close(self) -> None:
        """Stop the brian2 run (its worker thread); a later settle starts a new one."""
        if self._closer is not None:
            self._closer()
        self._circuit = self._session = self._closer = None

    # ----- what the engine asks (cortex.region.RegionKind) ---------------------------------------------
    def residual_form(self, start: int, stop: int) -> ResidualForm:
        """dE/dX is ``(X - pred) * pi`` with ``pred = (a / reference_rate) W``: the engine forms it in place."""
        return ResidualForm(float(self.backend.to_numpy(self.pi[start:start + 1])[0]))

    def noise_std(self) -> float:
        return self.p.noise

    def plastic(self) -> bool:
        return bool(self.p.lr or self.lr_ctx)

    @classmethod
    def conformance_params(cls, mode):
        return {"calm": {"noise": 0.0}, "lively": {"noise": 0.05, "noise_tau": 0.0},
                "coloured": {"noise": 0.05, "noise_tau": 5.0}}[mode]

    def _host(self, x):
        return None if x is None else np.asarray(self.backend.to_numpy(x), dtype=np.float64)

    # ----- interface used by settling ------------------------------------------------------------------
    def start(self, X, Y, teacher=None) -> State:
        """A fresh trial: membranes spread below threshold, no adaptation, input synapses = W, rates 0."""
        B = X.shape[0]
        self._ensure(B)
        self._keep_weight_change()
        circuit, gen = self._circuit, self.rng.generator
        W, Xh = self._host(self.weights["W"]), self._host(X)
        self._session.call(lambda: (circuit.reset(gen, W), circuit.set_rates(Xh)))
        self._last_x = Xh
        self._counts = self._session.call(circuit.counts)
        self._run += 1
        state = State(a=self.backend.zeros((B, self.n)), pred=self.backend.zeros((B, self.d_x)), run=self._run,
                      teacher=self._host(teacher))
        self._current = weakref.ref(state)
        return state

    def _keep_weight_change(self) -> None:
        """Before a new settle resets the synapses, store the previous settle's STDP change in its state."""
        old = self._current() if self._current is not None else None
        if old is not None and old.dw is None and self.p.lr > 0:
            old.dw = self._session.call(self._circuit.weight_change)

    def _prior(self, Y):
        if not self.d_y or Y is None:
            return None
        return (Y * self.c) @ self.weights["V"]

    def step(self, state: State, X, Y, g_ext, curv_ext: float, rate: float, noise=None) -> None:
        """Advance the network by one window; ``a`` becomes each population's rate in it (Hz)."""
        p, circuit = self.p, self._circuit
        if state.run != self._run:
            raise ResourceError(f"spiking region {self.name!r}: this state belongs to an earlier settle; "
                                "a spiking region settles one batch at a time")
        B = state.a.shape[0]
        drive = np.zeros((B, self.n))
        prior = self._prior(Y)
        if prior is not None:
            drive += si(p.context_drive) * self._host(prior)
        if state.teacher is not None:
            drive += si(p.teacher_drive) * state.teacher
        if g_ext is not None and si(p.feedback):
            drive -= si(p.feedback) * self._host(g_ext)
        if noise is not None:
            xi = self._host(noise)
            if p.noise_tau:   # Ornstein-Uhlenbeck: standard deviation ``noise``, correlation time noise_tau steps
                rho = math.exp(-1.0 / p.noise_tau)
                xi = xi if state.xi is None else rho * state.xi + math.sqrt(1.0 - rho * rho) * xi
                state.xi = xi
            drive += self.gap * xi
        Xh = self._host(X)
        new_x = None if np.array_equal(Xh, self._last_x) else Xh
        self._last_x = Xh

        def before():
            if new_x is not None:
                circuit.set_rates(new_x)
            circuit.set_drive(drive)

        counts = self._session.advance(before, circuit.counts)
        rates = (counts - self._counts) / (p.neurons * self.window)
        self._counts = counts
        if self.smooth:   # the population rate read out through a filter of time constant rate_tau
            rates = self.smooth * self.backend.to_numpy(state.a) + (1.0 - self.smooth) * rates
        state.a = self.backend.asarray(rates)
        state.pred = (state.a / self.ref) @ self.weights["W"]

    def input_gradient(self, state: State, X):
        """dE/dX (B, d_X): the precision-weighted error of the rates' prediction, sent to the input sources."""
        return (X - (state.a / self.ref) @ self.weights["W"]) * self.pi

    def context_gradient(self, state: State, Y):
        d_prior = -self.p.context_precision * (state.a / self.ref - self._prior(Y))
        return (d_prior @ self.weights["V"].T) * self.c

    def input_curvature(self) -> float:
        return self.pi_max

    def context_curvature(self) -> float:
        if not self.d_y:
            return 0.0
        return context_curvature_bound(self.backend, self.weights["V"], self.c, self.p.context_precision)

    def energy(self, state: State, X, Y):
        """(B,) the predictive energy of the rates in units of ``reference_rate`` (a read-out, not descended)."""
        xp, p = self.xp, self.p
        a = state.a / self.ref
        r = X - a @ self.weights["W"]
        E = 0.5 * xp.sum(r * r * self.pi, axis=-1)
        prior = self._prior(Y)
        if prior is not None:
            d = a - prior
            E = E + 0.5 * p.context_precision * xp.sum(d * d, axis=-1)
        return E

    # ----- online learning -----------------------------------------------------------------------------
    def learn(self, state: State, X, Y) -> None:
        """Apply STDP's change of the input synapses (lr times its mean over trials and cells) to W; V by the
        delta rule towards the settled rates."""
        xp, p, w = self.xp, self.p, self.weights
        if p.lr > 0:
            if state.dw is None:
                if state.run != self._run:
                    raise ResourceError("learn() needs the state of this region's latest settle")
                state.dw = self._session.call(self._circuit.weight_change)
            W = xp.clip(w["W"] + p.lr * self.backend.asarray(state.dw), p.stdp.w_min, p.stdp.w_max)
            if p.normalize:
                W = W / xp.maximum(xp.sqrt(xp.sum(W * W, axis=1, keepdims=True)), 1e-12)
            w["W"] = W
        if self.d_y and self.lr_ctx and Y is not None:
            B, Yc = X.shape[0], Y * self.c
            w["V"] = w["V"] + (self.lr_ctx / B) * (Yc.T @ (state.a / self.ref - Yc @ w["V"]))

    def fields(self):
        """(n, d_X) the generative field of each hypothesis (its input synapses' weights)."""
        return self.weights["W"]
