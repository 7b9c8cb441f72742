"""Context and priming: a cue learned to predict the digit class biases how an ambiguous morph is read.

Training is online on (cue, digit) pairs: cue k comes before digit k with probability ``validity`` and
before one of the other digits otherwise, and the label clamps the read-out region as a teacher. The
read-out region's context weights V (cue -> hypotheses) learn, from the settled activity alone, to
predict the digit from the cue, so after training the cue enters settling as prior logits
``context_precision * log_softmax(cue V)``. Nothing in the test code refers to the cue's meaning.

Test: for each pair (A, B), morphs ``w * A + (1 - w) * B`` of random test exemplars (plus pixel noise)
are read under cue A, no cue (a zero cue vector) and cue B. A psychometric curve P(read A | w) for
each cue locates the point of subjective equality (PSE: the weight where, without a cue, A and B are
read equally often); fresh morphs at the PSE then give P(read A | cue) and the cue effect
P(A | cue A) - P(A | cue B). A control model trained with uninformative cues (validity 1/n) must show
no effect: the bias comes from what the context weights learned, not from the cue being there.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from tqdm.auto import tqdm

from . import register
from .digit_data import DigitExperiment, DigitParams, check_digit_graph, inputs_listing
from .trainer import batch_count, epoch_batches

CHUNK = 4096   # stimuli per settle call at test time (bounds memory; results do not depend on it)


class Params(DigitParams):
    """The ``experiment:`` block of a priming graph."""

    kind: Literal["priming"] = "priming"
    cue: str = "cue"
    readout: str = "object"
    validity: float = Field(0.75, ge=0, le=1)
    test_steps: int | None = Field(None, ge=0)
    pairs: list[tuple[int, int]] = Field([(1, 7), (3, 8), (4, 9), (5, 6)], min_length=1)
    morph_noise: float = Field(0.1, ge=0)
    curve_points: int = Field(11, ge=3, le=101)
    curve_trials: int = Field(100, ge=5)
    trials: int = Field(500, ge=10)
    control: bool = True
    trace_steps: int = Field(40, ge=1)

    @field_validator("pairs")
    @classmethod
    def _distinct(cls, pairs):
        for a, b in pairs:
            if a == b:
                raise ValueError(f"each pair must name two different classes, got ({a}, {b})")
            if min(a, b) < 0:
                raise ValueError(f"classes must be >= 0, got ({a}, {b})")
        return pairs

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        out = check_digit_graph(self, spec)
        if self.readout in spec.regions and getattr(spec.regions[self.readout], "competition", None) != "softmax":
            out.append((f"region {self.readout!r} must have competition: softmax (one reading per stimulus)", "readout"))
        if self.cue not in spec.inputs or spec.inputs[self.cue].size != 10:
            out.append((f"must name an input of 10 values (cue k predicts digit k), got {self.cue!r} "
                        f"(inputs: {inputs_listing(spec)})", "cue"))
        elif self.readout in spec.regions and not any(
                c.source == self.cue and c.target == self.readout for c in spec.sources(self.readout, "context")):
            out.append((f"needs a connection {{from: {self.cue}, to: {self.readout}, role: context}} so the cue can act "
                        "as a prior", "cue"))
        if any(max(pair) >= 10 for pair in self.pairs):
            out.append(("pairs must name digit classes 0..9", "pairs"))
        return out


@register("priming")
class Priming(DigitExperiment):
    """Train with valid cues (and a control with uninformative cues), then read morphs under each cue."""

    Params = Params
    CUES = ("cue A", "no cue", "cue B")

    # ----- training and reading ------------------------------------------------------------------
    def _train(self, model, X, y, validity, rng, desc):
        """Online training with the label as teacher and, before each digit, a cue that names it with ``validity``."""
        from cortex.stimuli.ambiguous import cues, one_hot

        p, eye = self.p, np.eye(10, dtype=np.float32)
        batches = ({p.stimulus: X[i], p.cue: one_hot(cues(y[i], 10, validity, rng), 10), p.label: eye[y[i]]}
                   for i in epoch_batches(len(X), p.batch_size, p.epochs, rng))
        return self.trainer(model, desc, steps=p.train_steps).fit(batches, batch_count(len(X), p.batch_size, p.epochs))

    def _read(self, model, X, cue_index):
        """Winner of the read-out region for each morph in X under each cue in ``cue_index`` (-1: no cue)."""
        from cortex.stimuli.ambiguous import one_hot

        p = self.p
        X = np.tile(X, (len(cue_index), 1))
        cue = one_hot(np.repeat(np.asarray(cue_index, dtype=np.int64), len(X) // len(cue_index)), 10)
        out = [model.settle({p.stimulus: X[i:i + CHUNK], p.cue: cue[i:i + CHUNK]},
                            steps=p.test_steps, noise=False).winners(p.readout) for i in range(0, len(X), CHUNK)]
        return np.concatenate(out).reshape(len(cue_index), -1)

    @staticmethod
    def _pse(weights, p_a, p_b) -> float:
        """Weight of A where P(A) = P(B) without a cue: linear interpolation at the first sign change."""
        diff = np.asarray(p_a) - np.asarray(p_b)
        for i in range(len(diff) - 1):
            if diff[i] <= 0 <= diff[i + 1] and diff[i + 1] != diff[i]:
                return float(weights[i] + (weights[i + 1] - weights[i]) * (-diff[i]) / (diff[i + 1] - diff[i]))
        return float(weights[int(np.argmin(np.abs(diff)))])

    def _context_log_odds(self, model) -> float:
        """What V learned: mean prior logit of the cued class minus that of the others (cue at full strength)."""
        region = model.regions[self.p.readout]
        V = model.backend.to_numpy(region.weights["V"]).astype(np.float64) * region.p.context_precision
        V = V - V.max(axis=1, keepdims=True)
        logp = V - np.log(np.exp(V).sum(axis=1, keepdims=True))
        n = logp.shape[0]
        off = (logp.sum(axis=1) - np.diag(logp)) / (n - 1)
        return float(np.mean(np.diag(logp) - off))

    def _context_weights(self, model) -> np.ndarray:
        """The read-out's learned context weights at full strength: cue -> prior logits."""
        region = model.regions[self.p.readout]
        return model.backend.to_numpy(region.weights["V"]) * region.p.context_precision

    # ----- the stages --------------------------------------------------------------------------------
    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p, d = self.p, data["digits"]
        model = Model(self.spec)
        curve = self._train(model, d.X_train, d.y_train, p.validity, self.rng(0), "training")
        control = None
        if p.control:
            control = Model(self.spec)
            self._train(control, d.X_train, d.y_train, 1 / 10, self.rng(0), "control (uninformative cues)")
        return {"model": model, "control": control, "curve": curve}

    def evaluate(self, data: dict, trained: dict) -> dict:
        from cortex.stimuli.ambiguous import morphs, one_hot

        p, d = self.p, data["digits"]
        model, control = trained["model"], trained["control"]
        X_eval, y_eval = d.X_eval, d.y_eval
        clean = model.settle({p.stimulus: X_eval, p.cue: np.zeros((len(X_eval), 10), np.float32)},
                             steps=p.test_steps, noise=False)
        clean_acc = float(np.mean(clean.winners(p.readout) == y_eval))

        grid = np.linspace(0.0, 1.0, p.curve_points)
        pairs, curves = [], {}
        for i, (a, b) in enumerate(tqdm(p.pairs, desc="pairs", disable=None if self.progress else True, leave=False)):
            w = np.repeat(grid, p.curve_trials)
            X = morphs(X_eval, y_eval, a, b, len(w), w, self.rng(10, i), p.morph_noise)
            read = self._read(model, X, [a, -1, b]).reshape(3, p.curve_points, p.curve_trials)
            pa, pb = (read == a).mean(axis=2), (read == b).mean(axis=2)      # (cues, points)
            pse = self._pse(grid, pa[1], pb[1])
            curves[f"{a}/{b}"] = {"weights": grid, "p_a": pa, "pse": pse}

            X = morphs(X_eval, y_eval, a, b, p.trials, pse, self.rng(20, i), p.morph_noise)
            read = self._read(model, X, [a, -1, b])
            row = {"a": a, "b": b, "pse": round(pse, 4), "trials": p.trials, **self._table(read, a, b)}
            if control is not None:
                row["control"] = self._table(self._read(control, X, [a, -1, b]), a, b)
            pairs.append(row)

            flips = np.flatnonzero((read[0] == a) & (read[2] == b))   # a morph whose reading follows the cue, to show
            k = int(flips[0]) if flips.size else 0
            rec = model.settle({p.stimulus: np.repeat(X[k:k + 1], 3, axis=0), p.cue: one_hot(np.array([a, -1, b]), 10)},
                               steps=p.trace_steps, tol=0.0, record=True, noise=False)
            curves[f"{a}/{b}"].update(trace=rec.trace[p.readout], image=X[k], a=a, b=b)

        mean = {key: float(np.mean([r[key] for r in pairs])) for key in ("p_a_cue_a", "p_a_no_cue", "p_a_cue_b", "effect")}
        if control is not None:
            mean["control_effect"] = float(np.mean([r["control"]["effect"] for r in pairs]))
        true_log_odds = math.log(p.validity * 9 / (1 - p.validity)) if p.validity < 1 else float("inf")
        curve = trained["curve"]
        return {
            "pairs": pairs, "mean": mean, "validity": p.validity,
            "context_log_odds": {"learned": self._context_log_odds(model),
                                 "control": self._context_log_odds(control) if control is not None else None,
                                 "true": true_log_odds},
            "clean_accuracy_no_cue": clean_acc,
            "psychometric": {k: {"weights": v["weights"], "p_a": dict(zip(self.CUES, v["p_a"])), "pse": v["pse"]}
                             for k, v in curves.items()},
            "train_examples": int(len(d.X_train)), "epochs": p.epochs,
            "train_energy_first_last": [curve[0], curve[-1]],
            "_curves": curves,
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting import perception as plots

        curves, model = results["_curves"], trained["model"]
        return {
            "psychometric": plots.plot_psychometric(curves, self.CUES),
            "priming": plots.plot_priming(results["pairs"], self.CUES),
            "competition": plots.plot_cue_competition(curves, self.CUES, (8, 8)),
            "context_weights": plots.plot_context_weights(
                self._context_weights(model), title=f"{self.p.readout}: learned context weights (cue -> prior logits)"),
        }

    @staticmethod
    def _table(read, a, b) -> dict:
        """P(A), P(B), P(other) under each cue from the (3, trials) readings, with the effect and its standard error."""
        pa, pb = (read == a).mean(axis=1), (read == b).mean(axis=1)
        n = read.shape[1]
        se = math.sqrt((pa[0] * (1 - pa[0]) + pa[2] * (1 - pa[2])) / n)
        return {"p_a_cue_a": float(pa[0]), "p_a_no_cue": float(pa[1]), "p_a_cue_b": float(pa[2]),
                "p_b_cue_a": float(pb[0]), "p_b_no_cue": float(pb[1]), "p_b_cue_b": float(pb[2]),
                "p_other": [float(x) for x in 1 - pa - pb],
                "effect": float(pa[0] - pa[2]), "effect_se": se}

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: P(read A) under each cue per pair, the effect, the control, the time."""
        lines = [f"{'pair A/B':<10}{'PSE w_A':>9}{'P(A|cue A)':>12}{'P(A|none)':>11}{'P(A|cue B)':>12}"
                 f"{'effect':>9}{'control':>9}"]
        for r in results["pairs"]:
            ctrl = f"{r['control']['effect']:>9.3f}" if "control" in r else f"{'-':>9}"
            lines.append(f"{str(r['a']) + '/' + str(r['b']):<10}{r['pse']:>9.3f}{r['p_a_cue_a']:>12.3f}"
                         f"{r['p_a_no_cue']:>11.3f}{r['p_a_cue_b']:>12.3f}{r['effect']:>9.3f}{ctrl}")
        m = results["mean"]
        ctrl = f"{m['control_effect']:>9.3f}" if "control_effect" in m else f"{'-':>9}"
        lines.append(f"{'mean':<10}{'':>9}{m['p_a_cue_a']:>12.3f}{m['p_a_no_cue']:>11.3f}{m['p_a_cue_b']:>12.3f}"
                     f"{m['effect']:>9.3f}{ctrl}")
        lo = results["context_log_odds"]
        lines.append(f"cue validity {results['validity']:.2f}: learned prior log-odds cued vs other {lo['learned']:.2f} "
                     f"(true {lo['true']:.2f}); clean accuracy without cue {results['clean_accuracy_no_cue']:.3f}")
        return "\n".join(lines)
