"""``cortex bench --gpu-report``: W1 and W2 settled on a GPU, as fractions of that GPU's own same-shape matmul rate.

Why: the CPU figures say how close settling runs to the host's BLAS; on a GPU the limit is the device's
own GEMM rate for the same shapes (small matmuls reach a fraction of its peak, and launches and
synchronisations cost more than on a CPU). So the engine's step runs on the device beside a replay of
exactly the matmuls it issues (same shapes and layouts, through the same ``Ops`` seam), both timed with a
device synchronisation after each turn, taking turns as every figure of :mod:`.runner` does.

Any backend works (``backend=``): the tests run this path on ``array_api_strict``, where there is no device
to synchronise, so the first machine with a GPU measures it in minutes (``benchmarks/gpu_bench.sh``).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from cortex.model import Model
from cortex.ops import Ops

from . import workloads as W
from .runner import Report, interleaved, matmul_log, median_ratio


def synchronize(backend) -> None:
    """Wait for the device to finish its queued work (CuPy); nothing to wait for on the host backends."""
    if backend.name == "cupy":
        backend.xp.cuda.Device().synchronize()


def device_name(backend) -> str:
    if backend.name != "cupy":
        return f"{backend.name} (host)"
    cuda = backend.xp.cuda
    props = cuda.runtime.getDeviceProperties(cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return f"{name}, CuPy {backend.xp.__version__}, CUDA runtime {cuda.runtime.runtimeGetVersion()}"


def device_replay(log, backend):
    """A function running the logged matmuls on ``backend`` (fresh arrays, same shapes and layouts), and their flops."""
    ops, xp, rng = Ops(backend), backend.xp, np.random.default_rng(0)
    items, flops = [], 0
    for a_shape, b_shape, b_t in log:
        A = backend.asarray(rng.random(a_shape, dtype=np.float32))
        if b_t:     # the engine reads a transposed view (W^T): the same layout here
            Bm = xp.moveaxis(backend.asarray(rng.random(b_shape[:-2] + (b_shape[-1], b_shape[-2]), dtype=np.float32)),
                             -1, -2)
        else:
            Bm = backend.asarray(rng.random(b_shape, dtype=np.float32))
        out = A @ Bm                # the output buffer, shaped by the product (batches broadcast)
        items.append((A, Bm, out))
        flops += 2 * int(np.prod(tuple(out.shape))) * a_shape[-1]

    def run():
        for A, Bm, out in items:
            ops.matmul(A, Bm, out)
    return run, flops


def _turns(fn, k: int, backend):
    def run():
        for _ in range(k):
            fn()
        synchronize(backend)
    return run


def _workload_figures(rep: Report, wl, backend_name: str, rounds: int, k: int) -> None:
    m = Model(wl.spec, backend=backend_name)
    b = m.backend
    inputs, teachers = m._prepare(wl.stimuli)
    s = m.settler.prepare(inputs, teachers, [], m.options(1))
    s.sweep(0)
    log = matmul_log(s)
    synchronize(b)
    gemm, flops = device_replay(log, b)
    gemm()
    synchronize(b)
    t = interleaved({"engine": _turns(s.sweep, k, b), "gemm": _turns(gemm, k, b)}, rounds)
    step, g = statistics.median(t["engine"]) / k, statistics.median(t["gemm"]) / k
    key = wl.key
    rep.add(key, "settle step time (all regions)", step * 1e3, "ms", f"{k} steps per turn, synchronised after each turn")
    if flops:
        rep.add(key, "matmul work per step", flops / 1e9, "GFLOP")
        rep.add(key, "effective rate of the step", flops / step / 1e9, "GFLOP/s")
        rep.add(key, "device matmul rate, same shapes", flops / g / 1e9, "GFLOP/s", "measured beside it")
        rep.add(key, "fraction of the device's matmul rate", median_ratio(t["gemm"], t["engine"]), "ratio")
    steps = wl.steps[0]
    t0 = time.perf_counter()
    m.settle(wl.stimuli, steps=steps, tol=0)     # results come back to the host: the call synchronises
    rep.add(key, f"settle call, {steps} steps", (time.perf_counter() - t0) * 1e3, "ms", "first guess, steps, results to host")


def gpu_report(backend: str = "cupy", quick: bool = False, rounds: int | None = None, echo=print) -> Report:
    """W1 and W2 (and W3's step) on ``backend``, each beside its own matmuls replayed on the same device."""
    from cortex.backend import get_backend

    b = get_backend(backend)     # a BackendError that says what to install when there is no device
    rounds = rounds or (2 if quick else 7)
    k = 2 if quick else 20
    rep = Report(quick)
    rep.notes.append(f"device: {device_name(b)}; rounds {rounds} (medians); host CPUs are not what is measured")
    cases = [W.w1(batch=16, v1=32, v2=16), W.w2(regions=6, hypotheses=8, batch=4), W.w3(batch=4, steps=20)] if quick \
        else [W.w1(), W.w2(), W.w3(batch=64, steps=2000)]
    for wl in cases:
        echo(f"{wl.key} on {backend} ... ({wl.describe().splitlines()[0]})")
        rep.workloads.append(wl.describe())
        _workload_figures(rep, wl, backend, rounds, k)
    return rep
