"""Next-frame prediction: does a model that learned from a stream beat copying the last frame?

Two tasks, each learned online from one stream and scored on fresh streams:

- ``bar``: a full-length bar on a square retina (wrapping around), at a random position, orientation,
  direction and speed, redrawn every ``clip`` frames. One frame does not tell where the bar goes next; two do.
  The shipped graph (``sequence.yaml``) has one softmax region that explains the last two frames together (the
  retina and the retina one frame back: each hypothesis becomes a bar at one place moving at one velocity), with
  its own state one frame back as context, so its context weights learn which state follows which;
- ``digits``: digit images in a fixed cyclic order, a random exemplar each frame (``sequence_digits.yaml``: one
  hypothesis per class, named by a teacher during learning, its own state one frame back as context).

Scored: the mean squared error of the forecast (what the model predicts the frame will be, settled on context
alone before the frame arrives) against two baselines, the last frame and the mean training frame, on every
frame after the first ``skip`` of a clip. Ablation: the same graph with its context weights frozen at zero (no
transitions learned), trained on the same stream.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from . import register
from .streams import StreamExperiment, StreamParams, next_frame_errors, without_context_learning

class Params(StreamParams):
    """The ``experiment:`` block of a next-frame prediction graph."""

    kind: Literal["sequence"] = "sequence"
    tasks: list[Literal["bar", "digits"]] = Field(["bar", "digits"], min_length=1)
    bar_graph: str | None = None
    digits_graph: str | None = None
    label: str = "label"
    test_frames: int = Field(48, ge=4)
    clip: int = Field(8, ge=3)
    speeds: list[int] = Field([1, 2], min_length=1)
    skip: int = Field(2, ge=1)
    digits_train_frames: int = Field(300, ge=2)
    order: list[int] = Field(list(range(10)), min_length=2)
    test_size: float = Field(0.2, gt=0, lt=1)
    validation_size: float = Field(0.2, gt=0, lt=1)
    ablation: bool = True
    show: int = Field(12, ge=2, le=48)

    @field_validator("tasks")
    @classmethod
    def _distinct(cls, tasks):
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"lists a task twice: {tasks}")
        return tasks

    @field_validator("speeds")
    @classmethod
    def _speeds(cls, speeds):
        if min(speeds) < 1:
            raise ValueError(f"speeds must be >= 1 pixel per frame, got {speeds}")
        return speeds


@register("sequence")
class Sequence(StreamExperiment):
    """Learn each task from a stream, then forecast fresh streams frame by frame (see the module docstring)."""

    Params = Params

    def _spec(self, task: str):
        """The graph of ``task``: this one, or the shipped graph / file the block names, with this run's seed."""
        from cortex.shipped import graph_path
        from cortex.spec import load_spec, spec_from_dict

        name = getattr(self.p, f"{task}_graph")
        if name is None:
            return self.spec
        data = load_spec(graph_path(name)).to_dict()
        data.update(seed=self.spec.seed, backend=self.spec.backend)
        data["experiment"] = None
        return spec_from_dict(data, file=f"{name} (the {task} task of {self.spec.name})")

    # ----- the stages --------------------------------------------------------------------------------
    def data(self) -> dict:
        from cortex.stimuli.sequences import digit_cycle, moving_bars

        p, out = self.p, {}
        if "bar" in p.tasks:
            spec = self._spec("bar")
            size = spec.inputs[p.stimulus].shape[0]
            make = lambda n, rng: moving_bars(p.streams, n, rng, size=size, clip=p.clip, speeds=p.speeds)  # noqa: E731
            train, test = make(p.train_frames, self.train_rng(0)), make(p.test_frames, self.eval_rng(0))
            out["bar"] = {"spec": spec, "train": {p.stimulus: train.frames}, "frames": test.frames,
                          "scored": test.phase >= p.skip, "mean_frame": train.frames.mean(axis=(0, 1)).ravel(),
                          "shape": (size, size)}
        if "digits" in p.tasks:
            spec = self._spec("digits")
            X_tr, y_tr, X_ev, y_ev = self._digits()
            eye = np.eye(spec.inputs[p.label].size, dtype=np.float32)
            train = digit_cycle(X_tr, y_tr, p.streams, p.digits_train_frames, self.train_rng(1), p.order)
            test = digit_cycle(X_ev, y_ev, p.streams, p.test_frames, self.eval_rng(1), p.order)
            scored = np.zeros(test.labels.shape, dtype=bool)
            scored[p.skip:] = True
            out["digits"] = {"spec": spec, "train": {p.stimulus: train.frames, p.label: eye[train.labels]},
                             "frames": test.frames, "scored": scored, "mean_frame": X_tr.mean(axis=0),
                             "shape": (8, 8), "labels": test.labels}
        return out

    def _digits(self):
        from sklearn.model_selection import train_test_split

        from cortex.stimuli.digits import load_digit_split

        p = self.p
        split = load_digit_split(test_size=p.test_size, seed=self.seed)
        if p.evaluate_on == "test":
            return split.X_train, split.y_train, split.X_test, split.y_test
        X_tr, X_ev, y_tr, y_ev = train_test_split(split.X_train, split.y_train, test_size=p.validation_size,
                                                  random_state=self.seed, stratify=split.y_train)
        return X_tr, y_tr, X_ev, y_ev

    def train(self, data: dict) -> dict:
        from cortex.model import Model

        p, out = self.p, {}
        for task, d in data.items():
            runs = {"model": d["spec"]}
            if p.ablation:
                runs["no_transitions"] = without_context_learning(d["spec"])
            out[task] = {}
            for which, spec in runs.items():
                model = Model(spec, batch=p.streams)
                curve = self.learn_stream(model, d["train"], desc=f"{task}: learning ({which.replace('_', ' ')})")
                out[task][which] = {"model": model, **curve}
        first = next(iter(out.values()))
        return {"model": first["model"]["model"], "tasks": out}

    def evaluate(self, data: dict, trained: dict) -> dict:
        p = self.p
        errors, ratios, met, examples, by_phase = {}, {}, {}, {}, {}
        for task, d in data.items():
            errors[task], frames = {}, d["frames"]
            F, B = frames.shape[:2]
            flat = frames.reshape(F, B, -1)
            for which, t in trained["tasks"][task].items():
                with self.phase(f"{task}: forecasting ({which.replace('_', ' ')})"):
                    res = t["model"].run_stream({p.stimulus: frames}, forecast=True, noise=False,
                                                record=("input_forecast",))
                forecast = res.input_forecast[p.stimulus].reshape(F, B, -1)
                row = next_frame_errors(flat, forecast, d["scored"], d["mean_frame"])
                if which == "model":
                    errors[task].update(row)
                    examples[task] = {"frames": frames[:p.show, 0], "forecast": forecast[:p.show, 0],
                                      "shape": d["shape"]}
                    if task == "bar":
                        err = ((forecast - flat) ** 2).mean(axis=-1)
                        phase = np.arange(F) % p.clip
                        by_phase = {"phase": list(range(p.clip)),
                                    "model": [float(err[phase == k].mean()) for k in range(p.clip)]}
                else:
                    errors[task][which] = row["model"]
            ratios[task] = errors[task]["model"] / errors[task]["copy_last"]
            met[task] = bool(ratios[task] <= 0.5)
        return {"next_frame_error": errors, "ratio_to_copy_last": ratios, "bar_met": met,
                "bar": "model <= 0.5 x copy_last for every task", "error_by_clip_frame": by_phase,
                "train_energy_first_last": {task: [t["model"]["energy"][0], t["model"]["energy"][-1]]
                                            for task, t in trained["tasks"].items()},
                "_examples": examples}

    def figures(self, data: dict, trained: dict, results: dict) -> dict:
        from cortex.plotting import sequences as plots

        out = {"next_frame_error": plots.plot_next_frame_errors(results["next_frame_error"])}
        for task, ex in results["_examples"].items():
            out[f"forecast_{task}"] = plots.plot_forecast_strip(
                ex["frames"], ex["forecast"], ex["shape"],
                title=f"{task}: each frame (top), what the model predicted it would be before it came (middle), "
                      f"and the error (bottom)")
        return out

    @staticmethod
    def summary(results: dict) -> str:
        lines = [f"{'task':<8}{'model':>9}{'copy-last':>11}{'mean frame':>12}{'model/copy':>12}"
                 f"{'no transitions':>16}  bar (<= 0.5)"]
        for task, e in results["next_frame_error"].items():
            ablation = f"{e['no_transitions']:>16.4f}" if "no_transitions" in e else f"{'-':>16}"
            lines.append(f"{task:<8}{e['model']:>9.4f}{e['copy_last']:>11.4f}{e['mean_frame']:>12.4f}"
                         f"{results['ratio_to_copy_last'][task]:>12.3f}{ablation}  "
                         f"{'met' if results['bar_met'][task] else 'MISSED'}")
        lines.append("mean squared next-frame error of the forecast (settled on context alone, before the frame)")
        return "\n".join(lines)
