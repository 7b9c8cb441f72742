"""The oddball paradigm: prediction errors to rare deviants and omissions, and their fall as a new standard repeats.

One stream per run, learned online frame by frame (the model's context weights learn what follows what while it
watches): a standard repeated, with rare deviants (another pattern) and omissions (the expected frame replaced by
a blank); then a repetition block, in which new standards (patterns never shown before) each repeat a few times.
Each frame's prediction error is the mean squared difference between the frame and what the region predicted it
would be before it came (its forecast, settled on context alone), per region.

Reported: the error to standards, deviants and omissions (averaged over the second half of the oddball block,
after learning), the deviant-minus-standard difference wave over the frames around a deviant (a mismatch
response), the error over repeats 1-5 of a new standard (repetition suppression), and the same run with the
standard and the deviant exchanged (``swapped``): the response follows what was expected, not the pattern.
Each pattern is named by a teacher while the stream is learned (the region then keeps one hypothesis per
pattern); what the model learns from the stream alone is which comes after which.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from . import register
from .digit_data import inputs_listing
from .streams import StreamExperiment, StreamParams, without_context_learning

KINDS = ("standard", "deviant", "omission")


class Params(StreamParams):
    """The ``experiment:`` block of an oddball graph."""

    kind: Literal["oddball"] = "oddball"
    label: str = "name"
    train_frames: int = Field(300, ge=20)
    p_deviant: float = Field(0.1, ge=0, lt=1)
    p_omission: float = Field(0.1, ge=0, lt=1)
    min_gap: int = Field(2, ge=0)
    new_standards: int = Field(3, ge=1)
    repeats: int = Field(8, ge=5)
    gap: int = Field(6, ge=1)
    pixels_on: tuple[int, int] = (12, 20)      # the two oddball patterns differ in size, so swapping them matters
    wave: tuple[int, int] = (-2, 4)
    swapped: bool = True
    ablation: bool = True

    @field_validator("wave")
    @classmethod
    def _window(cls, wave):
        if not wave[0] <= 0 <= wave[1]:
            raise ValueError(f"wave must be (first, last) frames around the deviant with first <= 0 <= last, got {wave}")
        return wave

    def check(self, spec):
        out = super().check(spec)
        need = 3 + self.new_standards
        if self.label not in spec.inputs or spec.inputs[self.label].size != need:
            out.append((f"must name an input of {need} values (standard, deviant, blank and {self.new_standards} new "
                        f"standards), got {self.label!r} "
                        f"(inputs: {inputs_listing(spec)})", "label"))
        return out


@register("oddball")
class Oddball(StreamExperiment):
    """Learn an oddball stream online and record its prediction errors (see the module docstring)."""

    Params = Params

    def data(self) -> dict:
        from cortex.stimuli.oddball import new_standards, oddball_codes
        from cortex.stimuli.sequences import symbol_patterns

        p = self.p
        size = self.spec.inputs[p.stimulus].shape[0]
        small, large = p.pixels_on
        patterns = np.concatenate([symbol_patterns(1, self.rng(0, 0), size=size, on=small),
                                   symbol_patterns(1, self.rng(0, 1), size=size, on=large),
                                   symbol_patterns(p.new_standards, self.rng(0, 2), size=size, on=(small + large) // 2)])
        odd = oddball_codes(p.streams, p.train_frames, self.eval_rng(0), p_deviant=p.p_deviant,
                            p_omission=p.p_omission, min_gap=p.min_gap)
        rep_codes, repeat = new_standards(p.streams, p.new_standards, p.repeats, p.gap)
        codes = np.concatenate([odd, rep_codes])
        repeat = np.concatenate([np.zeros_like(odd), repeat])
        return {"codes": codes, "repeat": repeat, "block": p.train_frames, "patterns": patterns, "size": size}

    def _stream(self, model, data, swap: bool):
        """The whole stream, learned online, each frame's forecast error recorded."""
        from cortex.stimuli.oddball import DEVIANT, STANDARD, images

        p, P = self.p, data["patterns"]
        a, b = (1, 0) if swap else (0, 1)
        frames = images(data["codes"], P[a], P[b], P[2:])
        # the teacher names the pattern (not its role): 0 and 1 the two oddball patterns, 2 the blank, 3.. new ones
        codes = data["codes"]
        name = codes.copy()
        name[codes == STANDARD], name[codes == DEVIANT] = a, b
        eye = np.eye(3 + p.new_standards, dtype=np.float32)
        return model.run_stream({p.stimulus: frames, p.label: eye[name]}, learn=True, forecast=True,
                                record=("forecast_error", "energy"), progress=self.progress), frames

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p = self.p
        plan = [("original", self.spec, False)] + ([("swapped", self.spec, True)] if p.swapped else []) + \
            ([("no_transitions", without_context_learning(self.spec), False)] if p.ablation else [])
        runs = {}
        for name, spec, swap in plan:
            model = Model(spec, batch=p.streams)
            with self.phase(f"{name.replace('_', ' ')} stream"):
                res, frames = self._stream(model, data, swap)
            runs[name] = {"model": model, "result": res, "frames": frames}
        return {"model": runs["original"]["model"], "runs": runs}

    def _measure(self, data, res, region: str) -> dict:
        p, codes = self.p, data["codes"]
        err, energy = res.forecast_error[region], res.energy[region]
        block = data["block"]
        late = np.zeros(codes.shape, dtype=bool)
        late[block // 2:block] = True
        out = {"error": {k: float(err[late & (codes == c)].mean()) for c, k in enumerate(KINDS)},
               "energy": {k: float(energy[late & (codes == c)].mean()) for c, k in enumerate(KINDS)},
               "count": {k: int((late & (codes == c)).sum()) for c, k in enumerate(KINDS)}}
        rep = data["repeat"]
        out["repetition_error"] = [float(err[rep == r].mean()) for r in range(1, 6)]
        lo, hi = p.wave
        rare = codes[:block] != 0
        dev_t, dev_b = np.nonzero((codes[:block] == 1) & late[:block])
        quiet = np.ones(rare.shape, dtype=bool)     # standards with no rare event anywhere in the window
        for k in range(lo, hi + 1):
            shifted = np.zeros_like(rare)
            if k >= 0:
                shifted[:block - k] = rare[k:]
            else:
                shifted[-k:] = rare[:block + k]
            quiet &= ~shifted
        std_t, std_b = np.nonzero(quiet & late[:block])
        ks = list(range(lo, hi + 1))

        def locked(ts, bs):
            keep = (ts + lo >= 0) & (ts + hi < block)
            ts, bs = ts[keep], bs[keep]
            return [float(err[ts + k, bs].mean()) if ts.size else None for k in ks]

        dev, std = locked(dev_t, dev_b), locked(std_t, std_b)
        out["difference_wave"] = {"frames": ks, "deviant": dev, "standard": std,
                                  "difference": [None if d is None or s is None else d - s for d, s in zip(dev, std)]}
        out["trace"] = err[:, 0]
        return out

    def evaluate(self, data: dict, trained: dict) -> dict:
        runs = trained["runs"]
        model = runs["original"]["model"]
        readers = [r for r in model.spec.regions
                   if self.p.stimulus in [c.source for c in model.spec.sources(r, "input") if not c.delay]]
        main = readers[0]
        by_region = {r: self._measure(data, runs["original"]["result"], r) for r in model.spec.regions}
        m = by_region[main]
        e = m["error"]
        results = {
            "region": main, "error": e, "energy": m["energy"], "counts": m["count"],
            "error_by_region": {r: v["error"] for r, v in by_region.items()},
            "repetition_error": m["repetition_error"], "difference_wave": m["difference_wave"],
            "deviant_over_standard": e["deviant"] / e["standard"],
        }
        rep = m["repetition_error"]
        met = {"deviant_2x_standard": e["deviant"] >= 2 * e["standard"], "omission_above_standard":
               e["omission"] > e["standard"], "repetition_falls": all(b < a for a, b in zip(rep, rep[1:]))}
        if "swapped" in runs:
            s = self._measure(data, runs["swapped"]["result"], main)
            results["swapped"] = s["error"]
            results["swapped_deviant_over_standard"] = s["error"]["deviant"] / s["error"]["standard"]
            met["swapped_2x"] = s["error"]["deviant"] >= 2 * s["error"]["standard"]
        if "no_transitions" in runs:
            n = self._measure(data, runs["no_transitions"]["result"], main)
            results["no_transitions"] = {**n["error"], "repetition_error": n["repetition_error"]}
        results["bar_met"] = met
        results["bar"] = ("deviant >= 2x standard; omission > standard; swapped deviant >= 2x swapped standard; "
                          "repetition_error falls over repeats 1-5")
        results["_trace"] = {"error": m["trace"], "codes": data["codes"][:, 0], "block": data["block"]}
        return results

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting import sequences as plots

        return {"mismatch": plots.plot_mismatch(results["error"], results.get("swapped"),
                                                 results["difference_wave"], results["repetition_error"]),
                "error_trace": plots.plot_error_trace(**results["_trace"])}

    @staticmethod
    def summary(results: dict) -> str:
        e, met = results["error"], results["bar_met"]
        lines = [f"{'':<10}{'standard':>10}{'deviant':>10}{'omission':>10}{'dev/std':>9}"]
        lines.append(f"{'error':<10}{e['standard']:>10.4f}{e['deviant']:>10.4f}{e['omission']:>10.4f}"
                     f"{results['deviant_over_standard']:>9.1f}")
        if "swapped" in results:
            s = results["swapped"]
            lines.append(f"{'swapped':<10}{s['standard']:>10.4f}{s['deviant']:>10.4f}{s['omission']:>10.4f}"
                         f"{results['swapped_deviant_over_standard']:>9.1f}")
        if "no_transitions" in results:
            n = results["no_transitions"]
            lines.append(f"{'no trans.':<10}{n['standard']:>10.4f}{n['deviant']:>10.4f}{n['omission']:>10.4f}"
                         f"{n['deviant'] / n['standard']:>9.1f}   (context weights frozen: nothing learned of the order)")
        lines.append("repetition_error (repeats 1-5 of a new standard): "
                     + " ".join(f"{x:.4f}" for x in results["repetition_error"]))
        wave = results["difference_wave"]
        lines.append("difference wave (deviant - standard), frames " + " ".join(map(str, wave["frames"])) + ": "
                     + " ".join("-" if d is None else f"{d:.3f}" for d in wave["difference"]))
        lines.append("bars: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
        return "\n".join(lines)
