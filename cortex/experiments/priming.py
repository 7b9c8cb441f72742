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
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from tqdm.auto import tqdm

from cortex.region import Strict

from . import register
from .report import provenance, write_results

CHUNK = 4096   # stimuli per settle call at test time (bounds memory; results do not depend on it)


class Params(Strict):
    """The ``experiment:`` block of a priming graph."""

    kind: Literal["priming"] = "priming"
    stimulus: str = "retina"
    cue: str = "cue"
    label: str = "label"
    readout: str = "object"
    validity: float = Field(0.75, ge=0, le=1)
    test_size: float = Field(0.2, gt=0, lt=1)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    max_train: int | None = Field(None, ge=10)
    train_steps: int | None = Field(None, ge=0)
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
        out = []
        if self.stimulus not in spec.inputs or spec.inputs[self.stimulus].size != 64:
            out.append((f"must name an input of 8x8 = 64 values (the digits), got {self.stimulus!r}", "stimulus"))
        if self.readout not in spec.regions:
            out.append((f"must name a region, got {self.readout!r} (regions: {', '.join(spec.regions)})", "readout"))
            return out
        region = spec.regions[self.readout]
        if region.teacher != self.label:
            out.append((f"region {self.readout!r} must have teacher: {self.label} so training can clamp it to the label", "readout"))
        if region.hypotheses != 10:
            out.append((f"region {self.readout!r} must have 10 hypotheses, one per digit class", "readout"))
        if getattr(region, "competition", None) != "softmax":
            out.append((f"region {self.readout!r} must have competition: softmax (one reading per stimulus)", "readout"))
        if self.cue not in spec.inputs or spec.inputs[self.cue].size != 10:
            out.append((f"must name an input of 10 values (cue k predicts digit k), got {self.cue!r}", "cue"))
        elif not any(c.source == self.cue and c.target == self.readout for c in spec.sources(self.readout, "context")):
            out.append((f"needs a connection {{from: {self.cue}, to: {self.readout}, role: context}} so the cue can act as a prior", "cue"))
        if self.label not in spec.inputs or spec.inputs[self.label].size != 10:
            out.append((f"must name an input of 10 values (one-hot digit class), got {self.label!r}", "label"))
        if any(max(pair) >= 10 for pair in self.pairs):
            out.append(("pairs must name digit classes 0..9", "pairs"))
        return out


@register("priming")
class Priming:
    """Train with valid cues (and a control with uninformative cues), then read morphs under each cue."""

    Params = Params
    CUES = ("cue A", "no cue", "cue B")

    def __init__(self, spec, params: Params):
        self.spec, self.p = spec, params

    # ----- training and reading ------------------------------------------------------------------
    def _train(self, model, X, y, validity, rng, desc, progress):
        from cortex.stimuli.ambiguous import cues, one_hot
        from cortex.stimuli.digits import batches

        p, eye = self.p, np.eye(10, dtype=np.float32)
        n_batches = p.epochs * -(-len(X) // p.batch_size)
        curve = []
        with tqdm(total=n_batches, desc=desc, unit="batch", disable=not progress, leave=False) as bar:
            for xb, yb in batches(X, y, p.batch_size, rng, epochs=p.epochs):
                cue = one_hot(cues(yb, 10, validity, rng), 10)
                result = model.settle({p.stimulus: xb, p.cue: cue, p.label: eye[yb]}, steps=p.train_steps)
                model.learn(result)
                curve.append(float(result.energy[-1]) if result.steps else result.start_energy)
                bar.update(1)
        return curve

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

    def run(self, out: str | Path, progress: bool = True) -> dict:
        from cortex.model import Model
        from cortex.plotting import perception as plots
        from cortex.plotting.core import plt
        from cortex.stimuli.ambiguous import morphs, one_hot
        from cortex.stimuli.digits import load_digit_split

        p, spec = self.p, self.spec
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        split = load_digit_split(test_size=p.test_size, seed=spec.seed)
        X_train, y_train = split.X_train, split.y_train
        if p.max_train is not None:
            X_train, y_train = X_train[:p.max_train], y_train[:p.max_train]

        model = Model(spec)
        curve = self._train(model, X_train, y_train, p.validity, np.random.default_rng([spec.seed, 0]), "training", progress)
        control = None
        if p.control:
            control = Model(spec)
            self._train(control, X_train, y_train, 1 / 10, np.random.default_rng([spec.seed, 0]), "control (uninformative cues)",
                        progress)
        t_train = time.perf_counter() - t0
        clean = model.settle({p.stimulus: split.X_test, p.cue: np.zeros((len(split.X_test), 10), np.float32)},
                             steps=p.test_steps, noise=False)
        clean_acc = float(np.mean(clean.winners(p.readout) == split.y_test))

        grid = np.linspace(0.0, 1.0, p.curve_points)
        pairs, curves = [], {}
        for i, (a, b) in enumerate(tqdm(p.pairs, desc="pairs", disable=not progress, leave=False)):
            w = np.repeat(grid, p.curve_trials)
            X = morphs(split.X_test, split.y_test, a, b, len(w), w, np.random.default_rng([spec.seed, 10, i]), p.morph_noise)
            read = self._read(model, X, [a, -1, b]).reshape(3, p.curve_points, p.curve_trials)
            pa, pb = (read == a).mean(axis=2), (read == b).mean(axis=2)      # (cues, points)
            pse = self._pse(grid, pa[1], pb[1])
            curves[f"{a}/{b}"] = {"weights": grid, "p_a": pa, "pse": pse}

            X = morphs(split.X_test, split.y_test, a, b, p.trials, pse, np.random.default_rng([spec.seed, 20, i]), p.morph_noise)
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
        model.save(out / "model.npz")

        region = model.regions[p.readout]
        V = model.backend.to_numpy(region.weights["V"]) * region.p.context_precision
        figures = {
            "psychometric": plots.plot_psychometric(curves, self.CUES, out / "psychometric.png"),
            "priming": plots.plot_priming(pairs, self.CUES, out / "priming.png"),
            "competition": plots.plot_cue_competition(curves, self.CUES, (8, 8), out / "competition.png"),
            "context_weights": plots.plot_context_weights(V, out / "context_weights.png",
                                                          title=f"{p.readout}: learned context weights (cue -> prior logits)"),
        }
        for fig in figures.values():
            plt.close(fig)

        results = {
            **provenance(spec, model), "experiment": "priming",
            "pairs": pairs, "mean": mean, "validity": p.validity,
            "context_log_odds": {"learned": self._context_log_odds(model),
                                 "control": self._context_log_odds(control) if control is not None else None,
                                 "true": true_log_odds},
            "clean_accuracy_no_cue": clean_acc,
            "psychometric": {k: {"weights": v["weights"], "p_a": dict(zip(self.CUES, v["p_a"])), "pse": v["pse"]}
                             for k, v in curves.items()},
            "train_examples": int(len(X_train)), "epochs": p.epochs,
            "train_energy_first_last": [curve[0], curve[-1]],
            "seconds": {"train": round(t_train, 2), "total": round(time.perf_counter() - t0, 2)},
            "figures": [f"{k}.png" for k in figures],
        }
        return write_results(out, results)

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
        lines.append(f"time: {results['seconds']['total']:.1f} s (training {results['seconds']['train']:.1f} s)")
        return "\n".join(lines)
