"""Recognition by analysis by synthesis on the scikit-learn digits (or your own data), against discriminative baselines.

Online training (one local update per settled batch, the label clamping the read-out region as a
teacher), then accuracy on clean examples, under Gaussian noise, with an occluding block, and after
few-shot training; the same splits train logistic regression and an MLP.

A deep graph (regions below the read-out) can learn them first without labels: ``pretrain: N`` epochs
over the unlabelled training images, level by level bottom-up (:mod:`.schedules`); ``schedule: layerwise``
then trains only the read-out with its label (``joint``: every region). After pretraining, the
``few_shot_pretrained`` condition trains the read-out alone on the few labelled examples, and then, with
``few_shot_unlabelled_epochs: N``, goes on learning over the unlabelled training images from its own settled
posterior, a labelled batch after each unlabelled one (semi-supervised, :func:`.schedules.refine_readout`); on a
graph of one region the few-shot model does so, as the ``few_shot_unlabelled`` condition. ``health``
(:mod:`cortex.health`) records each region's energy share, spread and activity on the clean set.
``few_shot_shift: S`` shows each few-shot example at five fixations (in place and shifted S pixels each way), to
the model and to the baselines alike: what a few glances at each labelled digit give.

``data: FILE.npz`` (arrays ``X``, ``y``, optionally ``X_test``, ``y_test``) replaces the digits with
your own examples, of any sensor shape (the graph's ``stimulus`` input must have it) and any number of
classes (the read-out's hypotheses and the label input must have that many). Without an image
(a 2-D sensor) the occlusion condition is left out.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from cortex.errors import StimulusError
from cortex.health import health_warnings, region_health

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
    few_shot_unlabelled_epochs: int = Field(0, ge=0)
    few_shot_shift: int = Field(0, ge=0, le=3)    # pixels each few-shot example is also seen shifted by (0: once)
    fill_in: int = Field(0, ge=0, le=20)           # rounds of filling in from the top down at test (0: one settle)
    fill_in_quantile: float = Field(0.9995, gt=0, lt=1)  # filled: pooled residual > this quantile of the seen images'
    fill_in_pool: int = Field(3, ge=1, le=15)      # the side of the neighbourhood the residual is averaged over
    fill_in_candidates: int = Field(1, ge=1)       # >1: the read-out's most probable hypotheses complete in turn
    fill_in_gate: float | None = Field(None, gt=0, lt=1)  # filled only if the residual's concentration > this
    fill_in_gate_window: int = Field(4, ge=1, le=15)  # quantile of the seen images' (None: every image is filled)
    baselines: bool = True
    examples: int = Field(4, ge=1, le=20)
    schedule: Literal["auto", "joint", "layerwise"] = "auto"
    pretrain: int | None = Field(None, ge=0)
    balance: Literal["scale", "none"] = "none"

    @model_validator(mode="after")
    def _layerwise_pretrains(self):
        if self.schedule == "layerwise" and self.pretrain == 0:
            raise ValueError("schedule: layerwise trains the read-out over levels learned first: give pretrain >= 1 "
                             "(or leave it out: epochs), or use schedule: joint")
        return self

    def check(self, spec):
        out = super().check(spec)
        if "fill_in" not in self.model_fields_set:       # fill_in: 0 written out (an ablation) keeps its keys quietly
            idle = sorted(k for k in self.model_fields_set if k.startswith("fill_in_"))
            out.extend((f"has no effect while fill_in is 0 (one settle, the default): give fill_in: N >= 1 rounds, "
                        f"or leave {key} out", key) for key in idle)
        region = spec.regions.get(self.readout)
        if region is not None and self.fill_in_candidates > region.hypotheses:
            out.append((f"must be at most the read-out's {region.hypotheses} hypotheses (the completions compete "
                        f"among them), got {self.fill_in_candidates}", "fill_in_candidates"))
        return out

    def schedule_for(self, deep: bool) -> str:
        """``auto`` (the default): ``layerwise`` when regions lie below the read-out (``deep``) and pretraining is not
        turned off (``pretrain: 0``), else ``joint``. On the digits at 8 levels (bottom-up, seeds 0-2), joint training
        reads 0.65-0.76 of the validation images right, layerwise 0.95-0.98 (docs/depth.md); on one level the two
        are the same."""
        if self.schedule != "auto":
            return self.schedule
        return "layerwise" if deep and self.pretrain != 0 else "joint"

    def pretrain_epochs(self, deep: bool) -> int:
        """Unsupervised epochs of the levels below the read-out (default: ``epochs`` when layerwise, else none)."""
        layerwise = self.schedule_for(deep) == "layerwise"
        return (self.epochs if layerwise else 0) if self.pretrain is None else self.pretrain


@register("recognition")
class Recognition(DigitExperiment):
    """Train online, test under four conditions, compare with baselines."""

    Params = Params

    def data(self) -> dict:
        from cortex.stimuli.digits import add_noise, few_shot, fixations, occlude

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
        if p.few_shot_shift:
            if d.image_shape is None:
                raise StimulusError("experiment.few_shot_shift: shifts images, and this data set gives no image "
                                    "shape; set it to 0")
            X, y = data["few_shot"]
            data["few_shot"] = fixations(X, p.few_shot_shift, d.image_shape), np.tile(y, 5)
        if p.fill_in and d.image_shape is None:
            raise StimulusError("experiment.fill_in: fills in pixels by their neighbourhood, and this data set "
                                "gives no image shape; set it to 0")
        return data

    def _below(self) -> list[str]:
        """The regions below the read-out (none on one level): what ``schedule: auto`` decides on."""
        return [n for n in self.spec.regions if n != self.p.readout]

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        from .schedules import copy_weights, fit_readout, pretrain_levels, refine_readout

        p, d, rng = self.p, data["digits"], self.rng()
        model, out = Model(self.spec), {}
        below = self._below()
        top, epochs = p.schedule_for(bool(below)) == "layerwise", p.pretrain_epochs(bool(below))
        if epochs and below:
            model, out["pretrain_curves"] = pretrain_levels(self, self.spec, d.X_train, epochs, rng, below, p.balance)
            pre = out["few_shot_pretrained_model"] = Model(model.spec)
            copy_weights(pre, model)
            # a stream of its own: the main read-out's training below must not depend on few_shot_epochs
            fit_readout(self, pre, *data["few_shot"], self.rng(4), epochs=p.few_shot_epochs,
                        desc="few-shot (pretrained)")
            if p.few_shot_unlabelled_epochs:
                refine_readout(self, pre, d.X_train, *data["few_shot"], self.rng(6),
                               epochs=p.few_shot_unlabelled_epochs, desc="few-shot (pretrained) on unlabelled images")
        if top and below:
            curve = fit_readout(self, model, d.X_train, d.y_train, rng)
        else:
            curve = self.train_digits(model, d.X_train, d.y_train, rng)
        few_model = Model(self.spec)
        # a stream of its own too: how long the main model trained (``epochs``, ``pretrain``) must not move it
        self.train_digits(few_model, *data["few_shot"], self.rng(5), epochs=p.few_shot_epochs, desc="few-shot")
        if p.few_shot_unlabelled_epochs and not below:   # one region: the few-shot model, then the unlabelled images
            semi = out["few_shot_unlabelled_model"] = Model(self.spec)
            copy_weights(semi, few_model)
            refine_readout(self, semi, d.X_train, *data["few_shot"], self.rng(6),
                           epochs=p.few_shot_unlabelled_epochs, desc="few-shot on unlabelled images")
        return {"model": model, "few_shot_model": few_model, "curve": curve, **out}

    def _settle(self, model, X):
        return model.settle({self.p.stimulus: X}, steps=self.p.test_steps, noise=False)

    def _reader(self, model, d, seen):
        """``read(X, y)`` -> (accuracy row, the single settle, what filling in did) for ``model``. With ``fill_in``
        the row holds the filled-in figure and the single settle's (``model_no_fill_in``, the ablation), and the
        threshold is calibrated once, on ``seen``: the clean images the model trained on (the few-shot model from
        scratch: its few; the others: every training image), never a test image or a label."""
        p = self.p

        def settle(Z):
            return self._settle(model, Z)

        if p.fill_in:
            from .occluders import TopDown, calibrate, fill_in

            try:
                top_down = TopDown(model, readout=p.readout, stimulus=p.stimulus, image_shape=d.image_shape,
                                   pool=p.fill_in_pool)
            except StimulusError as exc:
                raise StimulusError(f"experiment.fill_in: {exc}; set it to 0") from None
            threshold, gate = calibrate(settle, top_down, seen, p.fill_in_quantile, p.fill_in_gate,
                                        p.fill_in_gate_window)

        def read(X, y):
            once = settle(X)
            row = {"model": float(np.mean(once.winners(p.readout) == y))}
            if not p.fill_in:
                return row, once, {}
            filled, mask = fill_in(settle, top_down, X, threshold=threshold, rounds=p.fill_in,
                                   candidates=p.fill_in_candidates, first=once, gate=gate, window=p.fill_in_gate_window)
            return ({"model": float(np.mean(filled.winners(p.readout) == y)), "model_no_fill_in": row["model"]},
                    once, {"threshold": threshold, "gate_threshold": gate, "filled_fraction": float(mask.mean()),
                           "filled_images": float(mask.any(axis=1).mean())})
        return read

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, d = self.p, data["digits"]
        model, table, settled, filled = trained["model"], {}, {}, {}
        deep = bool(self._below())
        read = self._reader(model, d, d.X_train)
        for name, X in data["tests"].items():
            table[name], settled[name], filled[name] = read(X, d.y_eval)
        for cond in ("few_shot", "few_shot_pretrained", "few_shot_unlabelled"):
            if f"{cond}_model" in trained:
                seen = data["few_shot"][0] if cond == "few_shot" else d.X_train
                table[cond], _, filled[cond] = self._reader(trained[f"{cond}_model"], d, seen)(d.X_eval, d.y_eval)
        if p.baselines:
            from cortex.baselines import fit_baselines, score_baselines

            with self.phase("baselines"):
                full, few = fit_baselines(d.X_train, d.y_train, seed=self.seed), fit_baselines(*data["few_shot"],
                                                                                               seed=self.seed)
                for name, X in data["tests"].items():
                    table[name].update(score_baselines(full, X, d.y_eval))
                table["few_shot"].update(score_baselines(few, d.X_eval, d.y_eval))
                for cond in ("few_shot_pretrained", "few_shot_unlabelled"):   # the baselines see no unlabelled
                    if cond in table:                                          # images: their few-shot figure
                        table[cond].update({k: v for k, v in table["few_shot"].items() if not k.startswith("model")})
        curve = trained["curve"]
        refined = "few_shot_pretrained_model" in trained or "few_shot_unlabelled_model" in trained
        unlabelled = p.few_shot_unlabelled_epochs if refined else 0
        results = {"accuracy": table, "train_examples": int(len(d.X_train)), "test_examples": int(len(d.y_eval)),
                   "epochs": p.epochs, "test_settle_steps": {c: int(r.steps) for c, r in settled.items()},
                   "train_energy_first_last": [curve[0], curve[-1]], "_settled": settled,
                   "schedule": p.schedule_for(deep), "pretrain_epochs": p.pretrain_epochs(deep),
                   "learn_every": p.learn_every, "few_shot_unlabelled_epochs": unlabelled,
                   "few_shot_shift": p.few_shot_shift}
        if p.fill_in:
            results["fill_in"] = {"rounds": p.fill_in, "quantile": p.fill_in_quantile, "pool": p.fill_in_pool,
                                  "candidates": p.fill_in_candidates, "gate": p.fill_in_gate,
                                  "gate_window": p.fill_in_gate_window,
                                  **{k: {c: f[k] for c, f in filled.items()}
                                     for k in ("threshold", "gate_threshold", "filled_fraction", "filled_images")}}
        results["health"] = region_health(model, settled["clean"])
        results["health_warnings"] = health_warnings(results["health"])
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
        """The accuracy table ``cortex run`` prints, and what filling in did when it ran."""
        warn = [f"warning: {w}" for w in results.get("health_warnings", [])]
        lines = [accuracy_table(results["accuracy"])]
        if f := results.get("fill_in"):
            competing = f" from {f['candidates']} competing completions" if f.get("candidates", 1) > 1 else ""
            lines.append(f"filling in: {f['rounds']} rounds{competing}; the main model's threshold "
                         f"{f['threshold']['clean']:.3f}, the {f['quantile']:g} quantile of its training images' "
                         "pooled residuals")
            if f.get("gate") is not None:
                lines.append(f"only images whose residual is concentrated are filled (above the {f['gate']:g} quantile "
                             f"of the training images' concentration over {f['gate_window']}x{f['gate_window']}); "
                             "images filled: " + ", ".join(f"{c} {v:.0%}" for c, v in f["filled_images"].items()))
            lines.append("pixels filled: " + ", ".join(f"{c} {v:.2%}" for c, v in f["filled_fraction"].items()))
        return "\n".join([*lines, *warn])
