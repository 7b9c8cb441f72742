"""Search a graph's parameters and structure with Optuna, on the validation split, pruning poor trials early.

The search space is written with the sweep's ``--set`` syntax (:mod:`cortex.sweep.plan`): a list of
choices is categorical (a choice may be a whole list or mapping, so ``regions.IT.inputs=[retina],[retina,V1]``
searches connections, and a region set to ``null`` is removed, so a level can come and go); ``uniform``,
``loguniform`` and ``randint`` are ranges. Every configuration is run with ``evaluate_on: validation``
at each seed in turn; after each seed Optuna sees the running mean of the named figure, and the median
pruner stops a configuration whose running mean is worse than the median of earlier ones at the same
seed. The shipped configuration is measured the same way first, as the bar to beat (a key given one
choice, such as ``baselines=false``, is fixed for it too). Only the winner is
then run on the test split (same seeds), and its graph is written as ``best.yaml``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .. import interrupts
from ..atomic import atomic_write
from .executors import INSTALL_RAY
from .plan import SweepError, Trial, parse_setting, validate
from .summary import flatten, stats
from .trial import run_trial

PRIMITIVE = (type(None), bool, int, float, str)


def _suggest(trial, key: str, setting):
    if setting.range is not None:
        r = setting.range
        if r.kind == "randint":
            return trial.suggest_int(key, int(r.low), int(r.high))
        return trial.suggest_float(key, r.low, r.high, log=r.kind == "loguniform")
    if all(isinstance(c, PRIMITIVE) for c in setting.choices):
        return trial.suggest_categorical(key, list(setting.choices))
    return setting.choices[trial.suggest_categorical(key + "#choice", list(range(len(setting.choices))))]


def _measure(base, settings, seeds, figure, out, split, graph, graph_file, report=None) -> list[float]:
    """Run one configuration at each seed (cached trial folders are reused); the figure per seed."""
    settings = {**settings, "experiment.evaluate_on": split}
    values = []
    for i, seed in enumerate(seeds):
        t = Trial(seed, settings)
        folder = Path(out) / "trials" / t.name
        outcome = run_trial({"name": t.name, "graph": graph, "graph_file": graph_file, "data": base,
                             "settings": settings, "seed": seed, "out": str(folder.resolve())})
        row = flatten(json.loads((folder / "results.json").read_text()))
        if figure not in row:
            known = ", ".join(sorted(k for k in row if not k.startswith("seconds.")))
            raise SweepError(f"--figure {figure!r}: the results have no such number (they have: {known})")
        values.append(row[figure])
        interrupts.check()
        if report is not None:
            report(float(np.mean(values)), i, outcome)
    return values


def search(graph, out, *, figure: str, settings, seeds: list[int], trials: int = 20, direction: str = "maximize",
           random_seed: int = 0, echo: Callable[[str], None] | None = None) -> dict:
    """Optuna over ``settings`` (the search space) optimising ``figure`` on validation; returns ``search.json``'s data."""
    try:
        import optuna
    except ImportError:
        raise SweepError(f"cortex search needs Optuna, which is not installed: {INSTALL_RAY}") from None

    from ..runner import resolve_spec

    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    spec, path = resolve_spec(graph)
    if not hasattr(spec.experiment, "evaluate_on"):
        raise SweepError(f"{graph}: experiment kind {spec.experiment.kind!r} has no validation split "
                         "(evaluate_on); search tunes on validation only")
    base = spec.to_dict()
    space = [parse_setting(item) for item in settings]
    if not space:
        raise SweepError("--set: give at least one key to search over, e.g. --set regions.IT.precision=loguniform(5,100)")
    keys = [".".join(s.path) for s in space]
    for key, s in zip(keys, space):
        for value in s.choices or (s.range.low, s.range.high):
            validate(base, {key: value}, f"--set {s.arg}")
    fixed = {key: s.choices[0] for key, s in zip(keys, space) if s.range is None and len(s.choices) == 1}
    out = Path(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    sign = 1 if direction == "maximize" else -1
    common = dict(seeds=seeds, figure=figure, out=out, graph=spec.name, graph_file=str(path))

    with interrupts.interruptible():
        shipped = _measure(base, fixed, split="validation", **common)     # one-choice keys hold for the bar too
        echo(f"search: shipped graph, {figure} on validation = {np.mean(shipped):.4g} (seeds {seeds})")
        records = []

        def objective(trial):
            chosen = {key: _suggest(trial, key, s) for key, s in zip(keys, space)}
            chosen_plain = chosen
            try:
                validate(base, chosen_plain, "search trial " + json.dumps(chosen, default=str))
            except SweepError as exc:       # an impossible combination (e.g. a teacher and a hypothesis count)
                records.append({"number": trial.number, "settings": chosen, "state": "invalid", "error": str(exc)})
                raise optuna.TrialPruned() from None

            def report(mean, step, _):
                trial.report(mean, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            values: list[float] = []
            try:
                values = _measure(base, chosen_plain, split="validation", report=report, **common)
            except optuna.TrialPruned:
                records.append({"number": trial.number, "settings": chosen, "state": "pruned"})
                echo(f"search: trial {trial.number} pruned")
                raise
            records.append({"number": trial.number, "settings": chosen, "state": "complete", "validation": values})
            echo(f"search: trial {trial.number}: {figure} = {np.mean(values):.4g} ({_line(chosen)})")
            return float(np.mean(values))

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=random_seed),
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0))
        study.optimize(objective, n_trials=trials, catch=())
        complete = [r for r in records if r["state"] == "complete"]
        if not complete:
            raise SweepError("search: no trial completed (all pruned or invalid); widen the space or add --trials")
        best = max(complete, key=lambda r: sign * float(np.mean(r["validation"])))
        best_plain = best["settings"]
        beats = sign * (np.mean(best["validation"]) - np.mean(shipped)) > 0
        test = _measure(base, best_plain, split="test", **common) if beats else None
    result = {
        "graph": spec.name, "figure": figure, "direction": direction, "seeds": seeds, "space": list(settings),
        "fixed": fixed, "shipped_validation": {**stats(shipped), "values": shipped},
        "best": {"settings": best["settings"], "validation": {**stats(best["validation"]), "values": best["validation"]},
                 "beats_shipped_on_validation": bool(beats),
                 "test": None if test is None else {**stats(test), "values": test}},
        "trials": records,
    }
    if beats:
        import yaml

        graph_data = validate(base, best_plain, "best").to_dict()
        with atomic_write(out / "best.yaml", "w") as f:
            f.write(f"# found by cortex search ({figure}, {direction}, on validation at seeds {seeds})\n")
            yaml.safe_dump(graph_data, f, sort_keys=False)
        result["best_graph"] = str(out / "best.yaml")
    with atomic_write(out / "search.json", "w") as f:
        json.dump(result, f, indent=1, default=str)
    return result


def _line(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())
