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
