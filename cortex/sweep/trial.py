"""One trial of a sweep, run in a worker: one ``cortex.run`` into its own folder under ``DIR/trials/``.

The folder is written as a transaction by the runner (:mod:`cortex.run_folder`), so a trial killed
half-way leaves nothing that looks finished, and a trial counts as done exactly when its folder holds
``results.json``. The worker pins its BLAS threads (threadpoolctl) to the CPUs it was given, so two
trials on two cores do not each start a thread per core and fight over them.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def is_done(out: Path) -> bool:
    """A trial is finished when its folder holds the results the runner commits last."""
    return (Path(out) / "results.json").is_file()


def pin_threads(cpus: int) -> None:
    """Limit BLAS and OpenMP pools of this process to ``cpus`` threads (and any process it starts)."""
    from threadpoolctl import threadpool_limits

    cpus = max(1, int(cpus))
    for var in THREAD_VARS:
        os.environ[var] = str(cpus)
    threadpool_limits(limits=cpus)


def run_trial(task: dict) -> dict:
    """Run one trial (``task``: graph, data, settings, seed, out, backend); returns its name, status and seconds.

    ``data`` is the graph's validated plain data; the settings are applied to it and validated again
    here, so a worker on another machine checks what it runs. A trial already finished is not rerun.
    """
    from ..experiments import get_experiment_kind
    from ..runner import execute
    from ..spec import spec_from_dict
    from .plan import apply

    out = Path(task["out"])
    if is_done(out):
        return {"name": task["name"], "status": "skipped", "seconds": 0.0}
    if task.get("cpus"):
        pin_threads(task["cpus"])
    t0 = time.perf_counter()
    data = apply(task["data"], task["settings"])
    data["seed"] = task["seed"]
    if task.get("backend"):
        data["backend"] = task["backend"]
    spec = spec_from_dict(data, file=f"{task['graph']} (trial {task['name']})")
    experiment = get_experiment_kind(spec.experiment.kind)(spec, spec.experiment)
    asked = {**task["settings"], "seed": task["seed"], **({"backend": task["backend"]} if task.get("backend") else {})}
    execute(experiment, out, progress=False, graph_file=task.get("graph_file"), overrides=asked)
    return {"name": task["name"], "status": "done", "seconds": round(time.perf_counter() - t0, 2)}


def run_trial_on_ray(task: dict) -> dict:
    """:func:`run_trial` in a Ray worker: BLAS threads pinned to the CPUs Ray assigned to this task."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    return run_trial({**task, "cpus": max(1, int(round(cpus)))})
