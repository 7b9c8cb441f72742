"""Where a sweep's trials run: one after another here, a local process pool, or Ray (local or a cluster).

Each executor is a generator of trial outcomes in the order they finish, and cleans up in ``finally``:
on Ctrl-C the driver's :class:`cortex.interrupts.RunInterrupted` passes through it, the pool's workers
are terminated (their unfinished trial folders are removed by the runner or, if killed outright, by the
next run), Ray's tasks are cancelled and a Ray instance this sweep started is shut down.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from typing import Iterable, Iterator
from unittest import mock

from ..interrupts import RunInterrupted
from .plan import SweepError
from .trial import THREAD_VARS, pin_threads, run_trial, run_trial_on_ray

INSTALL_RAY = 'pip install -e ".[cluster]"'


def guarded(task: dict, on_ray: bool = False) -> dict:
    """Run a trial and turn an error into a ``failed`` outcome (the sweep goes on; Ctrl-C is not caught)."""
    try:
        return run_trial_on_ray(task) if on_ray else run_trial(task)
    except RunInterrupted as exc:
        if task.get("in_pool"):     # the runner has removed the trial's temporary folder; end without a traceback
            os._exit(exc.exit_code)
        raise
    except Exception as exc:     # noqa: BLE001 -- any failure of one trial is reported, not fatal to the sweep
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"name": task["name"], "status": "failed", "seconds": 0.0, "error": last}


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def choose(executor: str, workers: int, address: str | None, gpus_per_trial: float = 0) -> str:
    """``auto``: Ray for a cluster (``address``) or for trials that reserve GPUs, else the local process pool; one
    worker runs here. On one machine the pool is the faster choice: a local Ray instance costs seconds to start and
    stop, and its daemons share the cores with the trials (docs/sweeps.md); ``ray`` starts one all the same."""
    asked = executor
    if executor == "auto":
        if address is not None or gpus_per_trial > 0:
            executor = "ray"
        elif workers <= 1:
            executor = "serial"
        else:
            executor = "pool"
    if executor == "ray" and not ray_available():
        implied = "" if asked == "ray" else " (implied by --address)" if address else " (implied by --gpus-per-trial)"
        raise SweepError(f"--executor ray{implied}: Ray is not installed; "
                         f"install it with {INSTALL_RAY}, or use --executor pool for a local process pool")
    if address is not None and executor != "ray":
        raise SweepError(f"--address {address}: a cluster address needs Ray (--executor ray), not --executor {executor}")
    if gpus_per_trial > 0 and executor != "ray":
        raise SweepError(f"--gpus-per-trial {gpus_per_trial:g}: only Ray places trials on GPUs (--executor ray), "
                         f"not --executor {executor}")
    return executor


def run_serial(tasks: Iterable[dict], workers: int = 1, **_) -> Iterator[dict]:
    """Every trial in this process, one after another (``--workers 1``; the baseline a pool is measured against)."""
    for task in tasks:
        yield guarded(task)


def _init_worker(cpus: int) -> None:
    # Ctrl-C at a terminal reaches the whole process group: the parent alone handles it (and ends the pool), so
    # the workers do not each print a KeyboardInterrupt traceback; a forked worker drops the driver's SIGTERM
    # handler too, so the pool's terminate() ends an idle worker as it ends a spawned one
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pin_threads(cpus)


# imported once by the fork server, so each worker starts with them loaded instead of importing them itself
PRELOAD = ["cortex.sweep.trial", "cortex.runner", "cortex.experiments", "cortex.plotting.core", "matplotlib.pyplot"]


def start_method() -> str:
    """How pool workers start. ``fork`` where this process is a plain single-threaded driver on Linux: the
    workers inherit what it has imported. ``forkserver`` where forking it could copy a lock another thread holds
    (Jupyter's kernel threads, a progress monitor) or a CUDA context (CuPy imported), or on macOS, where forking
    is unsafe: the workers fork from a fresh server that imports cortex once. ``spawn`` where neither exists."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform.startswith("linux") and threading.active_count() == 1 \
            and "cupy" not in sys.modules:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _start_pool(workers: int):
    """A pool of ``workers`` processes started by :func:`start_method`: forked, or forked from a server (about
    1.5 s less start-up per worker than spawning each to import cortex, and forking this process about 0.7 s
    less than a server, against trials of 1-2 s); spawned where neither exists. Workers and server start with
    one BLAS thread, as the workers run."""
    method = start_method()
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    with mock.patch.dict(os.environ, {var: "1" for var in THREAD_VARS}):   # workers (and a server) start here
        return ctx.Pool(workers, initializer=_init_worker, initargs=(1,))     # the env is restored


def run_pool(tasks: Iterable[dict], workers: int = 2, **_) -> Iterator[dict]:
    """Trials in ``workers`` fresh processes (one BLAS thread each); no Ray needed."""
    tasks = list(tasks)
    pool = _start_pool(min(workers, max(1, len(tasks))))
    try:
        yield from pool.imap_unordered(guarded, [{**task, "in_pool": True} for task in tasks])
        pool.close()
        pool.join()
    finally:
        pool.terminate()      # no-op after close/join; on Ctrl-C or an error it stops the workers now
        pool.join()


def run_ray(tasks: Iterable[dict], workers: int = 2, address: str | None = None, cpus_per_trial: float = 1,
            gpus_per_trial: float = 0, **_) -> Iterator[dict]:
    """Trials as Ray tasks, at most ``workers`` in flight; a local Ray instance unless ``address`` names a cluster."""
    import ray

    started = not ray.is_initialized()
    if started:
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address is None:
            kwargs["num_cpus"] = max(workers * cpus_per_trial, cpus_per_trial)
        term = signal.getsignal(signal.SIGTERM)
        try:
            ray.init(address=address or "local", **kwargs)    # "local": a new instance, not some cluster found running
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SweepError(f"--address {address}: cannot connect to a Ray cluster there ({exc}); start one with "
                             "`ray start --head` and pass the address it prints") from None
        finally:
            if term is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, term)     # ray.init puts in sys.exit(15); SIGTERM stays exit 143
    remote = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0)(guarded)
    queue, running = list(tasks), {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                task = queue.pop(0)
                running[remote.remote(task, True)] = task
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                running.pop(ref)
                yield ray.get(ref)
    finally:
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


EXECUTORS = {"serial": run_serial, "pool": run_pool, "ray": run_ray}
