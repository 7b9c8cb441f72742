"""What the stream experiments share: their keys, seeded streams for each split, online learning, graph variants.

A stream experiment learns from one long stream of frames (online, one local update per frame, no epochs) and is
scored on fresh streams: ``evaluate_on: test`` (the default) draws them from their own seed, ``evaluate_on:
validation`` from another, cut from nothing the test streams use; choices are made on validation, figures are
reported on test. Ablations are the same graph with one thing changed (:func:`variant`), trained on the same
stream.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cortex.region import Strict

from .base import Experiment

TRAIN, TEST, VALIDATION = 1, 2, 3     # rng streams of the training frames and of the two evaluation splits


class StreamParams(Strict):
    """Keys every stream experiment shares."""

    stimulus: str = "retina"
    streams: int = Field(32, ge=1, le=4096)
    train_frames: int = Field(600, ge=2)
    evaluate_on: Literal["test", "validation"] = "test"

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        if self.stimulus not in spec.inputs:
            return [(f"must name an input, got {self.stimulus!r} (inputs: {', '.join(spec.inputs)})", "stimulus")]
        readers = [r for r in spec.regions if self.stimulus in [c.source for c in spec.sources(r, "input")
                                                              if not c.delay]]
        if not readers:
            return [(f"no region explains {self.stimulus!r}, so nothing predicts it", "stimulus")]
        return []


class StreamExperiment(Experiment):
    """An experiment on streams of frames (see the module docstring)."""

    def train_rng(self, *keys: int) -> np.random.Generator:
        """The Generator of the training streams."""
        return self.rng(TRAIN, *keys)

    def eval_rng(self, *keys: int) -> np.random.Generator:
        """The Generator of the evaluation streams of the split ``evaluate_on`` names."""
        return self.rng(TEST if self.p.evaluate_on == "test" else VALIDATION, *keys)

    def learn_stream(self, model, frames: dict, desc: str = "learning") -> dict:
        """One pass of online learning over ``frames`` (input -> (F, B, ...)); returns the energy per frame."""
        stream = model.stream(batch=next(iter(frames.values())).shape[1], record=("energy",))
        with self.phase(desc):
            res = stream.run(frames, learn=True, progress=self.progress)
        return {"energy": [float(sum(e[t].mean() for e in res.energy.values())) for t in range(len(res))]}

    def splits(self, data: dict) -> dict:
        p = self.p
        return {"evaluated_on": p.evaluate_on, "seed": self.seed, "streams": p.streams,
                "frames": {"train": p.train_frames, **({p.evaluate_on: p.test_frames} if hasattr(p, "test_frames") else {})},
                "figures_from": f"every figure is measured on fresh {p.evaluate_on} streams (their own seed), after "
                                f"online learning from the training stream"}


def variant(spec, *, regions: dict | None = None, keep=None, name: str | None = None):
    """``spec`` with some region keys replaced (``regions``: name -> {key: value}) and only the connections ``keep``
    accepts, validated again like the YAML (an ablation: the same graph with one thing changed)."""
    from cortex.spec import spec_from_dict

    data = spec.to_dict()
    for region, changes in (regions or {}).items():
        data["regions"][region].update(changes)
    if keep is not None:
        data["connections"] = [c for c, parsed in zip(data["connections"], spec.connections) if keep(parsed)]
    if name:
        data["name"] = name
    return spec_from_dict(data, file=f"{spec.name} ({name or 'variant'})")


def without_context_learning(spec):
    """The ablation that learns no transitions: every region's context weights frozen at zero (lr_context 0)."""
    return variant(spec, regions={r: {"lr_context": 0.0} for r in spec.regions}, name=f"{spec.name}_no_transitions")


def next_frame_errors(frames: np.ndarray, forecast: np.ndarray, scored: np.ndarray, mean_frame: np.ndarray) -> dict:
    """Mean squared next-frame error over the ``scored`` (F, B) frames: the model's forecast, copying the last frame,
    and always predicting ``mean_frame`` (frames, forecast: (F, B, pixels))."""
    scored = scored.copy()
    scored[0] = False                                       # copy-last has nothing to copy at the first frame
    per = lambda pred: ((pred - frames) ** 2).mean(axis=-1)  # noqa: E731
    copy = np.zeros(frames.shape[:2])
    copy[1:] = ((frames[1:] - frames[:-1]) ** 2).mean(axis=-1)
    out = {"model": float(per(forecast)[scored].mean()), "copy_last": float(copy[scored].mean()),
           "mean_frame": float(per(mean_frame)[scored].mean())}
    out["frames_scored"] = int(scored.sum())
    return out
