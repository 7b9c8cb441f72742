"""Recordings: a settle as a labelled xarray Dataset, written to netCDF or zarr atomically and read back equal."""
import numpy as np
import pytest
import xarray as xr

from cortex import CortexError
from cortex.model import Model
from cortex.recording import load_recording, save_recording, to_frames
from cortex.spec import load_spec

GRAPH = """
name: two-level
seed: 1
inputs:
  retina: {shape: [4, 4]}
regions:
  V1: {kind: predictive, hypotheses: 6, inputs: [retina], competition: lateral, inhibition: 0.1, sparsity: 0.02}
  IT: {kind: predictive, hypotheses: 3, inputs: [V1], competition: softmax, precision: 2.0}
connections:
  - {from: IT, to: V1, role: context}
  - {from: IT, to: IT, role: context, delay: 1}
settle: {steps: 12, rate: 0.5, tol: 0}
"""
NAMES = {"IT": ["cat", "dog", "jar"]}


@pytest.fixture(scope="module")
def model():
    return Model(load_spec(text=GRAPH))


@pytest.fixture(scope="module")
def stimuli():
    return {"retina": np.random.default_rng(0).uniform(0, 1, (5, 16)).astype(np.float32)}


@pytest.fixture(scope="module")
def recorded(model, stimuli):
    return model.settle(stimuli, record=True, noise=False)


def test_a_recorded_settle_has_labelled_dimensions_and_one_variable_per_region(recorded):
    ds = recorded.to_xarray(names=NAMES, attrs={"graph": "two-level"})
    assert ds["V1"].dims == ("step", "stimulus", "V1_hypothesis") and ds["V1"].shape == (13, 5, 6)
    assert ds["IT"].dims == ("step", "stimulus", "IT_hypothesis")
    assert list(ds["IT_hypothesis"].values) == NAMES["IT"] and list(ds["V1_hypothesis"].values) == list(range(6))
    assert list(ds["step"].values) == list(range(13)) and list(ds["region"].values) == ["V1", "IT"]
    np.testing.assert_array_equal(ds["IT"].values, recorded.trace["IT"])
    np.testing.assert_array_equal(ds["IT"].sel(IT_hypothesis="dog").isel(step=-1).values, recorded.activity["IT"][:, 1])
    assert ds["energy"].values[0] == pytest.approx(recorded.start_energy)
    np.testing.assert_allclose(ds["energy"].values[1:], recorded.energy)
    np.testing.assert_allclose(ds["region_energy"].sel(region="V1").values[1:], recorded.region_energy["V1"])
    assert np.isnan(ds["region_energy"].values[0]).all()
    np.testing.assert_array_equal(ds["V1_prediction"].values, recorded.prediction["V1"])
    assert ds["V1_prediction"].dims == ("stimulus", "V1_input") and ds.sizes["V1_input"] == 16
    np.testing.assert_array_equal(ds["stimulus_energy"].values, recorded.stimulus_energy)
    assert ds.attrs["steps"] == 12 and ds.attrs["graph"] == "two-level" and ds.attrs["converged"] in (0, 1)


def test_an_unrecorded_settle_keeps_the_final_activity(model, stimuli):
    result = model.settle(stimuli, noise=False, steps=4)
    ds = result.to_xarray()
    assert ds["IT"].dims == ("stimulus", "IT_hypothesis")
    np.testing.assert_array_equal(ds["IT"].values, result.activity["IT"])
    assert ds.sizes["step"] == 5


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_keeps_values_dimensions_coordinates_and_attributes(recorded, tmp_path, suffix):
    ds = recorded.to_xarray(names=NAMES, attrs={"graph": "two-level", "seed": 1})
    path = save_recording(ds, tmp_path / f"settle{suffix}")
    back = load_recording(path)
    xr.testing.assert_identical(back, ds)
    assert back["IT"].dtype == np.float32
    save_recording(recorded, path, names=NAMES, attrs={"graph": "two-level", "seed": 1})   # overwrite in place
    xr.testing.assert_identical(load_recording(path), ds)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]     # no temporary left behind


def test_a_failed_write_keeps_the_old_file(recorded, tmp_path, monkeypatch):
    path = save_recording(recorded, tmp_path / "settle.nc")
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        save_recording(recorded, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["settle.nc"]


def test_frames_stack_along_a_frame_dimension(model, stimuli, tmp_path):
    first = model.settle(stimuli, noise=False, steps=6, record=True)
    second = model.settle(stimuli, noise=False, steps=3, record=True, past=[first])
    ds = to_frames([first, second], names=NAMES)
    assert ds["IT"].dims == ("frame", "step", "stimulus", "IT_hypothesis") and ds.sizes["frame"] == 2
    assert list(ds["steps"].values) == [6, 3]
    np.testing.assert_array_equal(ds["IT"].isel(frame=1, step=slice(0, 4)).values, second.trace["IT"])
    assert np.isnan(ds["IT"].isel(frame=1, step=5).values).all()       # the shorter frame is padded
    xr.testing.assert_identical(load_recording(save_recording([first, second], tmp_path / "s.nc", names=NAMES)), ds)


def test_mistakes_get_messages_that_list_the_choices(recorded, tmp_path):
    with pytest.raises(CortexError, match=r"unknown recording format '.csv'; use one of .*\.nc.*\.zarr"):
        save_recording(recorded, tmp_path / "settle.csv")
    with pytest.raises(CortexError, match=r"names\['IT'\] has 2 names but IT has 3 hypotheses"):
        recorded.to_xarray(names={"IT": ["a", "b"]})
    with pytest.raises(CortexError, match=r"not regions of this result \(regions: V1, IT\)"):
        recorded.to_xarray(names={"V4": ["a"]})
    with pytest.raises(CortexError, match="cannot record a dict"):
        save_recording({"IT": 1}, tmp_path / "x.nc")
    with pytest.raises(CortexError, match="no such recording"):
        load_recording(tmp_path / "missing.nc")
