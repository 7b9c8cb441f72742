"""Run a graph's experiment from Python exactly as ``cortex run`` does, with experiment keys overridden.

>>> import cortex
>>> results = cortex.run("composition", train_examples=600, epochs=1)   # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import CortexError


def run(graph: str | os.PathLike, out: str | os.PathLike | None = None, *, backend: str | None = None,
        progress: bool = True, **overrides) -> dict:
    """Run the experiment of ``graph`` (a shipped name or a YAML file) and return its results.

    ``overrides`` replace keys of the graph's ``experiment:`` block (e.g. a smaller run for a notebook);
    they are validated like the YAML itself. Results and figures go to ``out`` (default ``runs/<name>``).
    """
    from .shipped import graph_path
    from .experiments import get_experiment_kind
    from .spec import load_spec, spec_from_dict

    path = graph_path(graph)
    spec = load_spec(path)
    if spec.experiment is None:
        raise CortexError(f"{path}: the graph has no 'experiment' block, so there is nothing to run")
    if overrides or backend:
        data = spec.to_dict()
        data["experiment"].update(overrides)
        if backend:
            data["backend"] = backend
        spec = spec_from_dict(data, file=f"{path} (with overrides {sorted(overrides)})")
    out = Path(out) if out is not None else Path("runs") / spec.name
    return get_experiment_kind(spec.experiment.kind)(spec, spec.experiment).run(out, progress=progress)
