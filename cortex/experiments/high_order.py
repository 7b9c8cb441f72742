"""High-order sequences: "A B C D" and "X B C Y" share "B C", so what follows C depends on what came before B.

The classic test of sequence memory (HTM's): a first-order model, which predicts the next element from the current
one, is at chance (0.5) after C; a model with deeper context is not. The shipped graph (``high_order.yaml``) has
one softmax region, one hypothesis per symbol (named by a teacher while it learns), whose context is its own state
one, two and three frames back: after A B C, the state three frames back (A or X) decides. The first-order control
is the same graph with only the delay-1 context; ``delays_1_2`` keeps delays 1 and 2 (the element two frames
back, B, is the same in both sequences, so it is at chance too).

Each frame's forecast (the image the model predicts before the frame arrives, settled on context alone) is read
as the nearest symbol. Accuracy is reported per position and at the ambiguous positions: those whose element is
not determined by the previous one (the position after C). The first element of each sequence is a coin flip
for every model and is reported apart.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from . import register
from .digit_data import inputs_listing
from .streams import StreamExperiment, StreamParams, variant


class Params(StreamParams):
    """The ``experiment:`` block of a high-order sequence graph."""

    kind: Literal["high_order"] = "high_order"
    train_frames: int = Field(300, ge=2)
    test_frames: int = Field(60, ge=8)
    label: str = "symbol"
    sequences: list[str] = Field(["ABCD", "XBCY"], min_length=2)
    pixels_on: int = Field(16, ge=1)
    warmup: int = Field(4, ge=0)
    controls: dict[str, int] = Field({"first_order": 1, "delays_1_2": 2})

    @field_validator("sequences")
    @classmethod
    def _long_enough(cls, seqs):
        if any(len(s) < 2 for s in seqs):
            raise ValueError(f"every sequence needs at least two symbols, got {seqs}")
        return seqs

    @field_validator("controls")
    @classmethod
    def _delays(cls, controls):
        if any(d < 1 for d in controls.values()):
            raise ValueError(f"a control keeps context delays up to a depth >= 1, got {controls}")
        return controls

    def check(self, spec):
        out = super().check(spec)
        alphabet = "".join(dict.fromkeys("".join(self.sequences)))
        if self.label not in spec.inputs or spec.inputs[self.label].size != len(alphabet):
            out.append((f"must name an input of {len(alphabet)} values (one per symbol of {alphabet}), got "
                        f"{self.label!r} (inputs: {inputs_listing(spec)})", "label"))
        return out


def ambiguous_positions(sequences: list[str]) -> dict[int, set[int]]:
    """Sequence index -> positions (>= 1) whose element the previous element alone does not determine."""
    follows: dict[str, set[str]] = {}
    for s in sequences:
        for a, b in zip(s, s[1:]):
            follows.setdefault(a, set()).add(b)
    return {i: {j for j in range(1, len(s)) if len(follows[s[j - 1]]) > 1} for i, s in enumerate(sequences)}


@register("high_order")
class HighOrder(StreamExperiment):
    """Learn the sequences from a stream; forecast fresh streams; compare with shallower context."""

    Params = Params

    def data(self) -> dict:
        from cortex.stimuli.sequences import high_order, symbol_patterns

        p = self.p
        size = self.spec.inputs[p.stimulus].shape[0]
        train = high_order(p.streams, p.train_frames, self.train_rng(0), p.sequences)
        test = high_order(p.streams, p.test_frames, self.eval_rng(0), p.sequences)
        patterns = symbol_patterns(len(train.alphabet), self.rng(0), size=size, on=p.pixels_on)
        return {"train": train, "test": test, "patterns": patterns, "size": size}

    def _graphs(self) -> dict:
        p, specs = self.p, {"model": self.spec}
        for name, depth in p.controls.items():
            specs[name] = variant(self.spec, keep=lambda c, d=depth: c.delay <= d, name=f"{self.spec.name}_{name}")
        return specs

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p, train, P = self.p, data["train"], data["patterns"]
        eye = np.eye(len(train.alphabet), dtype=np.float32)
        frames = {p.stimulus: P[train.symbols], p.label: eye[train.symbols]}
        out = {}
        for name, spec in self._graphs().items():
            model = Model(spec, batch=p.streams)
            out[name] = {"model": model, **self.learn_stream(model, frames, desc=f"learning ({name})")}
        return {"model": out["model"]["model"], "runs": out}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p, test, P = self.p, data["test"], data["patterns"]
        F, B = test.symbols.shape
        ambiguous = ambiguous_positions(p.sequences)
        is_amb = np.zeros((F, B), dtype=bool)
        for s, positions in ambiguous.items():
            for j in positions:
                is_amb |= (test.sequence == s) & (test.position == j)
        scored = np.zeros((F, B), dtype=bool)
        scored[p.warmup:] = True
        longest = max(len(s) for s in p.sequences)
        acc, acc_pos, acc_unamb, acc_start, examples = {}, {}, {}, {}, {}
        for name, run in trained["runs"].items():
            with self.phase(f"forecasting ({name})"):
                res = run["model"].run_stream({p.stimulus: P[test.symbols]}, forecast=True, noise=False,
                                              record=("input_forecast",))
            forecast = res.input_forecast[p.stimulus].reshape(F, B, -1)
            read = np.argmin(((forecast[:, :, None, :] - P[None, None]) ** 2).sum(-1), axis=-1)
            right = read == test.symbols
            acc[name] = float(right[scored & is_amb].mean())
            acc_unamb[name] = float(right[scored & ~is_amb & (test.position > 0)].mean())
            acc_start[name] = float(right[scored & (test.position == 0)].mean())
            acc_pos[name] = [float(right[scored & (test.position == j)].mean()) if (scored & (test.position == j)).any()
                             else None for j in range(longest)]
            examples[name] = {"forecast": forecast[p.warmup:p.warmup + 12, 0], "read": read[p.warmup:p.warmup + 12, 0]}
        examples["truth"] = test.symbols[p.warmup:p.warmup + 12, 0]
        delays = {name: sorted({c.delay for c in spec.connections if c.delay})
                  for name, spec in self._graphs().items()}
        return {
            "accuracy_ambiguous": acc, "accuracy_unambiguous": acc_unamb, "accuracy_sequence_start": acc_start,
            "accuracy_by_position": acc_pos, "chance_ambiguous": 0.5, "context_delays": delays,
            "alphabet": test.alphabet, "ambiguous_positions": {p.sequences[s]: sorted(v) for s, v in ambiguous.items()},
            "bar_met": {"model": acc["model"] >= 0.95,
                        **({"first_order": acc["first_order"] <= 0.7} if "first_order" in acc else {})},
            "bar": "accuracy_ambiguous.model >= 0.95, accuracy_ambiguous.first_order <= 0.7",
            "_examples": examples, "_shape": (data["size"], data["size"]),
        }

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting import sequences as plots

        ex = results["_examples"]
        alphabet = results["alphabet"]
        return {
            "accuracy": plots.plot_accuracy_by_position(results["accuracy_by_position"], self.p.sequences,
                                                        results["accuracy_ambiguous"]),
            "forecast": plots.plot_symbol_forecasts(
                {name: e["forecast"] for name, e in ex.items() if name != "truth"}, data["patterns"], ex["truth"],
                alphabet, results["_shape"]),
        }

    @staticmethod
    def summary(results: dict) -> str:
        acc = results["accuracy_ambiguous"]
        lines = [f"{'graph':<14}{'delays':<10}{'ambiguous':>10}{'others':>8}{'first element':>15}"]
        for name in acc:
            delays = ",".join(map(str, results["context_delays"][name]))
            lines.append(f"{name:<14}{delays:<10}{acc[name]:>10.3f}{results['accuracy_unambiguous'][name]:>8.3f}"
                         f"{results['accuracy_sequence_start'][name]:>15.3f}")
        met = results["bar_met"]
        lines.append(f"accuracy of the forecast read as the nearest symbol (chance after C: 0.5); bar: model >= 0.95 "
                     f"{'met' if met['model'] else 'MISSED'}"
                     + (f", first order <= 0.7 {'met' if met['first_order'] else 'MISSED'}" if "first_order" in met
                        else ""))
        return "\n".join(lines)
