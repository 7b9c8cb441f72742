"""Discovered connections: three senses, no context edges declared; structural plasticity finds the related pair.

Sight and sound are driven by one hidden cause, touch by an independent one (:mod:`cortex.stimuli.senses`).
Each sense's region first learns its own categories with its own teacher. Then an unlabelled stream of
stimuli is settled while a :class:`cortex.structure.Rewiring` reviews candidate context edges between the
regions from their settled activity. The right answer is known: sight <-> sound, nothing to or from touch, so
the discovered edges have a precision and a recall. Recognition (each region's reading of its own sense) is
measured before the stream, after the same stream without rewiring (the control) and after it with the
discovered edges; the grown graph is written as ``discovered.yaml``.

On the stream only context weights learn (``stream_learns: context``; the control then reads as before): with
``all`` a weak sense's fields also learn from states its new priors pulled, and with few training examples that
drift cost more than the edges gave (validation split, 800 training stimuli: sight 0.675 -> 0.703 with ``all``,
-> 0.761 with ``context``).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cortex.region import Strict

from . import register
from .base import Experiment
from .trainer import batch_count, epoch_batches

SENSES = ("sight", "sound", "touch")


class Params(Strict):
    """The ``experiment:`` block of a discovery graph."""

    kind: Literal["discover"] = "discover"
    regions: dict[str, str] = {"sight": "Sight", "sound": "Sound", "touch": "Touch"}   # sense -> region reading it
    labels: dict[str, str] = {"sight": "sight_label", "sound": "sound_label", "touch": "touch_label"}
    test_size: float = Field(0.2, gt=0, lt=1)
    evaluate_on: Literal["test", "validation"] = "test"
    validation_size: float = Field(0.2, gt=0, lt=1)
    train_examples: int = Field(2000, ge=10)       # labelled stimuli each sense learns its categories from
    epochs: int = Field(2, ge=1)
    stream: int = Field(1500, ge=10)               # unlabelled stimuli settled while edges are discovered
    test_examples: int = Field(1000, ge=10)
    batch_size: int = Field(32, ge=1)
    sight_noise: float = Field(0.5, ge=0)
    sound_noise: float = Field(1.0, ge=0)
    touch_noise: float = Field(0.5, ge=0)
    stream_learns: Literal["context", "all"] = "context"   # what learns on the unlabelled stream

    def check(self, spec):
        out = []
        for key in ("regions", "labels"):
            if set(getattr(self, key)) != set(SENSES):
                out.append((f"must map each of the senses {', '.join(SENSES)}, got {sorted(getattr(self, key))}", key))
        if out:
            return out
        for sense in SENSES:
            region, label = self.regions[sense], self.labels[sense]
            if sense not in spec.inputs:
                out.append((f"the graph needs an input named {sense!r} (inputs: {', '.join(spec.inputs)})", "regions"))
            if region not in spec.regions:
                out.append((f"{sense}: must name a region, got {region!r} (regions: {', '.join(spec.regions)})",
                            "regions"))
                continue
            p = spec.regions[region]
            if list(p.inputs) != [sense]:
                out.append((f"region {region!r} must take only the input {sense!r} (inputs: [{sense}])", "regions"))
            if p.teacher != label or label not in spec.inputs or spec.inputs[label].size != 10:
                out.append((f"region {region!r} must have teacher: {label}, an input of 10 values", "labels"))
            elif p.hypotheses != 10:
                out.append((f"region {region!r} must have 10 hypotheses, one per cause", "regions"))
        for sense in ("sight", "touch"):
            if sense in spec.inputs and spec.inputs[sense].size != 64:
                out.append((f"input {sense!r} must have 8x8 = 64 values (a digit)", "regions"))
        return out


@register("discover")
class Discover(Experiment):
    """Sensory learning with teachers, then discovery on an unlabelled stream; edges scored against the truth."""

    Params = Params

    def data(self) -> dict:
        from sklearn.model_selection import train_test_split

        from cortex.stimuli.digits import load_digit_split
        from cortex.stimuli.senses import SenseWorld

        p = self.p
        split = load_digit_split(test_size=p.test_size, seed=self.seed)
        X_tr, y_tr, X_ev, y_ev = split.X_train, split.y_train, split.X_test, split.y_test
        if p.evaluate_on == "validation":
            X_tr, X_ev, y_tr, y_ev = train_test_split(X_tr, y_tr, test_size=p.validation_size, random_state=self.seed,
                                                      stratify=y_tr)
        noise = {"sight_noise": p.sight_noise, "sound_noise": p.sound_noise, "touch_noise": p.touch_noise,
                 "sound_size": self.spec.inputs["sound"].size}
        train_world = SenseWorld(X_tr, y_tr, seed=self.seed, **noise)
        eval_world = SenseWorld(X_ev, y_ev, seed=self.seed, **noise)   # same sound codes, unseen images
        return {"train": train_world.sample(p.train_examples, self.rng(1)),
                "stream": train_world.sample(p.stream, self.rng(2)),
                "eval": eval_world.sample(p.test_examples, self.rng(3)),
                "split": {"evaluated_on": p.evaluate_on, "test_size": p.test_size, "seed": self.seed,
                          **({"validation_size": p.validation_size} if p.evaluate_on == "validation" else {}),
                          "examples": {"train": int(len(y_tr)), p.evaluate_on: int(len(y_ev))},
                          "figures_from": f"recognition is measured on stimuli drawn from the {p.evaluate_on} "
                                          "split's images; training and the stream draw from the training images"}}

    def splits(self, data: dict) -> dict:
        return data["split"]

    def _stream(self, sample, with_labels: bool, epochs: int, rng):
        p, eye = self.p, np.eye(10, dtype=np.float32)
        for i in epoch_batches(len(sample.cause), p.batch_size, epochs, rng):
            batch = {s: sample.senses[s][i] for s in SENSES}
            if with_labels:
                batch.update({p.labels[s]: eye[sample.classes[s][i]] for s in SENSES})
            yield batch

    def train(self, data: dict) -> dict:
        from cortex.model import Model
        from cortex.structure import Rewiring, rewire

        p = self.p
        model = Model(self.spec)
        curve = self.trainer(model, "senses").fit(self._stream(data["train"], True, p.epochs, self.rng(4)),
                                                  total=batch_count(p.train_examples, p.batch_size, p.epochs))
        before = rewire(model, model.spec.to_dict())
        stream_spec = model.spec.to_dict()
        if p.stream_learns == "context":     # the senses keep the categories they learned; only wiring learns
            for region in stream_spec["regions"].values():
                region.update(lr=0.0, lr_recognition=0.0, lr_context=region.get("lr_context") or region["lr"])
        model = rewire(model, stream_spec)
        control = rewire(model, stream_spec)
        self.trainer(control, "stream, no rewiring").fit(self._stream(data["stream"], False, 1, self.rng(5)),
                                                        total=batch_count(p.stream, p.batch_size))
        rewiring = Rewiring(model)
        for batch in self._stream(data["stream"], False, 1, self.rng(5)):
            result = rewiring.model.settle(batch)
            rewiring.model.learn(result)
            rewiring.observe(result)
        return {"model": rewiring.model, "before": before, "control": control, "rewiring": rewiring, "curve": curve}

    def _accuracy(self, model, sample) -> dict:
        result = model.settle({s: sample.senses[s] for s in SENSES}, noise=False)
        return {s: float(np.mean(result.winners(self.p.regions[s]) == sample.classes[s])) for s in SENSES}

    def evaluate(self, data: dict, trained: dict) -> dict:
        from cortex.stimuli.senses import TRUE_EDGES
        from cortex.structure import graph_yaml

        p, rewiring = self.p, trained["rewiring"]
        true = {(p.regions[a], p.regions[b]) for a, b in TRUE_EDGES}
        found = {(c.source, c.target) for c in rewiring.model.spec.connections if c.role == "context"}
        hits = len(found & true)
        acc = {name: self._accuracy(trained[key], data["eval"])
               for name, key in (("before", "before"), ("control", "control"), ("after", "model"))}
        related = [p.regions[s] for s in ("sight", "sound")]
        return {
            "edges": {"precision": hits / len(found) if found else 0.0, "recall": hits / len(true),
                      "discovered": sorted(f"{u}->{r}" for u, r in found), "true": sorted(f"{u}->{r}" for u, r in true),
                      "changes": rewiring.changes(), "budget": rewiring.p.budget},
            "recognition": {stage: {p.regions[s]: v for s, v in a.items()} for stage, a in acc.items()},
            "recognition_improves": bool(all(acc["after"][s] > acc["control"][s] for s in ("sight", "sound"))
                                         and all(acc["after"][s] > acc["before"][s] for s in ("sight", "sound"))),
            "related_regions": related,
            "reviews": rewiring.reviews,
            "_graph_yaml": graph_yaml(rewiring.model.spec),
        }

    def files(self, data: dict, trained: dict, results: dict) -> dict:
        return {"discovered.yaml": results["_graph_yaml"]}

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting.concepts import plot_discovery

        return {"discovery": plot_discovery(trained["before"].graph, trained["model"].graph, results)}

    @staticmethod
    def summary(results: dict) -> str:
        e, r = results["edges"], results["recognition"]
        lines = [f"discovered edges: {', '.join(e['discovered']) or 'none'} (true: {', '.join(e['true'])})",
                 f"precision {e['precision']:.2f}, recall {e['recall']:.2f}",
                 f"{'recognition':<14}" + "".join(f"{name:>10}" for name in r["before"])]
        for stage, row in r.items():
            lines.append(f"{stage:<14}" + "".join(f"{v:>10.3f}" for v in row.values()))
        return "\n".join(lines)
