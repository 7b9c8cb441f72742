"""Run a sweep: plan the trials, skip those finished, run the rest on an executor, summarise.

``DIR/sweep.json`` records the plan; ``DIR/trials/<trial>/`` is each trial's run folder (written as a
transaction by its worker); ``DIR/summary.json``, ``summary.md`` and ``summary.png`` are rewritten at
the end. A rerun of the same command finds the finished trials and runs only the others, so a sweep
stopped by Ctrl-C, SIGTERM or a crash resumes where it was.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from .. import interrupts
from ..atomic import atomic_write
from ..errors import CortexError
from .executors import EXECUTORS, choose
from .plan import SweepError, make_trials
from .summary import summarise
from .trial import is_done

#: What a sweep folder holds; a folder with anything else is not taken over.
OWN = {"sweep.json", "trials", "summary.json", "summary.md", "summary.png"}


def sweep(graph: str | os.PathLike, out: str | os.PathLike, *, seeds: list[int] | None = None, settings=(),
          workers: int = 1, executor: str = "auto", address: str | None = None, random: int | None = None,
          random_seed: int = 0, backend: str | None = None, gpus_per_trial: float = 0, progress: bool = True,
          echo: Callable[[str], None] | None = None) -> dict:
    """Run ``graph``'s experiment once per seed and setting (see :mod:`cortex.sweep.plan`) and summarise.

    Returns the summary (also written to ``out/summary.json``). Trials already finished in ``out`` are
    not rerun. ``executor`` is ``auto`` (Ray for a cluster ``address`` or GPUs per trial, else a local
    process pool; ``serial`` for one worker), ``ray``, ``pool`` or ``serial``.
    """
    from ..runner import resolve_spec

    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    if workers < 1:
        raise SweepError(f"--workers {workers}: give at least 1")
    spec, path = resolve_spec(graph, backend=backend)
    base = spec.to_dict()
    trials = make_trials(base, seeds, settings, random=random, random_seed=random_seed)
    out = Path(out)
    _claim(out)
    kind = choose(executor, workers, address, gpus_per_trial)
    plan = {"graph": spec.name, "graph_file": str(path), "seeds": sorted({t.seed for t in trials}),
            "settings": list(settings), "random": random, "random_seed": random_seed, "executor": kind,
            "workers": workers, "address": address}
    (out / "trials").mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "sweep.json", "w") as f:
        json.dump({**plan, "trial_names": [t.name for t in trials]}, f, indent=1)

    todo = [t for t in trials if not is_done(out / "trials" / t.name)]
    if len(todo) < len(trials):
        echo(f"sweep: {len(trials) - len(todo)} of {len(trials)} trials already finished in {out}; running the other {len(todo)}")
    tasks = [{"name": t.name, "graph": spec.name, "graph_file": str(path), "data": base, "settings": t.settings,
              "seed": t.seed, "backend": backend, "out": str((out / "trials" / t.name).resolve())} for t in todo]
    outcomes: dict[str, dict] = {}
    bar = _progress(len(trials), len(trials) - len(todo), progress, echo)
    t0 = time.perf_counter()
    try:
        with interrupts.interruptible():
            if tasks:
                for outcome in EXECUTORS[kind](tasks, workers=workers, address=address, gpus_per_trial=gpus_per_trial):
                    outcomes[outcome["name"]] = outcome
                    bar(outcome)
                    interrupts.check()
    except interrupts.RunInterrupted as exc:
        finished = sum(is_done(out / "trials" / t.name) for t in trials)
        summarise(out, trials, outcomes, plan)
        exc.note = (f"{finished} of {len(trials)} trials are finished in {out} (summary.json covers them); "
                    "rerun the same command to run the rest")
        raise
    finally:
        bar(None)
    summary = summarise(out, trials, outcomes, {**plan, "seconds": round(time.perf_counter() - t0, 2)})
    return summary


def _claim(out: Path) -> None:
    """Refuse an output folder that holds files a sweep did not write (a sweep adds to its own folder)."""
    if out.exists() and not out.is_dir():
        raise CortexError(f"--out {out}: is a file; choose a folder for the sweep")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OWN and not p.name.startswith("."))
        if foreign:
            raise CortexError(f"--out {out}: the folder holds files no sweep wrote ({', '.join(foreign[:5])}); "
                              "choose a new folder, or the folder of an earlier sweep to resume it")


def _progress(total: int, done: int, progress: bool, echo):
    """A tqdm bar over the trials on a terminal; otherwise one quiet line per finished trial."""
    if not progress:
        return lambda outcome: None
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        class Bar(tqdm):
            monitor_interval = 0     # no monitor thread: the bar updates per trial, and a lone thread lets the
                                     # pool fork this process (cortex.sweep.executors.start_method)

        bar = Bar(total=total, initial=done, desc="sweep", unit="trial", file=sys.stderr)

        def update(outcome):
            if outcome is None:
                bar.close()
            else:
                bar.update(1)
                if outcome["status"] == "failed":
                    bar.write(f"sweep: trial {outcome['name']} failed: {outcome.get('error')}", file=sys.stderr)
        return update
    count = [done]

    def line(outcome):
        if outcome is None:
            return
        count[0] += 1
        what = f"failed: {outcome.get('error')}" if outcome["status"] == "failed" else f"{outcome['seconds']:.1f} s"
        echo(f"sweep: {count[0]}/{total} trials, {outcome['name']} {what}")
    return line
