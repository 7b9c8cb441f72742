"""The staged experiment: a new experiment is one class that fills in data / train / evaluate / figures.

The runner gives it the seed, per-stage times, provenance and a run folder written as one piece; the
one online training loop (OnlineTrainer) trains it.
"""
import json
from typing import Literal

import numpy as np
import pytest

import cortex
from cortex.experiments.base import Experiment
from cortex.experiments.trainer import OnlineTrainer, batch_count, epoch_batches
from cortex.model import Model
from cortex.region import Strict
from cortex.spec import spec_from_dict

GRAPH = {
    "name": "tiny", "seed": 3,
    "inputs": {"x": {"shape": [4, 4]}, "label": {"shape": [2]}},
    "regions": {"R": {"kind": "predictive", "hypotheses": 2, "inputs": ["x"], "teacher": "label",
                      "competition": "softmax", "lr": 0.05}},
    "settle": {"steps": 10},
}


class TinyParams(Strict):
    kind: Literal["tiny"] = "tiny"
    epochs: int = 3


class Tiny(Experiment):
    """Two noisy prototypes; the region learns one hypothesis per prototype (written as a user would)."""

    Params = TinyParams
    kind_name = "tiny"

    def data(self):
        rng = self.rng(1)
        protos = np.stack([np.eye(4).ravel(), np.fliplr(np.eye(4)).ravel()]).astype(np.float32)
        y = rng.integers(0, 2, 200)
        X = protos[y] + 0.1 * rng.standard_normal((200, 16)).astype(np.float32)
        return {"X": X, "y": y}

    def train(self, data):
        model, eye = Model(self.spec), np.eye(2, dtype=np.float32)
        batches = ({"x": data["X"][i], "label": eye[data["y"][i]]}
                   for i in epoch_batches(len(data["y"]), 20, self.p.epochs, self.rng(0)))
        return {"model": model, "curve": self.trainer(model).fit(batches, batch_count(200, 20, self.p.epochs))}

    def evaluate(self, data, trained):
        result = trained["model"].settle({"x": data["X"]}, noise=False)
        return {"accuracy": float(np.mean(result.winners("R") == data["y"])), "curve": trained["curve"],
                "_energy": result.energy}

    def figures(self, data, trained, results):
        from cortex.plotting import plot_energy

        return {"energy": plot_energy({"test": results["_energy"]})}


def tiny(**experiment):
    spec = spec_from_dict({**GRAPH, "experiment": None})
    return Tiny(spec, TinyParams(**experiment))


def test_a_one_class_experiment_runs_in_stages_and_writes_its_folder(tmp_path):
    out = tmp_path / "run"
    res = tiny().run(out, progress=False)
    assert res["accuracy"] > 0.95                       # chance is 0.5: the stages trained and tested a model
    assert res["curve"][-1] < res["curve"][0]
    assert sorted(p.name for p in out.iterdir()) == ["energy.png", "model.npz", "results.json"]
    on_disk = json.loads((out / "results.json").read_text())
    assert "_energy" not in on_disk and "_energy" not in res                 # figures-only keys stay out
    assert on_disk["experiment"] == "tiny" and on_disk["seed"] == 3 and on_disk["graph"] == "tiny"
    assert on_disk["figures"] == ["energy.png"]
    assert list(on_disk["seconds"]) == ["data", "training", "saving", "testing", "figures", "total"]
    assert on_disk["provenance"]["cortex"] == cortex.__version__
    assert on_disk["provenance"]["spec"]["regions"]["R"]["hypotheses"] == 2
    assert "numpy" in on_disk["provenance"]["packages"]
    again = cortex.load_checkpoint(out / "model.npz")                        # the model as trained
    assert float(np.mean(again.settle({"x": tiny().data()["X"]}, noise=False).winners("R")
                         == tiny().data()["y"])) == res["accuracy"]


def test_same_seed_same_results_other_seed_other_data(tmp_path):
    a = tiny().run(tmp_path / "a", progress=False)
    b = tiny().run(tmp_path / "b", progress=False)
    assert a["curve"] == b["curve"]
    spec = spec_from_dict({**GRAPH, "seed": 4, "experiment": None})
    assert Tiny(spec, TinyParams()).run(tmp_path / "c", progress=False)["curve"] != a["curve"]


def test_epoch_batches_cover_every_example_once_per_epoch_like_a_shuffled_loop():
    idx = list(epoch_batches(23, 5, 3, np.random.default_rng(0)))
    assert len(idx) == batch_count(23, 5, 3) == 15
    assert [len(i) for i in idx] == [5, 5, 5, 5, 3] * 3
    rng = np.random.default_rng(0)
    for e in range(3):
        order = rng.permutation(23)                     # what a hand-written loop draws, in the same order
        np.testing.assert_array_equal(np.concatenate(idx[5 * e:5 * e + 5]), order)


def test_online_trainer_learns_and_returns_the_energy_curve():
    exp = tiny()
    data = exp.data()
    model, eye = Model(exp.spec), np.eye(2, dtype=np.float32)
    before = float(np.mean(model.settle({"x": data["X"]}, noise=False).winners("R") == data["y"]))
    batches = [{"x": data["X"][i], "label": eye[data["y"][i]]} for i in epoch_batches(200, 20, 2, exp.rng(0))]
    curve = OnlineTrainer(model, progress=False, steps=5).fit(batches, len(batches))
    assert len(curve) == 20 and all(np.isfinite(curve))
    after = float(np.mean(model.settle({"x": data["X"]}, noise=False).winners("R") == data["y"]))
    assert after > 0.95 and after > before


def test_evaluate_is_required(tmp_path):
    class Nothing(Experiment):
        kind_name = "nothing"

    with pytest.raises(NotImplementedError, match="evaluate"):
        Nothing(spec_from_dict({**GRAPH, "experiment": None})).run(tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
