"""Checkpoints checked against their spec: hostile or careless files give a CheckpointError that says what is wrong,
sizes are checked before anything is inflated, and a checkpoint from another version warns."""
import json
import warnings
import zipfile

import numpy as np
import pytest

import cortex
import cortex.archive as archive
from cortex.checkpoint import load_checkpoint, save_checkpoint
from cortex.errors import CheckpointError, SpecError
from cortex.model import Model
from cortex.spec import load_spec

GRAPH = """\
name: hostile
inputs:
  x: {shape: [4]}
regions:
  A: {hypotheses: 3, inputs: [x]}
"""


@pytest.fixture
def good(tmp_path):
    """A real checkpoint, its arrays and its metadata, to be spoiled one way at a time."""
    path = save_checkpoint(Model(load_spec(text=GRAPH)), tmp_path / "good.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return path, arrays, json.loads(bytes(arrays["__meta__"]).decode())


def spoiled(tmp_path, arrays, name="bad.npz", meta=None, **changes):
    arrays = {**arrays, **changes}
    if meta is not None:
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def refused(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    for f in fragments:
        assert f in msg, (f, msg)
    assert "allow_pickle" not in msg
    return msg


@pytest.mark.parametrize("value, fragment", [
    (np.nan, "holds 1 NaN or infinite value"),
    (np.inf, "holds 1 NaN or infinite value"),
    (1e300, "holds 1 NaN or infinite value (as float32)"),    # float64 that overflows float32
])
def test_non_finite_weights_are_refused(tmp_path, good, value, fragment):
    _, arrays, _ = good
    W = arrays["A/W"].astype(np.float64)
    W[0, 0] = value
    refused(spoiled(tmp_path, arrays, **{"A/W": W}), "'A/W'", fragment)


@pytest.mark.parametrize("dtype, fragment", [
    (np.complex64, "dtype complex64; a checkpoint's weights are real floating-point numbers"),
    (np.int32, "dtype int32"),
    (np.dtype([("a", np.float32), ("b", np.float32)]), "a structured dtype"),
])
def test_complex_integer_and_structured_weights_are_refused(tmp_path, good, dtype, fragment):
    _, arrays, _ = good
    refused(spoiled(tmp_path, arrays, **{"A/W": np.zeros(arrays["A/W"].shape, dtype)}), "'A/W'", fragment)


def test_arrays_for_regions_that_do_not_exist_are_refused(tmp_path, good):
    _, arrays, _ = good
    refused(spoiled(tmp_path, arrays, **{"Z/W": np.zeros((2, 2), np.float32)}),
            "array 'Z/W' belongs to no region of the saved spec (regions: A)")
    refused(spoiled(tmp_path, arrays, name="flat.npz", W=np.zeros(3, np.float32)), "array 'W' belongs to no region")


def test_a_huge_member_is_refused_before_it_is_inflated(tmp_path, good, monkeypatch):
    """A 512 MiB member (it compresses to almost nothing): its header alone refuses it; nothing is inflated."""
    _, arrays, _ = good
    path = tmp_path / "huge.npz"
    big = 512 << 20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for k, v in arrays.items():
            if k != "A/W":
                with z.open(f"{k}.npy", "w") as f:
                    np.lib.format.write_array(f, v)
        with z.open("A/W.npy", "w", force_zip64=True) as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (big // 4 // 1024, 1024)}
            np.lib.format.write_array_header_1_0(f, header)
            zero = bytes(1 << 20)
            for _ in range(big >> 20):
                f.write(zero)
    assert path.stat().st_size < 4 << 20
    inflated = []
    real = zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: (inflated.append(n), real(self, n))[1])
    refused(path, "array 'A/W' would be 536870912 bytes", "it is not read")
    assert max(n for n in inflated) < 1 << 16       # headers only


def test_a_malformed_random_state_is_refused(tmp_path, good):
    _, arrays, meta = good
    for state in ({"bit_generator": "PCG64", "state": "nonsense"}, {"bit_generator": "NoSuchRNG"}, [1, 2], "x"):
        path = spoiled(tmp_path, arrays, meta={**meta, "rng": {"A": state}})
        refused(path, "the saved random state rng.A is malformed")


def test_a_plain_npy_garbage_and_other_compression_are_refused(tmp_path, good):
    path, arrays, _ = good
    npy = tmp_path / "weights.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    refused(npy, "plain .npy array, not a checkpoint")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x80\x04garbage pickle-looking bytes" * 10)
    refused(garbage, "not a cortex checkpoint or corrupt")
    zipped = tmp_path / "bz2.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(zipped, "w", zipfile.ZIP_BZIP2) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    refused(zipped, "uses compression method 12", "stored or deflated")


def test_a_checkpoint_from_another_version_warns_and_loads(tmp_path, good):
    _, arrays, meta = good
    path = spoiled(tmp_path, arrays, meta={**meta, "cortex": "0.0.1"})
    with pytest.warns(archive.CheckpointWarning, match="saved by cortex-sim '0.0.1', this is"):
        model = load_checkpoint(path)
    np.testing.assert_array_equal(model.regions["A"].weights["W"], arrays["A/W"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(good[0])                    # the same version: silent


def test_cortex_load_on_a_checkpoint_says_use_load_checkpoint(good):
    path = good[0]
    with pytest.raises(SpecError, match="is a checkpoint .*use cortex.load_checkpoint"):
        cortex.load(path)
    renamed = path.with_suffix(".yaml")
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(SpecError, match="is a checkpoint"):
        cortex.load(renamed)
