"""The same digit task at 1, 2, 3, ... levels: does every added level keep the graph learning?

The graph names three regions: ``first`` (the template of the level over the sensor), ``level`` (the template
of every level above it) and the read-out. A sweep point of depth L stacks the first region, L - 2 copies of
``level`` (named V2, V3, ...) and the read-out on top; depth 1 is the read-out alone over the sensor. Each is
trained as ``recognition`` trains (``schedule``, ``pretrain``: :mod:`.schedules`) and settled on the clean
evaluation images. Reported per depth: ``accuracy_clean``, ``energy_share_ratio`` (largest over smallest
per-level energy share, each level's energy divided by its input's width: a level's energy grows with the
number of columns it explains, so raw shares of a 64-pixel level and a 10-hypothesis one differ by that
alone) and ``energy_share_ratio_raw`` (from the raw energies), with every level's health (:mod:`cortex.health`).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from cortex.health import health_warnings, region_health, share_ratio

from . import register
from .digit_data import DigitExperiment, DigitParams, increasing


class Params(DigitParams):
    """The ``experiment:`` block of a depth sweep."""

    kind: Literal["depth_sweep"] = "depth_sweep"
    depths: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 6, 8], min_length=1)
    first: str = "V1"
    level: str = "V2"
    schedule: Literal["joint", "layerwise"] = "layerwise"
    pretrain: int = Field(3, ge=0)
    balance: Literal["scale", "none"] = "none"
    test_steps: int | None = Field(None, ge=0)

    @field_validator("depths")
    @classmethod
    def _depths(cls, v):
        return increasing(v, 1, "depths")

    def check(self, spec):
        out = super().check(spec)
        for key in ("first", "level"):
            name = getattr(self, key)
            if name not in spec.regions or name == self.readout:
                out.append((f"must name a region other than the read-out, got {name!r} (regions: "
                            f"{', '.join(spec.regions)})", key))
        return out


def stacked(spec, p, depth: int):
    """The graph of ``depth`` levels: ``first``, copies of ``level``, the read-out on top (see the module docstring)."""
    from cortex.spec import spec_from_dict

    d = spec.to_dict()
    regions = d["regions"]
    names = ([p.first] if depth > 1 else []) + [f"V{i}" for i in range(2, depth)]
    out, below = {}, p.stimulus
    for i, name in enumerate(names):
        out[name] = {**regions[p.first if i == 0 else p.level], "inputs": [below]}
        below = name
    out[p.readout] = {**regions[p.readout], "inputs": [below]}
    d["regions"], d["connections"], d["name"] = out, [], f"{spec.name}-{depth}"
    d["experiment"] = {**d["experiment"], "kind": "recognition", "schedule": p.schedule, "pretrain": p.pretrain,
                       "balance": p.balance, "baselines": False}
    for key in ("depths", "first", "level"):
        d["experiment"].pop(key, None)
    return spec_from_dict(d, file=f"<{spec.name} at depth {depth}>")


@register("depth_sweep")
class DepthSweep(DigitExperiment):
    """Train and test the stack at every depth."""

    Params = Params

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        from .schedules import fit_readout, pretrain_levels

        p, d = self.p, data["digits"]
        models = {}
        for depth in p.depths:
            spec, rng = stacked(self.spec, p, depth), self.rng(depth)
            model, below = Model(spec), [n for n in spec.regions if n != p.readout]
            if p.pretrain and below:
                model, _ = pretrain_levels(self, spec, d.X_train, p.pretrain, rng, below, p.balance)
            models[depth] = model
            if p.schedule == "layerwise" and below:
                fit_readout(self, model, d.X_train, d.y_train, rng, desc=f"depth {depth}: read-out")
            else:
                self.train_digits(model, d.X_train, d.y_train, rng, desc=f"depth {depth}")
        return {"model": models[p.depths[-1]], "models": models}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, d = self.p, data["digits"]
        acc, ratio, raw, health, warnings = [], [], [], {}, {}
        for depth, model in trained["models"].items():
            r = model.settle({p.stimulus: d.X_eval}, steps=p.test_steps, noise=False)
            acc.append(float(np.mean(r.winners(p.readout) == d.y_eval)))
            h = health[str(depth)] = region_health(model, r)
            ratio.append(share_ratio(h))
            raw.append(share_ratio(h, "energy_share"))
            warnings[str(depth)] = health_warnings(h)
        return {"depths": list(p.depths), "accuracy_clean": acc, "energy_share_ratio": ratio,
                "energy_share_ratio_raw": raw, "health": health, "health_warnings": warnings,
                "schedule": p.schedule, "pretrain_epochs": p.pretrain, "learn_every": p.learn_every,
                "train_examples": int(len(d.X_train)), "evaluated_examples": int(len(d.y_eval))}

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting.depth import plot_depth_sweep

        return {"depth_sweep": plot_depth_sweep(results)}

    @staticmethod
    def summary(results: dict) -> str:
        lines = [f"{'levels':<8}{'clean':>8}{'share ratio':>13}{'raw ratio':>11}"]
        for L, a, r, w in zip(results["depths"], results["accuracy_clean"], results["energy_share_ratio"],
                              results["energy_share_ratio_raw"]):
            lines.append(f"{L:<8}{a:>8.3f}{r:>13.2f}{w:>11.2f}")
        for L, ws in results.get("health_warnings", {}).items():
            lines += [f"warning (depth {L}): {w}" for w in ws]
        return "\n".join(lines)
