"""Windows of a sensor: ``inputs: {p0: {of: retina, rows: [0, 4], cols: [0, 4]}}``.

Why: cortex's first areas are sheets of small receptive fields, each module seeing a patch of the sensor, not the
whole of it. A window is an input of its own (regions read it, explain it and predict it like any sensor), but
the user feeds only its sensor: the model cuts every window from it, in :meth:`cortex.model.Model.settle` and in
streams alike, and a window of an absent sensor is absent too. Cutting is one fancy index over the flattened
sensor, so it works on any leading axes (batch, or frames and batch) before the arrays go to the device.
"""
from __future__ import annotations

import difflib

import numpy as np

from .errors import StimulusError


def windows(spec) -> dict:
    """Window name -> its InputSpec (``of``, ``rows``, ``cols``), in the order the graph writes them."""
    return {name: inp for name, inp in spec.inputs.items() if inp.of is not None}


def check_windows(spec, written=()):
    """(message, key path) for each window that cannot be cut: its sensor missing, not 2-D or too small.
    ``written``: input names in the file, valid or not (a sensor that is written but invalid is reported already)."""
    for name, inp in windows(spec).items():
        path = ("inputs", name)
        parent = spec.inputs.get(inp.of)
        if parent is None and inp.of in written:
            continue
        if parent is None:
            others = [n for n in spec.inputs if n != name]
            close = difflib.get_close_matches(inp.of, others, n=1)
            yield (f"of must name an input of the graph{f'; did you mean {close[0]!r}?' if close else ''} "
                   f"({', '.join(others)}), got {inp.of!r}", path + ("of",))
        elif parent.of is not None:
            yield (f"{inp.of!r} is itself a window; cut {name!r} from its sensor {parent.of!r} instead", path + ("of",))
        elif len(parent.shape) != 2:
            yield f"{inp.of!r} has shape {list(parent.shape)}: a window needs a 2-D sensor", path + ("of",)
        else:
            for key, span, limit in (("rows", inp.rows, parent.shape[0]), ("cols", inp.cols, parent.shape[1])):
                if span[1] > limit:
                    yield (f"{key} [{span[0]}, {span[1]}] runs past {inp.of!r}, which has {limit} {key} "
                           f"(shape {list(parent.shape)})", path + (key,))


def refuse_given(spec, names) -> None:
    """A window is cut by the model: giving it is an error that names the sensor to give instead."""
    given = [n for n in names if n in spec.inputs and spec.inputs[n].of is not None]
    if given:
        w = spec.inputs[given[0]]
        raise StimulusError(f"input(s) {given} are windows the model cuts from their sensor ({given[0]!r}: rows "
                            f"{list(w.rows)}, cols {list(w.cols)} of {w.of!r}); give the sensor, not the window")


def _flat_index(spec, inp) -> np.ndarray:
    """Where a window's values lie in its flattened sensor, row by row."""
    h, w = spec.inputs[inp.of].shape
    return np.arange(h * w).reshape(h, w)[inp.rows[0]:inp.rows[1], inp.cols[0]:inp.cols[1]].ravel()


def cut(spec, arrays: dict) -> dict:
    """Each window whose sensor is in ``arrays`` (flattened on the last axis), cut from it: name -> array."""
    return {name: np.ascontiguousarray(arrays[inp.of][..., _flat_index(spec, inp)])
            for name, inp in windows(spec).items() if inp.of in arrays}


def place(spec, name: str, fields: np.ndarray) -> tuple[str, np.ndarray]:
    """Fields over input ``name`` (last axis) as fields over its sensor: a window's values put where it was cut
    from, zeros elsewhere; a sensor's returned as they are. Returns (sensor name, fields)."""
    inp = spec.inputs[name]
    if inp.of is None:
        return name, fields
    out = np.zeros((*fields.shape[:-1], spec.inputs[inp.of].size), dtype=fields.dtype)
    out[..., _flat_index(spec, inp)] = fields
    return inp.of, out
