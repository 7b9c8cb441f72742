"""A sweep's figures over its trials: mean, standard deviation and 95% interval of every numeric figure.

Every number a trial's ``results.json`` reports is a figure, named by its dotted path
(``durations.cv``, ``learned_field_cosine[0]``, ``table[3].predominance_left``); booleans count as
0 / 1, so their mean is a fraction. Left out: the provenance, the seed, and the list of figure files.
The interval is Student's t: mean +- t(0.975, n-1) * sd / sqrt(n), with the sample sd (ddof 1); one
trial has no interval (``null``). ``summary.json`` holds them over all trials (``figures``) and per
group of trials that differ only in their seed (``groups``); ``summary.md`` is the table and
``summary.png`` the plot of the headline figures (scalars at the top level of the results).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

SKIPPED = {"provenance", "seed", "figures", "files", "python", "numpy", "graph", "backend", "experiment"}
PLOTTED = 12      # headline figures drawn in summary.png


def flatten(results: dict, prefix: str = "") -> dict[str, float]:
    """Every finite number in ``results`` by its dotted path (booleans as 0 / 1)."""
    out: dict[str, float] = {}

    def walk(value, name):
        if isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, (int, float)) and value is not None:
            if math.isfinite(value):
                out[name] = float(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                if not (name == "" and k in SKIPPED):
                    walk(v, f"{name}.{k}" if name else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{name}[{i}]")

    walk(results, prefix)
    return out


def stats(values) -> dict:
    """``{mean, std, ci95: [low, high], n}`` of a sample (std and ci95 are ``None`` for one value)."""
    from scipy import stats as st

    x = np.asarray(values, dtype=float)
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None, "n": n}
    sd = float(x.std(ddof=1))
    half = float(st.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "std": sd, "ci95": [mean - half, mean + half], "n": n}


def figures_of(rows: list[dict[str, float]]) -> dict[str, dict]:
    """Per figure name, the stats over the trials that report it (in first-seen order)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: stats([row[name] for row in rows if name in row]) for name in names}


def summarise(out: Path, trials, outcomes: dict[str, dict], plan: dict) -> dict:
    """Read every finished trial's results and write ``summary.json``, ``summary.md`` and ``summary.png``."""
    out = Path(out)
    rows, groups, failed = [], {}, []
    keys = {k for t in trials for k in t.settings}
    varying = sorted(k for k in keys if len({json.dumps(t.settings.get(k), default=str) for t in trials}) > 1)
    fixed = {k: v for k, v in (trials[0].settings.items() if trials else ()) if k not in varying}
    for t in trials:
        label = ", ".join(f"{k}={_short(t.settings[k])}" for k in varying if k in t.settings) or "all trials"
        path = out / "trials" / t.name / "results.json"
        if not path.is_file():
            o = outcomes.get(t.name)
            if o and o.get("status") == "failed":
                failed.append({"trial": t.name, "group": label, "seed": t.seed, "error": o.get("error")})
            continue
        row = flatten(json.loads(path.read_text()))
        rows.append(row)
        groups.setdefault(label, {"settings": t.settings, "rows": [], "seeds": []})
        groups[label]["rows"].append(row)
        groups[label]["seeds"].append(t.seed)
    summary = {
        **plan,
        "trials": len(rows),
        "planned": len(trials),
        "fixed": fixed,
        "failed": failed,
        "figures": figures_of(rows),
        "groups": [{"group": g, "settings": v["settings"], "seeds": v["seeds"], "trials": len(v["rows"]),
                    "figures": figures_of(v["rows"])} for g, v in groups.items()],
    }
    with atomic_write(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    with atomic_write(out / "summary.md", "w") as f:
        f.write(table(summary))
    if rows:
        plot(summary, out / "summary.png")
    return summary


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _cell(s: dict) -> str:
    if s["ci95"] is None:
        return f"{s['mean']:.4g} (n=1)"
    return f"{s['mean']:.4g} [{s['ci95'][0]:.4g}, {s['ci95'][1]:.4g}]"


def table(summary: dict, names: list[str] | None = None) -> str:
    """Markdown: one row per figure, one column per group, cells ``mean [95% interval]``."""
    groups = summary["groups"]
    names = names or list(summary["figures"])
    fixed = ", ".join(f"{k}={_short(v)}" for k, v in summary.get("fixed", {}).items())
    head = (f"{summary.get('graph', 'sweep')}: {summary['trials']} trials, seeds {summary.get('seeds')}"
            f"{'; ' + fixed if fixed else ''}; mean [95% interval]\n\n")
    lines = ["| figure | " + " | ".join(g["group"] + f" (n={g['trials']})" for g in groups) + " |",
             "| --- |" + " --- |" * len(groups)]
    for name in names:
        cells = [_cell(g["figures"][name]) if name in g["figures"] else "" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def headline(summary: dict) -> list[str]:
    """The figures at the top level of the results (no dots or brackets), timings last."""
    names = [n for n in summary["figures"] if "." not in n and "[" not in n]
    return names + [n for n in summary["figures"] if n.startswith("seconds.")]


def plot(summary: dict, path: Path) -> None:
    """One panel per headline figure: each group's mean with its 95% interval."""
    from ..plotting import plt, save_figure

    names = [n for n in headline(summary) if not n.startswith("seconds.")][:PLOTTED] or list(summary["figures"])[:PLOTTED]
    groups = summary["groups"]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, layout="constrained")
    for ax, name in zip(axes.flat, names):
        for i, g in enumerate(groups):
            s = g["figures"].get(name)
            if s is None:
                continue
            err = None if s["ci95"] is None else [[s["mean"] - s["ci95"][0]], [s["ci95"][1] - s["mean"]]]
            ax.errorbar([i], [s["mean"]], yerr=err, fmt="o", capsize=3)
        ax.set_title(name, fontsize=8)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g["group"] for g in groups], rotation=30, ha="right", fontsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{summary.get('graph', 'sweep')}: mean and 95% interval over seeds", fontsize=9)
    save_figure(fig, path)
    plt.close(fig)
