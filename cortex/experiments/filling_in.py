"""Occlusion and filling-in: the top-down prediction reconstructs the hidden part of an occluded digit.

The model is trained online on clean digits (label as teacher, as in the recognition experiment). Each
held-out digit then gets one opaque block (:func:`cortex.stimuli.digits.occlude`, white by default), is
settled with ``tol: 0`` and noise off, and the read-out region's prediction of its input (the image it
expects, ``SettleResult.prediction``) is compared with the hidden truth inside the block. Baselines fill
the block with the mean training image; the mean training image of the digit's TRUE class is shown as a
reference that knows the answer. Each block size is one condition; the error is also followed over
settling steps (step 0: the feed-forward first guess).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from . import register
from .digit_data import DigitExperiment, DigitParams, check_digit_graph, increasing


class Params(DigitParams):
    """The ``experiment:`` block of a filling-in graph."""

    kind: Literal["filling_in"] = "filling_in"
    max_test: int | None = Field(None, ge=10)
    steps: int = Field(200, ge=1)
    rate: float | None = Field(None, gt=0, le=1)
    sizes: list[int] = Field([2, 3, 4, 5], min_length=1)
    size: int = Field(4, ge=1, le=8)
    occlusion_value: float = 1.0
    curve_steps: list[int] = Field([0, 1, 2, 5, 10, 20, 50, 100, 200], min_length=1)
    examples: int = Field(6, ge=1, le=12)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v):
        if any(s > 8 for s in v):
            raise ValueError(f"must be block sides of 1 to 8 pixels, got {v}")
        return increasing(v, 1, "block sides in pixels")

    @field_validator("curve_steps")
    @classmethod
    def _curve(cls, v):
        return increasing(v, 0)

    @model_validator(mode="after")
    def _shown(self):
        if self.size not in self.sizes:
            raise ValueError(f"size (the block shown in the figures) must be one of sizes {self.sizes}, got {self.size}")
        return self

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        return check_digit_graph(self, spec, predicts_stimulus=True)


def patch_mse(fill: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared error between ``fill`` and ``truth`` over the pixels where ``mask`` is True."""
    return float(np.mean((np.broadcast_to(fill, truth.shape)[mask] - truth[mask]) ** 2))


@register("filling_in")
class FillingIn(DigitExperiment):
    """Train on clean digits; occlude held-out digits; error of the top-down prediction inside the block."""

    Params = Params

    def _settle(self, model, X, steps):
        return model.settle({self.p.stimulus: X}, steps=steps, rate=self.rate, tol=0.0, noise=False)

    def evaluate(self, data: dict, trained: dict) -> dict:
        from cortex.stimuli.digits import occlude

        p, d, model = self.p, data["digits"], trained["model"]
        X_train, y_train, X_test, y_test = d.X_train, d.y_train, d.X_eval, d.y_eval
        H, W = d.image_shape
        mean_image = X_train.mean(axis=0)
        class_means = np.stack([X_train[y_train == c].mean(axis=0) if np.any(y_train == c) else mean_image
                                for c in range(10)])
        table, curves, shown = {}, {}, None
        for i, side in enumerate(p.sizes):
            X_occ, mask = occlude(X_test, side * side / (H * W), self.rng(5, i), image_shape=(H, W),
                                  value=p.occlusion_value)
            final = self._settle(model, X_occ, p.steps)
            pred = final.prediction[p.readout]
            right = final.winners(p.readout) == y_test
            errs = {}
            for s in p.curve_steps:
                errs[s] = patch_mse(pred if s == p.steps else self._settle(model, X_occ, s).prediction[p.readout],
                                    X_test, mask)
            curves[side] = errs
            table[f"{side}x{side}"] = {
                "model": patch_mse(pred, X_test, mask),
                "first_guess": errs[0] if 0 in errs else patch_mse(self._settle(model, X_occ, 0).prediction[p.readout],
                                                                   X_test, mask),
                "mean_image": patch_mse(mean_image, X_test, mask),
                "true_class_mean": patch_mse(class_means[y_test], X_test, mask),
                "occluder_left_in": patch_mse(X_occ, X_test, mask),
                "model_when_class_right": patch_mse(pred[right], X_test[right], mask[right]) if right.any() else None,
                "model_visible_pixels": patch_mse(pred, X_test, ~mask),
                "accuracy": float(np.mean(right)),
            }
            if side == p.size:
                shown = (X_occ, mask, final)
        curve = trained["curve"]
        return {
            "patch_mse": table,
            "mse_over_steps": {f"{s}x{s}": {str(k): v for k, v in c.items()} for s, c in curves.items()},
            "occlusion_value": p.occlusion_value,
            "settle": {"rate": self.rate, "tol": 0.0, "noise": False, "steps": p.steps},
            "train_examples": int(len(X_train)), "test_examples": int(len(y_test)),
            "train_energy_first_last": [curve[0], curve[-1]],
            "_curves": curves, "_shown": shown,
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex import plotting
        from cortex.plotting.search import plot_filling_error, plot_filling_in

        p, d, model = self.p, data["digits"], trained["model"]
        X_occ, mask, final = results["_shown"]
        table, y_test = results["patch_mse"], d.y_eval
        ex = np.arange(min(p.examples, len(y_test)))
        figures = {
            "filling_in": plot_filling_in(
                X_occ[ex], final.prediction[p.readout][ex], d.X_eval[ex], mask[ex], d.image_shape, labels=y_test[ex],
                winners=final.winners(p.readout)[ex],
                title=f"{p.readout} fills in a {p.size}x{p.size} block after {p.steps} steps"),
            "filling_error": plot_filling_error(
                p.sizes, {m: [table[f"{s}x{s}"][m] for s in p.sizes]
                          for m in ("model", "first_guess", "mean_image", "true_class_mean")},
                {s: (list(c), list(c.values())) for s, c in results["_curves"].items()},
                title=f"filling in an occluded block (value {p.occlusion_value:g}): error inside the block"),
        }
        rec = model.settle({p.stimulus: X_occ[ex]}, steps=p.steps, rate=self.rate, tol=0.0, noise=False, record=True)
        figures["competition"] = plotting.plot_competition(
            rec.trace[p.readout], images=X_occ[ex], image_shape=d.image_shape, labels=y_test[ex],
            hypothesis_names=[str(i) for i in range(10)],
            title=f"{p.readout}: digit hypotheses competing over occluded digits")
        return figures

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: error inside the block per block size and method, and the time."""
        cols = ("model", "first_guess", "mean_image", "true_class_mean", "occluder_left_in", "accuracy")
        lines = [f"{'patch MSE':<10}" + "".join(f"{c:>18}" for c in cols)]
        for size, row in results["patch_mse"].items():
            lines.append(f"{size:<10}" + "".join(f"{row[c]:>18.4f}" for c in cols))
        s = results["settle"]
        lines.append(f"block value {results['occlusion_value']:g}; {s['steps']} settling steps at rate {s['rate']}, "
                     "tol 0, noise off; accuracy = the read-out's class under occlusion")
        return "\n".join(lines)
