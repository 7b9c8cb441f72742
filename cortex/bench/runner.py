"""Measure settling: step time, matmul efficiency, reference ratio, memory, scaling, and PCX beside it.

Every ratio is measured in one process with its two sides interleaved (A, B, A, B, ...) and reported as
the median of the per-round ratios, so a machine shared with other work shifts both sides alike.
"""
from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from cortex.model import Model
from cortex.schedule import Single
from cortex.settle import Settling

from . import workloads as W
from .reference import ReferenceSettling, settle_reference


@dataclass
class Figure:
    workload: str
    name: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Report:
    quick: bool
    workloads: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, workload, name, value, unit, note=""):
        self.figures.append(Figure(workload, name, float(value), unit, note))

    def value(self, workload, name):
        return next(f.value for f in self.figures if f.workload == workload and f.name == name)

    def table(self) -> str:
        lines = ["", "workloads:"] + [f"  {w}" for w in self.workloads] + [""]
        lines.append(f"{'workload':<9}{'figure':<44}{'value':>14}  {'unit':<12}note")
        lines.append("-" * 100)
        for f in self.figures:
            lines.append(f"{f.workload:<9}{f.name:<44}{_fmt(f.value):>14}  {f.unit:<12}{f.note}")
        lines += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"quick": self.quick, "workloads": self.workloads, "notes": self.notes,
                "figures": [f.__dict__ for f in self.figures]}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return f"{v:.3g}"
    return f"{v:.3f}"


# ------------------------------------------------------------------------------------------- timing

def interleaved(fns: dict, rounds: int, inner: dict | int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, ``rounds`` times, the functions taking turns (order rotated)."""
    names = list(fns)
    out = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            k = inner[n] if isinstance(inner, dict) else inner
            t0 = time.perf_counter()
            for _ in range(k):
                fns[n]()
            out[n].append((time.perf_counter() - t0) / k)
    return out


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def prepared(model: Model, stimuli: dict, noise: bool = True) -> Settling:
    inputs, teachers = model._prepare(stimuli)
    return model.settler.prepare(inputs, teachers, [], model.options(1, noise=noise))


def bytes_per_step(sweep) -> int:
    """Peak bytes traced above the steady state while one settling step runs (two warm-up steps first).

    Works inside an outer ``tracemalloc`` session (it then leaves tracing on) or starts and stops its own.
    """
    sweep()
    sweep()
    outer = tracemalloc.is_tracing()
    if not outer:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sweep()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        if not outer:
            tracemalloc.stop()


def prepared_reference(model: Model, stimuli: dict, noise: bool = True) -> ReferenceSettling:
    inputs, teachers = model._prepare(stimuli)
    return ReferenceSettling(model.compiled, inputs, teachers, [], model.noise_streams if noise else None)


def matmul_log(s: Settling) -> list:
    """The matmul shapes one engine step issues (logged by the ops layer)."""
    s.env.ops.log = []
    s.sweep(0)
    log, s.env.ops.log = s.env.ops.log, None
    return log


def replay(log, rng=None):
    """A function running the same float32 matmuls (same shapes and layouts) on fresh arrays, and their flops."""
    rng = rng or np.random.default_rng(0)
    items, flops = [], 0
    for a_shape, b_shape, b_t in log:
        A = rng.random(a_shape, dtype=np.float32)
        Bm = (np.moveaxis(rng.random(b_shape[:-2] + (b_shape[-1], b_shape[-2]), dtype=np.float32), -1, -2)
              if b_t else rng.random(b_shape, dtype=np.float32))
        out = np.matmul(A, Bm)
        items.append((A, Bm, out))
        flops += 2 * int(np.prod(out.shape)) * a_shape[-1]

    def run():
        for A, Bm, out in items:
            np.matmul(A, Bm, out=out)
    return run, flops


# ------------------------------------------------------------------------------------------- figures

def step_figures(rep: Report, key: str, model: Model, stimuli: dict, rounds: int, reference: bool = True):
    """Per-step time, steps/s, GFLOP/s against the matmul rate of the same shapes, and the reference ratio."""
    s = prepared(model, stimuli)
    s.sweep(0)
    gemm, flops = replay(matmul_log(s))
    fns = {"engine": s.sweep, "gemm": gemm}
    if reference:
        r = prepared_reference(model, stimuli)
        rate = model.spec.settle.rate
        fns["reference"] = lambda: r.sweep(rate)
    inner = _calls_per_turn(s.sweep)
    t = interleaved(fns, rounds, inner)
    step = statistics.median(t["engine"])
    rep.add(key, "settle step time (all regions)", step * 1e3, "ms")
    rep.add(key, "settling steps per second", 1.0 / step, "steps/s")
    if flops:
        rep.add(key, "matmul work per step", flops / 1e9, "GFLOP", "matmuls the step issues (grouped regions, softmax block)")
        rep.add(key, "effective rate of the step", flops / step / 1e9, "GFLOP/s")
        rep.add(key, "float32 matmul rate, same shapes", flops / statistics.median(t["gemm"]) / 1e9, "GFLOP/s",
                "measured beside it")
        rep.add(key, "fraction of matmul rate", median_ratio(t["gemm"], t["engine"]), "ratio", "target >= 0.80 (W1), 0.85 (W2)")
    else:
        rep.notes.append(f"{key}: no grouped (linear) region, so no matmul-rate figure; its regions step through "
                         "their own methods")
    if reference:
        rep.add(key, "reference step time (per-region loop)", statistics.median(t["reference"]) * 1e3, "ms")
        rep.add(key, "speed-up over reference", median_ratio(t["reference"], t["engine"]), "x")
    return s


def _calls_per_turn(fn, turn=0.003, most=200) -> int:
    """Calls of ``fn`` per timed turn so that a turn lasts about ``turn`` seconds (1 for a slow step): a step of tens
    of microseconds timed five at a time is mostly timer and scheduler noise on a busy machine."""
    fn()
    t0 = time.perf_counter()
    for _ in range(3):
        fn()
    once = (time.perf_counter() - t0) / 3
    return max(1, min(most, int(turn / max(once, 1e-9))))


def memory_figures(rep: Report, key: str, model: Model, stimuli: dict, steps: int, reference: bool = True):
    """Peak traced bytes per stimulus of a settle call, and bytes allocated by one steady-state step."""
    B = next(iter(stimuli.values())).shape[0]
    gc.collect()
    tracemalloc.start()
    try:
        for name, call in (("engine", lambda: model.settle(stimuli, steps=steps, tol=0)),) + (
                (("reference", lambda: settle_reference(model, stimuli, steps)),) if reference else ()):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            result = call()
            peak = tracemalloc.get_traced_memory()[1] - base
            del result
            rep.add(key, f"peak memory per stimulus ({name})", peak / B / 1024, "KiB/stimulus")
        for name, sweep in (("engine", prepared(model, stimuli).sweep),) + (
                (("reference", _ref_sweep(model, stimuli)),) if reference else ()):
            allocated = bytes_per_step(sweep)
            singles = [blk.region.name for blk in model.compiled.schedule if isinstance(blk, Single)]
            note = "peak above steady state, Python objects included"
            if name == "engine" and singles:
                note += f"; {', '.join(singles)} step through their own methods"
            rep.add(key, f"bytes allocated by one step ({name})", allocated, "B", note)
    finally:
        tracemalloc.stop()


def _ref_sweep(model, stimuli):
    r = prepared_reference(model, stimuli)
    rate = model.spec.settle.rate
    return lambda: r.sweep(rate)


def settle_call_figures(rep: Report, key: str, model: Model, stimuli: dict, steps_list, rounds: int):
    """End-to-end settle calls (first guess, steps, results to host) and one learning update."""
    fns = {f"settle {n} steps": (lambda n=n: model.settle(stimuli, steps=n, tol=0)) for n in steps_list}
    for n in steps_list:
        fns[f"reference {n} steps"] = lambda n=n: settle_reference(model, stimuli, n)
    result = model.settle(stimuli, steps=steps_list[0], tol=0)
    fns["learn"] = lambda: model.learn(result)
    t = interleaved(fns, rounds)
    for n in steps_list:
        rep.add(key, f"settle call, {n} steps", statistics.median(t[f"settle {n} steps"]) * 1e3, "ms",
                f"reference {statistics.median(t[f'reference {n} steps']) * 1e3:.1f} ms")
    rep.add(key, "one learning update", statistics.median(t["learn"]) * 1e3, "ms")


def pcx_figures(rep: Report, key: str, model: Model, stimuli: dict, batch: int, rounds: int,
                threads: int | None = None):
    """PCX's step time on W1's shapes (in a worker process) beside the engine's, taking turns."""
    from . import pcx_w1

    why = pcx_w1.available()
    if why:
        rep.notes.append(why)
        return
    try:
        worker = pcx_w1.Worker(batch, threads)
    except RuntimeError as exc:          # the worker died starting up (a JAX that cannot load, bad XLA flags)
        rep.notes.append(f"PCX comparison skipped: {exc}")
        return
    try:
        turns = worker.turns(prepared(model, stimuli).sweep, rounds)       # T=100 less T=20: 80 steps a turn
    finally:
        worker.close()
    pcx_step = [(t100 - t20) / 80 for (t20, t100), _, _ in turns]
    eng_step = [wall for _, wall, _ in turns]
    comp = worker.compile
    label = "XLA default threads" if threads is None else f"XLA {pcx_w1.xla_flags(threads)}"
    label += f", on CPU {', '.join(map(str, sorted(worker.cpus)))} only" if worker.cpus else ""
    rep.add(key, "PCX step time, same layer sizes", statistics.median(pcx_step) * 1e3, "ms",
            f"{label}; compile {comp['20']:.1f} s (T=20) + {comp['100']:.1f} s (T=100)")
    rep.add(key, "engine step time beside it", statistics.median(eng_step) * 1e3, "ms", "80 steps per turn")
    rep.add(key, "PCX step time / engine step time", median_ratio(pcx_step, eng_step), "x", "> 1: engine faster")


def scaling_figures(rep: Report, base: tuple[int, int, int], rounds: int):
    """W2 step time as regions, hypotheses and batch double, per unit of work (connections x stimuli)."""
    R, n, B = base
    cases = {"base": (R, n, B), "2x regions": (2 * R, n, B), "2x hypotheses": (R, 2 * n, B), "2x batch": (R, n, 2 * B)}
    sweeps, work = {}, {}
    for name, (r, h, b) in cases.items():
        wl = W.w2(regions=r, hypotheses=h, batch=b)
        m = Model(wl.spec)
        s = prepared(m, wl.stimuli)
        s.sweep(0)
        _, flops = replay(matmul_log(s))
        sweeps[name], work[name] = s.sweep, flops
    t = interleaved(sweeps, rounds)
    t0 = statistics.median(t["base"])
    for name in cases:
        ratio_t = median_ratio(t[name], t["base"])
        ratio_w = work[name] / work["base"]
        r, h, b = cases[name]
        rep.add("scaling", f"{name}: R={r} n={h} B={b} step", statistics.median(t[name]) * 1e3, "ms",
                f"time x{ratio_t:.2f} for work x{ratio_w:.2f}" if name != "base" else f"{t0 * 1e3:.2f} ms, work "
                f"{work[name] / 1e9:.3f} GFLOP")
        if name != "base":
            rep.add("scaling", f"{name}: time growth / work growth", ratio_t / ratio_w, "ratio", "1 = linear in connections")


# ------------------------------------------------------------------------------------------- entry point

def run(workloads=("W1", "W2", "W3"), quick: bool = False, rounds: int | None = None, batch: int | None = None,
        regions: int | None = None, hypotheses: int | None = None, reference: bool = True, pcx: bool = True,
        scaling: bool = True, threads: int | str | None = "configured", echo=print) -> Report:
    """Run the chosen workloads and return the report (``echo`` prints progress lines).

    ``threads``: BLAS threads for the engine (set with threadpoolctl for this call) and threads per
    operation for PCX's XLA; ``"configured"`` (the default) takes cortex's setting (:mod:`cortex.threadpool`:
    ``set_threads``, ``CORTEX_THREADS``, else 1); None or ``"default"`` leaves both libraries at their
    defaults (usually every core).
    """
    from cortex.threadpool import check, configured, threads as limit

    threads = configured() if threads == "configured" else check(threads, "bench threads")
    with limit(threads):
        return _run(workloads, quick, rounds, batch, regions, hypotheses, reference, pcx, scaling, threads, echo)


def _fused_state() -> str:
    """Whether the settle steps run numba-fused on the CPU (see docs/backends.md, "Fused CPU kernels")."""
    from cortex.ops import FUSED_ENV, fused_cpu_enabled
    if fused_cpu_enabled():
        import numba
        return f"on (numba {numba.__version__}; {FUSED_ENV}=0 turns them off)"
    return f"off ({FUSED_ENV}=0 or numba not installed: plain NumPy)"


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:   # pragma: no cover
        return "unknown"
    info = [f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(info) or "unknown"


def _run(workloads, quick, rounds, batch, regions, hypotheses, reference, pcx, scaling, threads, echo) -> Report:
    rounds = rounds or (3 if quick else 7)
    rep = Report(quick)
    import os
    rep.notes.append(f"numpy {np.__version__}; BLAS threads: {_blas_threads()} "
                     f"({'--threads ' + str(threads) if threads else 'library default'}); "
                     f"{os.cpu_count()} CPUs; rounds {rounds} (medians)")
    rep.notes.append(f"fused CPU kernels: {_fused_state()}")
    if "W1" in workloads:
        b = batch or (32 if quick else 256)
        wl = W.w1(batch=b, v1=64 if quick else 256, v2=32 if quick else 128)
        if quick:
            wl.steps = (5, 10)
        echo(f"W1 ... ({wl.describe().splitlines()[0]})")
        rep.workloads.append(wl.describe())
        m = Model(wl.spec)
        step_figures(rep, "W1", m, wl.stimuli, rounds, reference)
        settle_call_figures(rep, "W1", m, wl.stimuli, wl.steps, max(3, rounds // 2))
        memory_figures(rep, "W1", m, wl.stimuli, wl.steps[0], reference)
        if pcx and not quick:
            echo("W1 in PCX ...")
            pcx_figures(rep, "W1", m, wl.stimuli, b, max(3, rounds // 2), threads)
            echo("W1's energy in PCX ...")
            from .pcx_same import figures as pcx_same_figures
            pcx_same_figures(rep, "W1", m, wl.stimuli, b, max(3, rounds // 2), threads)
        elif pcx:
            rep.notes.append("PCX comparison skipped in --quick mode")
    if "W2" in workloads:
        r = regions or (12 if quick else 180)
        h = hypotheses or (32 if quick else 256)
        b = batch or (8 if quick else 64)
        wl = W.w2(regions=r, hypotheses=h, batch=b)
        echo(f"W2 ... ({wl.describe().splitlines()[0]})")
        rep.workloads.append(wl.describe())
        m = Model(wl.spec)
        sizes = [blk.G for blk in m.compiled.schedule]
        rep.add("W2", "blocks per sweep (groups + singles)", len(sizes), "blocks",
                f"{sum(1 for g in sizes if g > 1)} groups of 2+, largest {max(sizes)}")
        step_figures(rep, "W2", m, wl.stimuli, max(3, rounds // 2) if not quick else rounds, reference)
        ungrouped = Model(wl.spec, group=False)
        s_g, s_u = prepared(m, wl.stimuli), prepared(ungrouped, wl.stimuli)
        t = interleaved({"grouped": s_g.sweep, "ungrouped": s_u.sweep}, max(3, rounds // 2))
        rep.add("W2", "grouped / one-region-per-block step time", median_ratio(t["grouped"], t["ungrouped"]), "ratio",
                "< 1: grouping helps (it mostly saves calls; on a GPU, launches)")
        memory_figures(rep, "W2", m, wl.stimuli, 2, reference=False)
        if scaling:
            echo("scaling ...")
            scaling_figures(rep, (6, 16, 4) if quick else (24, 64, 16), rounds)
    if "W3" in workloads:
        b = batch or (8 if quick else 64)
        wl = W.w3(batch=b, steps=200 if quick else 2000)
        echo(f"W3 ... ({wl.describe().splitlines()[0]})")
        rep.workloads.append(wl.describe())
        m = Model(wl.spec)
        step_figures(rep, "W3", m, wl.stimuli, rounds, reference)
        n = wl.steps[0]
        t = interleaved({"engine": lambda: m.settle(wl.stimuli, steps=n, tol=0),
                         "reference": lambda: settle_reference(m, wl.stimuli, n)}, max(3, rounds // 2))
        rep.add("W3", f"stream of {n} steps", statistics.median(t["engine"]), "s",
                f"reference {statistics.median(t['reference']):.2f} s")
        memory_figures(rep, "W3", m, wl.stimuli, 10, reference)
    return rep
