"""The brian2 seam of the ``spiking`` kind: the one module that imports brian2 (an optional extra: ``pip install 'cortex-sim[spiking]'``).

It builds the competition circuit of a ``kind: spiking`` region and runs it window by window for the
settling loop. A batch of B stimuli is B independent replicas of the circuit inside one set of brian2
groups (no Python loop over trials, hypotheses or neurons):

- hypothesis i of trial b is a population of ``neurons`` leaky integrate-and-fire cells with
  spike-frequency adaptation (``E``);
- input channel j of trial b is a group of Poisson cells firing at ``drive.rate * |X[b, j]|`` whose spikes
  carry the sign of ``X[b, j]`` (ON and OFF afferents folded into one channel) (``P``); it reaches every
  cell of hypothesis i through a synapse of weight ``W[i, j]`` (the generative field), so a population's
  mean bottom-up drive is the match ``X . W_i``; pair-based STDP runs on these synapses throughout, its
  changes collected per synapse (``dw``) for the region's ``learn`` to apply;
- competition runs through a shared inhibitory pool per trial (``I``), or directly between populations;
- context, a teacher, top-down pull and population noise enter as a per-population current.

Parameters arrive in SI floats (validated by :mod:`cortex.units`) and become brian2 quantities here.
brian2's ``Network.run`` costs about 0.1-0.2 s of set-up per call (a ``gc.collect`` and code-object
preparation), far more than a 10 ms window, so a :class:`Session` keeps *one* ``run`` going in a worker
thread and pauses it at every window boundary (a ``network_operation``) until the settling loop asks
for the next window; the two threads hand over strictly in turn. (While a session exists brian2 counts
as running, so its Ctrl+C handler turns the first Ctrl+C into a stop: the settling loop then raises
``KeyboardInterrupt`` at the next window.)
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

import numpy as np

from cortex.errors import BackendError

# brian2 simulates on the host: this module builds and reads NumPy arrays (the portability test reads this).
HOST_ARRAYS = "brian2 runs on the host"

log = logging.getLogger(__name__)

TARGETS = ("auto", "numpy", "cython", "cpp_standalone")
INSTALL = "pip install 'cortex-sim[spiking]' (brian2>=2.7 with numpy<2.4)"


def brian2_module():
    """Import brian2, or raise a :class:`BackendError` that says how to install it."""
    import signal
    import sys
    import threading

    fresh = "brian2" not in sys.modules and threading.current_thread() is threading.main_thread()
    keep = signal.getsignal(signal.SIGINT) if fresh else None
    try:
        import brian2
    except Exception as exc:   # ImportError, or brian2 2.9 failing on NumPy 2.4 (ndarray.ptp is gone)
        raise BackendError(f"kind: spiking needs brian2, which cannot be imported here ({type(exc).__name__}: {exc}); "
                           f"install it with: {INSTALL}") from exc
    finally:   # brian2's import installs its own SIGINT handler over whatever the caller (cortex.interrupts) set
        if fresh and keep is not None:
            signal.signal(signal.SIGINT, keep)
    brian2.prefs.core.stop_on_keyboard_interrupt = False   # Ctrl-C ends the whole run (cortex.interrupts), not one step
    return brian2


def brian2_available() -> bool:
    try:
        brian2_module()
        return True
    except BackendError:
        return False


_cython_ok: bool | None = None


def cython_available() -> bool:
    """True when brian2's Cython target can compile here (needs Cython and a C compiler; checked once)."""
    global _cython_ok
    if _cython_ok is None:
        try:
            from brian2.codegen.runtime.cython_rt import CythonCodeObject
            _cython_ok = bool(CythonCodeObject.is_available())
        except Exception:
            _cython_ok = False
    return _cython_ok


def resolve_target(name: str) -> str:
    """The code-generation target a region runs on: ``auto`` is cython where it compiles, else numpy.

    Measured by ``benchmarks/spiking.py``: in the settling loop cython runs the rivalry circuit about 2x
    faster than numpy, after a first build of 0.5-1.5 min per circuit on each machine (cached in
    ``~/.cython`` afterwards). cpp_standalone is faster again but cannot pause at every window for the
    settling loop, so regions run on numpy or cython only.
    """
    if name not in TARGETS or name == "cpp_standalone":
        raise BackendError(f"unknown brian2 target {name!r} for a region; expected one of auto, numpy, cython "
                           "(cpp_standalone runs whole trials only: see benchmarks/spiking.py)")
    brian2_module()
    if name == "auto":
        name = "cython" if cython_available() else "numpy"
        log.info("brian2 target auto -> %s", name)
        return name
    if name == "cython" and not cython_available():
        raise BackendError("target: cython needs Cython and a working C compiler; use target: numpy")
    return name


@dataclass(frozen=True)
class CircuitConfig:
    """Everything the circuit needs, in SI units (seconds, volts, hertz) and plain numbers."""

    n: int                    # hypotheses (populations)
    neurons: int              # cells per population
    d_x: int                  # input channels
    batch: int                # independent replicas
    dt: float
    tau_m: float
    v_rest: float
    v_reset: float
    v_threshold: float
    refractory: float
    adapt_jump: float
    adapt_tau: float
    sources: int              # Poisson cells per input channel
    drive_rate: float         # Poisson rate per unit of input
    drive_weight: float       # membrane jump per input spike at synaptic weight 1
    inh_mode: str             # shared | direct
    inh_neurons: int
    inh_tau: float
    inh_excitation: float     # E -> I jump (shared)
    inh_strength: float       # I -> E (shared) or E_i -> E_j (direct) jump, positive number
    inh_p: float
    rec_strength: float
    rec_p: float
    syn_tau: float            # decay of recurrent and inhibitory synaptic currents
    sigma: float              # membrane noise (std of the free membrane potential), volts
    plastic: bool
    tau_pre: float = 0.02
    tau_post: float = 0.02
    a_plus: float = 0.0
    a_minus: float = 0.0
    w_min: float = 0.0
    w_max: float = 1.0


def _pairs(rng: np.random.Generator, n_pre: int, n_post: int, p: float, exclude_self: bool = False):
    """Random connections with probability ``p`` (one draw, no loop): (pre, post) index arrays."""
    mask = rng.random((n_pre, n_post)) < p
    if exclude_self:
        np.fill_diagonal(mask, False)
    return np.nonzero(mask)


def _connect(synapses, pre, post, batch: int, pre_size: int, post_size: int) -> None:
    """The same wiring in every trial, offset into that trial's block of cells."""
    off = np.arange(batch)[:, None]
    synapses.connect(i=(pre[None] + off * pre_size).ravel(), j=(post[None] + off * post_size).ravel())


class Circuit:
    """``batch`` replicas of one region's competition circuit, built in brian2's current device.

    Wiring is drawn from ``rng`` (a NumPy Generator), identical in every trial; spike noise comes from
    brian2's random stream, which :class:`Session` seeds per region and keeps apart from global state.
    Objects have fixed names (``E``, ``P``, ``input`` ...): generated code names its arrays after them, so
    fixed names let every circuit reuse the Cython target's compiled code instead of compiling anew.
    """

    def __init__(self, cfg: CircuitConfig, rng: np.random.Generator, target: str = "numpy"):
        b2 = brian2_module()
        keep = b2.prefs.codegen.target
        b2.prefs.codegen.target = target if target != "cpp_standalone" else keep   # connect() runs code now
        try:
            self._build(b2, cfg, rng)
        finally:
            b2.prefs.codegen.target = keep

    def _build(self, b2, cfg, rng):
        self.cfg, c = cfg, cfg
        B, n, N = c.batch, c.n, c.neurons
        self.n_exc = B * n * N
        second, volt = b2.second, b2.volt
        dt = c.dt * second
        ns = {"tau_m": c.tau_m * second, "v_rest": c.v_rest * volt, "v_reset": c.v_reset * volt,
              "v_th": c.v_threshold * volt, "tau_a": c.adapt_tau * second, "a_jump": c.adapt_jump * volt,
              "tau_i": c.inh_tau * second, "J_in": c.drive_weight * volt, "J_ei": c.inh_excitation * volt,
              "J_inh": c.inh_strength * volt, "J_rec": c.rec_strength * volt,
              "tau_pre": c.tau_pre * second, "tau_post": c.tau_post * second,
              "sigma": c.sigma * volt, "tau_s": c.syn_tau * second,
              # a spike into g adds the charge of a membrane jump J: g jumps by J * tau_m / tau_s
              "k_E": c.tau_m / c.syn_tau, "k_I": c.inh_tau / c.syn_tau,
              "a_plus": c.a_plus, "a_minus": c.a_minus}
        # membrane noise: a white-noise current whose free membrane potential has std sigma
        noise, method = (" + sigma * sqrt(2 / tau_m) * xi", "euler") if c.sigma > 0 else ("", "exact")
        trace = "\ndapost/dt = -apost / tau_post : 1" if c.plastic else ""
        self.E = b2.NeuronGroup(
            self.n_exc,
            f"""dv/dt = (v_rest - v + I_drive - u + g) / tau_m{noise} : volt (unless refractory)
               du/dt = -u / tau_a : volt
               dg/dt = -g / tau_s : volt
               I_drive : volt{trace}""",
            threshold="v > v_th", reset="v = v_reset; u += a_jump" + ("; apost += a_minus" if c.plastic else ""),
            refractory=c.refractory * second, method=method, dt=dt, namespace=ns, name="E")
        # input channel j of trial b: ``sources`` Poisson cells firing at rate * |X[b, j]|; a spike carries the
        # sign of X[b, j] (ON and OFF afferents folded into one channel), so the mean drive is X . W_i exactly
        K, d, pop = c.sources, c.d_x, n * N
        if c.plastic:
            # pair-based all-to-all STDP, computed online. Its traces belong to cells, not synapses: the pre
            # trace (signed like the input, so a field learns signed inputs) on the afferents, the post trace
            # on the cells; no per-synapse exponentials. Changes collect in ``dw`` (an eligibility) while ``w``
            # stays fixed during a settle; the region applies lr * mean(dw) in ``learn``, so a long test
            # settle does not rewrite the fields it is testing.
            self.P = b2.NeuronGroup(B * d * K, """rate : hertz
                                                  spin : 1
                                                  dapre/dt = -apre / tau_pre : 1""",
                                    threshold="rand() < rate * dt", reset="apre += a_plus * spin", method="exact",
                                    dt=dt, namespace=ns, name="P")
            model, on_pre, on_post = "w : 1\ndw : 1", "v_post += J_in * w * spin_pre\ndw -= apost_post * spin_pre", \
                "dw += apre_pre"
        else:
            self.P = b2.NeuronGroup(B * d * K, "rate : hertz\nspin : 1", threshold="rand() < rate * dt", dt=dt,
                                    namespace={}, name="P")
            model, on_pre, on_post = "w : 1", "v_post += J_in * w * spin_pre", None
        self.S = b2.Synapses(self.P, self.E, model, on_pre=on_pre, on_post=on_post, dt=dt, namespace=ns,
                             name="input")
        # synapse order (b, i, m, j): the mean over trials and cells per (i, j) is one reshape; cell (i, m)
        # hears channel j through source k[i*N + m, j] of that channel's K
        k = rng.integers(0, K, size=(pop, d))
        b_, im_, j_ = np.meshgrid(np.arange(B), np.arange(pop), np.arange(d), indexing="ij")
        self.S.connect(i=((b_ * d + j_) * K + k[None]).ravel(), j=(b_ * pop + im_).ravel())
        objects = [self.E, self.P, self.S]

        if c.inh_mode == "shared":
            Ni = c.inh_neurons
            inh_noise = noise.replace("tau_m", "tau_i")
            self.I = b2.NeuronGroup(B * Ni, f"""dv/dt = (v_rest - v + g) / tau_i{inh_noise} : volt (unless refractory)
                                               dg/dt = -g / tau_s : volt""",
                                    threshold="v > v_th", reset="v = v_reset", refractory=c.refractory * second,
                                    method=method, dt=dt, namespace=ns, name="I")
            ei = b2.Synapses(self.E, self.I, on_pre="g_post += J_ei * k_I", dt=dt, namespace=ns, name="EI")
            ie = b2.Synapses(self.I, self.E, on_pre="g_post -= J_inh * k_E", dt=dt, namespace=ns, name="IE")
            pre, post = _pairs(rng, pop, Ni, c.inh_p)
            _connect(ei, pre, post, B, pop, Ni)
            pre, post = _pairs(rng, Ni, pop, c.inh_p)
            _connect(ie, pre, post, B, Ni, pop)
            objects += [self.I, ei, ie]
        else:   # direct: every population inhibits the others' cells
            ee = b2.Synapses(self.E, self.E, on_pre="g_post -= J_inh * k_E", dt=dt, namespace=ns, name="EE")
            pre, post = _pairs(rng, pop, pop, c.inh_p)
            keep = (pre // N) != (post // N)
            _connect(ee, pre[keep], post[keep], B, pop, pop)
            objects.append(ee)
            self.I = None
        if c.rec_strength > 0:
            rec = b2.Synapses(self.E, self.E, on_pre="g_post += J_rec * k_E", dt=dt, namespace=ns, name="rec")
            pre, post = _pairs(rng, pop, pop, c.rec_p, exclude_self=True)
            keep = (pre // N) == (post // N)
            _connect(rec, pre[keep], post[keep], B, pop, pop)
            objects.append(rec)
        self.spikes = b2.SpikeMonitor(self.E, record=False, name="count")
        objects.append(self.spikes)
        self.objects = objects

    # ----- state, read and written between windows (host NumPy, SI floats) ------------------------
    def reset(self, rng: np.random.Generator, W: np.ndarray) -> None:
        """Fresh trial: membranes spread between reset and threshold, no adaptation, input weights = W."""
        c = self.cfg
        self.E.v_[:] = rng.uniform(c.v_reset, c.v_threshold, self.n_exc)
        self.E.u_[:] = 0.0
        self.E.g_[:] = 0.0
        self.E.I_drive_[:] = 0.0
        if self.I is not None:
            self.I.v_[:] = rng.uniform(c.v_reset, c.v_threshold, len(self.I))
            self.I.g_[:] = 0.0
        self.set_weights(W)

    def set_weights(self, W: np.ndarray) -> None:
        c = self.cfg
        w = np.clip(np.asarray(W, np.float64), c.w_min, c.w_max)                  # (n, d)
        self.S.w_[:] = np.broadcast_to(w[None, :, None, :], (c.batch, c.n, c.neurons, c.d_x)).ravel()
        if c.plastic:
            self.S.dw_[:] = 0.0
            self.P.apre_[:] = 0.0
            self.E.apost_[:] = 0.0

    def set_rates(self, X: np.ndarray) -> None:
        """Input channel rates from the region's input X (B, d): ``drive.rate * |X|``, spikes signed like X."""
        X = np.repeat(np.asarray(X, np.float64).ravel(), self.cfg.sources)
        self.P.rate_[:] = self.cfg.drive_rate * np.abs(X)
        self.P.spin_[:] = np.sign(X)

    def set_drive(self, drive: np.ndarray) -> None:
        """Per-population current (B, n) in volts, the same for every cell of a population."""
        self.E.I_drive_[:] = np.repeat(np.asarray(drive, np.float64).ravel(), self.cfg.neurons)

    def counts(self) -> np.ndarray:
        """(B, n) spikes of each population so far (cumulative)."""
        c = self.cfg
        return np.asarray(self.spikes.count[:]).reshape(c.batch, c.n, c.neurons).sum(axis=2)

    def weight_change(self) -> np.ndarray:
        """(n, d) STDP's accumulated change of the input synapses, averaged over trials and cells."""
        c = self.cfg
        if not c.plastic:
            return np.zeros((c.n, c.d_x))
        return np.asarray(self.S.dw_[:]).reshape(c.batch, c.n, c.neurons, c.d_x).mean(axis=(0, 2))


class _Stopped(Exception):
    """Raised inside the brian2 run to end it from a window boundary."""


class Session:
    """One long brian2 run of a circuit, paused at every window boundary until :meth:`advance`.

    All brian2 work happens in the worker thread; the caller's thread only queues commands and waits,
    so the two never run at once. brian2's random stream (NumPy's global generator, plus the Cython
    target's buffers) is swapped in while this session simulates and swapped out when it pauses, so
    each region has its own seeded stream and the caller's global state is left as it was.
    """

    def __init__(self, circuit: Circuit, window: float, target: str, seed: int):
        b2 = brian2_module()
        self.circuit, self.window, self.target = circuit, window, target
        self._requests: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._random = {"numpy_state": np.random.RandomState(seed).get_state(),
                        "rand_buffer_index": np.zeros(1, np.int32), "rand_buffer": np.zeros(1, np.intp),
                        "randn_buffer_index": np.zeros(1, np.int32), "randn_buffer": np.zeros(1, np.intp)}
        self._outer = None
        self._after = None
        self._keep_target = b2.prefs.codegen.target
        self._closed = False
        op = b2.NetworkOperation(self._boundary, dt=window * b2.second, when="start", name="window")
        self.net = b2.Network(*circuit.objects, op)
        self._thread = threading.Thread(target=self._run, name="brian2-session", daemon=True)
        self._thread.start()
        self._wait()   # code generation (and, for cython, compilation) happens before the first boundary

    # ----- worker thread ---------------------------------------------------------------------------
    def _run(self):
        from brian2 import Network, get_device, prefs, second

        try:
            prefs.codegen.target = self.target
            self._outer = get_device().get_random_state()
            get_device().set_random_state(self._random)
            self.net.run(min(1e6, 2**39 * self.circuit.cfg.dt) * second, namespace={}, report=None)   # ended by close()
            # a normal end before close(): brian2's Ctrl+C handler stopped every network
            self._replies.put(("interrupted" if Network._globally_stopped else "closed", None))
        except _Stopped:
            self._replies.put(("closed", None))
        except BaseException as exc:   # every failure reaches the waiting caller instead of vanishing
            if isinstance(exc.__cause__, _Stopped) or isinstance(exc.__context__, _Stopped):
                self._replies.put(("closed", None))
            else:
                self._replies.put(("error", exc))

    def _boundary(self):
        from brian2 import get_device, prefs

        device = get_device()
        self._random = device.get_random_state()          # pause: my stream out, the caller's back in
        device.set_random_state(self._outer)
        prefs.codegen.target = self._keep_target
        reply = None
        if self._after is not None:
            try:
                reply = ("ok", self._after())
            except Exception as exc:
                reply = ("error", exc)
            self._after = None
        self._replies.put(reply or ("ok", None))
        while True:
            cmd, arg = self._requests.get()
            if cmd == "call":
                try:
                    self._replies.put(("ok", arg()))
                except Exception as exc:
                    self._replies.put(("error", exc))
            elif cmd == "advance":
                before, self._after = arg
                if before is not None:
                    try:
                        before()
                    except Exception as exc:
                        self._after = None
                        self._replies.put(("error", exc))
                        continue
                self._outer = device.get_random_state()
                device.set_random_state(self._random)
                return
            else:   # stop at once: finishing the time step would draw from whichever random stream is current
                raise _Stopped()

    # ----- caller's thread ---------------------------------------------------------------------------
    def _wait(self):
        while True:   # a long wait is normal (cython compiles for minutes); a dead worker is not
            try:
                kind, value = self._replies.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._replies.empty():
                    self._closed = True
                    raise BackendError("the brian2 run of this spiking circuit has ended") from None
        if kind == "error":
            self._closed = not self._thread.is_alive() or self._closed
            raise BackendError(f"brian2 failed in the spiking circuit: {type(value).__name__}: {value}") from value
        if kind == "interrupted":
            self._closed = True
            raise KeyboardInterrupt("brian2 stopped the spiking simulation (Ctrl+C)")
        if kind == "closed":
            self._closed = True
            raise BackendError("the brian2 run of this spiking circuit has ended")
        return value

    @property
    def alive(self) -> bool:
        return not self._closed and self._thread.is_alive()

    def call(self, fn):
        """Run ``fn()`` in the worker thread while the simulation is paused; returns its result."""
        if self._closed:
            raise BackendError("this spiking session is closed")
        self._requests.put(("call", fn))
        return self._wait()

    def advance(self, before=None, after=None):
        """Run ``before()``, simulate one window, run ``after()`` and return its result (one hand-over)."""
        if self._closed:
            raise BackendError("this spiking session is closed")
        self._requests.put(("advance", (before, after)))
        return self._wait()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._requests.put(("stop", None))
            self._thread.join(timeout=60)
