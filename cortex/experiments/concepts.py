"""New concepts from unlabelled digits: a recruiting softmax region grows its own hypotheses, one label names each.

For each held-out class h (by default every class in turn): the read-out region starts with one hypothesis
and sees the training digits of the other nine classes, unlabelled, in a stream; an input no hypothesis
explains recruits a new one initialised from it, rarely used ones are pruned, and at the cap the cheapest pair
is merged (``recruit:`` in the graph). Then each hypothesis is named by one labelled example, the training
digit it explains best. Purity (of the hypotheses' training digits against the labels) and the accuracy with
one label per hypothesis follow. Last, class h is learned from ``new_examples`` labelled examples (they recruit
one hypothesis owned by h, its mean and factors spanning them), and the accuracy on h and the drop on the old
classes are measured. With ``new_shift``, each of the few examples is seen at five fixations (in place and shifted
by that many pixels left, right, up and down), so the new hypothesis' mean and factors also span the small
displacements that hundreds of examples of an old class cover and five do not. Figures report every held-out
class; the summary and the bars take their mean.
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

ABLATIONS = {
    "no_consolidation": {"consolidate": False},
    "no_merge": {"merge": False},
    "no_prune": {"prune_usage": 0.0},
    "random_factors": {"factor_init": "random"},
    "surprise_rule": {"threshold": None, "surprise": 2.0},
}
FEW_SHOT_ABLATIONS = {                            # of how the new class is learned: (experiment keys, region keys)
    "one_fixation": ({"new_shift": 0}, {}),       # the five examples seen once each
    "four_factors": ({}, {"factors": 4}),         # the new hypothesis spans four directions (as five points do)
}


class Params(Strict):
    """The ``experiment:`` block of a concepts graph."""

    kind: Literal["concepts"] = "concepts"
    stimulus: str = "retina"
    label: str = "label"
    readout: str = "IT"
    test_size: float = Field(0.2, gt=0, lt=1)
    evaluate_on: Literal["test", "validation"] = "test"
    validation_size: float = Field(0.2, gt=0, lt=1)
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=1)
    held_out: list[int] = list(range(10))        # each is held out in turn, then learned from new_examples
    new_examples: int = Field(5, ge=1, le=100)
    new_shift: int = Field(0, ge=0, le=3)         # pixels each new example is also seen shifted by (0: once)
    reserve: int = Field(5, ge=0)                # hypotheses kept free for the new class while unsupervised
    test_steps: int | None = Field(None, ge=0)
    ablations: bool = False                      # rerun every held-out class with each mechanism switched off

    @field_validator("held_out")
    @classmethod
    def _classes(cls, v):
        if not v or len(set(v)) != len(v) or min(v) < 0 or max(v) > 9:
            raise ValueError(f"must be distinct digit classes 0..9, got {v}")
        return v

    def check(self, spec):
        out = []
        if self.stimulus not in spec.inputs or spec.inputs[self.stimulus].size != 64:
            out.append((f"must name an input of 8x8 = 64 values, got {self.stimulus!r} (inputs: "
                        f"{inputs_listing(spec)})", "stimulus"))
        if self.label not in spec.inputs or spec.inputs[self.label].size != 10:
            out.append((f"must name an input of 10 values (one-hot digit class), got {self.label!r} "
                        f"(inputs: {inputs_listing(spec)})", "label"))
        region = spec.regions.get(self.readout)
        if region is None:
            out.append((f"must name a region, got {self.readout!r} (regions: {', '.join(spec.regions)})", "readout"))
        elif (getattr(region, "recruit", None) is None or region.competition != "softmax"
              or region.teacher != self.label):
            out.append((f"region {self.readout!r} must be a softmax region with recruit: and teacher: {self.label} "
                        "(it grows its hypotheses, and the label names them)", "readout"))
        elif self.reserve >= region.recruit.max_hypotheses:
            out.append((f"must be below the region's recruit.max_hypotheses ({region.recruit.max_hypotheses})",
                        "reserve"))
        return out


def purity(assigned: np.ndarray, labels: np.ndarray) -> float:
    """Share of examples whose hypothesis' most common label is their own (cluster purity)."""
    return float(sum(np.bincount(labels[assigned == h]).max() for h in np.unique(assigned)) / len(labels))


@register("concepts")
class Concepts(Experiment):
    """Unsupervised recruitment, naming by one label each, then a held-out class from a few examples."""

    Params = Params

    def data(self) -> dict:
        from sklearn.model_selection import train_test_split

        from cortex.stimuli.digits import load_digit_split

        p = self.p
        split = load_digit_split(test_size=p.test_size, seed=self.seed)
        X_tr, y_tr, X_ev, y_ev = split.X_train, split.y_train, split.X_test, split.y_test
        if p.evaluate_on == "validation":
            X_tr, X_ev, y_tr, y_ev = train_test_split(X_tr, y_tr, test_size=p.validation_size, random_state=self.seed,
                                                      stratify=y_tr)
        return {"X_train": X_tr, "y_train": y_tr, "X_eval": X_ev, "y_eval": y_ev,
                "split": {"evaluated_on": p.evaluate_on, "test_size": p.test_size, "seed": self.seed,
                          "stratified": True,
                          **({"validation_size": p.validation_size} if p.evaluate_on == "validation" else {}),
                          "examples": {"train": int(len(y_tr)), p.evaluate_on: int(len(y_ev))}}}

    def splits(self, data: dict) -> dict:
        return data["split"]

    def _read(self, model, X) -> np.ndarray:
        region = model.regions[self.p.readout]
        return region.concepts().owners[model.settle({self.p.stimulus: X}, steps=self.p.test_steps, noise=False)
                               .winners(self.p.readout)]

    def one_run(self, spec, data: dict, h: int, desc: str = "") -> dict:
        """Everything for held-out class ``h`` with the graph ``spec``: the numbers and the trained model."""
        from cortex.model import Model
        from cortex.stimuli.digits import fixations

        p = spec.experiment
        model = Model(spec)
        region = model.regions[p.readout]
        region.growth.limit = region.p.recruit.max_hypotheses - p.reserve
        keep = data["y_train"] != h
        X, y = data["X_train"][keep], data["y_train"][keep]
        batches = ({p.stimulus: X[i]} for i in epoch_batches(len(X), p.batch_size, p.epochs, self.rng(10, h)))
        self.trainer(model, f"{desc}held out {h}").fit(batches, total=batch_count(len(X), p.batch_size, p.epochs))
        recruited = region.concepts().count
        settled = model.settle({p.stimulus: X}, noise=False)
        winners = settled.winners(p.readout)
        region.growth.name_by_examples(X, y, settled.activity[p.readout])        # one labelled example each
        old = data["y_eval"] != h
        one_label = float(np.mean(self._read(model, data["X_eval"][old]) == data["y_eval"][old]))
        pool = np.flatnonzero(data["y_train"] == h)
        few = self.rng(11, h).choice(pool, p.new_examples, replace=False)
        region.growth.limit = region.p.recruit.max_hypotheses
        eye = np.eye(10, dtype=np.float32)
        X_few = fixations(data["X_train"][few], p.new_shift)
        model.learn(model.settle({p.stimulus: X_few, p.label: eye[np.full(len(X_few), h)]}))
        pred = self._read(model, data["X_eval"])
        return {"held_out": h, "hypotheses_recruited": recruited, "purity": purity(winners, y),
                "one_label_accuracy": one_label,
                "new_class": {"accuracy": float(np.mean(pred[~old] == h)),
                              "old_drop": one_label - float(np.mean(pred[old] == data["y_eval"][old]))},
                "hypotheses_after_new_class": region.concepts().count,
                "history": [list(map(int, pt)) for pt in region.growth.history],
                "events": region.growth.event_counts(), "_model": model}

    def _runs(self, spec, data, desc=""):
        return [self.one_run(spec, data, h, desc) for h in self.p.held_out]

    def train(self, data: dict) -> dict:
        from cortex.spec import spec_from_dict

        runs = self._runs(self.spec, data)
        out = {"runs": runs, "model": runs[-1]["_model"], "ablations": {}}
        if self.p.ablations:
            rec = self.spec.regions[self.p.readout].recruit.model_dump(mode="json")
            for name, change in ABLATIONS.items():
                d = self.spec.to_dict()
                d["regions"][self.p.readout]["recruit"] = {**rec, **change}
                spec = spec_from_dict(d, file=f"<{self.spec.name}: ablation {name}>")
                with self.phase(f"ablation {name}"):
                    out["ablations"][name] = self._runs(spec, data, f"{name}: ")
            for name, (exp, reg) in FEW_SHOT_ABLATIONS.items():
                d = self.spec.to_dict()
                d["experiment"].update(exp)
                d["regions"][self.p.readout].update(reg)
                spec = spec_from_dict(d, file=f"<{self.spec.name}: ablation {name}>")
                with self.phase(f"ablation {name}"):
                    out["ablations"][name] = self._runs(spec, data, f"{name}: ")
        return out

    @staticmethod
    def _summarise(runs: list[dict]) -> dict:
        mean = lambda key: float(np.mean([r[key] for r in runs]))           # noqa: E731
        return {"hypotheses_recruited": int(max(r["hypotheses_recruited"] for r in runs)),
                "purity": mean("purity"), "one_label_accuracy": mean("one_label_accuracy"),
                "new_class": {"accuracy": float(np.mean([r["new_class"]["accuracy"] for r in runs])),
                              "old_drop": float(np.mean([r["new_class"]["old_drop"] for r in runs]))}}

    def evaluate(self, data: dict, trained: dict) -> dict:
        runs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in trained["runs"]]
        out = self._summarise(runs)
        out["by_held_out"] = {str(r["held_out"]): {k: r[k] for k in ("hypotheses_recruited", "purity",
                                                                        "one_label_accuracy", "new_class",
                                                                        "hypotheses_after_new_class", "events")}
                              for r in runs}
        out["new_class"]["worst"] = float(min(r["new_class"]["accuracy"] for r in runs))
        out["new_class"]["worst_old_drop"] = float(max(r["new_class"]["old_drop"] for r in runs))
        out["hypotheses_over_training"] = {str(r["held_out"]): r["history"] for r in runs}
        out["max_hypotheses"] = self.spec.regions[self.p.readout].recruit.max_hypotheses
        if trained["ablations"]:
            out["ablations"] = {name: self._summarise(r) for name, r in trained["ablations"].items()}
        return out

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex import plotting
        from cortex.plotting.concepts import plot_concepts, plot_hypothesis_counts

        model = trained["model"]
        region = model.regions[self.p.readout]
        active = region.concepts().active
        fields = model.backend.to_numpy(region.fields())[active]
        names = [str(o) for o in region.concepts().owners[active]]
        return {"hypotheses": plot_hypothesis_counts(results["hypotheses_over_training"],
                                                     cap=results["max_hypotheses"] - self.p.reserve,
                                                     title="recruited hypotheses over unlabelled training "
                                                           "(one line per held-out class)"),
                "fields": plotting.plot_fields(fields, (8, 8), labels=names,
                                               title=f"{self.p.readout}: recruited hypotheses, each named by one "
                                                     f"label (class {trained['runs'][-1]['held_out']} learned last)"),
                "concepts": plot_concepts(results)}

    @staticmethod
    def summary(results: dict) -> str:
        row = lambda name, r: (f"{name:<26}{r['hypotheses_recruited']:>10}{r['purity']:>9.3f}"   # noqa: E731
                               f"{r['one_label_accuracy']:>11.3f}{r['new_class']['accuracy']:>11.3f}"
                               f"{r['new_class']['old_drop']:>10.3f}")
        lines = [f"{'held out':<26}{'recruited':>10}{'purity':>9}{'one-label':>11}{'new class':>11}{'old drop':>10}"]
        lines += [row(h, r) for h, r in results["by_held_out"].items()]
        lines.append(row("mean", results) + "   (recruited: the most over the runs)")
        lines += [row(f"ablation {name}", a) for name, a in results.get("ablations", {}).items()]
        return "\n".join(lines)
