"""W1 in PCX (the JAX predictive-coding library), for a side-by-side time per settling step.

The same layer sizes (64 -> 256 -> 128 -> 10) and batch as W1, written the way PCX's own examples
write a predictive-coding network: linear layers with ReLU between value nodes (vodes), settling as
gradient steps of the nodes on the energy inside one compiled function (``pxf.scan`` over steps), then
one weight update. The equations are PCX's standard ones, not cortex-sim's (no lateral competition, no
softmax over hypotheses): the comparison is of the machinery on the same shapes. Needs the ``bench``
extra (``pip install 'cortex-sim[bench]'``).

PCX runs in a worker process (:class:`Worker`, ``python -m cortex.bench.pcx_w1``) with its own thread
settings: in one process, XLA's and OpenBLAS's thread pools keep spinning after their calls and slow the
other side down (measured: the engine's step 10x slower beside a multithreaded XLA on 2 cores). The
two processes take turns, so the machine's load still shifts both sides alike.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time


def available() -> str | None:
    """None when PCX imports, else why not."""
    try:
        import pcx  # noqa: F401
    except Exception as exc:  # ImportError, or a JAX that fails to load
        return f"PCX not available ({type(exc).__name__}: {exc}); install it with: pip install 'cortex-sim[bench]'"
    return None


def build(batch: int, sizes=(64, 256, 128, 10), seed: int = 0):
    """Return ``settle(T)``: run T settling steps plus one learning update on a fixed batch (compiled per T)."""
    import os
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import numpy as np
    import optax
    import pcx as px
    import pcx.functional as pxf
    import pcx.nn as pxnn
    import pcx.predictive_coding as pxc
    import pcx.utils as pxu

    class Net(pxc.EnergyModule):
        def __init__(self):
            super().__init__()
            self.layers = [pxnn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
            self.vodes = [pxc.Vode() for _ in range(len(sizes) - 1)]
            self.vodes[-1].h.frozen = True    # the label clamps the top, as in PCX's examples

        def __call__(self, x, y=None):
            for v, layer in zip(self.vodes[:-1], self.layers[:-1]):
                x = v(jax.nn.relu(layer(x)))
            x = self.vodes[-1](self.layers[-1](x))
            if y is not None:
                self.vodes[-1].set("h", y)
            return self.vodes[-1].get("u")

    @pxf.vmap(pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0)), in_axes=(0, 0), out_axes=0)
    def forward(x, y, *, model):
        return model(x, y)

    @pxf.vmap(pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0)), in_axes=(0,), out_axes=(None, 0),
              axis_name="batch")
    def energy(x, *, model):
        y_ = model(x, None)
        return jax.lax.pmean(model.energy().sum(), "batch"), y_

    def h_step(i, x, *, model, optim_h):
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            _, g = pxf.value_and_grad(pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True]), has_aux=True)(
                energy)(x, model=model)
        optim_h.step(model, g["model"])
        return x, None

    @pxf.jit(static_argnums=0)
    def train_on_batch(T, x, y, *, model, optim_w, optim_h):
        model.train()
        with pxu.step(model, (pxc.STATUS.INIT, None), clear_params=pxc.VodeParam.Cache):
            forward(x, y, model=model)
        pxf.scan(h_step, xs=jax.numpy.arange(T))(x, model=model, optim_h=optim_h)
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            (e, _), g = pxf.value_and_grad(pxu.M(pxnn.LayerParam).to([False, True]), has_aux=True)(energy)(x, model=model)
        optim_w.step(model, g["model"])
        return e

    px.RKG.seed(seed)
    model = Net()
    rng = np.random.default_rng(seed)
    x = jax.numpy.asarray(rng.random((batch, sizes[0]), dtype=np.float32))
    y = jax.nn.one_hot(jax.numpy.asarray(rng.integers(0, sizes[-1], batch)), sizes[-1])
    with pxu.step(model, (pxc.STATUS.INIT, None), clear_params=pxc.VodeParam.Cache):
        forward(x, y, model=model)
        optim_h = pxu.Optim(lambda: optax.sgd(0.1))
        optim_h.init(pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
        optim_w = pxu.Optim(lambda: optax.sgd(1e-3), pxu.M(pxnn.LayerParam)(model))

    def settle(T: int) -> float:
        e = train_on_batch(T, x, y, model=model, optim_w=optim_w, optim_h=optim_h)
        return float(jax.block_until_ready(e))

    return settle


def compile_times(settle, steps=(20, 100)) -> dict:
    """Seconds for the first call at each T (compilation included)."""
    out = {}
    for T in steps:
        t0 = time.perf_counter()
        settle(T)
        out[T] = time.perf_counter() - t0
    return out


def xla_flags(threads: int | None) -> str:
    """XLA CPU flags for ``threads`` threads per operation (None: XLA's default, every core)."""
    if threads is None:
        return ""
    if threads == 1:
        return "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}"


CPUS_VAR = "CORTEX_BENCH_CPUS"


def pin_from_env() -> None:
    """In a worker: confine this process to the CPUs its parent chose (``CORTEX_BENCH_CPUS``), before JAX starts."""
    cpus = os.environ.get(CPUS_VAR)
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})


def pinned_cpus(threads: int | None) -> set[int] | None:
    """The CPUs a worker with ``threads`` threads is confined to: XLA's CPU runtime runs independent operations
    on a thread pool of its own whatever its flags say (measured: 1.8 CPU-seconds per second at
    ``--xla_cpu_multi_thread_eigen=false``), so a count of threads holds only when the process has that many
    CPUs. None (no pinning) for XLA's default, or where the platform cannot pin."""
    if threads is None or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return set(allowed[-threads:]) if threads < len(allowed) else None


@contextlib.contextmanager
def apart(cpus: set[int] | None):
    """The engine's side of a comparison on the CPUs the worker was not given, while they take turns: each side
    then has its cores to itself. Unpinned, the engine's thread was at times placed on the worker's CPU, where
    XLA's threads still spin after their turn; its step then read 0.75 ms in one run and 0.64-0.68 in others."""
    rest = set(os.sched_getaffinity(0)) - set(cpus) if cpus and hasattr(os, "sched_setaffinity") else set()
    if not rest:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, rest)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


class ChildWorker:
    """A PCX network served by a child process (``python -m MODULE ARG``) that prints its compile record, then
    one JSON line of times per ``time`` request; the environment pins XLA and BLAS to ``threads``."""

    name = "PCX"

    def _start(self, module: str, arg: str, threads: int | None) -> None:
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        flags = xla_flags(threads)
        if flags:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
            env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
        self.cpus = pinned_cpus(threads)      # None: not pinned
        if self.cpus:      # the worker pins itself before it imports JAX (a preexec_fn would fork beside JAX's threads)
            env[CPUS_VAR] = ",".join(map(str, sorted(self.cpus)))
        self.proc = subprocess.Popen([sys.executable, "-m", module, arg], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker stopped (exit status {self.proc.wait()})")
        return json.loads(line)

    def _times(self) -> dict:
        self.proc.stdin.write("time\n")
        self.proc.stdin.flush()
        return self._read()

    def turns(self, sweep, rounds: int, steps: int = 80) -> list[tuple]:
        """``rounds`` turns: the worker times its network (``times()``), then ``sweep`` runs ``steps`` times here,
        on the CPUs the worker was not given (:func:`apart`). Per turn: the worker's times, and the engine's wall
        and CPU seconds per step."""
        out = []
        with apart(self.cpus):
            for _ in range(rounds):
                t = self.times()
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps):
                    sweep(0)
                out.append((t, (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps))
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


class Worker(ChildWorker):
    """PCX's W1 in a child process: ``times()`` runs T=20 and T=100 there and returns their seconds."""

    def __init__(self, batch: int, threads: int | None = None):
        self._start("cortex.bench.pcx_w1", str(batch), threads)
        self.compile = self._read()

    def times(self) -> tuple[float, float]:
        t = self._times()
        return t["20"], t["100"]


def _serve(batch: int) -> None:
    settle = build(batch)
    comp = compile_times(settle)
    print(json.dumps({str(k): v for k, v in comp.items()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            continue
        out = {}
        for T in (20, 100):
            t0 = time.perf_counter()
            settle(T)
            out[str(T)] = time.perf_counter() - t0
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    pin_from_env()
    _serve(int(sys.argv[1]))
