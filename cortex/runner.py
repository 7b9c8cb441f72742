"""Run a graph's experiment: the stages in order, timed, seeded, with provenance, written as one transaction.

``cortex run`` and :func:`run` both come here. The experiment (:mod:`cortex.experiments.base`) only
computes; this module owns what every run shares: the seed and the other overrides, the time of every
stage, the provenance in ``results.json``, the output folder (written beside its target and moved into
place, :mod:`cortex.run_folder`) and a clean end on Ctrl-C or SIGTERM (:mod:`cortex.interrupts`).

>>> import cortex
>>> results = cortex.run("composition", train_examples=600, epochs=1, seed=1)   # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import interrupts
from .atomic import atomic_write
from .errors import CortexError
from .run_folder import RunFolder
from .threadpool import limited

#: Packages whose versions a run records (those imported by the run; the rest are left out).
RECORDED_PACKAGES = {"numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "matplotlib": "matplotlib",
                     "pydantic": "pydantic", "cupy": "cupy", "brian2": "brian2", "tqdm": "tqdm",
                     "skimage": "scikit-image"}


def run(graph: str | os.PathLike, out: str | os.PathLike | None = None, *, seed: int | None = None,
        backend: str | None = None, progress: bool = True, **overrides) -> dict:
    """Run the experiment of ``graph`` (a shipped name or a YAML file) and return its results.

    ``seed`` replaces the graph's seed; ``overrides`` replace keys of its ``experiment:`` block (a
    smaller run for a notebook, ``evaluate_on="validation"`` for tuning). Both are validated like the
    YAML itself. Results, figures and the checkpoint go to ``out`` (default ``runs/<name>``), which is
    replaced whole when the run succeeds and left as it was when it fails or is interrupted.
    """
    from .experiments import get_experiment_kind

    spec, path = resolve_spec(graph, seed=seed, backend=backend, overrides=overrides)
    out = Path(out) if out is not None else Path("runs") / spec.name
    experiment = get_experiment_kind(spec.experiment.kind)(spec, spec.experiment)
    asked = {**overrides, **({"seed": seed} if seed is not None else {}), **({"backend": backend} if backend else {})}
    return execute(experiment, out, progress=progress, graph_file=path, overrides=asked)


def resolve_spec(graph, *, seed=None, backend=None, overrides=None):
    """The validated spec of ``graph`` with the seed, backend and experiment keys replaced; and its file.

    A relative ``data:`` file is found beside the YAML file when the YAML names it, and in the working
    folder when an override names it.
    """
    from .shipped import graph_path
    from .spec import load_spec, spec_from_dict

    overrides = dict(overrides or {})
    path = graph_path(graph)
    spec = load_spec(path)
    if spec.experiment is None:
        raise CortexError(f"{path}: the graph has no 'experiment' block, so there is nothing to run")
    changes = dict(overrides)
    data_file = overrides.get("data", getattr(spec.experiment, "data", None))
    if isinstance(data_file, (str, os.PathLike)) and not Path(data_file).is_absolute():
        changes["data"] = str((Path.cwd() if "data" in overrides else path.parent) / data_file)
    if changes or backend or seed is not None:
        data = spec.to_dict()
        data["experiment"].update(changes)
        if backend:
            data["backend"] = backend
        if seed is not None:
            data["seed"] = seed
        named = sorted([*overrides, *(["seed"] if seed is not None else [])])
        spec = spec_from_dict(data, file=f"{path} (with overrides {named})")
    return spec, path


@limited
def execute(experiment, out: str | os.PathLike, *, progress: bool = True, graph_file=None,
            overrides: dict | None = None) -> dict:
    """Run ``experiment``'s stages and write ``out`` as one transaction; returns the results.

    ``out`` ends up holding this run's ``results.json``, figures and ``model.npz``, or, if anything
    fails or a signal ends the run, exactly what it held before (:class:`cortex.run_folder.RunFolder`).
    """
    out = Path(out)
    name = experiment.spec.name
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    timer = PhaseTimer(echo=(lambda line: print(f"{name}: {line}", file=sys.stderr, flush=True)) if progress else None)
    experiment.progress, experiment.timer = progress, timer
    folder = RunFolder(out)
    try:
        with interrupts.interruptible(), folder:
            with timer.phase("data"):
                data = experiment.data()
            with timer.phase("training"):
                trained = experiment.train(data)
            interrupts.check()
            model = trained.get("model")
            if model is not None:
                with timer.phase("saving"):
                    model.save(folder.path / "model.npz")     # the model as trained, before any test settling
            with timer.phase("testing"):
                measured = experiment.evaluate(data, trained)
            with timer.phase("figures"):
                figures = save_figures(experiment.figures(data, trained, measured), folder.path)
                written = save_files(experiment.files(data, trained, measured), folder.path)
            results = {**provenance(experiment.spec, model, graph_file=graph_file, overrides=overrides, started=started),
                       "experiment": experiment.kind_name,
                       **{k: v for k, v in measured.items() if not k.startswith("_")}}
            split = experiment.splits(data)
            if split is not None:
                results["split"] = split
            results["seconds"] = timer.seconds()
            results["figures"] = figures
            if written:
                results["files"] = written
            write_results(folder.path, results)
            interrupts.check()
            folder.commit()
    except interrupts.RunInterrupted as exc:
        exc.note = (f"the run finished and {out} holds its results" if folder.committed else
                    f"nothing was written; {out} {'keeps its previous results' if out.exists() else 'was not created'}")
        raise
    finally:
        experiment.timer = None
    return results


class PhaseTimer:
    """Seconds per named phase; a phase inside another is counted apart, not twice."""

    def __init__(self, echo: Callable[[str], None] | None = None):
        self.start = time.perf_counter()
        self.echo = echo
        self._seconds: dict[str, float] = {}
        self._inner: list[float] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        self._seconds.setdefault(name, 0.0)     # phases are listed in the order they start
        if self.echo is not None:
            self.echo(f"{name} ...")
        self._inner.append(0.0)
        done = False
        try:
            yield
            done = True
        finally:
            took = time.perf_counter() - t0
            own = took - self._inner.pop()
            self._seconds[name] += own
            if self._inner:
                self._inner[-1] += took
        if done and self.echo is not None:
            self.echo(f"{name} done ({own:.1f} s)")

    def seconds(self) -> dict[str, float]:
        """Every phase's seconds, rounded, and the ``total`` since the timer started."""
        out = {k: round(v, 2) for k, v in self._seconds.items()}
        out["total"] = round(time.perf_counter() - self.start, 2)
        return out


def time_line(seconds) -> str:
    """``time: 4.1 s (data 0.1 s, training 0.9 s, ...)``: where a run's time went."""
    if not isinstance(seconds, dict):            # results.json from before the staged runner: one number
        return f"time: {float(seconds):.1f} s"
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items() if k != "total")
    return f"time: {seconds.get('total', 0.0):.1f} s" + (f" ({parts})" if parts else "")


def provenance(spec, model=None, *, graph_file=None, overrides: dict | None = None, started: str | None = None) -> dict:
    """Graph, seed, backend and versions (top level, as before), and under ``provenance`` enough to rerun it.

    ``provenance`` holds the cortex and package versions, the platform, the graph file and its SHA-256,
    the overrides asked for, the whole validated graph and the start time. It needs no git checkout.
    """
    from ._version import __version__

    file_hash = None
    if graph_file is not None and Path(graph_file).is_file():
        file_hash = hashlib.sha256(Path(graph_file).read_bytes()).hexdigest()
    return {
        "graph": spec.name, "seed": spec.seed,
        "backend": model.backend.name if model is not None else spec.backend,
        "python": platform.python_version(), "numpy": np.__version__,
        "provenance": {
            "cortex": __version__,
            "packages": _versions(),
            "platform": platform.platform(),
            "graph_file": str(graph_file) if graph_file is not None else None,
            "graph_sha256": file_hash,
            "overrides": dict(overrides or {}),
            "spec": spec.to_dict(),
            "started_utc": started or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
    }


def _versions() -> dict[str, str]:
    out = {}
    for module, dist in RECORDED_PACKAGES.items():
        if module in sys.modules:
            with contextlib.suppress(metadata.PackageNotFoundError):
                out[dist] = metadata.version(dist)
    return out


def save_figures(figures: dict, folder: Path) -> list[str]:
    """Save every figure as ``folder/name.png`` and close it; returns the file names in order."""
    from .plotting import plt, save_figure

    names = []
    for name, fig in figures.items():
        save_figure(fig, folder / f"{name}.png")
        plt.close(fig)
        names.append(f"{name}.png")
    return names


def save_files(files: dict, folder: Path) -> list[str]:
    """Write every ``{name: text}`` into ``folder`` (plain names only: no folders, no hidden files)."""
    for name, text in files.items():
        if Path(name).name != name or name.startswith(".") or name in ("results.json", "model.npz"):
            raise CortexError(f"an experiment's file must be a plain new name in its run folder, got {name!r}")
        with atomic_write(folder / name, "w") as f:
            f.write(text)
    return list(files)


def write_results(folder: str | Path, results: dict) -> dict:
    """Write ``results`` to ``folder/results.json`` without ever leaving a half-written file; returns ``results``."""
    with atomic_write(Path(folder) / "results.json", "w") as f:
        json.dump(results, f, indent=2, default=_plain)
    return results


def _plain(value):
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"results.json cannot hold a {type(value).__name__}")
