"""W1's own energy written in PCX, for a comparison of the same math (``PCX (same math) / engine step time``).

:mod:`.pcx_w1` times PCX's standard network on W1's layer sizes, which does less work per step: its
input layer is a constant that XLA hoists out of the loop and its top is clamped to the label (34.9
MFLOP a step against the engine's 51.6 at batch 256). This module writes, with PCX's vodes, energy
module, ``value_and_grad`` and ``scan``, exactly the energy the engine settles on W1:

    E = pi1/2 |X - a1 W1|^2 + s1 sum a1 + g1/2 a1' L a1          (V1, generative bottom layer)
      + pi2/2 |a1 - a2 W2|^2 + s2 sum a2 + g2/2 a2' L a2         (V2)
      + sum_i p_i pi3/2 |a2 - M_i|^2 + T sum_i p_i log p_i       (IT, softmax over hypotheses, unclamped)

with L = ones - I (so a' L a = (sum a)^2 - sum a^2, no matmul, as in the engine), the engine's own weights,
stimuli and first guess (a1 = relu(X R1), a2 = relu(a1 R2), p = softmax(a2 R3)), so the energy at the first
guess is the engine's, which :func:`check` reports. Settling is PCX's: gradient steps of every vode at once
(a1, a2 projected onto a >= 0 after each, the top as logits of p), where the engine steps region by region
with its own step sizes; the matmuls per step are the engine's (:func:`flops`). Needs the ``bench`` extra.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from .pcx_w1 import ChildWorker


def arrays_of(model, stimuli: dict) -> dict:
    """The engine's W1 (weights, hyper-parameters, stimuli, a step size) as arrays for :func:`build`."""
    regions = {c.name: c.region for c in model.compiled.regions}
    V1, V2, IT = regions["V1"], regions["V2"], regions["IT"]
    rate = model.spec.settle.rate
    eta = min(rate / V1._steps(), rate / V2._steps(), rate)
    out = {"X": np.asarray(next(iter(stimuli.values())), np.float32).reshape(-1, V1.d_x),
           "W1": V1.weights["W"], "W2": V2.weights["W"], "M": IT.weights["M"],
           "R1": V1.weights["R"], "R2": V2.weights["R"], "R3": IT.weights["R"]}
    out = {k: np.asarray(model.backend.to_numpy(v), np.float32) for k, v in out.items()}
    out["hyper"] = np.array([V1.pi_max, V1.p.sparsity, V1.p.inhibition, V2.pi_max, V2.p.sparsity, V2.p.inhibition,
                             IT.pi_max, IT.p.temperature, eta], np.float32)
    return out


def flops(batch: int, sizes=(64, 256, 128, 10)) -> tuple[int, int]:
    """Matmul flops per settling step: (this network, PCX's standard one of :mod:`.pcx_w1`).

    Here: each layer's prediction (a1 W1, a2 W2, a2 M^T) and its gradient back (three more), as the engine.
    Standard: the input layer is constant (hoisted), the top clamped: layers 2 and 3 forward and back."""
    d0, d1, d2, d3 = sizes
    same = 4 * batch * (d0 * d1 + d1 * d2 + d2 * d3)
    standard = 4 * batch * (d1 * d2 + d2 * d3)
    return same, standard


def build(arrays: dict):
    """Return ``(settle, energy0)``: ``settle(T)`` runs T settling steps plus one learning update (compiled per
    T); ``energy0()`` is the mean energy per stimulus at the first guess."""
    import os
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp
    import optax
    import pcx.functional as pxf
    import pcx.nn as pxnn
    import pcx.predictive_coding as pxc
    import pcx.utils as pxu

    pi1, s1, g1, pi2, s2, g2, pi3, temp, eta = (float(v) for v in arrays["hyper"])
    R1, R2, R3 = (jnp.asarray(arrays[k]) for k in ("R1", "R2", "R3"))

    def activity_terms(h, s, g):       # s sum a + g/2 a' (ones - I) a, elementwise
        return h * (s + 0.5 * g * (jnp.sum(h) - h))

    def e_v1(vode, rkg=None):          # V1's input penalty and activity terms, and V2's input penalty
        h = vode.get("h")
        ex, eu = vode.get("ex"), h - vode.get("u")
        return 0.5 * pi1 * jnp.sum(ex * ex) + 0.5 * pi2 * jnp.sum(eu * eu) + jnp.sum(activity_terms(h, s1, g1))

    def e_v2(vode, rkg=None):          # V2's activity terms and IT's mixture term sum_i p_i e_i
        return jnp.sum(activity_terms(vode.get("h"), s2, g2)) + jnp.sum(vode.get("p") * vode.get("e"))

    def e_it(vode, rkg=None):          # T sum p log p, from IT's logits
        lsm = jax.nn.log_softmax(vode.get("h"))
        return temp * jnp.sum(jnp.exp(lsm) * lsm)

    class Net(pxc.EnergyModule):
        def __init__(self):
            super().__init__()
            self.W1, self.W2, self.M = (pxnn.LayerParam(jnp.asarray(arrays[k])) for k in ("W1", "W2", "M"))
            self.v1, self.v2, self.v3 = pxc.Vode(e_v1), pxc.Vode(e_v2), pxc.Vode(e_it)

        def first_guess(self, x):      # under STATUS.INIT a vode's h takes the u it is given
            a1 = self.v1(jax.nn.relu(x @ R1))
            a2 = self.v2(jax.nn.relu(a1 @ R2))
            self.v3(a2 @ R3)

        def __call__(self, x):
            a1, a2, logits = self.v1.get("h"), self.v2.get("h"), self.v3.get("h")
            M = self.M.get()
            p = jax.nn.softmax(logits)
            e = 0.5 * pi3 * (jnp.sum(a2 * a2) - 2.0 * (M @ a2) + jnp.sum(M * M, axis=1))  # |a2 - M_i|^2, one matmul
            self.v1(a2 @ self.W2.get(), ex=x - a1 @ self.W1.get())
            self.v2(a2, p=p, e=e)
            self.v3(logits)
            return p

    vodes = pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0))

    @pxf.vmap(vodes, in_axes=(0,), out_axes=0)
    def init(x, *, model):
        model.first_guess(x)
        return x

    @pxf.vmap(vodes, in_axes=(0,), out_axes=(None, 0), axis_name="batch")
    def energy(x, *, model):
        p = model(x)
        return jax.lax.pmean(model.energy().sum(), "batch"), p

    def h_step(i, x, *, model, optim_h):
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            _, g = pxf.value_and_grad(pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True]), has_aux=True)(
                energy)(x, model=model)
        optim_h.step(model, g["model"])
        for v in (model.v1, model.v2):           # activities stay non-negative (the engine's projection)
            v.h.set(jnp.maximum(v.h.get(), 0.0))
        return x, None

    def start(x, model):
        with pxu.step(model, (pxc.STATUS.INIT, None), clear_params=pxc.VodeParam.Cache):
            init(x, model=model)

    @pxf.jit(static_argnums=0)
    def train_on_batch(T, x, *, model, optim_w, optim_h):
        model.train()
        start(x, model)
        pxf.scan(h_step, xs=jnp.arange(T))(x, model=model, optim_h=optim_h)
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            (e, _), g = pxf.value_and_grad(pxu.M(pxnn.LayerParam).to([False, True]), has_aux=True)(energy)(x, model=model)
        optim_w.step(model, g["model"])
        return e

    @pxf.jit()
    def first_energy(x, *, model):
        start(x, model)
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            e, _ = energy(x, model=model)
        return e

    model = Net()
    x = jnp.asarray(arrays["X"])
    start(x, model)
    optim_h = pxu.Optim(lambda: optax.sgd(eta))
    optim_h.init(pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
    optim_w = pxu.Optim(lambda: optax.sgd(1e-3), pxu.M(pxnn.LayerParam)(model))
    e0 = float(first_energy(x, model=model))   # before any learning update changes the weights

    def settle(T: int) -> float:
        return float(jax.block_until_ready(train_on_batch(T, x, model=model, optim_w=optim_w, optim_h=optim_h)))

    return settle, (lambda: e0)


class Worker(ChildWorker):
    """This network in a child process (as :class:`.pcx_w1.Worker`, for the same reasons): ``times()`` runs
    T=20 and T=100 there; ``compile`` holds the compile times and the energy at the first guess."""

    name = "PCX (same math)"

    def __init__(self, arrays: dict, threads: int | None = None):
        import os
        import tempfile

        fd, self.path = tempfile.mkstemp(suffix=".npz", prefix="cortex-pcx-")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        self._start("cortex.bench.pcx_same", self.path, threads)
        try:
            self.compile = self._read()
        except RuntimeError:
            self.close()
            raise

    def times(self) -> dict:
        """Wall seconds ("20", "100") and the worker's CPU seconds ("cpu20", "cpu100") of T=20 and T=100."""
        return self._times()

    def close(self) -> None:
        import os

        super().close()
        if os.path.exists(self.path):
            os.remove(self.path)


def figures(rep, key: str, model, stimuli: dict, batch: int, rounds: int, threads: int | None = None) -> None:
    """``PCX (same math) / engine step time`` and the per-FLOP ratios of both PCX networks, taking turns with
    the engine (80 steps a turn, as :func:`cortex.bench.runner.pcx_figures`)."""
    import statistics

    from . import pcx_w1

    if pcx_w1.available():
        return                                    # pcx_figures has said why
    try:
        worker = Worker(arrays_of(model, stimuli), threads)
    except RuntimeError as exc:
        rep.notes.append(f"PCX (same math) skipped: {exc}")
        return
    try:
        inputs, teachers = model._prepare(stimuli)       # as cortex.bench.runner.prepared (no import circle)
        s = model.settler.prepare(inputs, teachers, [], model.options(1))
        turns = worker.turns(s.sweep, rounds)              # T=100 less T=20: 80 steps a turn
    finally:
        worker.close()
    pcx_step = [(t["100"] - t["20"]) / 80 for t, _, _ in turns]
    pcx_cpu = [(t["cpu100"] - t["cpu20"]) / 80 for t, _, _ in turns]
    eng_step = [wall for _, wall, _ in turns]
    eng_cpu = [cpu for _, _, cpu in turns]
    comp = worker.compile
    engine_e0 = float(np.mean(model.backend.to_numpy(model.settle(stimuli, steps=0).stimulus_energy)))
    same, standard = flops(batch)
    ratio = statistics.median(p / e for p, e in zip(pcx_step, eng_step))
    rep.add(key, "PCX (same math) step time", statistics.median(pcx_step) * 1e3, "ms",
            f"W1's energy in PCX; compile {comp['20']:.1f} s + {comp['100']:.1f} s")
    rep.add(key, "engine step time beside it (same math)", statistics.median(eng_step) * 1e3, "ms", "80 steps per turn")
    rep.add(key, "PCX (same math) / engine step time", ratio, "x", "> 1: engine faster; target >= 1.1")
    rep.add(key, "PCX (same math) / engine CPU time per step", statistics.median(p / e for p, e in zip(pcx_cpu, eng_cpu)),
            "x", "each process's own CPU time: less swayed by a busy machine's scheduling")
    rep.add(key, "PCX (same math) matmul work per step", same / 1e9, "GFLOP", "the engine's matmuls")
    rep.add(key, "PCX (same math) per-FLOP time / engine's", ratio * _engine_flops(rep, key, same) / same, "x",
            "> 1: engine more efficient per FLOP")
    try:
        standard_ratio = rep.value(key, "PCX step time / engine step time")
    except StopIteration:
        standard_ratio = None
    if standard_ratio is not None:
        rep.add(key, "PCX (standard) matmul work per step", standard / 1e9, "GFLOP",
                "input layer hoisted, top clamped")
        rep.add(key, "PCX (standard) per-FLOP time / engine's", standard_ratio * _engine_flops(rep, key, same) / standard,
                "x", "> 1: engine more efficient per FLOP")
    rep.notes.append(f"{key}: energy per stimulus at the first guess: PCX (same math) {comp['energy0']:.6g}, "
                     f"engine {engine_e0:.6g} (the same energy, weights and stimuli)")


def _engine_flops(rep, key: str, default: float) -> float:
    try:
        return rep.value(key, "matmul work per step") * 1e9
    except StopIteration:
        return default


def _serve(path: str) -> None:
    from .pcx_w1 import compile_times

    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    settle, energy0 = build(arrays)
    comp = compile_times(settle)
    print(json.dumps({**{str(k): v for k, v in comp.items()}, "energy0": energy0()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            continue
        out = {}
        for T in (20, 100):
            t0, c0 = time.perf_counter(), time.process_time()
            settle(T)
            out[str(T)], out[f"cpu{T}"] = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    from .pcx_w1 import pin_from_env

    pin_from_env()
    _serve(sys.argv[1])
