"""Tests for cortex.checkpoint: one .npz, written atomically, read without pickle, tied to its spec."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import cortex.checkpoint as ckpt
from cortex.checkpoint import load_checkpoint, save_checkpoint
from cortex.errors import CheckpointError, CortexError
from cortex.model import Model
from cortex.spec import load_spec

GRAPH = """\
name: ckpt
seed: 3
dtype: {dtype}
inputs:
  x: {{shape: [4, 3]}}
regions:
  A:
    hypotheses: 6
    inputs: [x]
    inhibition: 0.1
    noise: {noise_a}
    lr_recognition: 0.02
  B:
    hypotheses: 3
    inputs: [A]
    competition: softmax
    factors: 2
    noise: {noise_b}
    adaptation: {{strength: 0.1, tau: 5}}
connections:
  - {{from: B, to: A, precision: 0.5}}
  - {{from: A, to: A, delay: 1}}
settle: {{steps: 12, tol: 0}}
"""


def make_spec(dtype="float32", noise_a=0.0, noise_b=0.0):
    return load_spec(text=GRAPH.format(dtype=dtype, noise_a=noise_a, noise_b=noise_b))


def trained(spec, batches=4, noise=True):
    """A model after a few online updates (settle with the regions' noise, then learn)."""
    model = Model(spec)
    rng = np.random.default_rng(11)
    for _ in range(batches):
        model.learn(model.settle({"x": rng.random((8, 4, 3))}, noise=noise))
    return model


def stimulus(n=5):
    return np.random.default_rng(99).random((n, 12))


def assert_same_settle(r1, r2):
    assert r1.steps == r2.steps == 12
    for name in ("A", "B"):
        np.testing.assert_array_equal(r1.activity[name], r2.activity[name])
        np.testing.assert_array_equal(r1.region_energy[name], r2.region_energy[name])
    np.testing.assert_array_equal(r1.energy, r2.energy)
    np.testing.assert_array_equal(r1.stimulus_energy, r2.stimulus_energy)
    assert r1.start_energy == r2.start_energy


def assert_same_weights(m1, m2):
    for name, region in m1.regions.items():
        other = m2.regions[name]
        assert set(region.weights) == set(other.weights)
        for key in region.weights:
            a, b = m1.backend.to_numpy(region.weights[key]), m2.backend.to_numpy(other.weights[key])
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{key}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical_without_noise(tmp_path, dtype):
    spec = make_spec(dtype)
    model = trained(spec)
    fresh = Model(spec)
    assert not np.array_equal(fresh.regions["A"].weights["W"], model.regions["A"].weights["W"])   # it did learn

    path = save_checkpoint(model, tmp_path / "model.npz")
    assert path == tmp_path / "model.npz" and path.is_file()
    loaded = load_checkpoint(path)
    assert loaded.spec == spec and loaded.backend.name == "numpy" and loaded.backend.dtype_name == dtype
    assert_same_weights(model, loaded)

    X = stimulus()
    first = model.settle({"x": X})
    assert_same_settle(first, loaded.settle({"x": X}))
    past = [first]   # delayed connections read the past frame the same way
    assert_same_settle(model.settle({"x": X}, past=past), loaded.settle({"x": X}, past=[loaded.settle({"x": X})]))

    # and they keep learning identically
    model.learn(model.settle({"x": X}))
    loaded.learn(loaded.settle({"x": X}))
    assert_same_weights(model, loaded)


def test_round_trip_with_noisy_regions_and_noise_switched_off(tmp_path):
    spec = make_spec(noise_a=0.05, noise_b=0.2)
    model = trained(spec)
    model.save(tmp_path / "m.npz")
    loaded = load_checkpoint(tmp_path / "m.npz")
    assert_same_weights(model, loaded)
    X = stimulus()
    assert_same_settle(model.settle({"x": X}, noise=False), loaded.settle({"x": X}, noise=False))


def test_noise_really_is_random_between_calls():
    """Guard for the next test: with noise on, two consecutive settles differ, so equality there means something."""
    model = Model(make_spec(noise_a=0.05, noise_b=0.2))
    X = stimulus()
    r1, r2 = model.settle({"x": X}), model.settle({"x": X})
    assert not np.array_equal(r1.activity["A"], r2.activity["A"])


def test_round_trip_with_noise_on_continues_the_random_stream(tmp_path):
    spec = make_spec(noise_a=0.05, noise_b=0.2)
    model = trained(spec)            # settling with noise advanced the noise streams
    model.save(tmp_path / "m.npz")
    loaded = load_checkpoint(tmp_path / "m.npz")
    X = stimulus()
    assert_same_settle(model.settle({"x": X}), loaded.settle({"x": X}))


def test_file_contents_are_plain_arrays_and_json_meta(tmp_path):
    spec = make_spec()
    model = trained(spec, batches=1)
    path = save_checkpoint(model, tmp_path / "weights.ckpt")   # exactly that name: no ".npz" appended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.ckpt"]
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        assert names == {"__meta__", "A/W", "A/L", "A/R", "A/V", "B/M", "B/F", "B/R"}   # B has no context: no V
        for name in names - {"__meta__"}:
            assert data[name].dtype == np.float32, name
        meta = json.loads(bytes(data["__meta__"]).decode())
    assert meta["format"] == ckpt.FORMAT and meta["backend"] == "numpy"
    assert meta["spec"] == spec.to_dict()
    assert meta["numpy"] == np.__version__


def test_write_is_atomic_when_saving_fails_midway(tmp_path, monkeypatch):
    spec = make_spec()
    model = trained(spec, batches=1)
    path = tmp_path / "model.npz"
    save_checkpoint(model, path)
    before = path.read_bytes()

    model.learn(model.settle({"x": stimulus()}))   # the model changes; the next save will fail

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")   # something reached the disk before the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(model, path)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(model, tmp_path / "new.npz")
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]   # no temp file, no half-written new.npz
    assert path.read_bytes() == before
    old = load_checkpoint(path)
    assert_same_weights(old, load_checkpoint(path))
    assert not np.array_equal(old.regions["B"].weights["M"], model.regions["B"].weights["M"])


def test_saved_file_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(Model(make_spec()), tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_load_refuses_a_different_spec_naming_the_keys(tmp_path):
    spec = make_spec()
    path = save_checkpoint(trained(spec, batches=1), tmp_path / "m.npz")
    load_checkpoint(path, spec=make_spec())   # an equal spec, read again, is fine

    other = load_spec(text=GRAPH.format(dtype="float32", noise_a=0.0, noise_b=0.0)
                      .replace("lr_recognition: 0.02", "lr_recognition: 0.03").replace("seed: 3", "seed: 4"))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, spec=other)
    msg = str(info.value)
    assert str(path) in msg and "different spec" in msg
    assert msg.endswith("differing keys: regions.A.lr_recognition, seed")

    with pytest.raises(CheckpointError, match=r"differing keys: connections$"):
        load_checkpoint(path, spec=load_spec(text=GRAPH.format(dtype="float32", noise_a=0, noise_b=0)
                                             .replace("precision: 0.5", "precision: 0.6")))


def _corrupt(tmp_path):
    good = save_checkpoint(Model(make_spec()), tmp_path / "good.npz").read_bytes()
    flipped = bytearray(good)
    middle = len(good) // 2
    flipped[middle:middle + 64] = bytes(b ^ 0xFF for b in flipped[middle:middle + 64])
    return {
        "truncated.npz": good[: len(good) // 2],
        "flipped.npz": bytes(flipped),
        "text.npz": b"this is not a checkpoint\n",
        "empty.npz": b"",
        "notes.txt": b"name: digits\n",
    }


@pytest.mark.parametrize("name", [
    "truncated.npz", "flipped.npz", "text.npz", "notes.txt", "missing.npz", "a-directory",
    pytest.param("empty.npz"),
])
def test_corrupt_text_or_missing_files_raise_checkpoint_error(tmp_path, name):
    files = _corrupt(tmp_path)
    path = tmp_path / name
    if name in files:
        path.write_bytes(files[name])
    elif name == "a-directory":
        path.mkdir()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert isinstance(info.value, CortexError) and isinstance(info.value, ValueError)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ")
    if name in ("missing.npz", "a-directory"):
        assert "no such checkpoint file" in msg
    else:
        assert "not a cortex checkpoint or corrupt" in msg


def _npz_with_meta(path, meta, **arrays):
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return path


def test_foreign_or_mismatched_checkpoints_raise_checkpoint_error(tmp_path):
    spec = make_spec()
    good = save_checkpoint(Model(spec), tmp_path / "good.npz")
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(bytes(data["__meta__"]).decode())

    np.savez(tmp_path / "plain.npz", weights=np.zeros(3))   # an npz, but not ours
    cases = {
        "plain.npz": "not a cortex checkpoint or corrupt",
        "future.npz": (_npz_with_meta(tmp_path / "future.npz", {**meta, "format": 99}, **arrays),
                       "checkpoint format 99, this cortex-sim reads format 1"),
        "badspec.npz": (_npz_with_meta(tmp_path / "badspec.npz", {**meta, "spec": {**meta["spec"], "seed": -1}}, **arrays),
                        "the spec stored in the checkpoint is invalid here"),
        "missing-array.npz": (_npz_with_meta(tmp_path / "missing-array.npz", meta,
                                             **{k: v for k, v in arrays.items() if k != "B/F"}),
                              "region 'B' has arrays ['M', 'R'], expected ['F', 'M', 'R']"),
        "wrong-shape.npz": (_npz_with_meta(tmp_path / "wrong-shape.npz", meta, **{**arrays, "A/W": np.zeros((2, 2))}),
                            "A.W: expected shape (6, 12), got (2, 2)"),
    }
    for name, expected in cases.items():
        fragment = expected if isinstance(expected, str) else expected[1]
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        assert str(info.value).startswith(f"{tmp_path / name}: "), name
        assert fragment in str(info.value), (name, str(info.value))


@pytest.mark.parametrize("meta", [{"format": 1}, [1, 2]])
def test_checkpoint_with_malformed_meta_raises_checkpoint_error(tmp_path, meta):
    path = _npz_with_meta(tmp_path / "odd.npz", meta)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_object_arrays_are_refused_never_unpickled(tmp_path, monkeypatch):
    spec = make_spec()
    good = save_checkpoint(Model(spec), tmp_path / "good.npz")
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["A/W"] = np.array([{"evil": 1}] * 72, dtype=object).reshape(6, 12)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)   # numpy pickles object arrays when writing

    unpickled = []
    real_load, real_loads = pickle.load, pickle.loads
    monkeypatch.setattr(pickle, "load", lambda *a, **k: unpickled.append(a) or real_load(*a, **k))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(a) or real_loads(*a, **k))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(evil)
    assert str(evil) in str(info.value) and "holds Python objects" in str(info.value)
    assert "allow_pickle" not in str(info.value)     # never numpy's advice to allow pickle
    assert load_checkpoint(good).spec == spec   # a normal checkpoint loads without pickle
    assert unpickled == []


def test_checkpoint_round_trips_the_shipped_digits_graph(tmp_path):
    import cortex

    model = cortex.load("digits")
    model.save(tmp_path / "digits.npz")
    loaded = cortex.load_checkpoint(tmp_path / "digits.npz", spec=cortex.load_spec(cortex.graph_path("digits")))
    assert_same_weights(model, loaded)
    X = np.random.default_rng(0).random((4, 8, 8))
    r1, r2 = model.settle({"retina": X}, steps=5), loaded.settle({"retina": X}, steps=5)
    np.testing.assert_array_equal(r1.activity["IT"], r2.activity["IT"])
    assert zipfile.is_zipfile(tmp_path / "digits.npz")
