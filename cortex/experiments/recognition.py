"""Recognition by analysis by synthesis on the scikit-learn digits (or your own data), against discriminative baselines.

Online training (one local update per settled batch, the label clamping the read-out region as a
teacher), then accuracy on clean examples, under Gaussian noise, with an occluding block, and after
few-shot training; the same splits train logistic regression and an MLP.

``data: FILE.npz`` (arrays ``X``, ``y``, optionally ``X_test``, ``y_test``) replaces the digits with
your own examples, of any sensor shape (the graph's ``stimulus`` input must have it) and any number of
classes (the read-out's hypotheses and the label input must have that many). Without an image
(a 2-D sensor) the occlusion condition is left out.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cortex.errors import StimulusError

from . import register
from .digit_data import DigitExperiment, DigitParams
from .report import accuracy_table


class Params(DigitParams):
    """The ``experiment:`` block of a recognition graph."""

    kind: Literal["recognition"] = "recognition"
    data: str | None = Field(None, min_length=1)
    test_steps: int | None = Field(None, ge=0)
    noise_sigma: float = Field(0.3, ge=0)
    occlusion: float = Field(0.25, gt=0, le=1)
    occlusion_value: float = 1.0
    few_shot: int = Field(5, ge=1)
    few_shot_epochs: int = Field(30, ge=1)
    baselines: bool = True
    examples: int = Field(4, ge=1, le=20)


@register("recognition")
class Recognition(DigitExperiment):
    """Train online, test under four conditions, compare with baselines."""

    Params = Params

    def data(self) -> dict:
        from cortex.stimuli.digits import add_noise, few_shot, occlude

        p = self.p
        data = super().data()
        d = data["digits"]
        data["tests"] = {"clean": d.X_eval, "noise": add_noise(d.X_eval, p.noise_sigma, self.rng(1))}
        if d.image_shape is not None:
            data["tests"]["occlusion"] = occlude(d.X_eval, p.occlusion, self.rng(2), image_shape=d.image_shape,
                                                 value=p.occlusion_value)[0]
        try:
            data["few_shot"] = few_shot(d.X_train, d.y_train, p.few_shot, self.rng(3))
        except StimulusError as exc:
            raise StimulusError(f"experiment.few_shot: {exc}; lower few_shot or give more examples") from None
        return data

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        d, rng = data["digits"], self.rng()
        model = Model(self.spec)
        curve = self.train_digits(model, d.X_train, d.y_train, rng)
        few_model = Model(self.spec)
        self.train_digits(few_model, *data["few_shot"], rng, epochs=self.p.few_shot_epochs, desc="few-shot")
        return {"model": model, "few_shot_model": few_model, "curve": curve}

    def _settle(self, model, X):
        return model.settle({self.p.stimulus: X}, steps=self.p.test_steps, noise=False)

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, d = self.p, data["digits"]
        model, table, settled = trained["model"], {}, {}
        for name, X in data["tests"].items():
            settled[name] = self._settle(model, X)
            table[name] = {"model": float(np.mean(settled[name].winners(p.readout) == d.y_eval))}
        table["few_shot"] = {"model": float(np.mean(self._settle(trained["few_shot_model"], d.X_eval)
                                                    .winners(p.readout) == d.y_eval))}
        if p.baselines:
            from cortex.baselines import fit_baselines, score_baselines

            with self.phase("baselines"):
                full, few = fit_baselines(d.X_train, d.y_train, seed=self.seed), fit_baselines(*data["few_shot"],
                                                                                               seed=self.seed)
                for name, X in data["tests"].items():
                    table[name].update(score_baselines(full, X, d.y_eval))
                table["few_shot"].update(score_baselines(few, d.X_eval, d.y_eval))
        curve = trained["curve"]
        results = {"accuracy": table, "train_examples": int(len(d.X_train)), "test_examples": int(len(d.y_eval)),
                   "epochs": p.epochs, "test_settle_steps": {c: int(r.steps) for c, r in settled.items()},
                   "train_energy_first_last": [curve[0], curve[-1]], "_settled": settled}
        if "occlusion" not in data["tests"]:
            results["left_out"] = {"occlusion": f"input {p.stimulus!r} of shape "
                                                f"{list(self.spec.inputs[p.stimulus].shape)} is not a 2-D image"}
        return results

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex import plotting

        p, d, model = self.p, data["digits"], trained["model"]
        fields, _ = model.sensor_fields(p.readout)
        figures = {
            "fields": plotting.plot_fields(fields, d.display_shape, labels=list(d.classes),
                                           title=f"{p.readout}: learned generative fields (class means)"),
            "energy": plotting.plot_energy({c: r.energy for c, r in results["_settled"].items()},
                                           title=f"settling energy on the {d.evaluated_on} set"),
            "training": plotting.plot_energy({"last settled batch": trained["curve"]},
                                             title="energy during online training", xlabel="training batch"),
        }
        ex = np.arange(min(p.examples, len(d.y_eval)))
        hard = [c for c in ("noise", "occlusion") if c in data["tests"]]
        shown = np.concatenate([data["tests"][c][ex] for c in hard])
        rec = model.settle({p.stimulus: shown}, steps=p.test_steps, record=True, noise=False)
        figures["competition"] = plotting.plot_competition(
            rec.trace[p.readout], images=shown, image_shape=d.display_shape,
            labels=np.concatenate([np.asarray(d.classes)[d.y_eval[ex]]] * len(hard)),
            hypothesis_names=list(d.classes),
            title=f"{p.readout}: {'class' if p.data else 'digit'} hypotheses competing "
                  f"({', then '.join('noisy' if c == 'noise' else 'occluded' for c in hard)})")
        return figures

    @staticmethod
    def summary(results: dict) -> str:
        """The accuracy table ``cortex run`` prints."""
        return accuracy_table(results["accuracy"])
