"""cortex.run: the Python twin of `cortex run`, with validated overrides of the experiment block."""
import json

import pytest

import cortex


def test_run_with_overrides_writes_results_where_asked(tmp_path):
    res = cortex.run("digits", tmp_path / "small", progress=False, max_train=150, epochs=1, few_shot=2,
                     few_shot_epochs=2, baselines=False, examples=2)
    assert res["train_examples"] == 150 and res["epochs"] == 1
    on_disk = json.loads((tmp_path / "small" / "results.json").read_text())
    assert on_disk["accuracy"] == res["accuracy"]
    assert 0.3 < res["accuracy"]["clean"]["model"] <= 1.0


def test_default_folder_is_runs_slash_graph_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cortex.run("digits", progress=False, max_train=60, epochs=1, few_shot=1, few_shot_epochs=1, baselines=False,
               examples=1)
    assert (tmp_path / "runs" / "digits" / "results.json").is_file()


@pytest.mark.parametrize("overrides, fragments", [
    ({"epochs": 0}, ["experiment.epochs", "greater than or equal to 1", "with overrides ['epochs']"]),
    ({"epochz": 2}, ["experiment.epochz", "did you mean 'epochs'?"]),
])
def test_bad_overrides_are_named(tmp_path, overrides, fragments):
    with pytest.raises(cortex.SpecError) as err:
        cortex.run("digits", tmp_path, progress=False, **overrides)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not (tmp_path / "results.json").exists()


def test_a_graph_without_experiment_is_refused(tmp_path):
    path = tmp_path / "bare.yaml"
    path.write_text("name: bare\ninputs: {x: {shape: [2]}}\nregions:\n  R: {kind: predictive, hypotheses: 2, inputs: [x]}\n")
    with pytest.raises(cortex.CortexError, match="no 'experiment' block"):
        cortex.run(path, tmp_path / "out", progress=False)


SMALL = dict(max_train=120, epochs=1, few_shot=1, few_shot_epochs=1, baselines=False, examples=1)


def test_seed_is_an_override_recorded_with_the_provenance(tmp_path):
    import hashlib

    zero = cortex.run("digits", tmp_path / "s0", progress=False, **SMALL)
    one = cortex.run("digits", tmp_path / "s1", progress=False, seed=1, **SMALL)
    assert (zero["seed"], one["seed"]) == (0, 1)
    assert one["train_energy_first_last"] != zero["train_energy_first_last"]    # another split, another model
    again = cortex.run("digits", tmp_path / "s1b", progress=False, seed=1, **SMALL)
    assert again["accuracy"] == one["accuracy"] and again["train_energy_first_last"] == one["train_energy_first_last"]
    prov = json.loads((tmp_path / "s1" / "results.json").read_text())["provenance"]
    assert prov["overrides"] == {**SMALL, "seed": 1}
    assert prov["spec"]["seed"] == 1 and prov["spec"]["experiment"]["max_train"] == 120
    graph = cortex.graph_path("digits")
    assert prov["graph_file"] == str(graph)
    assert prov["graph_sha256"] == hashlib.sha256(graph.read_bytes()).hexdigest()
    assert {"numpy", "scikit-learn", "matplotlib"} <= set(prov["packages"])


def test_a_bad_seed_is_refused_with_its_key(tmp_path):
    with pytest.raises(cortex.SpecError) as err:
        cortex.run("digits", tmp_path / "out", progress=False, seed=-1)
    assert "seed" in str(err.value) and "with overrides ['seed']" in str(err.value)
    assert not (tmp_path / "out").exists()
