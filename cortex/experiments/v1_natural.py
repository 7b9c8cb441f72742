"""Sparse coding of whitened natural-image patches, without labels: V1-like fields emerge.

A ``lateral`` region with an L1 ``sparsity`` is exactly Olshausen & Field's sparse-coding energy
``pi/2 |X - aW|^2 + lambda |a|_1`` (a >= 0); trained online on whitened patches of the photographs inside
scikit-image (:mod:`cortex.stimuli.natural`), its unit-norm fields become oriented, localised, band-pass
(Gabor-like). Beside it, sklearn's ``MiniBatchDictionaryLearning`` minimises the same objective (``alpha`` =
sparsity / precision, signed codes) for as many wall-clock seconds as the model's training took. Both are scored
by :mod:`.field_stats` (fraction oriented, fraction localised), and so are random Gaussian fields as a control.
"""
from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from cortex.region import Strict

from . import register
from .base import Experiment
from .field_stats import field_summary


class Params(Strict):
    """The ``experiment:`` block of a v1_natural graph."""

    kind: Literal["v1_natural"] = "v1_natural"
    stimulus: str = "retina"
    region: str = "V1"
    images: list[str] | None = None
    whitening: Literal["measured", "1/f"] = "measured"   # each image's own spectrum flattened (docs/vision.md)
    train_patches: int = Field(150000, ge=1)
    batch_size: int = Field(250, ge=1)
    train_steps: int | None = Field(None, ge=1)
    test_patches: int = Field(2000, ge=1)
    band_deg: float = Field(30.0, gt=0, lt=180)
    baseline: bool = True

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        out = []
        if self.stimulus not in spec.inputs or len(spec.inputs[self.stimulus].shape) != 2:
            out.append((f"stimulus must be a 2-D input of the graph ({', '.join(spec.inputs)}), got "
                        f"{self.stimulus!r}", "stimulus"))
        r = spec.regions.get(self.region)
        if r is None or getattr(r, "competition", None) not in ("lateral", "none"):
            out.append((f"region must be a predictive region with competition lateral or none "
                        f"({', '.join(spec.regions)}), got {self.region!r}", "region"))
        return out


@register("v1_natural")
class V1Natural(Experiment):
    """Train the sparse code on whitened patches; score its fields against sklearn's and random ones."""

    Params = Params

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.spec.inputs[self.p.stimulus].shape)

    def data(self) -> dict:
        from cortex.stimuli.natural import IMAGES, natural_patches

        p, images = self.p, tuple(self.p.images or IMAGES)
        return {"train": natural_patches(p.train_patches, self.shape, self.rng(1), images, whitening=p.whitening),
                "test": natural_patches(p.test_patches, self.shape, self.rng(2), images, whitening=p.whitening),
                "images": images}

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p, X = self.p, data["train"]
        model = Model(self.spec)
        batches = ({p.stimulus: X[i:i + p.batch_size]} for i in range(0, len(X), p.batch_size))
        start = time.perf_counter()
        curve = self.trainer(model, steps=p.train_steps).fit(batches, total=-(-len(X) // p.batch_size))
        seconds = time.perf_counter() - start
        out = {"model": model, "curve": curve, "seconds": seconds}
        if p.baseline:
            with self.phase("baseline"):
                out["baseline"] = self._baseline(X, model, seconds)
        return out

    def _baseline(self, X, model, budget: float) -> dict:
        """MiniBatchDictionaryLearning on the same patches, batch by batch, until it has used ``budget`` seconds."""
        from sklearn.decomposition import MiniBatchDictionaryLearning

        p, r = self.p, self.spec.regions[self.p.region]
        alpha = r.sparsity / r.precision
        dl = MiniBatchDictionaryLearning(n_components=r.hypotheses, alpha=alpha, batch_size=p.batch_size,
                                         transform_algorithm="lasso_lars", transform_alpha=alpha,
                                         random_state=int(self.rng(3).integers(2**31)))
        start, seen = time.perf_counter(), 0
        order = self.rng(4).permutation(len(X))
        while True:
            for i in range(0, len(X), p.batch_size):
                dl.partial_fit(X[order[i:i + p.batch_size]])
                seen += len(order[i:i + p.batch_size])
                if time.perf_counter() - start >= budget:
                    return {"estimator": dl, "seconds": time.perf_counter() - start, "budget_seconds": budget,
                            "patches": seen, "alpha": alpha}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, shape, model = self.p, self.shape, trained["model"]
        W = model.backend.to_numpy(model.regions[p.region].fields())
        X = data["test"]
        res = model.settle({p.stimulus: X}, steps=p.train_steps, noise=False)
        a = res.activity[p.region]
        err = float(np.mean((X - a @ W) ** 2) / np.mean(X ** 2))
        ours = field_summary(W, shape, p.band_deg)
        out = {"fraction_oriented": ours["fraction_oriented"], "fraction_localised": ours["fraction_localised"],
               "model": {k: v for k, v in ours.items() if not k.startswith("_")}
               | {"heldout_relative_error": err, "active_fraction": float(np.mean(a > 1e-6)),
                  "seconds": trained["seconds"], "patches": int(len(data["train"]))},
               "random_fields": {k: v for k, v in field_summary(
                   self.rng(5).normal(size=W.shape), shape, p.band_deg).items() if not k.startswith("_")},
               "images": list(data["images"]), "patch_shape": list(shape), "band_deg": p.band_deg,
               "whitening": p.whitening,
               "train_energy_first_last": [trained["curve"][0], trained["curve"][-1]],
               "_fields": W, "_shares": {"model": ours}}
        if "baseline" in trained:
            b = trained["baseline"]
            D = b["estimator"].components_
            code = b["estimator"].transform(X)
            theirs = field_summary(D, shape, p.band_deg)
            out["baseline"] = {k: v for k, v in theirs.items() if not k.startswith("_")} | {
                "heldout_relative_error": float(np.mean((X - code @ D) ** 2) / np.mean(X ** 2)),
                "active_fraction": float(np.mean(np.abs(code) > 1e-6)), "seconds": b["seconds"],
                "budget_seconds": b["budget_seconds"], "patches": b["patches"], "alpha": b["alpha"], "method": "sklearn MiniBatchDictionaryLearning"}
            out["_baseline_fields"] = D
            out["_shares"]["MiniBatchDictionaryLearning"] = theirs
        return out

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting.vision import plot_field_grid, plot_field_shares

        shape = self.shape
        figs = {"fields": plot_field_grid(results["_fields"], shape, results["_shares"]["model"],
                                          title=f"{self.p.region}: fields learned without labels")}
        if "_baseline_fields" in results:
            figs["baseline_fields"] = plot_field_grid(
                results["_baseline_fields"], shape, results["_shares"]["MiniBatchDictionaryLearning"],
                title="sklearn MiniBatchDictionaryLearning, same time budget")
        figs["field_shares"] = plot_field_shares(results["_shares"], self.p.band_deg)
        return figs

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: both fractions for the model, the baseline and random fields."""
        rows = [("cortex-sim", results["model"]), ("MiniBatchDictionaryLearning", results.get("baseline")),
                ("random fields", results["random_fields"])]
        lines = [f"{'fields':<30}{'oriented':>10}{'localised':>11}{'heldout err':>13}{'seconds':>9}"]
        for name, r in rows:
            if r is None:
                continue
            err, sec = r.get("heldout_relative_error"), r.get("seconds")
            lines.append(f"{name:<30}{r['fraction_oriented']:>10.3f}{r['fraction_localised']:>11.3f}"
                         + (f"{err:>13.3f}" if err is not None else f"{'':>13}")
                         + (f"{sec:>9.1f}" if sec is not None else ""))
        lines.append(f"bars: fraction_oriented >= 0.9 ({results['fraction_oriented']:.3f}), "
                     f"fraction_localised >= 0.8 ({results['fraction_localised']:.3f})")
        return "\n".join(lines)
