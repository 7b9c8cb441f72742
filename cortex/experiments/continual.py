"""Continual learning: class-incremental digits, five tasks of two classes learned in order, no replay.

After each task, accuracy on every class seen so far, for the model, for an MLP trained on the same stream in
the same order (the catastrophic-forgetting baseline) and, at the end, for joint training on all the data (the
upper bound). The read-out region recruits hypotheses owned by the label that clamps it (``recruit:`` with a
teacher): a label's hypotheses are the only ones that compete, and learn, while that label is shown, and an
input its hypotheses explain badly recruits another. Old classes keep their hypotheses, so learning a new
class does not overwrite them; recognition settles every hypothesis against the input (analysis by synthesis),
so a new class cannot steal an old class's input unless its model explains that input better.

Ablations (``ablations: true``), each trained on the same stream: ``no_ownership`` (every hypothesis competes
and learns whatever the label), ``no_consolidation`` (constant learning rates instead of 1/usage),
``no_recruitment`` (one hypothesis per class, fixed), and ``first_guess`` (the main model read from its
feed-forward guess alone, no settling).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from . import register
from .digit_data import DigitExperiment, DigitParams, inputs_listing

TASKS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


class Params(DigitParams):
    """The ``experiment:`` block of a continual-learning graph."""

    kind: Literal["continual"] = "continual"
    tasks: list[list[int]] = TASKS
    test_steps: int | None = Field(None, ge=0)
    mlp_passes: int = Field(30, ge=1)       # passes of the sequential MLP over each task's data
    ablations: bool = True

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, tasks):
        seen = [c for t in tasks for c in t]
        if not tasks or any(not t for t in tasks) or len(set(seen)) != len(seen) or min(seen) < 0:
            raise ValueError(f"must be non-empty lists of distinct class indices, none repeated, got {tasks}")
        return tasks

    def check(self, spec):
        out = []
        if self.stimulus not in spec.inputs or spec.inputs[self.stimulus].size != 64:
            out.append((f"must name an input of 8x8 = 64 values (the digits), got {self.stimulus!r} "
                        f"(inputs: {inputs_listing(spec)})", "stimulus"))
        if self.label not in spec.inputs or spec.inputs[self.label].size != 10:
            out.append((f"must name an input of 10 values (one-hot digit class), got {self.label!r} "
                        f"(inputs: {inputs_listing(spec)})", "label"))
        if self.readout not in spec.regions:
            out.append((f"must name a region, got {self.readout!r} (regions: {', '.join(spec.regions)})", "readout"))
        elif spec.regions[self.readout].teacher != self.label:
            out.append((f"region {self.readout!r} must have teacher: {self.label}", "readout"))
        if max(c for t in self.tasks for c in t) > 9:
            out.append((f"the digits have classes 0..9, got tasks {self.tasks}", "tasks"))
        return out


def read_classes(model, region: str, result) -> np.ndarray:
    """(batch,) the class read off ``result``: the label owning the winning hypothesis."""
    return model.regions[region].concepts().owners[result.winners(region)]


@register("continual")
class Continual(DigitExperiment):
    """Five tasks in order, no replay; accuracy on the classes seen so far after each; MLP and joint beside it."""

    Params = Params

    def _variants(self) -> dict:
        """Name -> spec of every model trained on the stream: the graph itself, then its ablations."""
        from cortex.spec import spec_from_dict

        p, out = self.p, {"model": self.spec}
        recruit = getattr(self.spec.regions[p.readout], "recruit", None)
        if not p.ablations or recruit is None:
            return out
        rec = recruit.model_dump(mode="json")
        changes = {"no_ownership": {"recruit": {**rec, "owned": False}},
                   "no_consolidation": {"recruit": {**rec, "consolidate": False}},
                   "no_recruitment": {"recruit": None, "hypotheses": self.spec.inputs[p.label].size}}
        for name, change in changes.items():
            d = self.spec.to_dict()
            d["regions"][p.readout].update(change)
            out[name] = spec_from_dict(d, file=f"<{self.spec.name}: ablation {name}>")
        return out

    def _sequential(self, spec, d, rng, desc):
        """Train on the tasks in order; the eval-set read-out after each task (and with steps 0 for the main model)."""
        from cortex.model import Model

        p = self.p
        model, after, guess, counts = Model(spec), [], [], []
        for t, classes in enumerate(p.tasks):
            keep = np.isin(d.y_train, classes)
            self.train_digits(model, d.X_train[keep], d.y_train[keep], rng, desc=f"{desc}: task {t + 1}")
            after.append(read_classes(model, p.readout, model.settle({p.stimulus: d.X_eval}, steps=p.test_steps,
                                                                        noise=False)))
            if desc == "model" and p.ablations:
                guess.append(read_classes(model, p.readout, model.settle({p.stimulus: d.X_eval}, steps=0)))
            counts.append(model.regions[p.readout].concepts().count)
        return model, after, guess, counts

    def train(self, data: dict) -> dict:
        from sklearn.neural_network import MLPClassifier

        from cortex.model import Model

        p, d = self.p, data["digits"]
        out = {"after": {}, "counts": {}}
        for name, spec in self._variants().items():
            model, after, guess, counts = self._sequential(spec, d, self.rng(), name)
            out["after"][name], out["counts"][name] = after, counts
            if name == "model":
                out["model"] = model
                if guess:
                    out["after"]["first_guess"] = guess
        mlp, after = MLPClassifier(hidden_layer_sizes=(128,), random_state=self.seed), []
        with self.phase("mlp"):
            for classes in p.tasks:
                keep = np.isin(d.y_train, classes)
                for _ in range(p.mlp_passes):
                    mlp.partial_fit(d.X_train[keep], d.y_train[keep], classes=np.arange(10))
                after.append(mlp.predict(d.X_eval))
        out["after"]["mlp_sequential"] = after
        seen = np.isin(d.y_train, [c for t in p.tasks for c in t])
        joint = Model(self.spec)
        self.train_digits(joint, d.X_train[seen], d.y_train[seen], self.rng(), desc="joint")
        out["joint"] = read_classes(joint, p.readout, joint.settle({p.stimulus: d.X_eval}, steps=p.test_steps,
                                                                      noise=False))
        with self.phase("mlp"):
            out["joint_mlp"] = MLPClassifier(hidden_layer_sizes=(128,), max_iter=600, random_state=self.seed).fit(
                d.X_train[seen], d.y_train[seen]).predict(d.X_eval)
        return out

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, y = self.p, data["digits"].y_eval
        seen_after = [np.isin(y, [c for t in p.tasks[:i + 1] for c in t]) for i in range(len(p.tasks))]
        first = np.isin(y, p.tasks[0])
        acc = lambda pred, mask: float(np.mean(pred[mask] == y[mask]))   # noqa: E731
        curves = {name: [acc(pred, m) for pred, m in zip(preds, seen_after)]
                  for name, preds in trained["after"].items()}
        forgetting = {name: acc(preds[0], first) - acc(preds[-1], first) for name, preds in trained["after"].items()}
        per_task = {name: [[acc(pred, np.isin(y, t)) for t in p.tasks] for pred in preds]
                    for name, preds in trained["after"].items()}
        final = {name: c[-1] for name, c in curves.items()}
        final["joint"] = acc(trained["joint"], seen_after[-1])
        final["joint_mlp"] = acc(trained["joint_mlp"], seen_after[-1])
        owners = trained["model"].regions[p.readout].concepts().owners
        first_keys = ("model", "mlp_sequential", "joint")
        return {
            "final_accuracy": {k: final[k] for k in (*first_keys, *(k for k in final if k not in first_keys))},
            "forgetting": forgetting,
            "accuracy_after_task": curves,
            "task_accuracy": per_task,
            "tasks": p.tasks,
            "hypotheses": {"after_task": trained["counts"],
                           "per_class": {str(c): int(np.sum(owners == c)) for c in range(10)}},
            "ratio_to_mlp_sequential": final["model"] / max(final["mlp_sequential"], 1e-9),
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting.concepts import plot_continual

        return {"continual": plot_continual(results)}

    @staticmethod
    def summary(results: dict) -> str:
        curves, final = results["accuracy_after_task"], results["final_accuracy"]
        tasks = len(results["tasks"])
        lines = [f"{'accuracy on seen classes':<26}" + "".join(f"{'task ' + str(i + 1):>9}" for i in range(tasks))
                 + f"{'forgetting':>12}"]
        for name, c in curves.items():
            lines.append(f"{name:<26}" + "".join(f"{v:>9.3f}" for v in c) + f"{results['forgetting'][name]:>12.3f}")
        lines.append(f"{'joint (upper bound)':<26}" + f"{final['joint']:>{9 * tasks}.3f}")
        lines.append(f"{'joint MLP':<26}" + f"{final['joint_mlp']:>{9 * tasks}.3f}")
        lines.append(f"model / sequential MLP: {results['ratio_to_mlp_sequential']:.2f}x")
        return "\n".join(lines)
