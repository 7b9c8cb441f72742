"""Recognition by analysis by synthesis on the scikit-learn digits, against discriminative baselines.

Online training (one local update per settled batch, the label clamping the read-out region as a
teacher), then test accuracy on clean digits, under Gaussian noise, with an occluding block, and after
few-shot training; the same splits train logistic regression and an MLP.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field


from . import register
from .report import accuracy_table, provenance, write_results
from .training import DigitParams, digit_data, train_online


class Params(DigitParams):
    """The ``experiment:`` block of a recognition graph."""

    kind: Literal["recognition"] = "recognition"
    test_steps: int | None = Field(None, ge=0)
    noise_sigma: float = Field(0.3, ge=0)
    occlusion: float = Field(0.25, gt=0, le=1)
    occlusion_value: float = 1.0
    few_shot: int = Field(5, ge=1)
    few_shot_epochs: int = Field(30, ge=1)
    baselines: bool = True
    examples: int = Field(4, ge=1, le=20)


@register("recognition")
class Recognition:
    """Train online, test under four conditions, compare with baselines, write results.json and figures."""

    Params = Params

    def __init__(self, spec, params: Params):
        self.spec, self.p = spec, params

    def _train(self, model, X, y, epochs, rng, desc, progress):
        p = self.p
        return train_online(model, X, y, stimulus=p.stimulus, label=p.label, batch_size=p.batch_size, epochs=epochs,
                            rng=rng, steps=p.train_steps, desc=desc, progress=progress)

    def _accuracy(self, model, X, y):
        result = model.settle({self.p.stimulus: X}, steps=self.p.test_steps, noise=False)
        return float(np.mean(result.winners(self.p.readout) == y)), result

    def run(self, out: str | Path, progress: bool = True) -> dict:
        from cortex import plotting
        from cortex.baselines import fit_baselines, score_baselines
        from cortex.model import Model
        from cortex.stimuli.digits import add_noise, few_shot, occlude

        p, spec = self.p, self.spec
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        split, X_train, y_train, _, _ = digit_data(p, spec)
        rng = np.random.default_rng(spec.seed)
        tests = {
            "clean": split.X_test,
            "noise": add_noise(split.X_test, p.noise_sigma, np.random.default_rng([spec.seed, 1])),
            "occlusion": occlude(split.X_test, p.occlusion, np.random.default_rng([spec.seed, 2]),
                                 value=p.occlusion_value)[0],
        }
        X_few, y_few = few_shot(X_train, y_train, p.few_shot, np.random.default_rng([spec.seed, 3]))

        model = Model(spec)
        curve = self._train(model, X_train, y_train, p.epochs, rng, "training", progress)
        t_train = time.perf_counter() - t0
        acc, settled = {}, {}
        for name, X in tests.items():
            acc[name], settled[name] = self._accuracy(model, X, split.y_test)
        few_model = Model(spec)
        self._train(few_model, X_few, y_few, p.few_shot_epochs, rng, "few-shot", progress)
        acc["few_shot"] = self._accuracy(few_model, split.X_test, split.y_test)[0]
        model.save(out / "model.npz")

        table = {cond: {"model": value} for cond, value in acc.items()}
        if p.baselines:
            full, few = fit_baselines(X_train, y_train, seed=spec.seed), fit_baselines(X_few, y_few, seed=spec.seed)
            for name, X in tests.items():
                for b, v in score_baselines(full, X, split.y_test).items():
                    table[name][b] = v
            for b, v in score_baselines(few, split.X_test, split.y_test).items():
                table["few_shot"][b] = v

        fields, _ = model.sensor_fields(p.readout)
        figures = {
            "fields": plotting.plot_fields(fields, split.image_shape,
                                           out / "fields.png", title=f"{p.readout}: learned generative fields (class means)",
                                           labels=list(range(10))),
            "energy": plotting.plot_energy({c: r.energy for c, r in settled.items()}, out / "energy.png",
                                           title="settling energy on the test set"),
            "training": plotting.plot_energy({"last settled batch": curve}, out / "training.png",
                                             title="energy during online training", xlabel="training batch"),
        }
        ex = np.arange(p.examples)
        shown = np.concatenate([tests["noise"][ex], tests["occlusion"][ex]])
        rec = model.settle({p.stimulus: shown}, steps=p.test_steps, record=True, noise=False)
        figures["competition"] = plotting.plot_competition(
            rec.trace[p.readout], images=shown, image_shape=split.image_shape,
            labels=np.concatenate([split.y_test[ex], split.y_test[ex]]), hypothesis_names=[str(i) for i in range(10)],
            path=out / "competition.png", title=f"{p.readout}: digit hypotheses competing (noisy, then occluded)")
        for fig in figures.values():
            plotting.plt.close(fig)

        results = {
            **provenance(spec, model), "experiment": "recognition",
            "accuracy": table,
            "train_examples": int(len(X_train)), "test_examples": int(len(split.y_test)), "epochs": p.epochs,
            "test_settle_steps": {c: int(r.steps) for c, r in settled.items()},
            "train_energy_first_last": [curve[0], curve[-1]],
            "seconds": {"train": round(t_train, 2), "total": round(time.perf_counter() - t0, 2)},
            "figures": [f"{k}.png" for k in figures],
        }
        return write_results(out, results)

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: the accuracy table and the time."""
        return (accuracy_table(results["accuracy"]) +
                f"\ntime: {results['seconds']['total']:.1f} s (training {results['seconds']['train']:.1f} s)")
