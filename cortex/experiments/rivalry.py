"""Binocular rivalry: two incompatible interpretations of one input alternate in dominance.

A region first learns one hypothesis per grating from unambiguous presentations (both eyes see the
same grating, a teacher names it). Then grating A goes to the left eye and grating B to the right eye
at once, and the region settles for one long stream of steps with fatigue and noise, many trials in
one batch. No learned hypothesis explains both eyes; the two that explain one eye each inhibit each
other, the winner tires, and noise decides when the loser takes over.

Three runs share one model (``sweep`` in the ``experiment:`` block):

- ``none`` (``cortex run rivalry``): dominance durations at equal contrast: their histogram with fitted
  gamma and lognormal densities (both log-likelihoods reported), mean, CV and skewness;
- ``one`` (``cortex run rivalry_levelt2``): the left eye's contrast swept, the right eye's fixed:
  the left grating's predominance, and each side's mean dominance duration against Levelt's second
  proposition in its original form and as revised by Brascamp, Klink & Levelt (2015);
- ``both`` (``cortex run rivalry_levelt4``): both contrasts swept together: the alternation rate
  (Levelt's fourth proposition).
"""
from __future__ import annotations

import sys
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from cortex.region import Strict

from . import register
from .base import Experiment

SIDES = ("left", "right")
HUMAN_CV = (0.4, 0.7)   # coefficient of variation of dominance durations reported for human observers


class Params(Strict):
    """The ``experiment:`` block of a rivalry graph."""

    kind: Literal["rivalry"] = "rivalry"
    sweep: Literal["none", "one", "both"] = "none"
    left: str = "left"
    right: str = "right"
    teacher: str = "percept"
    region: str = "P"
    orientations: tuple[float, float] = (45.0, -45.0)
    cycles: float = Field(2.0, ge=0.5)
    phase: float = 45.0
    train_batches: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=2)
    train_contrast: tuple[float, float] = (0.3, 1.0)
    train_noise: float = Field(0.05, ge=0)
    contrast: float = Field(1.0, gt=0)
    contrasts: list[float] = Field([0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4, 1.7, 2.0], min_length=2)
    trials: int = Field(64, ge=1)
    sweep_trials: int = Field(32, ge=1)
    steps: int | None = Field(None, ge=100)
    frames: int = Field(20000, ge=100)
    warmup: int = Field(500, ge=0)
    margin: float = Field(0.1, ge=0, lt=1)
    show: int = Field(4, ge=1, le=12)
    show_steps: int = Field(3000, ge=10)

    @model_validator(mode="after")
    def _values(self):
        if any(c <= 0 for c in self.contrasts):
            raise ValueError(f"contrasts must all be > 0, got {self.contrasts}")
        if sorted(set(self.contrasts)) != list(self.contrasts):
            raise ValueError(f"contrasts must be increasing without repeats, got {self.contrasts}")
        lo, hi = self.train_contrast
        if not 0 <= lo <= hi:
            raise ValueError(f"train_contrast must be (low, high) with 0 <= low <= high, got {self.train_contrast}")
        return self

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        out = []
        for key in ("left", "right", "teacher"):
            if getattr(self, key) not in spec.inputs:
                out.append((f"must name an input, got {getattr(self, key)!r} (inputs: {', '.join(spec.inputs)})", key))
        if out:
            return out
        shapes = {tuple(spec.inputs[getattr(self, k)].shape) for k in SIDES}
        shape = next(iter(shapes))
        if len(shapes) != 1 or len(shape) != 2 or shape[0] != shape[1] or shape[0] < 4:
            out.append((f"the two eyes must be square images of the same size (at least 4x4), got "
                        f"{spec.inputs[self.left].shape} and {spec.inputs[self.right].shape}", "left"))
        if spec.inputs[self.teacher].size != 2:
            out.append((f"the teacher input {self.teacher!r} must have 2 values (one per grating)", "teacher"))
        clocked = spec.time.frame is not None
        steps = self.frames if clocked else spec.settle.steps if self.steps is None else self.steps
        if self.warmup + 100 > steps:
            unit = "frames" if clocked else "settling steps"
            out.append((f"warmup ({self.warmup}) must leave at least 100 of the {steps} {unit} to measure", "warmup"))
        p = spec.regions.get(self.region)
        if p is None:
            out.append((f"must name a region, got {self.region!r} (regions: {', '.join(spec.regions)})", "region"))
            return out
        if p.hypotheses != 2:
            out.append((f"region {self.region!r} must have 2 hypotheses (the two interpretations)", "region"))
        if list(p.inputs) != [self.left, self.right]:
            out.append((f"region {self.region!r} must take inputs [{self.left}, {self.right}] (left eye, right eye), "
                        f"got {list(p.inputs)}", "region"))
        if p.teacher != self.teacher:
            out.append((f"region {self.region!r} must have teacher: {self.teacher} so training can name the grating",
                        "region"))
        if getattr(p, "competition", "lateral") != "lateral":   # kinds without a choice (spiking) compete their own way
            out.append((f"region {self.region!r} needs competition: lateral: softmax activity has no memory, so "
                        "fatigue gives fusion or flicker, not alternation", "region"))
        return out


@register("rivalry")
class Rivalry(Experiment):
    """Learn the two gratings, then record rivalry (one contrast, or a sweep)."""

    Params = Params

    def __init__(self, spec, params=None):
        super().__init__(spec, params)
        self.size = spec.inputs[self.p.left].shape[0]

    # ----- parts -------------------------------------------------------------------------------------
    def patterns(self) -> np.ndarray:
        """(2, size, size): the two gratings, the two interpretations."""
        from cortex.stimuli.rivalry import gratings

        p = self.p
        return gratings(self.size, p.orientations, p.cycles, p.phase)

    def train_gratings(self, model, patterns, rng) -> tuple[np.ndarray, list[float]]:
        """Online, supervised: both eyes see the same grating, the teacher clamps the region to its name.

        Returns the learned fields (2, both eyes' pixels) and each one's cosine with its grating.
        """
        from cortex.stimuli.rivalry import binocular_training

        p, eye = self.p, np.eye(2, dtype=np.float32)

        def batches():
            for _ in range(p.train_batches):
                left, right, label = binocular_training(patterns, p.batch_size, rng, p.train_contrast, p.train_noise)
                yield {p.left: left, p.right: right, p.teacher: eye[label]}

        self.trainer(model, "learning the gratings", steps=1, tol=0).fit(batches(), p.train_batches)
        W = model.backend.to_numpy(model.regions[p.region].fields())
        target = np.concatenate([patterns, patterns], axis=1).reshape(2, -1)     # what each grating shows both eyes
        cos = np.sum(W * target, axis=1) / (np.linalg.norm(W, axis=1) * np.linalg.norm(target, axis=1))
        return W, [float(c) for c in cos]

    def _stream(self, model, patterns, c_left, c_right, desc):
        """Settle every trial for one long stream; returns the trace (steps, trials, 2) after the warm-up.

        A graph with a frame clock (``time: {frame: ...}``) runs as a stream of ``frames`` frames, each settled for
        its own budget (``settle.steps``) with fatigue and slow noise moving once per frame; without one, as one
        settle of ``steps`` settling steps in which they move every step."""
        from cortex.stimuli.rivalry import rivalrous

        p = self.p
        left, right = rivalrous(patterns, c_left, c_right)
        if self.spec.time.frame is not None:
            return self._frames(model, left, right, desc)[p.warmup:]
        steps = self.spec.settle.steps if p.steps is None else p.steps
        if self.progress:   # one settle call: the whole stream is one batched computation, no bar to advance
            print(f"{desc}: {left.shape[0]} trials x {steps} settling steps ...", file=sys.stderr, flush=True)
        result = model.settle({p.left: left, p.right: right}, steps=steps, tol=0, record=True)
        return result.trace[p.region][p.warmup:]

    def _frames(self, model, left, right, desc, chunk: int = 500):
        """The stream, fed in chunks of frames (the state carries across them), as (1 + frames, trials, 2) activity."""
        from tqdm.auto import tqdm

        p = self.p
        stream = model.stream(batch=left.shape[0], record=("activity",))
        # the trace starts where the stream starts, the feed-forward first guess (as a settle's trace does)
        out = [model.settle({p.left: left, p.right: right}, steps=0, noise=False).activity[p.region][None]]
        with tqdm(total=p.frames, desc=desc, unit="frame", disable=None if self.progress else True, leave=False,
                  file=sys.stderr) as bar:
            for start in range(0, p.frames, chunk):
                n = min(chunk, p.frames - start)
                res = stream.run({p.left: np.broadcast_to(left, (n,) + left.shape),
                                  p.right: np.broadcast_to(right, (n,) + right.shape)})
                out.append(res.activity[p.region])
                bar.update(n)
        return np.concatenate(out)

    def _measure(self, trace):
        """Dominance statistics of one condition (trials of the same stimulus): (row for results, Periods)."""
        from cortex.dominance import DominanceError, duration_stats, find_periods

        scale = float(np.mean(np.max(trace, axis=-1)))       # the mean activity of the leading hypothesis
        per = find_periods(trace, margin=self.p.margin * scale)
        total = per.dominant_time.sum()
        row = {
            "trials": int(trace.shape[1]), "steps": int(trace.shape[0]),
            "switches_per_trial": float(per.switches.mean()),
            "alternation_rate_per_1000_steps": float(1000 * per.switches.mean() / per.trial_time),
            "predominance_left": float(per.dominant_time[:, 0].sum() / total) if total else None,
            "mixed_fraction": float(1 - total / (trace.shape[0] * trace.shape[1])),
            "mean_duration_left": _mean(per.durations(0)), "mean_duration_right": _mean(per.durations(1)),
            "n_left": int(per.durations(0).size), "n_right": int(per.durations(1).size),
            "margin": self.p.margin * scale,
        }
        try:
            row["durations"] = duration_stats(per.duration)
        except DominanceError as exc:
            row["durations"] = None
            row["note"] = str(exc)
        return row, per

    # ----- the stages: one model, then one of three runs ---------------------------------------------
    def data(self) -> dict:
        return {"patterns": self.patterns()}

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p = self.p
        model = Model(self.spec, batch=max(p.trials, p.sweep_trials * len(p.contrasts)))
        W, cosine = self.train_gratings(model, data["patterns"], self.rng(0))
        return {"model": model, "fields": W, "cosine": cosine}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, model, patterns = self.p, trained["model"], data["patterns"]
        frame = self.spec.time.frame_seconds
        results = {"sweep": p.sweep, "time_unit": "frame" if frame else "settling step",
                   "learned_field_cosine": trained["cosine"],
                   # a spiking region simulates a fixed window per step, a frame clock a fixed time per frame:
                   # durations then also have a physical time
                   "seconds_per_step": frame or getattr(model.regions[p.region], "window", None),
                   "human_cv_band": list(HUMAN_CV)}
        if p.sweep == "none":
            trace = self._stream(model, patterns, np.full(p.trials, p.contrast), p.contrast, "rivalry")
            row, per = self._measure(trace)
            results.update({"contrast": p.contrast, **row})
            st = row["durations"]
            results["cv_in_human_band"] = bool(st and HUMAN_CV[0] <= st["cv"] <= HUMAN_CV[1])
            results.update(_trace=trace, _periods=per)
            return results
        cs = np.asarray(p.contrasts, dtype=np.float64)
        n = p.sweep_trials
        c_left = np.repeat(cs, n)
        c_right = np.full_like(c_left, p.contrast) if p.sweep == "one" else c_left
        trace = self._stream(model, patterns, c_left, c_right, "one-eye sweep" if p.sweep == "one" else "both-eyes sweep")
        table = []
        for k, c in enumerate(cs):
            row, _ = self._measure(trace[:, k * n:(k + 1) * n])
            table.append({"contrast_left": float(c), "contrast_right": float(c_right[k * n]), **row})
        results["table"] = table
        if p.sweep == "one":
            results["fixed_contrast_right"] = p.contrast
            results["levelt2"] = levelt2(table, p.contrast)
        else:
            results["levelt4"] = levelt4(table)
        return results

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex import plotting
        from cortex.plotting import rivalry as rplot

        p, size = self.p, self.size
        figures = {"fields": plotting.plot_fields(
            trained["fields"].reshape(2, 2, size, size).transpose(0, 2, 1, 3).reshape(2, -1), (size, 2 * size),
            title=f"{p.region}: learned fields (left eye | right eye)", labels=["A", "B"])}
        if p.sweep == "none":
            figures["competition"] = rplot.plot_dominance_trace(
                results["_trace"][:p.show_steps, :p.show], margin=results["margin"], names=("A (left eye)", "B (right eye)"),
                title=f"{p.region}: the two interpretations over {results['time_unit']}s "
                      f"({p.show} trials, contrast {p.contrast:g})",
                xlabel=f"{results['time_unit']} (after the warm-up)")
            st = results["durations"]
            if st is not None:
                figures["durations"] = rplot.plot_duration_histogram(
                    results["_periods"].duration, st, title=f"dominance durations ({st['n']} periods, {p.trials} trials)",
                    unit=f"{results['time_unit']}s")
        elif p.sweep == "one":
            figures["strength"] = rplot.plot_strength_sweep(
                results["table"], p.contrast, title=f"left eye's contrast swept, right eye's fixed at {p.contrast:g}")
        else:
            figures["alternation"] = rplot.plot_alternation_sweep(results["table"],
                                                                  title="both eyes' contrast swept together")
        return figures

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints."""
        cos = ", ".join(f"{c:.3f}" for c in results["learned_field_cosine"])
        lines = [f"learned fields vs the gratings (cosine): {cos}"]
        if results["sweep"] == "none":
            st = results["durations"]
            unit = results.get("time_unit", "settling step")
            lines.append(f"{results['switches_per_trial']:.1f} switches per trial of {results['steps']} {unit}s; "
                         f"predominance of A{_f(results['predominance_left'], 6, 3)}; "
                         f"mixed {results['mixed_fraction']:.3f}")
            if st is None:
                lines.append(f"no duration statistics: {results.get('note')}")
            else:
                lines.append(f"dominance durations ({unit}s): n={st['n']} mean={st['mean']:.1f} sd={st['sd']:.1f} "
                             f"CV={st['cv']:.3f} (human {HUMAN_CV[0]}-{HUMAN_CV[1]}) skewness={st['skewness']:.2f}")
                if results.get("seconds_per_step"):
                    ms = 1000 * results["seconds_per_step"]
                    lines.append(f"  one {unit} simulates {ms:g} ms: mean duration {st['mean'] * ms:.0f} ms, "
                                 f"sd {st['sd'] * ms:.0f} ms")
                lines.append(f"gamma fit: shape={st['gamma']['shape']:.2f} scale={st['gamma']['scale']:.1f} "
                             f"log-likelihood={st['gamma']['loglik']:.1f}")
                lines.append(f"lognormal fit: sigma={st['lognormal']['sigma']:.3f} scale={st['lognormal']['scale']:.1f} "
                             f"log-likelihood={st['lognormal']['loglik']:.1f}  -> better: {st['better_fit']}")
        else:
            head = (f"{'c_left':>7}{'c_right':>8}{'pred_left':>10}{'mean_left':>10}{'mean_right':>11}"
                    f"{'rate/1000':>10}{'CV':>6}{'mixed':>7}")
            lines.append(head)
            for r in results["table"]:
                st = r["durations"]
                lines.append(f"{r['contrast_left']:>7.3g}{r['contrast_right']:>8.3g}{_f(r['predominance_left'], 10, 3)}"
                             f"{_f(r['mean_duration_left'], 10, 1)}{_f(r['mean_duration_right'], 11, 1)}"
                             f"{r['alternation_rate_per_1000_steps']:>10.2f}{_f(st and st['cv'], 6, 2)}"
                             f"{r['mixed_fraction']:>7.3f}")
            verdict = results.get("levelt2") or results.get("levelt4")
            lines.append(verdict["verdict"])
        return "\n".join(lines)


def _mean(x) -> float | None:
    return float(np.mean(x)) if len(x) else None


def _f(value, width, digits) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def levelt2(table: list[dict], fixed: float) -> dict:
    """Each side's mean dominance duration against Levelt's second proposition, original and revised.

    Original (Levelt 1965): raising one eye's strength shortens the *other* eye's dominance durations
    and leaves its own about unchanged. Revised (Brascamp, Klink & Levelt 2015): a growing strength
    difference mainly lengthens the *stronger* side's durations. The two agree while the varied side is
    the weaker one and disagree once it is the stronger one. Changes are log-ratios of mean durations
    from the condition nearest equal contrast to each end of the sweep.
    """
    rows = [r for r in table if r["mean_duration_left"] and r["mean_duration_right"]]
    if len(rows) < 3:
        return {"verdict": "Levelt II: too few conditions with periods of both sides to judge", "judged": False}
    c = np.array([r["contrast_left"] for r in rows])
    x = np.log(c)
    ml = np.log([r["mean_duration_left"] for r in rows])
    mr = np.log([r["mean_duration_right"] for r in rows])
    ref = int(np.argmin(np.abs(x - np.log(fixed))))
    halves = {}
    if ref < len(rows) - 1:
        halves["varied_side_stronger"] = {"contrast_left": float(c[-1]), "varied": float(ml[-1] - ml[ref]),
                                          "fixed": float(mr[-1] - mr[ref])}
    if ref > 0:
        halves["varied_side_weaker"] = {"contrast_left": float(c[0]), "varied": float(ml[0] - ml[ref]),
                                        "fixed": float(mr[0] - mr[ref])}
    for name, h in halves.items():
        h["stronger"], h["weaker"] = ((h["varied"], h["fixed"]) if name == "varied_side_stronger"
                                      else (h["fixed"], h["varied"]))
    original = bool(halves) and all(abs(h["fixed"]) > abs(h["varied"]) for h in halves.values())
    revised = bool(halves) and all(h["stronger"] > 0 and h["stronger"] > abs(h["weaker"]) for h in halves.values())
    form = ("the revised form (Brascamp et al. 2015): the stronger side's durations lengthen most"
            if revised and not original else
            "the original form (Levelt 1965): the other side's durations change most" if original and not revised
            else "both forms (the sweep never makes the varied side the stronger one)" if original
            else "neither form")
    parts = [f"{'A stronger' if k == 'varied_side_stronger' else 'A weaker'} (c_left {h['contrast_left']:g}): "
             f"log change of A's mean duration {h['varied']:+.2f}, of B's {h['fixed']:+.2f}" for k, h in halves.items()]
    return {"judged": True, "equal_contrast": float(c[ref]), "log_change_from_equal": halves,
            "slope_log_duration_varied_side": float(np.polyfit(x, ml, 1)[0]),
            "slope_log_duration_fixed_side": float(np.polyfit(x, mr, 1)[0]),
            "original_holds": original, "revised_holds": revised,
            "verdict": "Levelt II: " + "; ".join(parts) + f"; the model follows {form}"}


def levelt4(table: list[dict]) -> dict:
    """Alternation rate against both eyes' contrast (Levelt's fourth proposition: it rises with contrast)."""
    from scipy import stats

    c = np.array([r["contrast_left"] for r in table])
    rate = np.array([r["alternation_rate_per_1000_steps"] for r in table])
    mixed = np.array([r["mixed_fraction"] for r in table])
    rho = float(stats.spearmanr(c, rate).statistic)
    lo, hi = int(np.argmin(rate)), int(np.argmax(rate))
    rising = [float(c[i + 1]) for i in range(len(c) - 1) if rate[i + 1] > rate[i]]
    out = {"spearman_rho": rho, "min_rate_at_contrast": float(c[lo]), "max_rate_at_contrast": float(c[hi]),
           "rate_ratio_last_first": float(rate[-1] / rate[0]) if rate[0] > 0 else None,
           "holds_overall": bool(rho > 0)}
    if lo < hi:
        span = f"rises from contrast {c[lo]:g} to {c[hi]:g} (x{rate[hi] / max(rate[lo], 1e-12):.2f})"
    else:
        span = f"is lowest at contrast {c[lo]:g} and highest at {c[hi]:g}"
    out["rising_steps_end_at"] = rising
    out["verdict"] = (f"Levelt IV: Spearman rho(contrast, alternation rate) = {rho:+.2f}; the rate {span}"
                      + ("" if lo == 0 or lo > hi else f"; below contrast {c[lo]:g} it falls as contrast rises")
                      + ("" if hi == len(c) - 1 or lo > hi else
                         f"; above contrast {c[hi]:g} it falls again (mixed time {mixed[hi]:.2f} -> {mixed[-1]:.2f})"))
    return out
