"""What every experiment writes: ``results.json`` (atomically) with the run's provenance, and the figures list."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from cortex.atomic import atomic_write


def provenance(spec, model=None) -> dict:
    """Graph, seed, backend and versions: enough to rerun and compare a result."""
    return {"graph": spec.name, "seed": spec.seed,
            "backend": model.backend.name if model is not None else spec.backend,
            "python": platform.python_version(), "numpy": np.__version__}


def write_results(out: str | Path, results: dict) -> dict:
    """Write ``results`` to ``out/results.json`` without ever leaving a half-written file; returns ``results``."""
    with atomic_write(Path(out) / "results.json", "w") as f:
        json.dump(results, f, indent=2, default=_plain)
    return results


def _plain(value):
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"results.json cannot hold a {type(value).__name__}")


def accuracy_table(table: dict) -> str:
    """A condition x method accuracy table as aligned text, the model's column first."""
    cols = sorted({c for row in table.values() for c in row}, key=lambda c: (c != "model", c))
    lines = [f"{'accuracy':<12}" + "".join(f"{c:>22}" for c in cols)]
    for cond, row in table.items():
        lines.append(f"{cond:<12}" + "".join(f"{row[c]:>22.3f}" if c in row else f"{'-':>22}" for c in cols))
    return "\n".join(lines)
