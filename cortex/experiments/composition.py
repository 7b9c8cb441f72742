"""Composition: separate regions read colour and shape, so colour-shape combinations never seen are read.

Stimuli are small RGB images of one object with one colour and one shape (:mod:`cortex.stimuli.shapes`),
with position, brightness and colour jitter and pixel noise. Two softmax regions explain the same
image, each with its own prediction error: ``colour`` (one hypothesis per colour) and ``shape`` (one per
shape), each clamped by its own label as a teacher during online training. A Latin-square holdout
leaves out some combinations (one shape per colour), so every colour and every shape is seen, but
never together. Each hypothesis is a generative model with factors: a colour hypothesis learns to
absorb the variation of shape and position within its colour, a shape hypothesis the variation of
colour and position within its shape, so an unseen combination is explained by a colour hypothesis
and a shape hypothesis that are each on familiar ground.

Reported: accuracy of colour, of shape and of both on seen and on unseen combinations, against
chance, and the same for an ablation (the same graph with ``factors: 0``); within-region
suppression (winner activity, the rest's total) and cross-region co-activation (both winners high
on the same stimulus) from the settled activity.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from cortex.region import Strict

from . import register
from .base import Experiment
from .digit_data import inputs_listing
from .trainer import batch_count, epoch_batches

CHUNK = 2048   # stimuli per settle call at test time (bounds memory)


class Params(Strict):
    """The ``experiment:`` block of a composition graph."""

    kind: Literal["composition"] = "composition"
    stimulus: str = "image"
    colour_region: str = "colour"
    shape_region: str = "shape"
    colour_label: str = "colour_label"
    shape_label: str = "shape_label"
    colours: list[str] = ["red", "green", "blue", "yellow", "magenta", "cyan"]
    shapes: list[str] = ["square", "plus", "cross", "diamond", "tee", "ell"]
    holdout_per_colour: int = Field(1, ge=1)
    jitter: int = Field(1, ge=0)
    brightness: float = Field(0.3, ge=0, le=1)
    colour_jitter: float = Field(0.05, ge=0)
    noise: float = Field(0.1, ge=0)
    train_examples: int = Field(3000, ge=10)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    test_examples: int = Field(1000, ge=10)
    train_steps: int | None = Field(None, ge=0)
    test_steps: int | None = Field(None, ge=0)
    ablation: bool = True
    trace_steps: int = Field(40, ge=1)
    examples: int = Field(5, ge=2, le=12)

    @field_validator("colours", "shapes")
    @classmethod
    def _known(cls, names, info):
        from cortex.stimuli.shapes import COLOURS, GLYPHS

        table = COLOURS if info.field_name == "colours" else GLYPHS
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ValueError(f"unknown {info.field_name} {unknown}; known: {', '.join(table)}")
        if len(set(names)) != len(names) or len(names) < 2:
            raise ValueError(f"needs at least 2 different {info.field_name}, got {names}")
        return names

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        out = []
        shape = tuple(spec.inputs[self.stimulus].shape) if self.stimulus in spec.inputs else None
        if shape is None or len(shape) != 3 or shape[2] != 3 or shape[0] != shape[1] or shape[0] < 5:
            out.append((f"must name an input of shape [size, size, 3] (RGB, size >= 5), got {self.stimulus!r}"
                        + (f" with shape {list(shape)}" if shape else "") + f" (inputs: {inputs_listing(spec)})",
                        "stimulus"))
        for key, region, label, names in (("colour_region", self.colour_region, self.colour_label, self.colours),
                                          ("shape_region", self.shape_region, self.shape_label, self.shapes)):
            if region not in spec.regions:
                out.append((f"must name a region, got {region!r} (regions: {', '.join(spec.regions)})", key))
                continue
            r = spec.regions[region]
            if r.teacher != label:
                out.append((f"region {region!r} must have teacher: {label} so training can clamp it to the label", key))
            if r.hypotheses != len(names):
                out.append((f"region {region!r} must have one hypothesis per name in {names} ({len(names)}), "
                            f"has {r.hypotheses}", key))
            if self.stimulus not in r.inputs:
                out.append((f"region {region!r} must take {self.stimulus!r} as input", key))
            if getattr(r, "competition", None) != "softmax":
                out.append((f"region {region!r} must have competition: softmax (one reading per stimulus)", key))
        if self.holdout_per_colour >= len(self.shapes):
            out.append((f"must be < the number of shapes ({len(self.shapes)}) so every colour keeps a shape",
                        "holdout_per_colour"))
        return out


@register("composition")
class Composition(Experiment):
    """Train two regions on seen combinations, test on seen and unseen ones, plot both regions settling."""

    Params = Params

    def _stimuli(self, n, pairs, rng):
        from cortex.stimuli.shapes import make_shapes

        p = self.p
        return make_shapes(n, rng, p.colours, p.shapes, pairs=pairs, size=self.spec.inputs[p.stimulus].shape[0],
                           jitter=p.jitter, brightness=p.brightness, colour_jitter=p.colour_jitter, noise=p.noise)

    def _train(self, model, data, rng, desc):
        p = self.p
        ec, es = np.eye(len(p.colours), dtype=np.float32), np.eye(len(p.shapes), dtype=np.float32)
        n = len(data.colour)
        batches = ({p.stimulus: data.flat[b], p.colour_label: ec[data.colour[b]], p.shape_label: es[data.shape[b]]}
                   for b in epoch_batches(n, p.batch_size, p.epochs, rng))
        return self.trainer(model, desc, steps=p.train_steps).fit(batches, batch_count(n, p.batch_size, p.epochs))

    def _read(self, model, data, steps=None):
        """Settled activity of both regions for every test image, settled in chunks."""
        p = self.p
        steps = p.test_steps if steps is None else steps
        parts = [model.settle({p.stimulus: data.flat[i:i + CHUNK]}, steps=steps, noise=False).activity
                 for i in range(0, len(data.colour), CHUNK)]
        return {r: np.concatenate([a[r] for a in parts]) for r in (p.colour_region, p.shape_region)}

    def _score(self, activity, data) -> dict:
        p = self.p
        c = np.argmax(activity[p.colour_region], axis=1) == data.colour
        s = np.argmax(activity[p.shape_region], axis=1) == data.shape
        return {"colour": float(c.mean()), "shape": float(s.mean()), "both": float((c & s).mean())}

    def _activity_stats(self, activity) -> dict:
        """Within-region suppression and cross-region co-activation, from the settled activity."""
        p = self.p
        out = {}
        tops = []
        for r in (p.colour_region, p.shape_region):
            a = np.sort(activity[r], axis=1)
            tops.append(a[:, -1])
            out[r] = {"winner_mean": float(a[:, -1].mean()), "rest_total_mean": float(a[:, :-1].sum(axis=1).mean()),
                      "runner_up_mean": float(a[:, -2].mean())}
        both = np.minimum(*tops)
        out["both_winners_above_0.9"] = float(np.mean(both > 0.9))
        return out

    # ----- the stages --------------------------------------------------------------------------------
    def data(self) -> dict:
        from cortex.stimuli.shapes import held_out_pairs, latin_holdout

        p = self.p
        mask = latin_holdout(len(p.colours), len(p.shapes), p.holdout_per_colour, self.rng(3))
        seen, unseen = held_out_pairs(mask)
        return {"mask": mask, "unseen": unseen, "train": self._stimuli(p.train_examples, seen, self.rng(1)),
                "tests": {"seen": self._stimuli(p.test_examples, seen, self.rng(2, 0)),
                          "unseen": self._stimuli(p.test_examples, unseen, self.rng(2, 1))}}

    def train(self, data: dict) -> dict:
        from cortex.model import Model
        from cortex.spec import spec_from_dict

        p, spec = self.p, self.spec
        models = {"factors": Model(spec)}
        if p.ablation:
            graph = spec.to_dict()
            for r in (p.colour_region, p.shape_region):
                graph["regions"][r]["factors"] = 0
            models["no factors"] = Model(spec_from_dict(graph, file=f"{spec.name} (ablation: factors 0)"))
        curves = {name: self._train(model, data["train"], self.rng(0), f"training ({name})")
                  for name, model in models.items()}
        return {"model": models["factors"], "models": models, "curves": curves}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p = self.p
        accuracy, activity = {}, {}
        for name, model in trained["models"].items():
            accuracy[name], activity[name] = {}, {}
            for subset, tests in data["tests"].items():
                activity[name][subset] = self._read(model, tests)
                accuracy[name][subset] = self._score(activity[name][subset], tests)
        model = trained["model"]
        first_guess = {subset: self._score(self._read(model, tests, steps=0), tests)
                       for subset, tests in data["tests"].items()}
        nc, ns = len(p.colours), len(p.shapes)
        curves = trained["curves"]
        return {
            "accuracy": accuracy, "chance": {"colour": 1 / nc, "shape": 1 / ns, "both": 1 / (nc * ns)},
            "first_guess_accuracy": first_guess,
            "activity": {name: {s: self._activity_stats(a) for s, a in act.items()} for name, act in activity.items()},
            "colours": p.colours, "shapes": p.shapes,
            "unseen_combinations": [[p.colours[c], p.shapes[s]] for c, s in data["unseen"]],
            "train_examples": p.train_examples, "test_examples_each": p.test_examples, "epochs": p.epochs,
            "train_energy_first_last": {name: [c[0], c[-1]] for name, c in curves.items()},
            "_activity": activity["factors"]["unseen"],
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        """Stimuli, accuracy, both regions settling on unseen (and one seen) stimuli, mean fields."""
        from cortex.plotting import perception as plots
        from cortex.stimuli.shapes import COLOURS

        p, model = self.p, trained["model"]
        nc, ns = len(p.colours), len(p.shapes)
        rng = self.rng(4)
        grid = np.stack([self._stimuli(1, np.array([[c, s]]), rng).images[0] for c in range(nc) for s in range(ns)])
        examples = self._examples(model, data["tests"], results["_activity"])
        rec = model.settle({p.stimulus: examples["images"].reshape(len(examples["labels"]), -1)},
                           steps=p.trace_steps, tol=0.0, record=True, noise=False)
        image_shape = tuple(self.spec.inputs[p.stimulus].shape)
        return {
            "stimuli": plots.plot_shape_examples(grid.reshape(nc, ns, *grid.shape[1:]), p.colours, p.shapes,
                                                 data["mask"]),
            "accuracy": plots.plot_composition_accuracy(results["accuracy"], results["chance"],
                                                        title="colour and shape read by separate regions"),
            "competition": plots.plot_two_region_competition(
                {p.colour_region: rec.trace[p.colour_region], p.shape_region: rec.trace[p.shape_region]},
                {p.colour_region: p.colours, p.shape_region: p.shapes}, examples["images"], examples["labels"],
                image_shape,
                title="within a region hypotheses suppress each other; across regions a colour and a shape are active together",
                line_colours={p.colour_region: [tuple(0.8 * np.array(COLOURS[c])) for c in p.colours]}),
            "fields": plots.plot_rgb_fields(
                {r: (model.sensor_fields(r)[0], names) for r, names in ((p.colour_region, p.colours),
                                                                         (p.shape_region, p.shapes))},
                image_shape),
        }

    def _examples(self, model, tests, settled) -> dict:
        """Captioned test images for the competition figure: unseen combinations (different ones), one whose
        feed-forward first guess was wrong in some region and that settling corrected (when there is one), one seen."""
        p = self.p
        unseen = tests["unseen"]
        _, first = np.unique(unseen.colour * len(p.shapes) + unseen.shape, return_index=True)
        idx = list(np.sort(first)[:max(1, p.examples - 2)])
        guess = self._read(model, unseen, steps=0)
        regions = ((p.colour_region, unseen.colour), (p.shape_region, unseen.shape))
        corrected = np.flatnonzero(np.logical_or.reduce([np.argmax(guess[r], 1) != truth for r, truth in regions])
                                   & np.logical_and.reduce([np.argmax(settled[r], 1) == truth for r, truth in regions]))
        captions = [f"{p.colours[unseen.colour[i]]} {p.shapes[unseen.shape[i]]}\n(unseen)" for i in idx]
        corrected = [int(i) for i in corrected if i not in idx]
        if corrected:
            i = corrected[0]
            idx.append(i)
            captions.append(f"{p.colours[unseen.colour[i]]} {p.shapes[unseen.shape[i]]}\n(unseen, first guess wrong)")
        seen = tests["seen"]
        images = [unseen.images[i] for i in idx] + [seen.images[0]]
        captions.append(f"{p.colours[seen.colour[0]]} {p.shapes[seen.shape[0]]}\n(seen)")
        return {"images": np.stack(images), "labels": captions}

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: accuracy on seen and unseen combinations, chance, activity, time."""
        ch = results["chance"]
        lines = [f"{'accuracy':<34}{'colour':>8}{'shape':>8}{'both':>8}"]
        for name, acc in results["accuracy"].items():
            for subset in ("seen", "unseen"):
                a = acc[subset]
                lines.append(f"{subset + ', settled (' + name + ')':<34}{a['colour']:>8.3f}{a['shape']:>8.3f}{a['both']:>8.3f}")
        for subset, a in results["first_guess_accuracy"].items():
            lines.append(f"{subset + ', first guess (factors)':<34}{a['colour']:>8.3f}{a['shape']:>8.3f}{a['both']:>8.3f}")
        lines.append(f"{'chance':<34}{ch['colour']:>8.3f}{ch['shape']:>8.3f}{ch['both']:>8.3f}")
        act = results["activity"]["factors"]["unseen"]
        regions = [k for k in act if isinstance(act[k], dict)]
        lines.append("unseen, settled: " + "; ".join(
            f"{r} winner {act[r]['winner_mean']:.3f}, others together {act[r]['rest_total_mean']:.3f}" for r in regions)
            + f"; both winners > 0.9 on {act['both_winners_above_0.9']:.1%} of stimuli")
        lines.append("unseen combinations: " + ", ".join(" ".join(c) for c in results["unseen_combinations"]))
        return "\n".join(lines)
