"""Recordings: a settle (or a stream of them) as an ``xarray.Dataset`` with labelled dimensions, saved atomically.

Why: bare arrays in dicts lose what each axis means. A Dataset names them (``step``, ``stimulus``, each
region's hypotheses, ``frame`` for a stream), carries hypothesis names as coordinates, and writes to netCDF or
zarr, which every analysis tool reads.

Layout of :func:`to_dataset` (region ``IT`` with 10 hypotheses, settled for 50 steps on 8 stimuli, recorded):

================  =====================================  ================================================
variable          dimensions                             what
================  =====================================  ================================================
``IT``            (step, stimulus, IT_hypothesis)        activity at every step (step 0: the first guess);
                                                         (stimulus, IT_hypothesis) final activity when
                                                         settling was not recorded
``energy``        (step,)                                mean energy per stimulus (step 0: first guess)
``region_energy`` (step, region)                         each region's share (NaN at step 0: not kept)
``stimulus_energy`` (stimulus,)                          final energy of each stimulus
``IT_prediction`` (stimulus, IT_input)                   the region's top-down prediction of its input
================  =====================================  ================================================

Each region has its own hypothesis dimension (``IT_hypothesis``) because regions differ in size; its
coordinate holds the hypothesis names when given (``names={"IT": list("0123456789")}``), else 0, 1, ...

>>> ds = model.settle({"retina": X}, record=True).to_xarray(names={"IT": list("0123456789")})  # doctest: +SKIP
>>> ds.IT.sel(IT_hypothesis="7").isel(step=-1)                                               # doctest: +SKIP
>>> save_recording(ds, "runs/settle.nc")                                                     # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .atomic import atomic_path
from .errors import CortexError, StimulusError

#: file suffixes save_recording understands, and the format each one means
FORMATS = {".nc": "netcdf", ".nc4": "netcdf", ".netcdf": "netcdf", ".h5": "netcdf", ".zarr": "zarr"}


def to_dataset(result, names: dict | None = None, attrs: dict | None = None) -> xr.Dataset:
    """One settle as a Dataset (the layout is in the module docstring).

    Parameters
    ----------
    result : cortex.SettleResult
        What ``model.settle`` returned; with ``record=True`` every step's activity is kept.
    names : dict, optional
        Region name -> one name per hypothesis (e.g. the digit classes), used as coordinates.
    attrs : dict, optional
        Extra attributes for the Dataset (numbers or text), e.g. the graph's name or the seed.

    Returns
    -------
    xarray.Dataset
    """
    names = dict(names or {})
    unknown = sorted(set(names) - set(result.activity))
    if unknown:
        raise StimulusError(f"names given for {unknown}, which are not regions of this result "
                            f"(regions: {', '.join(result.activity)})")
    steps = int(result.steps)
    step = np.arange(steps + 1)
    data, coords = {}, {"step": step, "stimulus": np.arange(len(result.stimulus_energy)),
                        "region": list(result.activity)}
    for region, final in result.activity.items():
        dim = f"{region}_hypothesis"
        coords[dim] = _hypothesis_names(region, final.shape[1], names.get(region))
        if result.trace is not None:
            data[region] = (("step", "stimulus", dim), result.trace[region],
                            {"long_name": f"activity of {region}'s hypotheses at each settling step"})
        else:
            data[region] = (("stimulus", dim), final, {"long_name": f"final activity of {region}'s hypotheses"})
    energy = np.concatenate([[result.start_energy], np.asarray(result.energy, dtype=np.float64)])
    data["energy"] = ("step", energy, {"long_name": "mean energy per stimulus (step 0: the first guess)"})
    shares = np.full((steps + 1, len(result.activity)), np.nan)
    for j, region in enumerate(result.activity):
        shares[1:, j] = result.region_energy[region]
    data["region_energy"] = (("step", "region"), shares,
                             {"long_name": "each region's share of the energy (not kept for step 0)"})
    data["stimulus_energy"] = ("stimulus", np.asarray(result.stimulus_energy),
                               {"long_name": "final energy of each stimulus"})
    for region, pred in _predictions(result).items():
        data[f"{region}_prediction"] = (("stimulus", f"{region}_input"), pred,
                                        {"long_name": f"{region}'s top-down prediction of its input"})
    from ._version import __version__

    info = {"steps": steps, "converged": int(bool(result.converged)), "start_energy": float(result.start_energy),
            "cortex_version": __version__, **(attrs or {})}
    return xr.Dataset(data, coords=coords, attrs=info)


def to_frames(results: Sequence, names: dict | None = None, attrs: dict | None = None) -> xr.Dataset:
    """A stream of settles (one per frame, oldest first) as one Dataset with a leading ``frame`` dimension.

    Frames that stopped after fewer steps are padded with NaN along ``step``.
    """
    if not results:
        raise StimulusError("to_frames needs at least one SettleResult")
    frames = [to_dataset(r, names) for r in results]
    steps = [int(f.attrs["steps"]) for f in frames]
    merged = xr.concat(frames, dim="frame", join="outer", data_vars="all", coords="minimal", compat="override",
                       combine_attrs="drop")
    merged = merged.assign_coords(frame=np.arange(len(frames)))
    merged["steps"] = ("frame", np.asarray(steps), {"long_name": "settling steps run in each frame"})
    from ._version import __version__

    merged.attrs = {"frames": len(frames), "cortex_version": __version__, **(attrs or {})}
    return merged


def as_dataset(recording, names: dict | None = None, attrs: dict | None = None) -> xr.Dataset:
    """A Dataset, a SettleResult or a list of SettleResults (frames) -> a Dataset."""
    if isinstance(recording, xr.Dataset):
        return recording
    if isinstance(recording, (list, tuple)):
        return to_frames(recording, names, attrs)
    if hasattr(recording, "activity") and hasattr(recording, "energy"):
        return to_dataset(recording, names, attrs)
    raise CortexError(f"cannot record a {type(recording).__name__}: give a SettleResult, a list of them "
                      f"(frames) or an xarray.Dataset")


def save_recording(recording, path: str | os.PathLike, names: dict | None = None, attrs: dict | None = None) -> Path:
    """Write a recording to netCDF (``.nc``) or zarr (``.zarr``), atomically: a reader never sees half a file.

    Parameters
    ----------
    recording : SettleResult, list of SettleResult (frames) or xarray.Dataset
    path : str or path
        ``*.nc`` (also ``.nc4``, ``.h5``) for netCDF-4, ``*.zarr`` for a zarr store (a folder, zarr format 2).
    names, attrs : dict, optional
        Hypothesis names and extra attributes, as in :func:`to_dataset` (ignored for a Dataset).

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> save_recording(model.settle(stimuli, record=True), "runs/test_trace.nc")   # doctest: +SKIP
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise CortexError(f"{path}: unknown recording format {path.suffix!r}; use one of "
                          f"{', '.join(sorted(FORMATS))}")
    ds = as_dataset(recording, names, attrs)
    if kind == "netcdf":
        engine = _netcdf_engine()
        with atomic_path(path) as tmp:
            ds.to_netcdf(tmp, engine=engine)
    else:
        if importlib.util.find_spec("zarr") is None:
            raise CortexError(f"{path}: writing zarr needs the zarr package: pip install zarr (or save as .nc)")
        with atomic_path(path, directory=True) as tmp:
            ds.to_zarr(tmp, mode="w", zarr_format=2)   # format 2: text coordinates are readable everywhere
    return path


def load_recording(path: str | os.PathLike) -> xr.Dataset:
    """Read a recording written by :func:`save_recording` (netCDF or zarr, by suffix) fully into memory."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise CortexError(f"{path}: unknown recording format {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    if not path.exists():
        raise CortexError(f"{path}: no such recording")
    if kind == "zarr":
        with xr.open_zarr(path) as ds:
            return ds.load()
    with xr.open_dataset(path, engine=_netcdf_engine()) as ds:
        return ds.load()


def _hypothesis_names(region: str, n: int, given) -> np.ndarray:
    if given is None:
        return np.arange(n)
    given = [str(g) for g in given]
    if len(given) != n:
        raise StimulusError(f"names[{region!r}] has {len(given)} names but {region} has {n} hypotheses")
    return np.asarray(given, dtype=object)


def _predictions(result) -> dict:
    try:
        return dict(result.prediction)
    except StimulusError:   # a result without its settled state (e.g. rebuilt from arrays): no predictions
        return {}


def _netcdf_engine() -> str:
    """netCDF4 (Unidata's library, a dependency) when it imports, else h5netcdf over h5py."""
    if importlib.util.find_spec("netCDF4") is not None:
        return "netcdf4"
    if importlib.util.find_spec("h5netcdf") is not None and importlib.util.find_spec("h5py") is not None:
        return "h5netcdf"
    raise CortexError("writing netCDF needs netCDF4 (pip install netCDF4) or h5netcdf with h5py")
