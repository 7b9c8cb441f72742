"""Own data from the CLI: the recognition experiment on ``data: FILE.npz`` of any sensor shape and class count.

Bad files are refused with messages that name the file and the array; a wrong input name lists the
inputs that exist.
"""
import io
import json
import pickle

import numpy as np
import pytest
import yaml

import cortex
from cortex.cli import main
from cortex.errors import CortexError, SpecError
from cortex.spec import spec_from_dict

GRAPH = """\
name: own
seed: 0
inputs:
  sensor: {shape: [5, 7]}
  label: {shape: [3]}
regions:
  IT: {kind: predictive, hypotheses: 3, inputs: [sensor], competition: softmax, factors: 2, teacher: label,
       precision: 10.0, lr: 0.05}
settle: {steps: 20}
experiment: {kind: recognition, stimulus: sensor, readout: IT, data: DATA, epochs: 2, few_shot: 3,
             few_shot_epochs: 5, baselines: false, examples: 2}
"""


def prototypes(n_per_class: int, seed: int, shape=(5, 7)):
    """Three noisy bar patterns (a row, a column, a diagonal) with names as labels."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((3, *shape), np.float32)
    protos[0, 2, :] = 1
    protos[1, :, 3] = 1
    np.fill_diagonal(protos[2], 1)
    y = np.repeat(np.array(["row", "column", "diagonal"]), n_per_class)
    idx = np.repeat(np.arange(3), n_per_class)
    X = protos[idx] + 0.15 * rng.standard_normal((len(idx), *shape)).astype(np.float32)
    order = rng.permutation(len(idx))
    return X[order], y[order]


@pytest.fixture
def graph(tmp_path):
    X, y = prototypes(40, 0)
    X_test, y_test = prototypes(20, 1)
    np.savez(tmp_path / "bars.npz", X=X, y=y, X_test=X_test, y_test=y_test)
    path = tmp_path / "own.yaml"
    path.write_text(GRAPH.replace("DATA", "bars.npz"))            # relative: found beside the YAML file
    return path


def cli(capsys, *args):
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_recognition_runs_on_own_data_of_any_shape_and_class_count(capsys, tmp_path, graph, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)                            # the data file is found beside the graph
    code, out, err = cli(capsys, "run", graph, "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["accuracy"]["clean"]["model"] > 0.9                 # chance is 1/3
    assert set(res["accuracy"]) == {"clean", "noise", "occlusion", "few_shot"}
    assert res["train_examples"] == 120 and res["test_examples"] == 60
    assert res["split"]["source"] == str(tmp_path / "bars.npz") and res["split"]["classes"] == 3
    assert "clean" in out and "time: " in out


def test_data_from_the_command_line_without_a_test_split(capsys, tmp_path, graph, monkeypatch):
    X, y = prototypes(30, 2)
    np.savez(tmp_path / "flat.npz", X=X.reshape(90, 35), y=np.searchsorted(["column", "diagonal", "row"], y))
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "run", graph, "--out", tmp_path / "run2", "--quiet", "--data", "flat.npz")
    assert code == 0, err
    res = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert res["test_examples"] == 18 and res["train_examples"] == 72  # test_size 0.2, stratified
    assert res["provenance"]["overrides"] == {"data": "flat.npz"}
    assert res["accuracy"]["clean"]["model"] > 0.9


def test_a_sensor_that_is_not_an_image_skips_occlusion(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    X = rng.random((4, 20)).astype(np.float32)[y] + 0.1 * rng.standard_normal((200, 20)).astype(np.float32)
    np.savez(tmp_path / "vectors.npz", X=X, y=y)
    graph = (GRAPH.replace("[5, 7]", "[20]").replace("label: {shape: [3]}", "label: {shape: [4]}")
             .replace("hypotheses: 3", "hypotheses: 4"))
    (tmp_path / "vectors.yaml").write_text(graph.replace("DATA", "vectors.npz"))
    res = cortex.run(tmp_path / "vectors.yaml", tmp_path / "run", progress=False)
    assert set(res["accuracy"]) == {"clean", "noise", "few_shot"} and "2-D image" in res["left_out"]["occlusion"]
    assert res["accuracy"]["clean"]["model"] > 0.9                 # chance is 1/4


@pytest.mark.parametrize("key, match", [("few_shot_shift", "experiment.few_shot_shift: shifts images.*set it to 0"),
                                        ("fill_in", "experiment.fill_in: fills in pixels.*set it to 0")])
def test_image_only_keys_need_an_image(tmp_path, key, match):
    """Five fixations shift a 2-D image and filling in pools over its neighbourhoods; a vector sensor has neither,
    and the run says which key to set."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    np.savez(tmp_path / "vectors.npz", X=rng.random((60, 20)).astype(np.float32), y=y)
    graph = GRAPH.replace("[5, 7]", "[20]").replace("baselines: false", f"baselines: false, {key}: 1")
    (tmp_path / "vectors.yaml").write_text(graph.replace("DATA", "vectors.npz"))
    with pytest.raises(CortexError, match=match):
        cortex.run(tmp_path / "vectors.yaml", tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


X_OK, Y_OK = prototypes(10, 3)


@pytest.mark.parametrize("arrays, fragments", [
    ({"X": X_OK}, ["array 'y' is missing", "arrays found: X"]),
    ({"X": X_OK, "y": Y_OK, "x_test": X_OK}, ["unexpected array 'x_test'", "X_test and y_test"]),
    ({"X": X_OK, "y": Y_OK, "X_test": X_OK}, ["has 'X_test' but not 'y_test'"]),
    ({"X": X_OK.reshape(30, 7, 5), "y": Y_OK}, ["array 'X' holds examples of shape [7, 5]", "input 'sensor' has shape [5, 7]",
                                                 "inputs: sensor [5, 7], label [3]"]),
    ({"X": np.full((30, 5, 7), "a"), "y": Y_OK}, ["array 'X' must hold real numbers", "<U1"]),
    ({"X": X_OK, "y": Y_OK.astype(object)}, ["array 'y' holds Python objects", "never unpickled"]),
    ({"X": X_OK, "y": np.arange(30) * 0.5}, ["array 'y' must hold integer class labels", "y.astype(int)"]),
    ({"X": X_OK, "y": Y_OK[:20]}, ["array 'y' must hold one label per example of 'X' (30)"]),
    ({"X": np.where(X_OK > 1.2, np.nan, X_OK), "y": Y_OK}, ["array 'X' holds NaN or infinite values"]),
    ({"X": X_OK, "y": np.zeros(30, int)}, ["'y' must hold at least 2 classes"]),
    ({"X": X_OK, "y": np.arange(30) % 4}, ["'y' holds 4 classes", "region 'IT' has 3 hypotheses", "set both to 4"]),
    ({"X": X_OK, "y": Y_OK, "X_test": X_OK, "y_test": np.full(30, "square")},
     ["array 'y_test' has labels that 'y' never shows (square)"]),
])
def test_bad_data_files_name_the_file_and_the_array(capsys, tmp_path, graph, arrays, fragments):
    bad = save(tmp_path / "bad.npz", **arrays)
    code, out, err = cli(capsys, "run", graph, "--out", tmp_path / "out", "--quiet", "--data", bad)
    assert code == 2 and "Traceback" not in err, err
    assert f"{bad}: " in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not (tmp_path / "out").exists()


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("write, fragment", [
    (lambda p: p.write_bytes(npy_bytes(X_OK)), "holds one array (.npy), not an .npz archive"),
    (lambda p: p.write_bytes(pickle.dumps({"X": X_OK, "y": Y_OK})), "is a Python pickle"),
    (lambda p: p.write_bytes(b"PK\x03\x04 torn zip " * 10), "is not an .npz archive"),
    (lambda p: p.write_text("X,y\n1,2\n"), "is not an .npz archive"),
])
def test_files_that_are_not_npz_archives_are_refused(tmp_path, graph, write, fragment):
    bad = tmp_path / "bad.npz"
    write(bad)
    with pytest.raises(CortexError, match="bad.npz: ") as err:
        cortex.run(graph, tmp_path / "out", progress=False, data=str(bad))
    assert fragment in str(err.value) and isinstance(err.value, ValueError)


def test_a_missing_data_file_is_named(tmp_path, graph):
    with pytest.raises(CortexError, match="nowhere.npz: data file not found"):
        cortex.run(graph, tmp_path / "out", progress=False, data=str(tmp_path / "nowhere.npz"))


def test_a_wrong_input_name_lists_the_inputs_that_exist():
    data = yaml.safe_load(cortex.graph_path("digits").read_text())
    data["inputs"]["eye"] = data["inputs"].pop("retina")
    data["regions"]["IT"]["inputs"] = ["eye"]
    with pytest.raises(SpecError) as err:
        spec_from_dict(data)
    assert "experiment.stimulus: must name an input of 8x8 = 64 values (the digits), got 'retina' " \
           "(inputs: label [10], eye [8, 8])" in str(err.value)
