"""Camouflage and the value of a longer search: accuracy on digits hidden in clutter against settling steps.

The model is trained online on clean digits (label as teacher, as in the recognition experiment). Test
digits are then hidden among fragments of other held-out digits (:mod:`cortex.stimuli.camouflage`) and
settled once for the largest number of steps with ``tol: 0`` and noise off; the recorded trace gives the
read-out's winner after every step, so the accuracy after 1, 2, 5, ... steps is that of one run stopped
there. Step 0 is the learned feed-forward first guess (recognition weights R). Clean test digits get the
same curve, and classifiers that do not settle (logistic regression, an MLP, trained on clean digits) are
scored on the same camouflaged images.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from . import register
from .digit_data import DigitExperiment, DigitParams, check_digit_graph, increasing


class Params(DigitParams):
    """The ``experiment:`` block of a camouflage graph."""

    kind: Literal["camouflage"] = "camouflage"
    max_test: int | None = Field(None, ge=10)
    steps: list[int] = Field([1, 2, 5, 10, 20, 50, 100, 200], min_length=1)
    rate: float | None = Field(None, gt=0, le=1)
    fragments: int = Field(4, ge=1, le=64)
    fragment_size: int = Field(3, ge=1, le=8)
    clutter_intensity: float = Field(1.0, gt=0, le=1)
    draws: int = Field(3, ge=1, le=50)
    baselines: bool = True
    examples: int = Field(4, ge=1, le=12)
    snap_steps: list[int] = Field([0, 1, 5, 10, 20, 50, 200], min_length=2)

    @field_validator("steps")
    @classmethod
    def _steps(cls, v):
        return increasing(v, 1, "settling step counts")

    @field_validator("snap_steps")
    @classmethod
    def _snap(cls, v):
        return increasing(v, 0)

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        return check_digit_graph(self, spec, predicts_stimulus=True)


def accuracy_per_step(trace: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(steps + 1,) accuracy of the winning hypothesis after each step, from a (steps + 1, B, n) trace."""
    return np.mean(np.argmax(trace, axis=-1) == y[None, :], axis=1)


@register("camouflage")
class Camouflage(DigitExperiment):
    """Train on clean digits; accuracy against settling steps on camouflaged and clean digits."""

    Params = Params

    def data(self) -> dict:
        from cortex.stimuli.camouflage import camouflage

        p = self.p
        data = super().data()
        d = data["digits"]
        # Each held-out digit is hidden `draws` times, among fragments of other held-out digits.
        data["y_cam"] = np.tile(d.y_eval, p.draws)
        data["cam"] = camouflage(np.tile(d.X_eval, (p.draws, 1)), data["y_cam"], d.X_eval, d.y_eval, self.rng(4),
                                 fragments=p.fragments, fragment_size=p.fragment_size, intensity=p.clutter_intensity,
                                 image_shape=d.image_shape)
        return data

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, d, model, cam = self.p, data["digits"], trained["model"], data["cam"]
        longest = p.steps[-1]
        settled, per_step = {}, {}
        for cond, X, y in (("camouflaged", cam.images, data["y_cam"]), ("clean", d.X_eval, d.y_eval)):
            settled[cond] = model.settle({p.stimulus: X}, steps=longest, rate=self.rate, tol=0.0, noise=False,
                                         record=True)
            per_step[cond] = accuracy_per_step(settled[cond].trace[p.readout], y)
        baselines = {}
        if p.baselines:
            from cortex.baselines import fit_baselines, score_baselines

            with self.phase("baselines"):
                fitted = fit_baselines(d.X_train, d.y_train, seed=self.seed)
                baselines = {"camouflaged": score_baselines(fitted, cam.images, data["y_cam"]),
                             "clean": score_baselines(fitted, d.X_eval, d.y_eval)}
        curve = trained["curve"]
        return {
            "accuracy": {cond: {str(s): float(a[s]) for s in p.steps} for cond, a in per_step.items()},
            "first_guess": {cond: float(a[0]) for cond, a in per_step.items()},
            "peak": {cond: {"steps": int(np.argmax(a[1:]) + 1), "accuracy": float(np.max(a[1:]))}
                     for cond, a in per_step.items()},
            "baselines": baselines,
            "settle": {"rate": self.rate, "tol": 0.0, "noise": False, "steps": longest},
            "clutter": {"fragments": p.fragments, "fragment_size": p.fragment_size,
                        "intensity": p.clutter_intensity, "draws": p.draws,
                        "covered": float(np.mean(cam.clutter > 0.05))},
            "train_examples": int(len(d.X_train)), "test_examples": {"camouflaged": int(len(data["y_cam"])),
                                                                     "clean": int(len(d.y_eval))},
            "train_energy_first_last": [curve[0], curve[-1]],
            "_settled": settled,
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex import plotting
        from cortex.plotting.search import plot_accuracy_vs_steps, plot_snapping

        p, d, model, settled = self.p, data["digits"], trained["model"], results["_settled"]
        acc, y_cam = results["accuracy"], data["y_cam"]
        figures = {
            "accuracy": plot_accuracy_vs_steps(
                {c: (p.steps, [acc[c][str(s)] for s in p.steps]) for c in acc}, results["first_guess"],
                {c: {"logistic_regression": v["logistic_regression"]} for c, v in results["baselines"].items()},
                title=f"{p.readout}: accuracy against settling steps ({p.fragments} clutter fragments of other digits)"),
        }
        ex = self._examples(settled["camouflaged"].trace[p.readout], y_cam)
        shown = data["cam"].images[ex]
        snap = [model.settle({p.stimulus: shown}, steps=s, rate=self.rate, tol=0.0, noise=False) for s in p.snap_steps]
        figures["snapping"] = plot_snapping(
            shown, np.stack([r.prediction[p.readout] for r in snap], axis=1), p.snap_steps, d.image_shape,
            winners=np.stack([r.winners(p.readout) for r in snap], axis=1), labels=y_cam[ex],
            title=f"camouflaged digits snapping into place: {p.readout}'s prediction of the {p.stimulus}")
        figures["competition"] = plotting.plot_competition(
            settled["camouflaged"].trace[p.readout][:, ex], images=shown, image_shape=d.image_shape,
            labels=y_cam[ex], hypothesis_names=[str(i) for i in range(10)],
            title=f"{p.readout}: digit hypotheses competing over a camouflaged digit")
        figures["energy"] = plotting.plot_energy({c: r.energy for c, r in settled.items()},
                                                 title="settling energy per stimulus")
        return figures

    def _examples(self, trace, y):
        """Camouflaged stimuli to show: first those the first guess got wrong and settling got right."""
        wins = np.argmax(trace, axis=-1)
        fixed = np.flatnonzero((wins[0] != y) & (wins[-1] == y))
        rest = np.setdiff1d(np.arange(len(y)), fixed)
        return np.concatenate([fixed, rest])[:self.p.examples]

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: accuracy per number of steps, first guess, baselines, time."""
        acc, first = results["accuracy"], results["first_guess"]
        steps = list(next(iter(acc.values())))
        lines = [f"{'accuracy':<14}{'first guess':>12}" + "".join(f"{s + ' st':>8}" for s in steps)]
        for cond, row in acc.items():
            lines.append(f"{cond:<14}{first[cond]:>12.3f}" + "".join(f"{row[s]:>8.3f}" for s in steps))
        for cond, row in results.get("baselines", {}).items():
            lines.append(f"{cond} digits, classifiers trained on clean digits: " +
                         ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in row.items()))
        c = results["clutter"]
        lines.append(f"clutter: {c['fragments']} fragments of {c['fragment_size']}x{c['fragment_size']} from other "
                     f"digits at intensity {c['intensity']}, {c['draws']} draws per test digit; settle rate "
                     f"{results['settle']['rate']}, tol 0, noise off")
        return "\n".join(lines)
