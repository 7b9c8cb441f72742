"""The ablation of bounded learning rates (docs/numerics.md): the composition graph at ``lr: 10`` with and without
``bounded_lr``, at seeds 0, 1 and 2, on a short run (300 training examples, one epoch, 200 test examples each).

    python benchmarks/bounded_lr.py            # prints one line per seed and setting (about a minute on one core)
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

import cortex
from cortex.errors import CortexError
from cortex.shipped import graph_path


def graph_file(folder: Path, lr: float, bounded: bool) -> Path:
    data = yaml.safe_load(graph_path("composition").read_text())
    for region in data["regions"].values():
        region["lr"], region["bounded_lr"] = lr, bounded
    path = folder / f"composition_lr{lr}_{bounded}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    short = {"train_examples": 300, "epochs": 1, "test_examples": 200, "ablation": False}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for lr, bounded in ((10.0, True), (10.0, False), (0.05, True), (0.05, False)):
            for seed in (0, 1, 2):
                try:
                    r = cortex.run(graph_file(folder, lr, bounded), folder / "run", seed=seed, progress=False, **short)
                except CortexError as exc:
                    print(f"lr={lr} bounded_lr={bounded} seed={seed}: refused: {exc}")
                    continue
                acc = r["accuracy"]["factors"]
                energy = r["train_energy_first_last"]["factors"]
                print(f"lr={lr} bounded_lr={bounded} seed={seed}: both seen {acc['seen']['both']:.3f} unseen "
                      f"{acc['unseen']['both']:.3f}; train energy {energy[0]:.4g} -> {energy[1]:.4g}", flush=True)
        print(f"chance (both): {r['chance']['both']:.3f}")

if __name__ == "__main__":
    main()
