"""Wall time per simulated second of the spiking rivalry circuit on each brian2 target.

Two ways to run the same circuit (``regions/graphs/rivalry_spiking.yaml``'s region P, rivalrous input):

- ``run``: one uninterrupted brian2 run of a whole trial with a fixed input, the only way
  ``cpp_standalone`` can run it (a compiled binary cannot stop every window for Python); numpy, cython
  and cpp_standalone are all measured. Build / compile time is reported apart from the run.
- ``settle``: ``Model.settle`` as the experiments use it: brian2 paused at every 10 ms window for the
  settling loop (context, noise, read-out), STDP on. Runtime targets only (numpy, cython).

Also measured: the reference network of the brief (2 populations x 500 cells, one trial).

    python benchmarks/spiking.py                  # all targets, both modes (cython's first build: minutes)
    python benchmarks/spiking.py --targets numpy --seconds 1
    python benchmarks/spiking.py --targets cython --fresh-cython-cache     # cython's first build, timed

Prints one line per measurement and a table; never asserted in tests (times depend on the machine).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np


def rivalry_model_spec(batch_neurons: int | None = None, target: str = "numpy"):
    import yaml

    import cortex
    from cortex.spec import spec_from_dict

    data = yaml.safe_load(cortex.graph_path("rivalry_spiking").read_text())   # the graph without its experiment
    data.pop("experiment", None)
    data["regions"]["P"]["target"] = target
    if batch_neurons:
        data["regions"]["P"]["neurons"] = batch_neurons
    return spec_from_dict(data)


def rivalrous_input(batch: int) -> np.ndarray:
    from cortex.stimuli.rivalry import gratings, rivalrous

    A, B = gratings(8)
    left, right = rivalrous((A, B), 1.0, 1.0, trials=batch)
    return np.concatenate([left.reshape(batch, -1), right.reshape(batch, -1)], axis=1).astype(np.float64)


def trained_fields() -> np.ndarray:
    """The fields binocular training converges to: each grating seen by both eyes, unit norm."""
    from cortex.stimuli.rivalry import gratings

    A, B = gratings(8)
    W = np.stack([np.r_[A.ravel(), A.ravel()], np.r_[B.ravel(), B.ravel()]]).astype(np.float64)
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def bench_run(target: str, batch: int, neurons: int | None, seconds: float) -> dict:
    """One uninterrupted run of ``seconds`` on ``target``; returns build and run wall times."""
    import brian2

    from cortex.regions.spiking.circuit import Circuit
    from cortex.model import Model

    spec = rivalry_model_spec(neurons)
    region = Model(spec).regions["P"]
    cfg = region._config(batch)
    workdir = None
    t0 = time.perf_counter()
    if target == "cpp_standalone":
        workdir = tempfile.mkdtemp(prefix="cortex_standalone_")
        brian2.set_device("cpp_standalone", directory=workdir, build_on_run=True)
        brian2.seed(1)
    else:
        brian2.prefs.codegen.target = target
    try:
        rng = np.random.default_rng(0)
        circuit = Circuit(cfg, rng, target)
        circuit.reset(rng, trained_fields())
        circuit.set_rates(rivalrous_input(batch))
        net = brian2.Network(*circuit.objects)
        if target == "cpp_standalone":
            net.run(seconds * brian2.second, namespace={})
            total = time.perf_counter() - t0
            run = float(brian2.get_device()._last_run_time)
            build = total - run
        else:
            net.run(2 * cfg.dt * brian2.second, namespace={})        # code generation (and compilation) happen here
            build = time.perf_counter() - t0
            t1 = time.perf_counter()
            net.run(seconds * brian2.second, namespace={})
            run = time.perf_counter() - t1
        counts = circuit.counts().sum(axis=0)
    finally:
        if target == "cpp_standalone":
            brian2.device.reinit()
            brian2.set_device("runtime")
            shutil.rmtree(workdir, ignore_errors=True)
    rate = counts / (cfg.neurons * batch * seconds)
    return {"mode": "run", "target": target, "batch": batch, "neurons": cfg.neurons, "seconds": seconds,
            "build_s": build, "wall_per_sim_s": run / seconds, "mean_rate_hz": rate.round(1).tolist()}


def bench_settle(target: str, batch: int, seconds: float) -> dict:
    """``Model.settle`` for ``seconds`` of windows (the experiments' way), after one short warm-up settle."""
    from cortex.model import Model

    spec = rivalry_model_spec(target=target)
    t0 = time.perf_counter()
    model = Model(spec)
    model.regions["P"].load_weights({"W": trained_fields().astype(np.float32)})
    x = rivalrous_input(batch).astype(np.float32)
    stimuli = {"left": x[:, :64], "right": x[:, 64:]}
    model.settle(stimuli, steps=2, tol=0)                               # build, code generation, compilation
    build = time.perf_counter() - t0
    steps = int(round(seconds / 0.01))
    t1 = time.perf_counter()
    result = model.settle(stimuli, steps=steps, tol=0, record=True)
    run = time.perf_counter() - t1
    return {"mode": "settle", "target": target, "batch": batch, "neurons": spec.regions["P"].neurons,
            "seconds": seconds, "build_s": build, "wall_per_sim_s": run / seconds,
            "mean_rate_hz": result.trace["P"].mean(axis=(0, 1)).round(1).tolist()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="numpy,cython,cpp_standalone")
    ap.add_argument("--seconds", type=float, default=2.0, help="simulated seconds per measurement")
    ap.add_argument("--batch", type=int, default=8, help="trials in parallel for the rivalry circuit")
    ap.add_argument("--fresh-cython-cache", action="store_true",
                    help="compile cython into an empty cache, so 'build s' is a first build on a fresh machine")
    args = ap.parse_args(argv)
    if args.fresh_cython_cache:
        import brian2

        brian2.prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="cortex_cython_")
    from cortex.regions.spiking.circuit import cython_available

    targets = [t for t in args.targets.split(",") if t]
    rows = []
    for target in targets:
        if target == "cython" and not cython_available():
            print("cython: not available here (needs Cython and a C compiler); skipped", flush=True)
            continue
        jobs = [("run", dict(batch=1, neurons=500)), ("run", dict(batch=args.batch, neurons=None))]
        if target != "cpp_standalone":
            jobs.append(("settle", dict(batch=args.batch)))
        for mode, kw in jobs:
            try:
                row = bench_run(target, seconds=args.seconds, **kw) if mode == "run" else \
                    bench_settle(target, seconds=args.seconds, **kw)
            except Exception as exc:   # e.g. no compiler for cpp_standalone: report and go on
                print(f"{target} {mode}: failed ({type(exc).__name__}: {exc})", flush=True)
                continue
            rows.append(row)
            print(row, flush=True)
    print()
    print(f"{'mode':<7}{'target':<16}{'trials':>7}{'cells/pop':>10}{'build s':>9}{'wall s per sim s':>18}{'per trial':>11}")
    for r in rows:
        print(f"{r['mode']:<7}{r['target']:<16}{r['batch']:>7}{r['neurons']:>10}{r['build_s']:>9.1f}"
              f"{r['wall_per_sim_s']:>18.2f}{r['wall_per_sim_s'] / r['batch']:>11.3f}")
    return rows


if __name__ == "__main__":
    main()
