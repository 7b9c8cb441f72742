"""End-stopping from feedback (Rao & Ballard 1999): a higher level's prediction explains long bars away.

A row of V1 modules, each a sparse code of its own small patch (its classical receptive field: a window of one
sensor, the canvas, :mod:`cortex.windows`), overlapping their neighbours; above them one region predicts all of
their activities at once, so it learns which V1 fields co-occur across neighbouring patches of natural images
(contours continue). Both levels learn together, online, on whitened natural patches. Then bars of growing length
are centred on the middle module's field: when a bar extends beyond it, the higher level predicts the middle
module's response from the neighbours, and the middle module's *error* units, which carry what the feedback does
not explain (Rao & Ballard's error-detecting neurons: activity minus the top-down prediction), fall. With the
top-down connection cut (the same V1 weights, no higher level) the error is the activity itself.

End-stopping index of a unit: ``1 - r(longest bar) / max_L r(L)`` with ``r`` its rectified error response. The
units averaged are those that respond to the bar that just fills their classical field (see docs/vision.md).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cortex.region import Strict

from . import register
from .base import Experiment


class Params(Strict):
    """The ``experiment:`` block of an end_stopping graph."""

    kind: Literal["end_stopping"] = "end_stopping"
    patches: list[str] = Field(["p0", "p1", "p2"], min_length=3)   # windows of one sensor, left to right
    modules: list[str] = Field(["V1_0", "V1_1", "V1_2"], min_length=3)
    top: str = "V2"
    train_patches: int = Field(60000, ge=1)
    whitening: Literal["measured", "1/f"] = "measured"   # as v1_natural's (docs/vision.md)
    batch_size: int = Field(250, ge=1)
    test_steps: int = Field(300, ge=1)
    bars: Literal["input", "whitened_image"] = "input"
    bar_width: int = Field(1, ge=1)
    respond: float = Field(0.1, gt=0, lt=1)
    examples: int = Field(6, ge=1)

    def check(self, spec):
        """Cross-checks against the graph: (message, key) pairs."""
        out = []
        if len(self.patches) != len(self.modules) or len(self.modules) % 2 == 0:
            out.append((f"patches and modules must be lists of the same odd length (the middle one is measured), got "
                        f"{len(self.patches)} and {len(self.modules)}", "modules"))
        out.extend(_check_patches(spec, self.patches))
        for m, patch in zip(self.modules, self.patches):
            r = spec.regions.get(m)
            if r is None or list(r.inputs) != [patch] or getattr(r, "competition", None) not in ("lateral", "none"):
                out.append((f"module {m!r} must be a lateral (or none) predictive region whose only input is "
                            f"{patch!r}", "modules"))
        top = spec.regions.get(self.top)
        if top is None or list(top.inputs) != list(self.modules):
            out.append((f"top must be a region whose inputs are the modules {self.modules}, got {self.top!r}", "top"))
        return out


def _check_patches(spec, patches) -> list:
    """The patches must be square windows of one shape, side by side along one sensor whose rows they all span."""
    inputs = [spec.inputs.get(p) for p in patches]
    if any(w is None or w.of is None for w in inputs) or len({w.of for w in inputs}) != 1:
        return [(f"patches must be windows of one sensor (inputs with of:, rows:, cols:), got {patches}", "patches")]
    sensor = spec.inputs.get(inputs[0].of)
    shapes = {tuple(w.shape) for w in inputs}
    if sensor is None or len(sensor.shape) != 2:
        return []       # the window checks report it
    if len(shapes) != 1 or (s := next(iter(shapes)))[0] != s[1]:
        return [(f"patches must be square windows of one shape, got {sorted(shapes)}", "patches")]
    starts = [w.cols[0] for w in inputs]
    if any(list(w.rows) != [0, sensor.shape[0]] for w in inputs) or starts != sorted(set(starts)):
        return [(f"patches must each span all {sensor.shape[0]} rows of {inputs[0].of!r}, left to right (column "
                 f"starts {starts})", "patches")]
    return []


@register("end_stopping")
class EndStopping(Experiment):
    """Train V1 modules and the level above on natural patches; bars of growing length with and without feedback."""

    Params = Params

    @property
    def sensor(self) -> str:
        """The canvas the patches are windows of: what the experiment feeds."""
        return self.spec.inputs[self.p.patches[0]].of

    @property
    def side(self) -> int:
        return int(self.spec.inputs[self.p.patches[0]].shape[0])

    @property
    def width(self) -> int:
        return int(self.spec.inputs[self.sensor].shape[1])

    def data(self) -> dict:
        from cortex.stimuli.natural import natural_patches

        return {"train": natural_patches(self.p.train_patches, (self.side, self.width), self.rng(1),
                                         whitening=self.p.whitening),
                "bars": self.bars()}

    def bars(self) -> dict:
        """Horizontal bars centred on the middle module's field, every length, row and polarity.

        ``bars: input`` (default) draws them in the model's input space, the whitened domain, so what falls inside
        the classical field is exactly the same for every bar that covers it; ``whitened_image`` draws them as an
        image, whitens it with the ``1/f`` filter (a bar has no photograph's spectrum to measure) and removes each
        canvas's mean (the first protocol: the whitening filter's surround and the mean then change the input inside
        the field as the bar grows beyond it).
        Either way the longest bars are scaled to the training patches' unit pixel variance.
        """
        from cortex.stimuli.natural import bar_canvas, whiten

        s, w, pad = self.side, self.width, 16
        centre = float(np.mean(self.spec.inputs[self.p.patches[len(self.p.patches) // 2]].cols))
        lengths = np.arange(2, w + 1, 2)
        imgs = []
        for row in range(s - self.p.bar_width + 1):
            for pol in (1.0, -1.0):
                for L in lengths:
                    if self.p.bars == "input":
                        imgs.append(bar_canvas((s, w), row, int(centre - L / 2), int(centre + L / 2), pol,
                                               self.p.bar_width))
                        continue
                    big = bar_canvas((s + 2 * pad, w + 2 * pad), pad + row, int(pad + centre - L / 2),
                                     int(pad + centre + L / 2), pol, self.p.bar_width)
                    imgs.append(whiten(big, whitening="1/f")[pad:pad + s, pad:pad + w])
        X = np.stack(imgs).reshape(-1, len(lengths), s * w)
        if self.p.bars == "whitened_image":
            X -= X.mean(axis=2, keepdims=True)
        X /= np.sqrt(np.mean(X[:, -1] ** 2))
        return {"X": X.reshape(-1, s * w).astype(np.float32), "families": X.shape[0], "lengths": lengths}

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p, X = self.p, data["train"]
        model = Model(self.spec)
        batches = ({self.sensor: X[i:i + p.batch_size]} for i in range(0, len(X), p.batch_size))
        curve = self.trainer(model).fit(batches, total=-(-len(X) // p.batch_size))
        return {"model": model, "curve": curve, "cut": self.cut(model)}

    def cut(self, model):
        """The same V1 weights with the top-down connection cut: a graph of the modules alone."""
        from cortex.model import Model
        from cortex.spec import spec_from_dict

        d = self.spec.to_dict()
        d["regions"].pop(self.p.top)
        d["connections"] = [c for c in d.get("connections") or [] if self.p.top not in (c["from"], c["to"])]
        d["experiment"] = None
        cut = Model(spec_from_dict(d), backend=model.backend.name)
        for m in self.p.modules:
            for key, v in model.regions[m].weights.items():
                cut.regions[m].weights[key] = v.copy()
            cut.regions[m].weights_changed()
        return cut

    def responses(self, model, X, top: bool) -> tuple[np.ndarray, np.ndarray]:
        """(error, activity) of the middle module, (stimuli, n): activity minus the top's prediction of it."""
        p = self.p
        mid = p.modules[len(p.modules) // 2]
        res = model.settle({self.sensor: X}, steps=p.test_steps, tol=0.0, noise=False)
        a = res.activity[mid]
        if not top:
            return a, a
        n = a.shape[1]
        start = sum(self.spec.regions[m].hypotheses for m in p.modules[:len(p.modules) // 2])
        return a - res.prediction[p.top][:, start:start + n], a

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, bars = self.p, data["bars"]
        F, Ls = bars["families"], bars["lengths"]
        err_fb, act_fb = self.responses(trained["model"], bars["X"], True)
        err_cut, _ = self.responses(trained["cut"], bars["X"], False)
        n = err_fb.shape[1]

        def per_unit(R):
            return np.maximum(R, 0.0).reshape(F, len(Ls), n)

        fb, act, cut = per_unit(err_fb), per_unit(act_fb), per_unit(err_cut)
        rf = int(np.argmin(np.abs(Ls - self.side)))            # the bar that just fills the classical field
        family = cut[:, rf, :].argmax(axis=0)                   # each unit's best row and polarity, classically
        units = np.arange(n)
        curve = {k: R[family, :, units] for k, R in (("feedback", fb), ("no_feedback", cut), ("feedback_activity", act))}
        classical = cut[family, rf, units]
        responds = classical > p.respond * classical.max()

        def index(C, mask):
            peak = C.max(axis=1)
            return float(np.mean(1.0 - C[mask, -1] / np.maximum(peak[mask], 1e-12))) if mask.any() else None

        any_peak = cut[family, :, units].max(axis=1)
        peaked = any_peak > p.respond * any_peak.max()
        return {
            "end_stopping_index": {k: index(C, responds) for k, C in curve.items()},
            "end_stopping_index_units_peaking_anywhere": {k: index(C, peaked) for k, C in curve.items()},
            "responding_units": int(responds.sum()), "units": int(n),
            "bars": p.bars, "whitening": p.whitening, "lengths": Ls.tolist(), "rf_length": int(self.side),
            "canvas": [self.side, self.width],
            "mean_tuning": {k: (C[responds] / np.maximum(C[responds].max(axis=1, keepdims=True), 1e-12)).mean(axis=0).tolist()
                            for k, C in curve.items()},
            "train_energy_first_last": [trained["curve"][0], trained["curve"][-1]],
            "_curves": {k: C[responds] for k, C in curve.items()},
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting.vision import plot_field_grid, plot_tuning_curves

        p, model = self.p, trained["model"]
        C = results["_curves"]
        mid = p.modules[len(p.modules) // 2]
        W = model.backend.to_numpy(model.regions[mid].fields())
        return {
            "tuning": plot_tuning_curves(
                results["lengths"], {"error units, with feedback": C["feedback"],
                                     "error units, feedback cut": C["no_feedback"],
                                     "activity, with feedback": C["feedback_activity"]},
                results["rf_length"], examples=p.examples,
                title=f"{mid}: responses to bars centred on its field ({results['responding_units']} units respond)"),
            "fields": plot_field_grid(W, (self.side, self.side), title=f"{mid}: classical receptive fields"),
        }

    @staticmethod
    def summary(results: dict) -> str:
        """The lines ``cortex run`` prints: the end-stopping index with and without feedback."""
        e = results["end_stopping_index"]
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"   # noqa: E731
        return "\n".join([
            f"end-stopping index over {results['responding_units']} of {results['units']} units: "
            f"feedback {fmt(e['feedback'])} (bar >= 0.3), no_feedback {fmt(e['no_feedback'])} (bar <= 0.1), "
            f"activity with feedback {fmt(e['feedback_activity'])}",
            "mean tuning (lengths " + " ".join(str(L) for L in results["lengths"]) + "):",
            *(f"  {k:<18}" + " ".join(f"{v:.2f}" for v in c) for k, c in results["mean_tuning"].items())])
